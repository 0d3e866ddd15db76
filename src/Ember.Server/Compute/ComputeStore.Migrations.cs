using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>A move of a server between hosts or flavors (Nova's migrations table): a resize or an evacuation.</summary>
public sealed record MigrationRow
{
    public long Id { get; init; }
    public string Uuid { get; init; } = "";
    public string ServerId { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? SourceCompute { get; init; }
    public string? DestCompute { get; init; }

    /// <summary>The destination host's IP address (Nova's dest_host), once there is a destination.</summary>
    public string? DestHost { get; init; }
    public string? OldFlavorId { get; init; }
    public string? NewFlavorId { get; init; }

    /// <summary>Nova's migration_type: resize, migration, live-migration or evacuation.</summary>
    public string MigrationType { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTime CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
}

/// <summary>os-migrations' filters and page (Nova's migration_get_all_by_filters and, from 2.59, its sort and paging).</summary>
public sealed record MigrationQuery(
    string? Host = null,
    string? Status = null,
    string? ServerId = null,
    string? MigrationType = null,
    string? SourceCompute = null,
    DateTime? ChangesSince = null,
    DateTime? ChangesBefore = null,
    string? UserId = null,
    string? ProjectId = null,
    string? Marker = null,
    int? Limit = null);

public sealed partial class ComputeStore
{
    /// <summary>Nova's statuses after which a migration is over; a status change only goes to a migration still under way.</summary>
    private static readonly string[] s_finishedMigration = ["confirmed", "reverted", "error", "failed", "done", "completed", "cancelled"];

    /// <summary>Records a migration as it starts; the destination's IP is the one its nova-compute row reports.</summary>
    public async Task StartMigrationAsync(MigrationRow migration)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO migrations (uuid, server_id, project_id, user_id, source_compute, dest_compute, dest_host, old_flavor_id, new_flavor_id,
              migration_type, status, created_at)
            VALUES (@Uuid, @ServerId, @ProjectId, @UserId, @SourceCompute, @DestCompute,
              (SELECT host_ip FROM compute_services WHERE host = @DestCompute AND binary_name = @Compute), @OldFlavorId, @NewFlavorId,
              @MigrationType, @Status, @Now)
            """, new
        {
            Uuid = Ids.NewUuid(),
            migration.ServerId,
            migration.ProjectId,
            migration.UserId,
            migration.SourceCompute,
            migration.DestCompute,
            Compute = ComputeServiceStore.ComputeBinary,
            migration.OldFlavorId,
            migration.NewFlavorId,
            migration.MigrationType,
            migration.Status,
            Now = Ids.Now(),
        });
    }

    /// <summary>
    /// Moves the server's migration of <paramref name="type"/> that is still under way to <paramref name="status"/>,
    /// and names its destination when given. Bookkeeping, as the instance actions are: no row is no error.
    /// </summary>
    public async Task SetMigrationStatusAsync(string serverId, string type, string status, string? destCompute = null)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync($"""
            UPDATE migrations SET status = @Status, updated_at = @Now,
              dest_compute = COALESCE(@Dest, dest_compute),
              dest_host = COALESCE((SELECT host_ip FROM compute_services WHERE host = @Dest AND binary_name = @Compute), dest_host)
            WHERE server_id = @ServerId AND migration_type = @Type AND NOT (status {db.Dialect.In("@Finished")})
            """, new
        {
            ServerId = serverId,
            Type = type,
            Status = status,
            Dest = destCompute,
            Compute = ComputeServiceStore.ComputeBinary,
            Finished = s_finishedMigration,
            Now = Ids.Now(),
        });
    }

    /// <summary>
    /// The migrations <paramref name="query"/> asks for, newest first (created_at, id descending, Nova's order from
    /// 2.59); after the marker (a migration uuid) and at most the limit. Null when the marker names no migration.
    /// </summary>
    public async Task<Page<MigrationRow>?> ListMigrationsAsync(MigrationQuery query)
    {
        await using var c = await db.OpenAsync();
        var where = new List<string> { "1 = 1" };
        MigrationRow? marker = null;
        if (query.Marker is not null)
        {
            marker = await c.QuerySingleOrDefaultAsync<MigrationRow>("SELECT * FROM migrations WHERE uuid = @Uuid", new { Uuid = query.Marker });
            if (marker is null)
            {
                return null;
            }

            where.Add("(created_at < @MarkerCreated OR (created_at = @MarkerCreated AND id < @MarkerId))");
        }

        if (query.Host is not null)
        {
            where.Add("(source_compute = @Host OR dest_compute = @Host)");
        }

        if (query.Status is not null)
        {
            where.Add("status = @Status");
        }

        if (query.ServerId is not null)
        {
            where.Add("server_id = @ServerId");
        }

        if (query.MigrationType is not null)
        {
            where.Add("migration_type = @MigrationType");
        }

        if (query.SourceCompute is not null)
        {
            where.Add("source_compute = @SourceCompute");
        }

        if (query.ChangesSince is not null)
        {
            where.Add("COALESCE(updated_at, created_at) >= @ChangesSince");
        }

        if (query.ChangesBefore is not null)
        {
            where.Add("COALESCE(updated_at, created_at) <= @ChangesBefore");
        }

        if (query.UserId is not null)
        {
            where.Add("user_id = @UserId");
        }

        if (query.ProjectId is not null)
        {
            where.Add("project_id = @ProjectId");
        }

        var rows = (await c.QueryAsync<MigrationRow>($"""
            SELECT * FROM migrations WHERE {string.Join(" AND ", where)} ORDER BY created_at DESC, id DESC LIMIT @Take
            """, new
        {
            query.Host,
            query.Status,
            query.ServerId,
            query.MigrationType,
            query.SourceCompute,
            query.ChangesSince,
            query.ChangesBefore,
            query.UserId,
            query.ProjectId,
            MarkerCreated = marker?.CreatedAt,
            MarkerId = marker?.Id,
            Take = query.Limit is { } limit ? limit + 1L : long.MaxValue,
        })).ToList();
        var hasMore = query.Limit is { } max && rows.Count > max;
        return new Page<MigrationRow>(hasMore ? rows[..query.Limit!.Value] : rows, hasMore);
    }
}
