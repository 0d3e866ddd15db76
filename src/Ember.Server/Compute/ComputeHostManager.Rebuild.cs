using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// rebuild on the host (Nova's rebuild_instance with the libvirt driver): the same server, its root disk made afresh
// from the image its row now names (a root volume re-imaged in place, 2.93); the other volumes, ports and files stay.
public sealed partial class ComputeHostManager
{
    public Task RebuildAsync(RebuildServer message, CancellationToken cancellationToken)
    {
        Cast("rebuild", message.RequestId, message.ServerId, token => RebuildNowAsync(message, token));
        return Task.CompletedTask;
    }

    /// <summary>
    /// task_state rebuilding → rebuild_block_device_mapping → rebuild_spawning, as Nova's steps. The guest is shut down
    /// (ACPI, hard after a grace period), the root overlay and the config drive go (both are made again from the row),
    /// and the server boots ACTIVE; a stopped one gets its new overlay and stays SHUTOFF, as Nova powers it off again.
    /// A failure leaves it in ERROR with the fault.
    /// </summary>
    private async Task RebuildNowAsync(RebuildServer message, CancellationToken cancellationToken)
    {
        var adminPass = message.AdminPass ?? bootPasswords.Take(message.ServerId);
        // A delete that came meanwhile took the task_state: it wins.
        if (await OwnedAsync(message.ServerId) is not { TaskState: "rebuilding" } server)
        {
            return;
        }

        try
        {
            if (machines.Remove(server.Id) is { } machine)
            {
                await machine.ShutdownAsync(s_powerOffGrace, cancellationToken);
                await machine.DisposeAsync();
            }

            if (!await store.MoveTaskAsync(server.Id, "rebuilding", "rebuild_block_device_mapping"))
            {
                return;
            }

            var dir = InstanceDir(server.Id);
            if ((await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.BootIndex == 0 && b.AttachmentId is not null) is { } rootBdm)
            {
                await ReimageRootVolumeAsync(server, rootBdm, cancellationToken);
            }
            else
            {
                File.Delete(Path.Combine(dir, "disk"));
            }

            File.Delete(Path.Combine(dir, Metadata.ConfigDrive.FileName));
            if (!await store.MoveTaskAsync(server.Id, "rebuild_block_device_mapping", "rebuild_spawning"))
            {
                return;
            }

            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            if (server.VmState == VmStates.Stopped)
            {
                // A volume-backed server's root was re-imaged in place; an image-backed one gets its overlay now.
                if (!volumeDisks.Any(v => v.BootIndex == 0))
                {
                    Directory.CreateDirectory(dir);
                    await RootOverlayAsync(dir, flavor, image ?? throw new InvalidOperationException("The server has no image to rebuild from."),
                        cancellationToken);
                }

                await store.SetStateAsync(server.Id, VmStates.Stopped, null, PowerStates.Shutdown);
                LogRebuilt(logger, server.Id, server.ImageId);
                return;
            }

            var booted = await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running, launched: true);
            LogRebuilt(logger, server.Id, server.ImageId);
            if (adminPass is { } password)
            {
                work.Run("admin password", ("ServerId", server.Id), token => SetPasswordWhenAgentReadyAsync(booted, password, token));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRebuildFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>
    /// Nova's _rebuild_volume_backed_instance (2.93): a new attachment first, so the volume stays reserved for the server,
    /// then the old one goes (Nova's _detach_root_volume); Cinder's os-reimage with reimage_reserved writes the image over
    /// the volume, which keeps its id, and this waits until it is reserved again (Nova's reimage_timeout_per_gb, 20 s per
    /// GiB); then the new attachment is connected and completed.
    /// </summary>
    private async Task ReimageRootVolumeAsync(ServerRow server, BdmRow rootBdm, CancellationToken cancellationToken)
    {
        var ctx = ServiceContext(server);
        var imageId = server.ImageId ?? throw new InvalidOperationException("The server has no image to rebuild from.");
        var attachment = await volumes.ReserveAsync(ctx, rootBdm.VolumeId, server.Id);
        await store.UpdateBdmConnectionAsync(rootBdm.Id, attachment.Id, null);
        await volumes.DeleteAttachmentAsync(ctx, rootBdm.AttachmentId!);
        var volume = await volumes.GetAsync(ctx, rootBdm.VolumeId);
        await volumes.ReimageAsync(ctx, rootBdm.VolumeId, imageId, reimageReserved: true);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20 * Math.Max(volume.Size, 1));
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            var status = (await volumes.GetAsync(ctx, rootBdm.VolumeId)).Status;
            if (status == "reserved")
            {
                // Connected and completed now, as Nova's attach_block_devices: in-use again whether the guest boots or stays off.
                await ConnectAsync(ctx, server.Id, new VolumeDisk(rootBdm.Id, rootBdm.VolumeId, attachment.Id, rootBdm.DeviceName, rootBdm.BootIndex));
                await volumes.CompleteAsync(ctx, attachment.Id);
                LogRootVolumeReimaged(logger, server.Id, rootBdm.VolumeId, imageId);
                return;
            }

            if (status != "downloading" || DateTime.UtcNow >= deadline)
            {
                throw new InvalidOperationException($"Failed to rebuild volume backed instance: volume {rootBdm.VolumeId} is {status} after its reimage.");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Root volume {VolumeId} of server {ServerId} re-imaged with image {ImageId}")]
    private static partial void LogRootVolumeReimaged(ILogger logger, string serverId, string volumeId, string imageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} rebuilt on image {ImageId}")]
    private static partial void LogRebuilt(ILogger logger, string serverId, string? imageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Server {ServerId} failed to rebuild")]
    private static partial void LogRebuildFailed(ILogger logger, string serverId, Exception exception);
}
