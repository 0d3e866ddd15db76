using Ember.Server.Common;

namespace Ember.Server.Volume;

// Snapshots: a copy of the volume's file taken off the request thread (creating -> available).
public sealed partial class VolumeService
{
    public static ApiException SnapshotNotFound(string id) => ApiException.NotFound($"Snapshot {id} could not be found.");

    /// <summary>Name and description of a visible snapshot; what is not given stays.</summary>
    public async Task<SnapshotRow> UpdateSnapshotAsync(RequestContext ctx, string id, Optional<string?> name, Optional<string?> description)
    {
        _ = await FindVisibleSnapshotAsync(ctx, id);
        await store.UpdateSnapshotAsync(id, name, description);
        return await FindVisibleSnapshotAsync(ctx, id);
    }

    /// <summary>Changes a visible snapshot's metadata atomically.</summary>
    public async Task<Dictionary<string, string>> ChangeSnapshotMetadataAsync(RequestContext ctx, string id, Func<Dictionary<string, string>, Dictionary<string, string>> change)
    {
        _ = await FindVisibleSnapshotAsync(ctx, id);
        return await store.ChangeSnapshotMetadataAsync(id, change) ?? throw SnapshotNotFound(id);
    }

    public async Task<SnapshotRow> FindVisibleSnapshotAsync(RequestContext ctx, string id)
    {
        var row = await store.FindSnapshotAsync(id);
        return row is not null && CanSee(ctx, row.ProjectId) ? row : throw SnapshotNotFound(id);
    }

    /// <summary>From an available volume; an in-use one needs force (or 3.66+), as in Cinder.</summary>
    public async Task<SnapshotRow> CreateSnapshotAsync(RequestContext ctx, string volumeId, string? name, string? description,
        IReadOnlyDictionary<string, string>? metadata, bool force)
    {
        var projectId = ctx.RequireProject();
        var volume = await FindVisibleAsync(ctx, volumeId);
        string[] allowed = force ? ["available", "in-use"] : ["available"];
        var limits = await store.LimitsOfAsync(volume.ProjectId);
        var now = Ids.Now();
        var row = new SnapshotRow
        {
            Id = Ids.NewUuid(),
            VolumeId = volumeId,
            ProjectId = volume.ProjectId,
            UserId = ctx.UserId,
            Name = name,
            Description = description,
            Size = volume.Size,
            Status = "creating",
            Metadata = JsonOf(metadata ?? new Dictionary<string, string>()),
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (!await store.InsertSnapshotAsync(row, allowed, limits))
        {
            var current = await store.FindVolumeAsync(volumeId) ?? throw VolumeNotFound(volumeId);
            if (!allowed.Contains(current.Status))
            {
                throw InvalidVolume(current.Status == "in-use"
                    ? "Volume is in-use and force is not set; snapshot of an in-use volume needs force=True."
                    : $"Volume {volumeId} status must be available, but current status is: {current.Status}.");
            }

            throw await OverQuotaAsync(projectId, limits, volume.Size, "snapshots");
        }

        work.Run("snapshot", ("VolumeId", volumeId), async ct =>
        {
            await backend.CreateSnapshotAsync(volumeId, row.Id, ct);
            await store.TransitionSnapshotAsync(row.Id, ["creating"], "available");
        }, FailWithMessage(volume.ProjectId, MessageFields.SnapshotResource, row.Id, MessageFields.SnapshotCreate, MessageFields.SnapshotCreateError,
            () => store.TransitionSnapshotAsync(row.Id, ["creating"], "error")));
        return row;
    }

    public async Task DeleteSnapshotAsync(RequestContext ctx, string id, bool force)
    {
        await FindVisibleSnapshotAsync(ctx, id);
        string[] from = force ? ["available", "error", "creating", "error_deleting", "deleting"] : ["available", "error"];
        if (!await store.TransitionSnapshotAsync(id, from, "deleting"))
        {
            var current = await store.FindSnapshotAsync(id);
            throw ApiException.BadRequest($"Invalid snapshot: Volume Snapshot status must be available or error, currently {current?.Status}.");
        }

        RunSnapshotDelete((await store.FindSnapshotAsync(id))!);
    }

    /// <summary>Cinder's snapshot statuses, the values os-reset_status accepts.</summary>
    public static readonly string[] SnapshotStatuses = ["creating", "available", "deleting", "error", "error_deleting", "unmanaging", "backing-up", "restoring"];

    /// <summary>os-reset_status (admin): the status is set, nothing else happens (Cinder's admin action).</summary>
    public async Task ResetSnapshotStatusAsync(RequestContext ctx, string id, string status)
    {
        await FindVisibleSnapshotAsync(ctx, id);
        if (!SnapshotStatuses.Contains(status))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute status. Value: {status}. It must be one of: {string.Join(", ", SnapshotStatuses)}.");
        }

        if (!await store.ResetSnapshotStatusAsync(id, status))
        {
            throw SnapshotNotFound(id);
        }
    }

    /// <summary>
    /// os-update_snapshot_status, what a volume driver reports: a creating snapshot becomes available or error, a
    /// deleting one stays deleting or becomes error_deleting (Cinder's status map); any other step is a 400.
    /// </summary>
    public async Task UpdateSnapshotStatusAsync(RequestContext ctx, string id, string status, string? progress)
    {
        var snapshot = await FindVisibleSnapshotAsync(ctx, id);
        var allowed = snapshot.Status switch
        {
            "creating" => status is "available" or "error",
            "deleting" => status is "deleting" or "error_deleting",
            _ => throw ApiException.BadRequest($"Snapshot status {snapshot.Status} not allowed for update_snapshot_status"),
        };
        if (!allowed)
        {
            throw ApiException.BadRequest($"Provided snapshot status {status} not allowed for snapshot with status {snapshot.Status}.");
        }

        if (!await store.UpdateSnapshotStatusAsync(id, snapshot.Status, status, progress))
        {
            throw ApiException.BadRequest($"Snapshot status {(await store.FindSnapshotAsync(id))?.Status} not allowed for update_snapshot_status");
        }
    }

    /// <summary>
    /// The data half of a snapshot delete (also resumed at start-up). A snapshot that volumes still depend on (RBD
    /// clones: Cinder's SnapshotIsBusy) goes back to available, as in Cinder; any other failure leaves it
    /// error_deleting. Either way a user message says so (Cinder's SNAPSHOT_DELETE with SNAPSHOT_IS_BUSY or
    /// SNAPSHOT_DELETE_ERROR).
    /// </summary>
    private void RunSnapshotDelete(SnapshotRow snapshot)
    {
        var requestId = CurrentRequestId();
        work.Run("snapshot delete", ("SnapshotId", snapshot.Id), async ct =>
        {
            await backend.DeleteSnapshotAsync(snapshot.VolumeId, snapshot.Id, ct);
            await store.DeleteSnapshotRowAsync(snapshot.Id);
        }, async e =>
        {
            var busy = e is VolumeBackendBusyException;
            if (await store.TransitionSnapshotAsync(snapshot.Id, ["deleting"], busy ? "available" : "error_deleting"))
            {
                await RecordFailureAsync(snapshot.ProjectId, requestId, MessageFields.SnapshotResource, snapshot.Id, MessageFields.SnapshotDelete,
                    busy ? MessageFields.SnapshotIsBusy : MessageFields.SnapshotDeleteError, busy ? null : FailureReasons.Of(e));
            }
        });
    }
}
