using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

/// <summary>Why a transfer could not be offered.</summary>
public enum TransferStart
{
    Begun,
    VolumeNotAvailable,
    SnapshotsNotAvailable,
}

/// <summary>What came of an accept.</summary>
public enum TransferAccept
{
    Accepted,
    Gone,
    VolumeNotAwaiting,
    OverVolumes,
    OverSnapshots,
    OverGigabytes,
}

// Volume transfers: the offer (volume available -> awaiting-transfer) and the accept (the volume, and its snapshots
// unless no_snapshots, change project) each in one transaction; the accept holds the receiving project's quota lock,
// so two accepts cannot both fit in the same room.
public sealed partial class VolumeStore
{
    private const string TransferColumns = "id, volume_id, project_id, user_id, name, salt, key_hash, no_snapshots, created_at, updated_at";

    public async Task<TransferStart> BeginTransferAsync(TransferRow row)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        if (!row.NoSnapshots && await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = @V AND status <> 'available'", new { V = row.VolumeId }, tx) > 0)
        {
            return TransferStart.SnapshotsNotAvailable;
        }

        if (await c.ExecuteAsync("UPDATE volumes SET status = 'awaiting-transfer', updated_at = @Now WHERE id = @Id AND status = 'available'",
            new { Id = row.VolumeId, Now = Ids.Now() }, tx) != 1)
        {
            return TransferStart.VolumeNotAvailable;
        }

        await c.ExecuteAsync($"""
            INSERT INTO volume_transfers ({TransferColumns})
            VALUES (@Id, @VolumeId, @ProjectId, @UserId, @Name, @Salt, @KeyHash, @NoSnapshots, @CreatedAt, @UpdatedAt)
            """, row, tx);
        await tx.CommitAsync();
        return TransferStart.Begun;
    }

    public async Task<TransferRow?> FindTransferAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<TransferRow>($"SELECT {TransferColumns} FROM volume_transfers WHERE id = @Id", new { Id = id });
    }

    /// <summary>One page of a project's transfers (null: every project's); null when the marker is not one of them.</summary>
    public Task<Page<TransferRow>?> ListTransfersAsync(string? projectId, string? name, PageRequest page) =>
        s_transferList.QueryAsync<TransferRow>(db, new SqlWhere().Scope("project_id", projectId).Equal("name", name), page);

    private static readonly SqlList s_transferList = new("volume_transfers", TransferColumns,
        SortKeys(("name", "COALESCE(name, '')"), ("volume_id", "volume_id")), new SortKey("created_at", true), new SortKey("id", true));

    /// <summary>
    /// Gives the volume (and, unless the transfer says no_snapshots, its snapshots) to <paramref name="toProject"/> if
    /// its volume quotas have room, and ends the transfer. The usage the quotas count moves with the rows.
    /// </summary>
    public async Task<TransferAccept> AcceptTransferAsync(TransferRow transfer, string toProject, string toUser, QuotaLimits limits)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(toProject));
        await db.LockAsync(c, tx, VolumeLock(transfer.VolumeId));
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_transfers WHERE id = @Id", new { transfer.Id }, tx) != 1)
        {
            return TransferAccept.Gone;
        }

        var volume = await c.QuerySingleOrDefaultAsync<(string? Status, long Size)>("SELECT status, size FROM volumes WHERE id = @Id", new { Id = transfer.VolumeId }, tx);
        if (volume.Status != "awaiting-transfer")
        {
            return TransferAccept.VolumeNotAwaiting;
        }

        var moving = transfer.NoSnapshots
            ? (Count: 0L, Gigabytes: 0L)
            : await c.QuerySingleAsync<(long Count, long Gigabytes)>(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM volume_snapshots WHERE volume_id = @V", new { V = transfer.VolumeId }, tx);
        var volumes = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volumes WHERE project_id = @P", new { P = toProject }, tx);
        var snapshots = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_snapshots WHERE project_id = @P", new { P = toProject }, tx);
        var gigabytes = await c.ExecuteScalarAsync<long>(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM volumes WHERE project_id = @P) + (SELECT COALESCE(SUM(size), 0) FROM volume_snapshots WHERE project_id = @P)",
            new { P = toProject }, tx);
        if (limits.Volumes >= 0 && volumes + 1 > limits.Volumes)
        {
            return TransferAccept.OverVolumes;
        }

        if (limits.Snapshots >= 0 && moving.Count > 0 && snapshots + moving.Count > limits.Snapshots)
        {
            return TransferAccept.OverSnapshots;
        }

        if (limits.Gigabytes >= 0 && gigabytes + volume.Size + moving.Gigabytes > limits.Gigabytes)
        {
            return TransferAccept.OverGigabytes;
        }

        var args = new { Id = transfer.VolumeId, P = toProject, U = toUser, Now = Ids.Now() };
        await c.ExecuteAsync("UPDATE volumes SET project_id = @P, user_id = @U, status = 'available', updated_at = @Now WHERE id = @Id", args, tx);
        if (!transfer.NoSnapshots)
        {
            await c.ExecuteAsync("UPDATE volume_snapshots SET project_id = @P, user_id = @U, updated_at = @Now WHERE volume_id = @Id", args, tx);
        }

        await c.ExecuteAsync("DELETE FROM volume_transfers WHERE id = @Id", new { transfer.Id }, tx);
        await tx.CommitAsync();
        return TransferAccept.Accepted;
    }

    /// <summary>Ends a transfer that was not accepted: the volume is available again. False when it is gone already.</summary>
    public async Task<bool> DeleteTransferAsync(TransferRow transfer)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(transfer.VolumeId));
        if (await c.ExecuteAsync("DELETE FROM volume_transfers WHERE id = @Id", new { transfer.Id }, tx) != 1)
        {
            return false;
        }

        await c.ExecuteAsync("UPDATE volumes SET status = 'available', updated_at = @Now WHERE id = @Id AND status = 'awaiting-transfer'",
            new { Id = transfer.VolumeId, Now = Ids.Now() }, tx);
        await tx.CommitAsync();
        return true;
    }
}
