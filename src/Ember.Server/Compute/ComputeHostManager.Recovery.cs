using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// Start and stop of the host: its own servers only, found by the host column.
public sealed partial class ComputeHostManager
{
    private static readonly TimeSpan s_stopWait = TimeSpan.FromSeconds(10);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await networking.RegisterAgentAsync(cancellationToken);
        await RecoverAsync(cancellationToken);
        work.Run("console log trim", ("Host", Name), TrimConsoleLogsAsync);
        work.Run("port security", ("Host", Name), networking.WatchPortSecurityAsync);
        work.Run("routers", ("Host", Name), networking.WatchRoutersAsync);
        work.Run("tunnels", ("Host", Name), networking.WatchTunnelsAsync);
    }

    /// <summary>
    /// Stops background work and the VMs (the NBD server they use stops with this process). Servers that were
    /// running get a resume marker and are started again by the next start, like Nova's
    /// resume_guests_state_on_host_boot; their rows say SHUTOFF meanwhile.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // The runner is shared with volume: stopping it here (it stops once) lets no spawn or attach race the power-off.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(s_stopWait);
        await work.StopAsync(wait.Token);
        foreach (var machine in machines.All)
        {
            machines.Remove(machine.Id);
            await File.WriteAllTextAsync(ResumeMarker(machine.Id), "", CancellationToken.None);
            await machine.DisposeAsync();
            // A rescued server stays RESCUED (its guest off): unrescue boots its own disk again.
            var rescued = (await store.FindServerAsync(machine.Id))?.VmState == VmStates.Rescued;
            await store.SetStateAsync(machine.Id, rescued ? VmStates.Rescued : VmStates.Stopped, null, PowerStates.Shutdown);
        }
    }

    private string ResumeMarker(string serverId) => Path.Combine(InstanceDir(serverId), "resume-on-start");

    /// <summary>
    /// After a restart no operation of this host is in flight any more: running QEMUs are adopted, servers stopped
    /// by the last shutdown are started again, interrupted builds become ERROR and interrupted deletes finish.
    /// Servers of other hosts are theirs to recover.
    /// </summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        var ours = await store.ListServersOnHostAsync(Name);
        await RemoveForeignInstancesAsync(ours.Select(s => s.Id).ToHashSet(StringComparer.Ordinal), cancellationToken);
        await networking.CleanupAsync([.. ours.Select(s => s.Id)], cancellationToken);
        foreach (var server in ours)
        {
            var requestId = "req-recover-" + server.Id;
            if (server.TaskState == "deleting")
            {
                LogRecovering(logger, server.Id, "deleting", "delete resumed");
                await DeleteAsync(new DeleteServer(requestId, server.Id), cancellationToken);
                continue;
            }

            if (await ResumeShelveAsync(server, requestId, cancellationToken))
            {
                continue;
            }

            if (server.VmState == VmStates.Building)
            {
                LogRecovering(logger, server.Id, "building", "error");
                await FailAsync(server.Id, new InvalidOperationException("Ember restarted while the server was building."));
                continue;
            }

            // A paused or suspended QEMU is adopted as it is: still stopped, with the guest's memory. So is a rescue's.
            var frozen = server.VmState is VmStates.Paused or VmStates.Suspended or VmStates.Rescued;
            var machine = server.VmState == VmStates.Active || frozen ? await driver.AdoptAsync(server.Id, InstanceDir(server.Id), cancellationToken) : null;
            var snapshotting = await ForgetSnapshotAsync(server);
            if (machine is not null)
            {
                machines.Add(machine);
                WatchExit(machine);
                if (snapshotting && !frozen)
                {
                    // The restart came between the snapshot's QMP stop and its cont: let the guest go again.
                    await machine.ResumeAsync(cancellationToken);
                }

                await store.SetStateAsync(server.Id, frozen ? server.VmState : VmStates.Active, null,
                    frozen ? server.PowerState : PowerStates.Running);
            }
            else if (server.VmState == VmStates.Rescued)
            {
                // Its guest is off; unrescue boots its own disk again.
                File.Delete(ResumeMarker(server.Id));
                await store.SetStateAsync(server.Id, VmStates.Rescued, null, PowerStates.Shutdown);
            }
            else if (File.Exists(ResumeMarker(server.Id)))
            {
                File.Delete(ResumeMarker(server.Id));
                await store.SetStateAsync(server.Id, VmStates.Stopped, "powering-on", PowerStates.Shutdown);
                await PowerAsync(new PowerAction(requestId, server.Id, PowerActionKind.Start), cancellationToken);
            }
            else if (server.VmState == VmStates.Active || frozen || server.TaskState is not null)
            {
                LogRecovering(logger, server.Id, server.VmState + "/" + (server.TaskState ?? "-"), "stopped");
                await store.SetStateAsync(server.Id, VmStates.Stopped, null, PowerStates.Shutdown);
            }
        }
    }

    /// <summary>
    /// A shelve the restart cut off after its image was filled (shelving_offloading) finishes its offload; an unshelve
    /// (unshelving, or spawning of a server still SHELVED_OFFLOADED) starts again from its shelved image, a partial copy
    /// of it removed first. True when the server was in one of those; the work is cast as the API would.
    /// </summary>
    private async Task<bool> ResumeShelveAsync(ServerRow server, string requestId, CancellationToken cancellationToken)
    {
        if (server.TaskState == "shelving_offloading")
        {
            LogRecovering(logger, server.Id, "shelving_offloading", "offload resumed");
            await ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Offload), cancellationToken);
            return true;
        }

        if (server.VmState == VmStates.ShelvedOffloaded && server.TaskState is "unshelving" or "spawning")
        {
            LogRecovering(logger, server.Id, server.TaskState, "unshelve resumed");
            if (server.ShelvedImageId is not null)
            {
                File.Delete(Path.Combine(InstanceDir(server.Id), "disk"));
                File.Delete(Path.Combine(InstanceDir(server.Id), "disk.part"));
            }

            await store.SetTaskStateAsync(server.Id, "unshelving");
            await ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Unshelve), cancellationToken);
            return true;
        }

        return false;
    }

    /// <summary>
    /// A snapshot the restart cut off (task_state image_*, as Nova's init_instance clears it), or a shelve before its image
    /// was filled (shelving, shelving_image_*): its partial copy is removed and the image it was filling deleted; the
    /// server stays where it is (SHUTOFF once the shelve had shut it down). True when the server was in one.
    /// </summary>
    private async Task<bool> ForgetSnapshotAsync(ServerRow server)
    {
        if (server.TaskState?.StartsWith("image_", StringComparison.Ordinal) != true
            && server.TaskState is not ("shelving" or "shelving_image_pending_upload" or "shelving_image_uploading"))
        {
            return false;
        }

        if (server.ShelvedImageId is { } shelved)
        {
            await TryDiscardImageAsync(shelved);
            await store.SetShelvedImageAsync(server.Id, null);
        }

        LogRecovering(logger, server.Id, server.TaskState, "snapshot abandoned");
        var dir = InstanceDir(server.Id);
        foreach (var copy in Directory.Exists(dir) ? Directory.GetFiles(dir, "snapshot-*.qcow2") : [])
        {
            File.Delete(copy);
            await TryDiscardImageAsync(Path.GetFileNameWithoutExtension(copy)["snapshot-".Length..]);
        }

        return true;
    }

    /// <summary>
    /// Instances of servers this host no longer owns (evacuated to another host, or deleted by the API while this host
    /// was down): their QEMU, if it still runs, is killed and their directory removed, as Nova's compute destroys
    /// evacuated and deleted instances when it starts. Their volumes were already given to the new host or released.
    /// </summary>
    private async Task RemoveForeignInstancesAsync(IReadOnlySet<string> ours, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(InstancesDir))
        {
            return;
        }

        foreach (var dir in Directory.EnumerateDirectories(InstancesDir))
        {
            var id = Path.GetFileName(dir);
            if (ours.Contains(id))
            {
                continue;
            }

            if (await driver.AdoptAsync(id, dir, cancellationToken) is { } machine)
            {
                await machine.DisposeAsync(); // kills it
            }

            Directory.Delete(dir, recursive: true);
            LogForeignRemoved(logger, id, (await store.FindServerAsync(id))?.Host ?? "(deleted)");
        }
    }

    /// <summary>Keeps every console.log under a few MiB; QEMU appends, so cutting the front from outside is safe.</summary>
    private async Task TrimConsoleLogsAsync(CancellationToken cancellationToken)
    {
        const long limit = 4 << 20;
        const int keep = 1 << 20;
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var machine in machines.All)
                {
                    var log = new FileInfo(machine.ConsoleLogPath);
                    if (log.Exists && log.Length > limit)
                    {
                        await using var stream = new FileStream(log.FullName, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                        var tail = new byte[keep];
                        stream.Seek(-keep, SeekOrigin.End);
                        await stream.ReadExactlyAsync(tail, cancellationToken);
                        stream.SetLength(0);
                        await stream.WriteAsync(tail, cancellationToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed instance {ServerId} from this host: its server is on {Owner} now")]
    private static partial void LogForeignRemoved(ILogger logger, string serverId, string owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered server {ServerId} left {From} by a restart: now {To}")]
    private static partial void LogRecovering(ILogger logger, string serverId, string from, string to);
}
