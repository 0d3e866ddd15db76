using Dapper;

namespace Ember.Server.Data;

/// <summary>
/// Per-project hard limits kept as (project_id, resource, hard_limit) rows, the shape of compute_quotas and
/// volume_quotas. <c>table</c> is always one of those constant names, never input.
/// </summary>
public static class QuotaRows
{
    /// <summary>The limits set for the project; resources it has none for are absent.</summary>
    public static async Task<Dictionary<string, int>> ReadAsync(Database db, string table, string projectId)
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<(string Resource, long HardLimit)>($"SELECT resource, hard_limit FROM {table} WHERE project_id = @P", new { P = projectId }))
            .ToDictionary(r => r.Resource, r => (int)r.HardLimit, StringComparer.Ordinal);
    }

    /// <summary>Sets the given limits together: all or (on an error) none.</summary>
    public static async Task WriteAsync(Database db, string table, string projectId, IReadOnlyDictionary<string, int> limits)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var (resource, limit) in limits)
        {
            await c.ExecuteAsync($"""
                INSERT INTO {table} (project_id, resource, hard_limit) VALUES (@P, @R, @L)
                ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit
                """, new { P = projectId, R = resource, L = limit }, tx);
        }

        await tx.CommitAsync();
    }
}
