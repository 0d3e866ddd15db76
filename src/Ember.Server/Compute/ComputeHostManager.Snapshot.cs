using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// createImage on the host (Nova's snapshot_instance with the libvirt driver's cold snapshot): the vCPUs stop while
// qemu-img copies the root disk, so the copy is one instant of the disk; the upload runs with the guest going again.
public sealed partial class ComputeHostManager
{
    /// <summary>How long one root disk may take to copy; a TCG host copying tens of GiB is slow, a stuck qemu-img is killed.</summary>
    private static readonly TimeSpan s_snapshotCopyTimeout = TimeSpan.FromHours(1);

    public Task SnapshotAsync(SnapshotServer message, CancellationToken cancellationToken)
    {
        Cast("snapshot", message.RequestId, message.ServerId, token => SnapshotNowAsync(message, token));
        return Task.CompletedTask;
    }

    /// <summary>
    /// task_state image_snapshot while the disk is copied (the guest stopped if it ran), image_pending_upload, then
    /// image_uploading; the image is active and the task_state clear at the end. On failure the image is deleted, the
    /// server keeps its vm_state with no task and the action's event says Error.
    /// </summary>
    private async Task SnapshotNowAsync(SnapshotServer message, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(message.ServerId) is not { } server || server.TaskState == "deleting")
        {
            // Nothing will fill the image: do not leave a queued one behind.
            await images.DiscardAsync(message.ImageId, cancellationToken);
            return;
        }

        var copy = Path.Combine(InstanceDir(server.Id), $"snapshot-{message.ImageId}.qcow2");
        // Each step moves the task_state on from the one before: a delete that came meanwhile (task_state deleting) keeps
        // its own, and the snapshot goes on only to the end of its current step.
        var task = "image_snapshot_pending";
        async Task StepAsync(string next)
        {
            if (!await store.MoveTaskAsync(server.Id, task, next))
            {
                throw new InvalidOperationException($"Server {server.Id} left task_state {task} while its snapshot ran.");
            }

            task = next;
        }

        try
        {
            await StepAsync("image_snapshot");
            await CopyRootDiskAsync(server, copy, cancellationToken);
            await StepAsync("image_pending_upload");
            await StepAsync("image_uploading");
            await images.UploadAsync(message.ImageId, server.ProjectId, copy, cancellationToken);
            LogSnapshotDone(logger, server.Id, message.ImageId);
        }
        catch (Exception ex)
        {
            LogSnapshotFailed(logger, server.Id, message.ImageId, ex);
            await TryDiscardImageAsync(message.ImageId);
            throw;
        }
        finally
        {
            File.Delete(copy);
            await store.MoveTaskAsync(server.Id, task, null);
        }
    }

    /// <summary>
    /// Flattens the root overlay into <paramref name="target"/>. A running guest is stopped (QMP <c>stop</c>) for the copy
    /// and always let go again (QMP <c>cont</c>), even when the copy fails; a paused or suspended one stays as it is.
    /// </summary>
    private async Task CopyRootDiskAsync(ServerRow server, string target, CancellationToken cancellationToken)
    {
        var disk = Path.Combine(InstanceDir(server.Id), "disk");
        if (!File.Exists(disk))
        {
            throw new InvalidOperationException($"Server {server.Id} has no root disk on host {Name}.");
        }

        var machine = server.VmState == VmStates.Active ? machines.Find(server.Id) : null;
        if (machine is null)
        {
            await driver.ConvertToImageAsync(disk, target, s_snapshotCopyTimeout, cancellationToken);
            return;
        }

        await machine.PauseAsync(cancellationToken);
        try
        {
            await driver.ConvertToImageAsync(disk, target, s_snapshotCopyTimeout, cancellationToken);
        }
        finally
        {
            // Not the work's token: a shutdown in the middle must not leave the guest stopped.
            await machine.ResumeAsync(CancellationToken.None);
        }
    }

    private async Task TryDiscardImageAsync(string imageId)
    {
        try
        {
            await images.DiscardAsync(imageId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogImageNotDiscarded(logger, imageId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Snapshot of server {ServerId} uploaded to image {ImageId}")]
    private static partial void LogSnapshotDone(ILogger logger, string serverId, string imageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Snapshot of server {ServerId} to image {ImageId} failed")]
    private static partial void LogSnapshotFailed(ILogger logger, string serverId, string imageId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The image {ImageId} of a failed snapshot was not deleted: {Reason}")]
    private static partial void LogImageNotDiscarded(ILogger logger, string imageId, string reason);
}
