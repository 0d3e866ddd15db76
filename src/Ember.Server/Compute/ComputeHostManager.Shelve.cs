using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// shelve, shelveOffload and unshelve on the host (Nova's shelve_instance, shelve_offload_instance and unshelve_instance
// with the libvirt driver and shelved_offload_time=0): the root disk goes into an image and the server leaves the host;
// unshelve brings it back on whichever host the API moved it to.
public sealed partial class ComputeHostManager
{
    public Task ShelveAsync(ShelveServer message, CancellationToken cancellationToken)
    {
        Cast(message.Step switch
        {
            ShelveStep.Offload => "shelve_offload",
            ShelveStep.Unshelve => "unshelve",
            _ => "shelve",
        }, message.RequestId, message.ServerId, token => message.Step switch
        {
            ShelveStep.Offload => OffloadNowAsync(message.ServerId, token),
            ShelveStep.Unshelve => UnshelveNowAsync(message.ServerId, token),
            _ => ShelveNowAsync(message, token),
        });
        return Task.CompletedTask;
    }

    /// <summary>
    /// task_state shelving (the guest shuts down, as Nova powers it off first), shelving_image_pending_upload (the root disk
    /// copied), shelving_image_uploading (into the image the API made); then SHELVED with task_state shelving_offloading,
    /// and the offload. A volume-backed server has no image and goes straight to the offload. A failure deletes the image
    /// and leaves the server in ERROR with the fault.
    /// </summary>
    private async Task ShelveNowAsync(ShelveServer message, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(message.ServerId) is not { TaskState: "shelving" } server)
        {
            if (message.ImageId is { } orphan)
            {
                await TryDiscardImageAsync(orphan);
            }

            return;
        }

        var copy = Path.Combine(InstanceDir(server.Id), $"snapshot-{message.ImageId}.qcow2");
        var task = "shelving";
        async Task StepAsync(string next)
        {
            if (!await store.MoveTaskAsync(server.Id, task, next))
            {
                throw new InvalidOperationException($"Server {server.Id} left task_state {task} while it was being shelved.");
            }

            task = next;
        }

        try
        {
            await ShutDownAsync(server.Id, cancellationToken);
            if (message.ImageId is { } imageId)
            {
                await StepAsync("shelving_image_pending_upload");
                await CopyRootDiskAsync(server with { VmState = VmStates.Stopped }, copy, cancellationToken);
                await StepAsync("shelving_image_uploading");
                await images.UploadAsync(imageId, server.ProjectId, copy, cancellationToken);
            }

            File.Delete(copy);
            await StepAsync("shelving_offloading");
            await store.SetStateAsync(server.Id, VmStates.Shelved, task, PowerStates.Shutdown);
            LogShelved(logger, server.Id, message.ImageId);
            await OffloadAsync(server, faultJson: null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogShelveFailed(logger, server.Id, ex);
            if (message.ImageId is { } imageId)
            {
                await TryDiscardImageAsync(imageId);
                await store.SetShelvedImageAsync(server.Id, null);
            }

            await FailAsync(server.Id, ex);
        }
        finally
        {
            if (File.Exists(copy))
            {
                File.Delete(copy);
            }
        }
    }

