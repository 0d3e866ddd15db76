using Ember.Compute.Qemu;
using Ember.Server.Common;
using Ember.Server.Volume;

namespace Ember.Server.Compute;

public sealed partial class ComputeService
{
    private static readonly TimeSpan s_powerOffGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// POST os-volume_attachments: checks and reserves on the request thread, then connects and hot-plugs in the
    /// background; the volume goes reserved -> attaching -> in-use as with Nova and Cinder.
    /// </summary>
    public async Task<BdmRow> AttachVolumeAsync(RequestContext ctx, ServerRow server, string volumeId, string? device, string? tag,
        bool deleteOnTermination, Microversion version)
    {
        if (server.VmState is not (VmStates.Active or VmStates.Stopped) || server.TaskState is not null)
        {
            throw ApiException.Conflict($"Cannot 'attach_volume' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        var existing = await store.ListBdmsAsync(server.Id);
        if (existing.Any(b => b.VolumeId == volumeId))
        {
            throw ApiException.BadRequest($"Invalid volume: volume {volumeId} already attached");
        }

        var volume = await GetVolumeForAttachAsync(ctx, volumeId, version);
        var name = AssignDevice(device, existing.Select(b => b.DeviceName).Append("vda").ToHashSet());
        var attachment = await volumes.ReserveAsync(ctx, volume.Id, server.Id);
        var bdm = new BdmRow
        {
            Id = Ids.NewUuid(),
            ServerId = server.Id,
            VolumeId = volume.Id,
            AttachmentId = attachment.Id,
            DeviceName = name,
            DeleteOnTermination = deleteOnTermination,
            Tag = tag,
            CreatedAt = Ids.Now(),
        };
        try
        {
            await store.AddBdmAsync(bdm);
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, [bdm]);
            throw;
        }

        RunInBackground(() => host.WithServerLockAsync(server.Id, () => HotPlugAsync(ctx, bdm)));
        return bdm;
    }

    private async Task HotPlugAsync(RequestContext ctx, BdmRow bdm)
    {
        try
        {
            var disk = await ConnectAsync(ctx, bdm);
            // A stopped server gets the disk when it starts; a running one gets it now.
            if (host.Find(bdm.ServerId) is { } machine)
            {
                await machine.AttachDiskAsync(disk, _stopping.Token);
            }

            await volumes.CompleteAsync(ctx, bdm.AttachmentId!);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            LogAttachFailed(logger, bdm.VolumeId, bdm.ServerId, ex);
            await store.DeleteBdmAsync(bdm.Id);
            await ReleaseAttachmentsAsync(ctx, [bdm]);
        }
    }

    /// <summary>DELETE os-volume_attachments/{volume}: begin_detaching now, unplug and delete the attachment in the background.</summary>
    public async Task DetachVolumeAsync(RequestContext ctx, ServerRow server, string volumeId)
    {
        var bdm = (await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.VolumeId == volumeId)
            ?? throw ApiException.NotFound($"Volume {volumeId} is not attached to server {server.Id}.");
        if (bdm.BootIndex == 0)
        {
            throw ApiException.BadRequest("Can't detach root device volume");
        }

        if (server.TaskState is not null)
        {
            throw ApiException.Conflict($"Cannot 'detach_volume' instance {server.Id} while it is in task_state {server.TaskState}");
        }

        await volumes.BeginDetachingAsync(ctx, volumeId);
        RunInBackground(() => host.WithServerLockAsync(server.Id, () => UnplugAsync(ctx, bdm)));
    }

    private async Task UnplugAsync(RequestContext ctx, BdmRow bdm)
    {
        try
        {
            if (host.Find(bdm.ServerId) is { } machine && !machine.Exited.IsCompleted)
            {
                await machine.DetachDiskAsync(bdm.DeviceName, _stopping.Token);
            }
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            LogDetachFailed(logger, bdm.VolumeId, bdm.ServerId, ex);
            await volumes.RollDetachingAsync(ctx, bdm.VolumeId);
            return;
        }

        // The mapping goes first: once the volume reads available, the server no longer lists it, so a client
        // that waits for available (as Tempest does) can attach it again at once.
        await store.DeleteBdmAsync(bdm.Id);
        await volumes.DeleteAttachmentAsync(ctx, bdm.AttachmentId!);
    }

    /// <summary>DELETE /servers/{id}: 204 at once; QEMU stops, volumes are detached (and deleted if asked), files go.</summary>
    public async Task DeleteAsync(RequestContext ctx, ServerRow server)
    {
        await store.SetStateAsync(server.Id, server.VmState, "deleting", server.PowerState);
        RunInBackground(() => host.WithServerLockAsync(server.Id, async () =>
        {
            if (host.Remove(server.Id) is { } machine)
            {
                await machine.DisposeAsync();
            }

            foreach (var bdm in await store.ListBdmsAsync(server.Id))
            {
                if (bdm.AttachmentId is not null)
                {
                    await ReleaseAttachmentsAsync(ctx, [bdm]);
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

            await store.DeleteServerAsync(server.Id);
            TryDeleteDirectory(InstanceDir(server.Id));
        }));
    }

    /// <summary>os-stop: ACPI power-off (hard after a grace period), then SHUTOFF.</summary>
    public async Task StopAsync(RequestContext ctx, ServerRow server)
    {
        if (!await store.ClaimTaskAsync(server.Id, [VmStates.Active], "powering-off"))
        {
            throw ApiException.Conflict($"Cannot 'stop' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        RunInBackground(() => host.WithServerLockAsync(server.Id, async () =>
        {
            if (host.Remove(server.Id) is { } machine)
            {
                await machine.ShutdownAsync(s_powerOffGrace, _stopping.Token);
                await machine.DisposeAsync();
            }

            await store.SetStateAsync(server.Id, VmStates.Stopped, null, PowerStates.Shutdown);
        }));
    }

    /// <summary>os-start: boots QEMU again with the same root disk and attached volumes.</summary>
    public async Task StartAsync(RequestContext ctx, ServerRow server)
    {
        if (!await store.ClaimTaskAsync(server.Id, [VmStates.Stopped], "powering-on"))
        {
            throw ApiException.Conflict($"Cannot 'start' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        RunInBackground(() => host.WithServerLockAsync(server.Id, () => PowerOnAsync(ctx, server)));
    }

    private async Task PowerOnAsync(RequestContext ctx, ServerRow server)
    {
        try
        {
            await BootAsync(ctx, server, _stopping.Token);
            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            LogSpawnFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>reboot: HARD is a reset; SOFT is an ACPI shutdown followed by a reset (hard after a grace period).</summary>
    public async Task RebootAsync(RequestContext ctx, ServerRow server, bool hard)
    {
        var task = hard ? "reboot_started_hard" : "reboot_started";
        if (!await store.ClaimTaskAsync(server.Id, [VmStates.Active], task))
        {
            throw ApiException.Conflict($"Cannot 'reboot' instance {server.Id} while it is in task_state {server.TaskState ?? "None"}");
        }

        RunInBackground(() => host.WithServerLockAsync(server.Id, async () =>
        {
            try
            {
                var machine = host.Find(server.Id) ?? throw new InvalidOperationException("QEMU is not running.");
                await machine.RebootAsync(hard, s_powerOffGrace, _stopping.Token);
            }
            finally
            {
                await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running);
            }
        }));
    }

    /// <summary>Ember's ember-exec action: runs a command in the guest through qemu-guest-agent.</summary>
    public async Task<GuestExecResult> ExecAsync(ServerRow server, IReadOnlyList<string> command, string? stdin, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var machine = host.Find(server.Id);
        if (server.VmState != VmStates.Active || machine is null)
        {
            throw ApiException.Conflict($"Cannot 'exec' in instance {server.Id} while it is in vm_state {server.VmState}");
        }

        try
        {
            return await machine.Agent.ExecAsync(command[0], [.. command.Skip(1)], stdin, timeout, cancellationToken);
        }
        catch (GuestAgentUnavailableException ex)
        {
            throw ApiException.Conflict($"The guest agent of instance {server.Id} is not available: {ex.Message}");
        }
    }

    /// <summary>changePassword through the guest agent.</summary>
    public async Task ChangePasswordAsync(ServerRow server, string password, CancellationToken cancellationToken)
    {
        var machine = host.Find(server.Id) ?? throw ApiException.Conflict($"Cannot 'changePassword' instance {server.Id} while it is in vm_state {server.VmState}");
        try
        {
            await machine.Agent.SetUserPasswordAsync("root", password, cancellationToken);
        }
        catch (QemuException ex)
        {
            throw new ApiException(ErrorKind.NotImplemented, $"Unable to set the admin password: {ex.Message}");
        }
    }

    /// <summary>The serial console log, the last <paramref name="lines"/> lines when given.</summary>
    public async Task<string> ConsoleOutputAsync(ServerRow server, int? lines)
    {
        // The driver keeps the log in the instance directory, and it outlives the QEMU process.
        var path = host.Find(server.Id)?.ConsoleLogPath ?? Path.Combine(InstanceDir(server.Id), "console.log");
        if (!File.Exists(path))
        {
            return "";
        }

        string text;
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
        {
            text = await reader.ReadToEndAsync();
        }

        text = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (lines is not { } count)
        {
            return text;
        }

        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - count)));
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

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "Attaching volume {VolumeId} to {ServerId} failed")]
    private static partial void LogAttachFailed(Microsoft.Extensions.Logging.ILogger logger, string volumeId, string serverId, Exception exception);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "Detaching volume {VolumeId} from {ServerId} failed")]
    private static partial void LogDetachFailed(Microsoft.Extensions.Logging.ILogger logger, string volumeId, string serverId, Exception exception);
}
