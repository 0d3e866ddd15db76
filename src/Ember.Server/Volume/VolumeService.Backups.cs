using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

// Backups (cinder/backup/api.py and manager.py with the chunked POSIX driver): the volume's (or a snapshot's) data read
// to a raw scratch file and stored as chunks by BackupChunkStore; a restore writes it back into a volume.
public sealed partial class VolumeService
{
    /// <summary>What POST /backups asks for.</summary>
    public sealed record BackupRequest(string VolumeId)
    {
        public string? SnapshotId { get; init; }
        public string? Name { get; init; }
        public string? Description { get; init; }
        public string? Container { get; init; }
        public bool Incremental { get; init; }
        public bool Force { get; init; }
        public IReadOnlyDictionary<string, string>? Metadata { get; init; }
        public string? AvailabilityZone { get; init; }
    }

    /// <summary>Cinder's backup statuses, the values os-reset_status accepts (it takes only available and error).</summary>
    public static readonly string[] BackupResetStatuses = ["available", "error"];

    public static ApiException BackupNotFound(string id) => ApiException.NotFound($"Backup {id} could not be found.");

    public static ApiException InvalidBackup(string reason) => ApiException.BadRequest($"Invalid backup: {reason}");

    public async Task<BackupRow> FindVisibleBackupAsync(RequestContext ctx, string id)
    {
        var row = await store.FindBackupAsync(id);
        return row is not null && CanSee(ctx, row.ProjectId) ? row : throw BackupNotFound(id);
    }

    public async Task<Page<BackupRow>> ListBackupsAsync(RequestContext ctx, bool allTenants, BackupFilter filter, PageRequest page, bool withCount) =>
        await store.ListBackupsAsync(filter with { ProjectId = ListScope(ctx, allTenants, filter.ProjectId) }, page, withCount)
            ?? throw MarkerNotFound(page.Marker);

    /// <summary>Which of the backups shown have incrementals built on them.</summary>
    public Task<IReadOnlySet<string>> BackupsWithDependentsAsync(IReadOnlyCollection<string> ids) => store.BackupsWithDependentsAsync(ids);

    /// <summary>
    /// Starts a backup of an available volume, an in-use one with force, or an available snapshot of it; an
    /// incremental one needs an available backup of the volume to build on. The backup counts against the
    /// project's backups and backup_gigabytes quotas from the start.
    /// </summary>
    public async Task<BackupRow> CreateBackupAsync(RequestContext ctx, BackupRequest request)
    {
        var volume = await FindVisibleAsync(ctx, request.VolumeId);
        SnapshotRow? snapshot = null;
        if (request.SnapshotId is { } snapshotId)
        {
            snapshot = await FindVisibleSnapshotAsync(ctx, snapshotId);
            if (snapshot.VolumeId != volume.Id)
            {
                throw InvalidVolume($"Volume {volume.Id} does not match with snapshot.volume_id {snapshot.VolumeId}.");
            }
        }

        if (request.Container is { } container && !BackupChunkStore.IsValidContainer(container))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute container: path segments of letters, digits, '_', '-' and '.', at most 255 characters.");
        }

        var now = Ids.Now();
        var id = Ids.NewUuid();
        var row = new BackupRow
        {
            Id = id,
            ProjectId = volume.ProjectId,
            UserId = ctx.UserId,
            VolumeId = volume.Id,
            SnapshotId = snapshot?.Id,
            Name = request.Name,
            Description = request.Description,
            Status = "creating",
            Container = request.Container ?? BackupChunkStore.DefaultContainer(id),
            AvailabilityZone = request.AvailabilityZone ?? volume.AvailabilityZone,
            Size = volume.Size,
            IsIncremental = request.Incremental,
            Metadata = JsonOf(request.Metadata ?? new Dictionary<string, string>()),
            DataTimestamp = snapshot?.CreatedAt ?? now,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var limits = await store.LimitsOfAsync(volume.ProjectId);
        var (outcome, begun) = await store.BeginBackupAsync(row, request.Force ? ["available", "in-use"] : ["available"], limits);
        switch (outcome)
        {
            case BackupStart.OverBackups:
                throw new ApiException(ErrorKind.RequestTooLarge, $"BackupLimitExceeded: Maximum number of backups allowed ({limits.Backups}) exceeded");
            case BackupStart.OverGigabytes:
                {
                    var usage = await store.UsageOfAsync(volume.ProjectId);
                    throw new ApiException(ErrorKind.RequestTooLarge,
                        $"VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested {volume.Size}G, quota is {limits.BackupGigabytes}G and {usage.BackupGigabytes}G has been consumed.");
                }

            case BackupStart.NoParent:
                throw InvalidBackup("No backups available to do an incremental backup.");
            case BackupStart.SnapshotNotReady:
                throw ApiException.BadRequest($"Invalid snapshot: Snapshot to be backed up must be available, but the current status is \"{(await store.FindSnapshotAsync(snapshot!.Id))?.Status}\".");
            case BackupStart.VolumeNotReady:
                {
                    var status = (await store.FindVolumeAsync(volume.Id))?.Status;
                    throw InvalidVolume(status == "in-use"
                        ? "Backing up an in-use volume must use the force flag."
                        : $"Volume to be backed up must be available or in-use, but the current status is \"{status}\".");
                }
        }

        LogBackingUp(logger, begun.Id, volume.Id, begun.ParentId ?? "none");
        RunBackup(begun);
        return begun;
    }

