using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

/// <summary>Why a backup could not begin; the service turns each into Cinder's error.</summary>
public enum BackupStart
{
    Begun,
    VolumeNotReady,
    SnapshotNotReady,
    NoParent,
    OverBackups,
    OverGigabytes,
}

/// <summary>Why a restore could not begin.</summary>
public enum RestoreStart
{
    Begun,
    BackupNotAvailable,
    VolumeNotAvailable,
    VolumeTooSmall,
}

// Backups: the rows of volume_backups. A backup's start moves its source (the volume, or the snapshot) to backing-up in
// the same transaction that checks the backup quotas and picks an incremental's parent, under the project's quota lock
// and the volume's lock, which a delete of one of the volume's backups takes too (so a parent cannot go meanwhile).
public sealed partial class VolumeStore
{
    private const string BackupColumns = "id, project_id, user_id, volume_id, snapshot_id, parent_id, restore_volume_id, name, description, status, fail_reason, container, availability_zone, size, object_count, is_incremental, metadata, data_timestamp, created_at, updated_at";

    /// <summary>
    /// Inserts the backup (creating) and moves its source to backing-up: the snapshot when it has one (the volume is left
    /// alone, as in Cinder), else the volume from one of <paramref name="volumeFrom"/>. An incremental one gets the
    /// volume's newest available backup as its parent. Returns the row as inserted, or why nothing was.
    /// </summary>
    public async Task<(BackupStart Outcome, BackupRow Row)> BeginBackupAsync(BackupRow row, IReadOnlyCollection<string> volumeFrom, QuotaLimits limits)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(row.ProjectId));
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        var usage = await c.QuerySingleAsync<(long Count, long Gigabytes)>(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM volume_backups WHERE project_id = @P", new { P = row.ProjectId }, tx);
        if (limits.Backups >= 0 && usage.Count + 1 > limits.Backups)
        {
            return (BackupStart.OverBackups, row);
        }

        if (limits.BackupGigabytes >= 0 && usage.Gigabytes + row.Size > limits.BackupGigabytes)
        {
            return (BackupStart.OverGigabytes, row);
        }

        if (row.IsIncremental)
        {
            var parent = await c.QueryFirstOrDefaultAsync<string>(
                "SELECT id FROM volume_backups WHERE volume_id = @V AND status = 'available' ORDER BY data_timestamp DESC, created_at DESC, id DESC",
                new { V = row.VolumeId }, tx);
            if (parent is null)
            {
                return (BackupStart.NoParent, row);
            }

            row = row with { ParentId = parent };
        }

        var now = Ids.Now();
        if (row.SnapshotId is { } snapshotId)
        {
            if (await c.ExecuteAsync("UPDATE volume_snapshots SET status = 'backing-up', updated_at = @Now WHERE id = @Id AND volume_id = @V AND status = 'available'",
                new { Id = snapshotId, V = row.VolumeId, Now = now }, tx) != 1)
            {
                return (BackupStart.SnapshotNotReady, row);
            }
        }
        else if (await c.ExecuteAsync($"UPDATE volumes SET status = 'backing-up', updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}",
            new { Id = row.VolumeId, From = volumeFrom.ToArray(), Now = now }, tx) != 1)
        {
            return (BackupStart.VolumeNotReady, row);
        }

        await c.ExecuteAsync($"""
            INSERT INTO volume_backups ({BackupColumns})
            VALUES (@Id, @ProjectId, @UserId, @VolumeId, @SnapshotId, @ParentId, @RestoreVolumeId, @Name, @Description, @Status, @FailReason, @Container,
                    @AvailabilityZone, @Size, @ObjectCount, @IsIncremental, @Metadata, @DataTimestamp, @CreatedAt, @UpdatedAt)
            """, row, tx);
        await tx.CommitAsync();
        return (BackupStart.Begun, row);
    }

    /// <summary>Frees a volume a backup read: backing-up -> the status its attachments give (available or in-use).</summary>
    public async Task EndBackingUpAsync(string volumeId)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(volumeId));
        if (await c.ExecuteScalarAsync<string>("SELECT status FROM volumes WHERE id = @Id", new { Id = volumeId }, tx) == "backing-up")
        {
            await RecomputeStatusAsync(c, volumeId, tx);
        }

        await tx.CommitAsync();
    }

    /// <summary>Ends a backup's work: creating -> available (or error with the reason), its object count set.</summary>
    public async Task<bool> FinishBackupAsync(string id, string status, int objectCount, string? failReason)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            UPDATE volume_backups SET status = @Status, object_count = @Objects, fail_reason = @Reason, updated_at = @Now WHERE id = @Id AND status = 'creating'
            """, new { Id = id, Status = status, Objects = objectCount, Reason = failReason, Now = Ids.Now() }) == 1;
    }

    public async Task<BackupRow?> FindBackupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<BackupRow>($"SELECT {BackupColumns} FROM volume_backups WHERE id = @Id", new { Id = id });
    }

    /// <summary>Every backup of every project (for recovery at start).</summary>
    public async Task<IReadOnlyList<BackupRow>> ListAllBackupsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<BackupRow>($"SELECT {BackupColumns} FROM volume_backups ORDER BY created_at, id")];
    }

    /// <summary>One page of the backups matching <paramref name="filter"/>; null when the marker is not one of the project's.</summary>
    public Task<Page<BackupRow>?> ListBackupsAsync(BackupFilter filter, PageRequest page, bool withCount) =>
        s_backupList.QueryAsync<BackupRow>(db,
            new SqlWhere().Scope("project_id", filter.ProjectId).Equal("volume_id", filter.VolumeId).Equal("name", filter.Name).Equal("status", filter.Status),
            page, withCount);

    private static readonly SqlList s_backupList = new("volume_backups", BackupColumns,
        SortKeys(("name", "COALESCE(name, '')"), ("display_name", "COALESCE(name, '')"), ("size", "size"), ("status", "status"), ("volume_id", "volume_id"),
            ("data_timestamp", "data_timestamp")),
        new SortKey("created_at", true), new SortKey("id", true));

    /// <summary>Which of the given backups have incrementals built on them (has_dependent_backups), in one query.</summary>
    public async Task<IReadOnlySet<string>> BackupsWithDependentsAsync(IReadOnlyCollection<string> ids)
    {
        if (ids.Count == 0)
        {
            return new HashSet<string>();
        }

        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<string>($"SELECT DISTINCT parent_id FROM volume_backups WHERE parent_id {db.Dialect.In("@Ids")}", new { Ids = ids.ToArray() }))
            .ToHashSet(StringComparer.Ordinal);
    }

    public async Task<bool> TransitionBackupAsync(string id, IEnumerable<string> from, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync($"UPDATE volume_backups SET status = @To, updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}",
            new { Id = id, From = from.ToArray(), To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>os-reset_status: whatever the backup's status was.</summary>
    public async Task<bool> ResetBackupStatusAsync(string id, string status)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volume_backups SET status = @Status, updated_at = @Now WHERE id = @Id",
            new { Id = id, Status = status, Now = Ids.Now() }) == 1;
    }

    /// <summary>Name, description and (replaced whole) metadata; what is not given stays.</summary>
    public Task UpdateBackupAsync(string id, Optional<string?> name, Optional<string?> description, string? metadata) =>
        UpdateTextsAsync("volume_backups", id, name, description, metadata);

    /// <summary>
    /// Starts a delete: to deleting from one of <paramref name="from"/> when no incremental depends on the backup,
    /// under the lock of its volume (which a new incremental's start takes to pick its parent). False otherwise.
    /// </summary>
    public async Task<bool> BeginDeleteBackupAsync(BackupRow backup, IReadOnlyCollection<string> from)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(backup.VolumeId));
        var begun = await c.ExecuteAsync($"""
            UPDATE volume_backups SET status = 'deleting', updated_at = @Now
            WHERE id = @Id AND status {db.Dialect.In("@From")} AND NOT EXISTS (SELECT 1 FROM volume_backups d WHERE d.parent_id = @Id)
            """, new { backup.Id, From = from.ToArray(), Now = Ids.Now() }, tx) == 1;
        await tx.CommitAsync();
        return begun;
    }

    public async Task DeleteBackupRowAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM volume_backups WHERE id = @Id", new { Id = id });
    }

    /// <summary>
    /// Starts a restore into an existing volume: the backup available -> restoring (naming the volume) and the volume
    /// available -> restoring-backup, both or neither.
    /// </summary>
    public async Task<RestoreStart> BeginRestoreAsync(string backupId, string volumeId, int backupSize)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(volumeId));
        var volume = await c.QuerySingleOrDefaultAsync<(string? Status, long Size)>("SELECT status, size FROM volumes WHERE id = @Id", new { Id = volumeId }, tx);
        if (volume.Status != "available")
        {
            return RestoreStart.VolumeNotAvailable;
        }

        if (volume.Size < backupSize)
        {
            return RestoreStart.VolumeTooSmall;
        }

        var now = Ids.Now();
        if (await c.ExecuteAsync("UPDATE volume_backups SET status = 'restoring', restore_volume_id = @V, updated_at = @Now WHERE id = @Id AND status = 'available'",
            new { Id = backupId, V = volumeId, Now = now }, tx) != 1)
        {
            return RestoreStart.BackupNotAvailable;
        }

        await c.ExecuteAsync("UPDATE volumes SET status = 'restoring-backup', updated_at = @Now WHERE id = @Id", new { Id = volumeId, Now = now }, tx);
        await tx.CommitAsync();
        return RestoreStart.Begun;
    }

    /// <summary>Marks the backup restoring into a volume being created from it (3.47); false when it is not available.</summary>
    public async Task<bool> BeginRestoreIntoNewAsync(string backupId, string volumeId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volume_backups SET status = 'restoring', restore_volume_id = @V, updated_at = @Now WHERE id = @Id AND status = 'available'",
            new { Id = backupId, V = volumeId, Now = Ids.Now() }) == 1;
    }

    /// <summary>Ends a restore on the backup's side: restoring -> available.</summary>
    public async Task EndRestoreAsync(string backupId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE volume_backups SET status = 'available', restore_volume_id = NULL, updated_at = @Now WHERE id = @Id AND status = 'restoring'",
            new { Id = backupId, Now = Ids.Now() });
    }
}
