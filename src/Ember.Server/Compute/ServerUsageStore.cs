using Dapper;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>
/// A server as usage counts it (Nova's instance with launched_at and terminated_at): a live one from the servers table,
/// a deleted one from terminated_servers, where <see cref="ComputeStore.DeleteServerAsync"/> keeps it.
/// </summary>
public sealed record ServerUsageRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string FlavorJson { get; init; } = "{}";
    public string VmState { get; init; } = "";
    public DateTime LaunchedAt { get; init; }
    public DateTime? TerminatedAt { get; init; }
}

/// <summary>Nova's instance_get_active_by_window_joined over live and deleted servers.</summary>
public sealed class ServerUsageStore(Database db)
{
    /// <summary>
    /// The servers launched before <paramref name="end"/> and not terminated before <paramref name="begin"/>, of one
    /// project or all, ordered by project and id as Nova pages them: after the server <paramref name="marker"/>, at most
    /// <paramref name="limit"/>. Null when the marker names no server, live or deleted.
    /// </summary>
    public async Task<IReadOnlyList<ServerUsageRow>?> ActiveInWindowAsync(DateTime begin, DateTime end, string? projectId, string? marker, int limit)
    {
        await using var c = await db.OpenAsync();
        var after = marker is null
            ? null
            : await c.QuerySingleOrDefaultAsync<ServerUsageRow>("""
                SELECT id, project_id FROM servers WHERE id = @Marker
                UNION ALL SELECT id, project_id FROM terminated_servers WHERE id = @Marker
                """, new { Marker = marker });
        if (marker is not null && after is null)
        {
            return null;
        }

        var project = projectId is null ? "" : "AND project_id = @ProjectId";
        return [.. await c.QueryAsync<ServerUsageRow>($"""
            SELECT * FROM (
              SELECT id, name, project_id, flavor_json, vm_state, launched_at, NULL AS terminated_at FROM servers
              WHERE launched_at IS NOT NULL AND launched_at < @End {project}
              UNION ALL
              SELECT id, name, project_id, flavor_json, 'deleted' AS vm_state, launched_at, terminated_at FROM terminated_servers
              WHERE terminated_at > @Begin AND launched_at < @End {project}) u
            WHERE @AfterProject IS NULL OR project_id > @AfterProject OR (project_id = @AfterProject AND id > @AfterId)
            ORDER BY project_id, id LIMIT @Limit
            """, new { Begin = begin, End = end, ProjectId = projectId, AfterProject = after?.ProjectId, AfterId = after?.Id, Limit = limit })];
    }
}