    /// <summary>The data half of a backup: read the source, store the chunks, then free the source either way.</summary>
    private void RunBackup(BackupRow backup)
    {
        async Task ReleaseSourceAsync()
        {
            if (backup.SnapshotId is { } snapshotId)
            {
                await store.TransitionSnapshotAsync(snapshotId, ["backing-up"], "available");
            }
            else
            {
                await store.EndBackingUpAsync(backup.VolumeId);
            }
        }

        work.Run("backup", ("BackupId", backup.Id), async ct =>
        {
            var raw = chunks.NewWorkFile(backup.Id);
            int objects;
            try
            {
                if (backup.SnapshotId is { } snapshotId)
                {
                    await backend.CopySnapshotToFileAsync(backup.VolumeId, snapshotId, raw, ct);
                }
                else
                {
                    await backend.CopyToFileAsync(backup.VolumeId, raw, "raw", ct);
                }

                await ReleaseSourceAsync();
                var parent = backup.ParentId is { } parentId && await store.FindBackupAsync(parentId) is { } parentRow
                    ? await chunks.ReadManifestAsync(parentRow, ct)
                    : null;
                objects = await chunks.WriteAsync(backup, raw, parent, await store.FindVolumeAsync(backup.VolumeId), ct);
            }
            finally
            {
                File.Delete(raw);
            }

            if (!await store.FinishBackupAsync(backup.Id, "available", objects, null))
            {
                // Force-deleted while it was being made: its files go too.
                chunks.Delete(backup);
            }
        }, async e =>
        {
            await ReleaseSourceAsync();
            chunks.Delete(backup);
            await store.FinishBackupAsync(backup.Id, "error", 0, FailureReasons.Of(e) ?? "The backup could not be made.");
        });
    }

    /// <summary>Name, description and (3.43, replaced whole) metadata of a visible backup; what is not given stays.</summary>
    public async Task<BackupRow> UpdateBackupAsync(RequestContext ctx, string id, Optional<string?> name, Optional<string?> description,
        IReadOnlyDictionary<string, string>? metadata)
    {
        _ = await FindVisibleBackupAsync(ctx, id);
        await store.UpdateBackupAsync(id, name, description, metadata is null ? null : JsonOf(metadata));
        return await FindVisibleBackupAsync(ctx, id);
    }

    /// <summary>
    /// Deletes an available or failed backup (any status with force, the admin's os-force_delete), unless an
    /// incremental backup is built on it.
    /// </summary>
    public async Task DeleteBackupAsync(RequestContext ctx, string id, bool force)
    {
        var backup = await FindVisibleBackupAsync(ctx, id);
        if ((await store.BackupsWithDependentsAsync([id])).Count > 0)
        {
            throw InvalidBackup("Incremental backups exist for this backup.");
        }

        string[] from = force ? ["available", "error", "creating", "restoring", "deleting", "error_deleting"] : ["available", "error"];
        if (!await store.BeginDeleteBackupAsync(backup, from))
        {
            var current = await store.FindBackupAsync(id) ?? throw BackupNotFound(id);
            throw (await store.BackupsWithDependentsAsync([id])).Count > 0
                ? InvalidBackup("Incremental backups exist for this backup.")
                : InvalidBackup($"Backup status must be available or error, but the current status is \"{current.Status}\".");
        }

        LogDeletingBackup(logger, id);
        RunBackupDelete(backup);
    }

    /// <summary>The data half of a backup delete (also resumed at start-up); a failure leaves it error with the reason.</summary>
    private void RunBackupDelete(BackupRow backup) =>
        work.Run("backup delete", ("BackupId", backup.Id), async _ =>
        {
            chunks.Delete(backup);
            await store.DeleteBackupRowAsync(backup.Id);
        }, async e =>
        {
            if (await store.TransitionBackupAsync(backup.Id, ["deleting"], "error"))
            {
                LogBackupDeleteFailed(logger, backup.Id, e.Message);
            }
        });

