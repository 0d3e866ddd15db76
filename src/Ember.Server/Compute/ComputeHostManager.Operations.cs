using System.Net.Sockets;
using Ember.Compute.Qemu;
using Ember.Processes;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

public sealed partial class ComputeHostManager
{
    public Task AttachVolumeAsync(AttachVolume message, CancellationToken cancellationToken)
    {
        Cast("attach", message.RequestId, message.ServerId, token => HotPlugAsync(message.ServerId, message.Volume, token));
        return Task.CompletedTask;
    }

    private async Task HotPlugAsync(string serverId, VolumeDisk volume, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        var ctx = ServiceContext(server);
        try
        {
            var disk = await ConnectAsync(ctx, serverId, volume);
            // A stopped server gets the disk when it starts; a running one gets it now.
            if (machines.Find(serverId) is { } machine)
            {
                await machine.AttachDiskAsync(disk, cancellationToken);
            }

            await volumes.CompleteAsync(ctx, volume.AttachmentId);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogAttachFailed(logger, volume.VolumeId, serverId, ex);
            await store.DeleteBdmAsync(volume.BdmId);
            await ReleaseAttachmentAsync(ctx, volume.VolumeId, volume.AttachmentId);
        }
    }

    public Task DetachVolumeAsync(DetachVolume message, CancellationToken cancellationToken)
    {
        Cast("detach", message.RequestId, message.ServerId, token => UnplugAsync(message.ServerId, message.Volume, token));
        return Task.CompletedTask;
    }

    private async Task UnplugAsync(string serverId, VolumeDisk volume, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        var ctx = ServiceContext(server);
        try
        {
            if (machines.Find(serverId) is { } machine && !machine.Exited.IsCompleted)
            {
                await machine.DetachDiskAsync(volume.DeviceName, cancellationToken);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogDetachFailed(logger, volume.VolumeId, serverId, ex);
            await volumes.RollDetachingAsync(ctx, volume.VolumeId);
            return;
        }

        // The mapping goes first: once the volume reads available, the server no longer lists it, so a client
        // that waits for available (as Tempest does) can attach it again at once.
        await store.DeleteBdmAsync(volume.BdmId);
        await volumes.DeleteAttachmentAsync(ctx, volume.AttachmentId);
    }

    public Task DeleteAsync(DeleteServer message, CancellationToken cancellationToken)
    {
        Cast("delete", message.RequestId, message.ServerId, _ => DestroyAsync(message.ServerId));
        return Task.CompletedTask;
    }

    /// <summary>QEMU stops, volumes are detached (and deleted if asked), the row and the files go.</summary>
    private async Task DestroyAsync(string serverId)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        if (machines.Remove(serverId) is { } machine)
        {
            await machine.QuitAsync(CancellationToken.None);
            await machine.DisposeAsync();
        }

        var ctx = ServiceContext(server);
        foreach (var bdm in await store.ListBdmsAsync(serverId))
        {
            if (bdm.AttachmentId is not null)
            {
                await ReleaseAttachmentAsync(ctx, bdm.VolumeId, bdm.AttachmentId);
            }

            if (bdm.DeleteOnTermination)
            {
                try
                {
                    await volumes.DeleteVolumeAsync(ctx, bdm.VolumeId);
                }
                catch (ApiException ex)
                {
                    LogReleaseFailed(logger, bdm.VolumeId, ex.Message);
                }
            }
        }

        try
        {
            await networking.ReleaseAsync(serverId, CancellationToken.None);
        }
        catch (Exception ex) when (ex is ApiException or InvalidOperationException or IOException or ProcessFailedException or TimeoutException)
        {
            // The server goes anyway (a failed `ip` command once left it deleting for good); what the data plane kept is
            // removed by the tunnels watch or the next start's clean-up.
            LogPortsReleaseFailed(logger, serverId, ex.Message);
        }

        if (server.ShelvedImageId is { } shelved)
        {
            await TryDiscardImageAsync(shelved);
        }

        await store.DeleteServerAsync(serverId);
        TryDeleteDirectory(InstanceDir(serverId));
    }

    private async Task ReleaseAttachmentAsync(RequestContext ctx, string volumeId, string attachmentId)
    {
        try
        {
            await volumes.DeleteAttachmentAsync(ctx, attachmentId);
        }
        catch (ApiException ex)
        {
            LogReleaseFailed(logger, volumeId, ex.Message);
        }
    }

    public Task PowerAsync(PowerAction message, CancellationToken cancellationToken)
    {
        Cast(message.Action.ToString(), message.RequestId, message.ServerId, token => message.Action switch
        {
            PowerActionKind.Stop => PowerOffAsync(message.ServerId, token),
            PowerActionKind.Start => PowerOnAsync(message.ServerId, token),
            PowerActionKind.Pause => FreezeAsync(message.ServerId, VmStates.Paused, token),
            PowerActionKind.Suspend => FreezeAsync(message.ServerId, VmStates.Suspended, token),
            PowerActionKind.Unpause or PowerActionKind.Resume => ThawAsync(message.ServerId, token),
            _ => RebootAsync(message.ServerId, hard: message.Action == PowerActionKind.HardReboot, token),
        });
        return Task.CompletedTask;
    }