    /// <summary>shelveOffload of a server SHELVED on this host (an offload that failed before).</summary>
    private async Task OffloadNowAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { TaskState: "shelving_offloading" } server)
        {
            return;
        }

        await ShutDownAsync(server.Id, cancellationToken);
        await OffloadAsync(server, faultJson: null);
    }

    /// <summary>
    /// The server leaves this host (Nova's _shelve_offload_instance, and the undoing of a failed unshelve): each volume's
    /// attachment is replaced by a reserved one without a connector, so the volume stays the server's while no host
    /// reaches it (the old attachment's export goes with it); the ports are unplugged and unbound; the instance
    /// directory goes; the row says SHELVED_OFFLOADED with no host, so the host's resources are free.
    /// </summary>
    private async Task OffloadAsync(ServerRow server, string? faultJson)
    {
        if (machines.Remove(server.Id) is { } machine)
        {
            await machine.DisposeAsync(); // a failed unshelve's guest
        }

        var ctx = ServiceContext(server);
        foreach (var bdm in (await store.ListBdmsAsync(server.Id)).Where(b => b.AttachmentId is not null))
        {
            var reserved = await volumes.ReserveAsync(ctx, bdm.VolumeId, server.Id);
            await store.UpdateBdmConnectionAsync(bdm.Id, reserved.Id, null);
            await ReleaseAttachmentAsync(ctx, bdm.VolumeId, bdm.AttachmentId!);
        }

        try
        {
            await networking.UnplugAsync(server.Id, CancellationToken.None);
        }
        catch (Exception ex) when (ex is ApiException or InvalidOperationException or IOException)
        {
            // The server leaves anyway; the taps left behind go at the next start's clean-up.
            LogPortsReleaseFailed(logger, server.Id, ex.Message);
        }

        TryDeleteDirectory(InstanceDir(server.Id));
        await store.OffloadServerAsync(server.Id, faultJson);
        LogOffloaded(logger, server.Id, Name);
    }

    /// <summary>
    /// unshelving → spawning → ACTIVE on this host, where the API moved the server: an image-backed server's root disk is
    /// a standalone copy of its shelved image (grown to the flavor's disk), which is then deleted; a volume-backed one
    /// boots its volume. The volumes are connected to this host and their attachments completed. A failure puts the
    /// server back to SHELVED_OFFLOADED with the fault, off this host, as Nova does.
    /// </summary>
    private async Task UnshelveNowAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { TaskState: "unshelving" } server || !await store.MoveTaskAsync(server.Id, "unshelving", "spawning"))
        {
            return;
        }

        try
        {
            var dir = InstanceDir(server.Id);
            Directory.CreateDirectory(dir);
            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            var disk = Path.Combine(dir, "disk");
            if (server.ShelvedImageId is { } shelved && !File.Exists(disk))
            {
                var shelvedBase = await images.FetchAsync(new ImageSpec(shelved), cancellationToken);
                if (shelvedBase.Format != "qcow2")
                {
                    throw new InvalidOperationException($"The shelved image {shelved} is {shelvedBase.Format}, not the qcow2 its shelve made.");
                }

                await driver.ConvertToImageAsync(shelvedBase.Path, disk + ".part", s_snapshotCopyTimeout, cancellationToken);
                File.Move(disk + ".part", disk);
                if (flavor.Disk > 0)
                {
                    await driver.GrowDiskAsync(disk, (long)flavor.Disk << 30, cancellationToken);
                }
            }

            var machine = await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            var ctx = ServiceContext(server);
            foreach (var volume in volumeDisks)
            {
                await volumes.CompleteAsync(ctx, volume.AttachmentId);
            }

            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running, launched: true);
            await store.SetShelvedImageAsync(server.Id, null);
            if (server.ShelvedImageId is { } used)
            {
                await TryDiscardImageAsync(used);
            }

            LogUnshelved(logger, server.Id, machine.Pid);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogUnshelveFailed(logger, server.Id, ex);
            var fault = new JsonObject { ["code"] = 500, ["created"] = Ids.ZuluSeconds(Ids.Now()), ["message"] = ex.Message };
            await OffloadAsync(server, fault.ToJsonString());
            throw; // the action's event says Error, as Nova's
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} shelved (image {ImageId})")]
    private static partial void LogShelved(ILogger logger, string serverId, string? imageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} offloaded from host {Host}")]
    private static partial void LogOffloaded(ILogger logger, string serverId, string host);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} unshelved (QEMU pid {Pid})")]
    private static partial void LogUnshelved(ILogger logger, string serverId, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shelve of server {ServerId} failed")]
    private static partial void LogShelveFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unshelve of server {ServerId} failed: it goes back to SHELVED_OFFLOADED")]
    private static partial void LogUnshelveFailed(ILogger logger, string serverId, Exception exception);
}