    /// <summary>os-reset_status (admin): available or error, nothing else happens.</summary>
    public async Task ResetBackupStatusAsync(RequestContext ctx, string id, string status)
    {
        _ = await FindVisibleBackupAsync(ctx, id);
        if (!BackupResetStatuses.Contains(status))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute status. Value: {status}. '{status}' is not one of ['available', 'error']");
        }

        if (!await store.ResetBackupStatusAsync(id, status))
        {
            throw BackupNotFound(id);
        }
    }

    /// <summary>
    /// Restores an available backup into an existing available volume at least as large (which goes through
    /// restoring-backup), or, with no volume, into a new volume of the backup's size in the caller's project.
    /// Returns the volume written.
    /// </summary>
    public async Task<VolumeRow> RestoreBackupAsync(RequestContext ctx, string id, string? volumeId, string? name)
    {
        var backup = await FindVisibleBackupAsync(ctx, id);
        if (backup.Status != "available")
        {
            throw InvalidBackup("Backup status must be available");
        }

        VolumeRow volume;
        if (volumeId is null)
        {
            volume = await InsertVolumeForRestoreAsync(ctx, backup, name ?? $"restore_backup_{backup.Id}", "auto-created_from_restore_from_backup",
                "restoring-backup", null, null);
            if (!await store.BeginRestoreIntoNewAsync(backup.Id, volume.Id))
            {
                await store.DeleteVolumeRowAsync(volume.Id);
                throw InvalidBackup("Backup status must be available");
            }

            LogRestoring(logger, backup.Id, volume.Id);
            RunRestore(backup, volume, createFirst: true, "restoring-backup");
            return volume;
        }

        volume = await FindVisibleAsync(ctx, volumeId);
        switch (await store.BeginRestoreAsync(backup.Id, volume.Id, backup.Size))
        {
            case RestoreStart.VolumeNotAvailable:
                throw InvalidVolume("Volume to be restored to must be available");
            case RestoreStart.VolumeTooSmall:
                throw InvalidVolume($"volume size {volume.Size} is too small to restore backup of size {backup.Size}.");
            case RestoreStart.BackupNotAvailable:
                throw InvalidBackup("Backup status must be available");
        }

        LogRestoring(logger, backup.Id, volume.Id);
        RunRestore(backup, volume, createFirst: false, "restoring-backup");
        return volume;
    }

    /// <summary>A volume row for a restore's data, within the project's volume quotas, in the given status.</summary>
    private async Task<VolumeRow> InsertVolumeForRestoreAsync(RequestContext ctx, BackupRow backup, string? name, string? description, string status,
        VolumeCreateRequest? request, VolumeTypeRow? type)
    {
        var projectId = ctx.RequireProject();
        var size = request is { Size: > 0 } ? request.Size : backup.Size;
        type ??= await DefaultTypeAsync(projectId);
        var limits = await store.LimitsOfAsync(projectId);
        var now = Ids.Now();
        var row = new VolumeRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            UserId = ctx.UserId,
            Name = name,
            Description = description,
            Size = size,
            Status = status,
            AttachStatus = "detached",
            VolumeTypeId = type.Id,
            AvailabilityZone = request?.AvailabilityZone ?? backup.AvailabilityZone,
            Multiattach = IsMultiattachType(type) || request?.Multiattach == true,
            Metadata = JsonOf(request?.Metadata ?? new Dictionary<string, string>()),
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (limits.PerVolumeGigabytes >= 0 && size > limits.PerVolumeGigabytes)
        {
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum allowed limit {limits.PerVolumeGigabytes}G.");
        }

        await InsertVolumeAsync(row, type, limits);

        return row;
    }

    /// <summary>
    /// 3.47: a new volume (creating) holding a backup's data, at least the backup's size; the backup is restoring meanwhile.
    /// </summary>
    private async Task<VolumeRow> CreateVolumeFromBackupAsync(RequestContext ctx, VolumeCreateRequest request)
    {
        var backup = await FindVisibleBackupAsync(ctx, request.BackupId!);
        if (backup.Status != "available")
        {
            throw InvalidBackup("Backup status must be available");
        }

        if (request.Size != 0 && request.Size < backup.Size)
        {
            throw ApiException.BadRequest($"Invalid input received: Volume size '{request.Size}'GB cannot be smaller than the backup size {backup.Size}GB. They must be >= original backup size.");
        }

        var type = request.VolumeType is { Length: > 0 } typeName ? await FindUsableTypeAsync(ctx, typeName) : null;
        if ((type is not null && IsMultiattachType(type)) || request.Multiattach == true)
        {
            policy.Enforce(ctx, "volume:multiattach");
        }

        var volume = await InsertVolumeForRestoreAsync(ctx, backup, request.Name, request.Description, "creating", request, type);
        if (!await store.BeginRestoreIntoNewAsync(backup.Id, volume.Id))
        {
            await store.DeleteVolumeRowAsync(volume.Id);
            throw InvalidBackup("Backup status must be available");
        }

        LogRestoring(logger, backup.Id, volume.Id);
        RunRestore(backup, volume, createFirst: true, "creating");
        return volume;
    }

    /// <summary>
    /// The data half of a restore: the chunks checked and written to a raw scratch file, then into the volume (made
    /// first when it is new). The volume becomes available, or error_restoring (error for a create) on a failure;
    /// the backup is available again either way.
    /// </summary>
    private void RunRestore(BackupRow backup, VolumeRow volume, bool createFirst, string volumeStatus) =>
        work.Run("restore", ("BackupId", backup.Id), async ct =>
        {
            if (createFirst)
            {
                await backend.CreateAsync(new NewVolume(volume.Id, volume.Size * GiB, volume.Multiattach), ct);
            }

            var manifest = await chunks.ReadManifestAsync(backup, ct);
            var raw = chunks.NewWorkFile(backup.Id);
            try
            {
                await chunks.RestoreToFileAsync(manifest, raw, ct);
                await backend.CopyFromFileAsync(volume.Id, raw, ct);
            }
            finally
            {
                File.Delete(raw);
            }

            await RestoreVolumeMetadataAsync(volume.Id, manifest);
            await store.TransitionAsync(volume.Id, [volumeStatus], "available");
            await store.EndRestoreAsync(backup.Id);
        }, async e =>
        {
            LogRestoreFailed(logger, backup.Id, volume.Id, e.Message);
            await store.TransitionAsync(volume.Id, [volumeStatus], volumeStatus == "creating" ? "error" : "error_restoring");
            await store.EndRestoreAsync(backup.Id);
        });

    /// <summary>
    /// Cinder restores the backed-up volume's metadata with its data: the user metadata merged into the volume's,
    /// and the image metadata with the bootable flag when the volume had them.
    /// </summary>
    private async Task RestoreVolumeMetadataAsync(string volumeId, BackupManifest manifest)
    {
        await store.ChangeVolumeMetadataAsync(volumeId, current =>
        {
            foreach (var (key, value) in manifest.VolumeMetadata)
            {
                current[key] = value;
            }

            return current;
        });
        if (manifest.ImageMetadata is { } image)
        {
            await store.ChangeVolumeImageMetadataAsync(volumeId, _ => new Dictionary<string, string>(image, StringComparer.Ordinal));
        }

        if (manifest.Bootable)
        {
            await store.SetVolumeFlagAsync(volumeId, "bootable", true);
        }
    }

    /// <summary>
    /// After Cinder's backup manager's init_host: creating -> error, restoring -> available with its volume (still
    /// restoring-backup) to error_restoring, deleting -> the delete resumed; a volume left backing-up is freed.
    /// </summary>
    private async Task RecoverBackupsAsync()
    {
        chunks.ClearWork();
        foreach (var backup in await store.ListAllBackupsAsync())
        {
            switch (backup.Status)
            {
                case "creating":
                    chunks.Delete(backup);
                    await store.FinishBackupAsync(backup.Id, "error", 0, FailureReasons.Interrupted);
                    if (backup.SnapshotId is { } snapshotId)
                    {
                        await store.TransitionSnapshotAsync(snapshotId, ["backing-up"], "available");
                    }

                    LogRecovered(logger, "backup", backup.Id, "creating", "error");
                    break;
                case "restoring":
                    if (backup.RestoreVolumeId is { } volumeId)
                    {
                        await store.TransitionAsync(volumeId, ["restoring-backup"], "error_restoring");
                    }

                    await store.EndRestoreAsync(backup.Id);
                    LogRecovered(logger, "backup", backup.Id, "restoring", "available");
                    break;
                case "deleting":
                    LogRecovered(logger, "backup", backup.Id, "deleting", "deleted");
                    RunBackupDelete(backup);
                    break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backing up volume {VolumeId} as backup {BackupId} (parent {ParentId})")]
    private static partial void LogBackingUp(ILogger logger, string backupId, string volumeId, string parentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restoring backup {BackupId} to volume {VolumeId}")]
    private static partial void LogRestoring(ILogger logger, string backupId, string volumeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Restoring backup {BackupId} to volume {VolumeId} failed: {Reason}")]
    private static partial void LogRestoreFailed(ILogger logger, string backupId, string volumeId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleting backup {BackupId}")]
    private static partial void LogDeletingBackup(ILogger logger, string backupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting backup {BackupId} failed: {Reason}")]
    private static partial void LogBackupDeleteFailed(ILogger logger, string backupId, string reason);
}