    /// <summary>os-stop: ACPI power-off (hard after a grace period), then SHUTOFF.</summary>
    private async Task PowerOffAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is null)
        {
            return;
        }

        if (machines.Remove(serverId) is { } machine)
        {
            await machine.ShutdownAsync(s_powerOffGrace, cancellationToken);
            await machine.DisposeAsync();
        }

        await store.SetStateAsync(serverId, VmStates.Stopped, null, PowerStates.Shutdown);
    }

    /// <summary>os-start (and resume after a restart): QEMU again with the same root disk and attached volumes.</summary>
    private async Task PowerOnAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        try
        {
            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            await store.SetStateAsync(serverId, VmStates.Active, null, PowerStates.Running);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogSpawnFailed(logger, serverId, ex);
            await FailAsync(serverId, ex);
        }
    }

    /// <summary>reboot: HARD is a reset; SOFT is an ACPI shutdown followed by a reset (hard after a grace period).</summary>
    private async Task RebootAsync(string serverId, bool hard, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is null)
        {
            return;
        }

        try
        {
            var machine = machines.Find(serverId) ?? throw new InvalidOperationException("QEMU is not running.");
            await machine.RebootAsync(hard, s_powerOffGrace, cancellationToken);
        }
        finally
        {
            await store.SetStateAsync(serverId, VmStates.Active, null, PowerStates.Running);
        }
    }

    /// <summary>
    /// pause and suspend: QMP <c>stop</c> halts the vCPUs; memory stays in the QEMU process (a suspend is not saved
    /// to disk, unlike libvirt's managed save, so it does not survive the host's reboot). Power state PAUSED or SHUTDOWN.
    /// </summary>
    private async Task FreezeAsync(string serverId, string vmState, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        try
        {
            var machine = machines.Find(serverId) ?? throw new InvalidOperationException("QEMU is not running.");
            await machine.PauseAsync(cancellationToken);
            await store.SetStateAsync(serverId, vmState, null, vmState == VmStates.Paused ? PowerStates.Paused : PowerStates.Shutdown);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The guest still runs: back to where it was, and the event says Error.
            await store.SetStateAsync(serverId, server.VmState, null, server.PowerState);
            throw;
        }
    }

    /// <summary>unpause and resume: QMP <c>cont</c>.</summary>
    private async Task ThawAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        try
        {
            var machine = machines.Find(serverId) ?? throw new InvalidOperationException("QEMU is not running.");
            await machine.ResumeAsync(cancellationToken);
            await store.SetStateAsync(serverId, VmStates.Active, null, PowerStates.Running);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await store.SetStateAsync(serverId, server.VmState, null, server.PowerState);
            throw;
        }
    }

    public async Task<ExecReply> ExecAsync(ExecRequest message, CancellationToken cancellationToken)
    {
        var machine = RunningMachine(message.ServerId, "exec in");
        try
        {
            var result = await machine.Agent.ExecAsync(message.Command[0], [.. message.Command.Skip(1)], message.Stdin,
                TimeSpan.FromSeconds(message.TimeoutSeconds), cancellationToken);
            return new ExecReply(result.ExitCode, result.StdOut, result.StdErr, result.TimedOut);
        }
        catch (GuestAgentUnavailableException ex)
        {
            throw ApiException.Conflict($"The guest agent of instance {message.ServerId} is not available: {ex.Message}");
        }
    }

    public async Task SetPasswordAsync(SetPasswordRequest message, CancellationToken cancellationToken)
    {
        var machine = RunningMachine(message.ServerId, "changePassword");
        try
        {
            await machine.Agent.SetUserPasswordAsync("root", message.Password, cancellationToken);
        }
        catch (QemuException ex)
        {
            throw new ApiException(ErrorKind.NotImplemented, $"Unable to set the admin password: {ex.Message}");
        }
    }

    /// <summary>The server's QEMU on this host; 409 when it does not run here (stopped, or still starting).</summary>
    private QemuMachine RunningMachine(string serverId, string action) =>
        machines.Find(serverId) ?? throw ApiException.Conflict($"Cannot '{action}' instance {serverId}: it is not running on host {Name}.");

    public async Task<ConsoleOutputReply> GetConsoleOutputAsync(ConsoleOutputRequest message, CancellationToken cancellationToken)
    {
        // The driver keeps the log in the instance directory, and it outlives the QEMU process.
        var path = machines.Find(message.ServerId)?.ConsoleLogPath ?? Path.Combine(InstanceDir(message.ServerId), "console.log");
        if (!File.Exists(path))
        {
            return new ConsoleOutputReply("");
        }

        string text;
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
        {
            text = await reader.ReadToEndAsync(cancellationToken);
        }

        text = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (message.Lines is not { } count)
        {
            return new ConsoleOutputReply(text);
        }

        var all = text.Split('\n');
        return new ConsoleOutputReply(string.Join('\n', all.Skip(Math.Max(0, all.Length - count))));
    }

    public async Task<Stream> OpenSerialConsoleAsync(SerialConsoleRequest message, CancellationToken cancellationToken)
    {
        var machine = machines.Find(message.ServerId) ?? throw ApiException.Conflict($"Instance {message.ServerId} is not running.");
        var serial = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await serial.ConnectAsync(new UnixDomainSocketEndPoint(machine.ConsoleSocketPath), cancellationToken);
            return new NetworkStream(serial, ownsSocket: true);
        }
        catch
        {
            serial.Dispose();
            throw;
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still open by an exiting QEMU; the directory is harmless and removed with the server's next delete.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Attaching volume {VolumeId} to {ServerId} failed")]
    private static partial void LogAttachFailed(ILogger logger, string volumeId, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Detaching volume {VolumeId} from {ServerId} failed")]
    private static partial void LogDetachFailed(ILogger logger, string volumeId, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release attachment of volume {VolumeId}: {Reason}")]
    private static partial void LogReleaseFailed(ILogger logger, string volumeId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the network ports of server {ServerId}: {Reason}")]
    private static partial void LogPortsReleaseFailed(ILogger logger, string serverId, string reason);
}
