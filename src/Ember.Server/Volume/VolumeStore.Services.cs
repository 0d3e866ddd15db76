using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>The state an admin set on one of the volume services (os-services); a service without a row is enabled.</summary>
public sealed record ServiceStateRow
{
    public string ServiceBinary { get; init; } = "";
    public string Host { get; init; } = "";
    public bool Disabled { get; init; }
    public string? DisabledReason { get; init; }
    public bool Frozen { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>What one project keeps on the volume host (os-hosts show): volumes and snapshots, counted and summed in GB.</summary>
public sealed record HostProjectUsage
{
    public string ProjectId { get; init; } = "";
    public long VolumeCount { get; init; }
    public long VolumeGigabytes { get; init; }
    public long SnapshotCount { get; init; }
    public long SnapshotGigabytes { get; init; }
}

public sealed partial class VolumeStore
{
    private const string ServiceStateColumns = "service_binary, host, disabled, disabled_reason, frozen, updated_at";

    public async Task<ServiceStateRow?> FindServiceStateAsync(string binary, string host)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServiceStateRow>(
            $"SELECT {ServiceStateColumns} FROM volume_service_state WHERE service_binary = @Binary AND host = @Host", new { Binary = binary, Host = host });
    }

    /// <summary>
    /// The service's state changed by <paramref name="change"/> (which may refuse by throwing), under the service's lock.
    /// </summary>
    public async Task<ServiceStateRow> ChangeServiceStateAsync(string binary, string host, Func<ServiceStateRow, ServiceStateRow> change)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, $"volume-service:{binary}:{host}");
        var args = new { Binary = binary, Host = host };
        var current = await c.QuerySingleOrDefaultAsync<ServiceStateRow>(
            $"SELECT {ServiceStateColumns} FROM volume_service_state WHERE service_binary = @Binary AND host = @Host", args, tx)
            ?? new ServiceStateRow { ServiceBinary = binary, Host = host };
        var changed = change(current) with { ServiceBinary = binary, Host = host, UpdatedAt = Ids.Now() };
        await c.ExecuteAsync($"""
            INSERT INTO volume_service_state ({ServiceStateColumns}) VALUES (@ServiceBinary, @Host, @Disabled, @DisabledReason, @Frozen, @UpdatedAt)
            ON CONFLICT (service_binary, host) DO UPDATE SET disabled = excluded.disabled, disabled_reason = excluded.disabled_reason,
              frozen = excluded.frozen, updated_at = excluded.updated_at
            """, changed, tx);
        await tx.CommitAsync();
        return changed;
    }

    /// <summary>Volumes and snapshots per project, of every project that has a volume (Ember's one volume host holds them all).</summary>
    public async Task<IReadOnlyList<HostProjectUsage>> HostUsageAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<HostProjectUsage>("""
            SELECT v.project_id, v.volume_count, v.volume_gigabytes,
                   COALESCE(s.snapshot_count, 0) AS snapshot_count, COALESCE(s.snapshot_gigabytes, 0) AS snapshot_gigabytes
            FROM (SELECT project_id, COUNT(*) AS volume_count, COALESCE(SUM(size), 0) AS volume_gigabytes FROM volumes GROUP BY project_id) v
            LEFT JOIN (SELECT project_id, COUNT(*) AS snapshot_count, COALESCE(SUM(size), 0) AS snapshot_gigabytes FROM volume_snapshots GROUP BY project_id) s
              ON s.project_id = v.project_id
            ORDER BY v.project_id
            """)];
    }
}
