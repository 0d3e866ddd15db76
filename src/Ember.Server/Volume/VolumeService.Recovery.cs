using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

// Crash recovery at start-up, after Cinder's volume manager init_host/_do_cleanup: no work survives a restart,
// so every transient status left by a kill -9 (or power loss) moves on to one a user can act on.
public sealed partial class VolumeService
{
    /// <summary>
    /// creating/downloading -> error; extending -> error_extending; uploading (with a message), attaching, detaching and reserved
    /// -> derived again from the attachments; deleting -> the delete is resumed. Snapshots: creating -> error,
    /// deleting -> resumed. An attachment still attaching that a server's mapping holds is completed (compute
    /// reconnects it from the mapping). Runs before the host serves requests or compute recovers its servers.
    /// </summary>
    public async Task RecoverAsync()
    {
        await RecoverBackupsAsync();
        foreach (var snapshot in await store.ListSnapshotsAsync(null))
        {
            if (snapshot.Status == "creating" && await store.TransitionSnapshotAsync(snapshot.Id, ["creating"], "error"))
            {
                LogRecovered(logger, "snapshot", snapshot.Id, "creating", "error");
                await RecordInterruptedAsync(snapshot.ProjectId, MessageFields.SnapshotResource, snapshot.Id, MessageFields.SnapshotCreate,
                    MessageFields.SnapshotCreateError);
            }
            else if (snapshot.Status == "deleting")
            {
                LogRecovered(logger, "snapshot", snapshot.Id, "deleting", "deleted");
                RunSnapshotDelete(snapshot);
            }
        }

        foreach (var attachment in await store.ListAttachmentsAsync())
        {
            if (attachment is { AttachStatus: "attaching", InstanceUuid: { } instance } && Consumers is { } consumers
                && await consumers.IsAttachmentInUseAsync(instance, attachment.VolumeId, attachment.Id)
                && await store.CompleteAsync(attachment.Id, attachment.VolumeId))
            {
                LogRecovered(logger, "attachment", attachment.Id, "attaching", "attached");
            }
        }

        foreach (var volume in await store.ListVolumesAsync(null))
        {
            switch (volume.Status)
            {
                case "creating":
                    await RecoverToAsync(volume, "error", MessageFields.CreateVolumeFromBackend, MessageFields.DriverFailedCreate);
                    break;
                case "downloading":
                    await RecoverToAsync(volume, "error", MessageFields.CopyImageToVolume, MessageFields.DriverFailedCreate);
                    break;
                case "extending":
                    await RecoverToAsync(volume, "error_extending", MessageFields.ExtendVolume, MessageFields.DriverFailedExtend);
                    break;
                case "restoring-backup" when await store.TransitionAsync(volume.Id, ["restoring-backup"], "error_restoring"):
                    // A restore whose backup is gone (force-deleted); the backup's own recovery moved the others.
                    LogRecovered(logger, "volume", volume.Id, "restoring-backup", "error_restoring");
                    break;
                case "uploading" or "attaching" or "detaching" or "reserved" or "backing-up":
                    {
                        await store.RecomputeStatusAsync(volume.Id);
                        var now = await store.FindVolumeAsync(volume.Id);
                        LogRecovered(logger, "volume", volume.Id, volume.Status, now?.Status ?? "deleted");
                        if (volume.Status == "uploading")
                        {
                            // The new image stays queued without data, as Glance leaves an upload cut off; the user deletes it.
                            await RecordInterruptedAsync(volume.ProjectId, MessageFields.VolumeResource, volume.Id, MessageFields.CopyVolumeToImage,
                                MessageFields.FailedToUploadVolume);
                        }

                        break;
                    }

                case "deleting":
                    LogRecovered(logger, "volume", volume.Id, "deleting", "deleted");
                    RunVolumeDelete(volume, await store.ListSnapshotsAsync(null, volume.Id));
                    break;
            }
        }
    }

    /// <summary>Moves the volume on and tells its project that the work was cut off.</summary>
    private async Task RecoverToAsync(VolumeRow volume, string to, MessageFields.Field action, MessageFields.Field detail)
    {
        if (await store.TransitionAsync(volume.Id, [volume.Status], to))
        {
            LogRecovered(logger, "volume", volume.Id, volume.Status, to);
            await RecordInterruptedAsync(volume.ProjectId, MessageFields.VolumeResource, volume.Id, action, detail);
        }
    }

    /// <summary>The request that started the work is gone with the process: the message gets a request id of its own.</summary>
    private Task RecordInterruptedAsync(string projectId, string resourceType, string resourceId, MessageFields.Field action, MessageFields.Field detail) =>
        RecordFailureAsync(projectId, "req-" + Ids.NewUuid(), resourceType, resourceId, action, detail, FailureReasons.Interrupted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered {Kind} {Id} left {From} by a restart: now {To}")]
    private static partial void LogRecovered(ILogger logger, string kind, string id, string from, string to);
}
