using Dapper;

namespace Ember.Server.Volume;

/// <summary>A project's default volume type (Cinder 3.62).</summary>
public sealed record DefaultTypeRow(string ProjectId, string VolumeTypeId)
{
    public DefaultTypeRow() : this("", "") { }
}

public sealed partial class VolumeStore
{
    public async Task SetDefaultTypeAsync(string projectId, string typeId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO volume_default_types (project_id, volume_type_id) VALUES (@P, @T)
            ON CONFLICT (project_id) DO UPDATE SET volume_type_id = excluded.volume_type_id
            """, new { P = projectId, T = typeId });
    }

    public async Task<DefaultTypeRow?> FindDefaultTypeAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<DefaultTypeRow>(
            "SELECT project_id, volume_type_id FROM volume_default_types WHERE project_id = @P", new { P = projectId });
    }

    public async Task<IReadOnlyList<DefaultTypeRow>> ListDefaultTypesAsync(string? typeId = null)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<DefaultTypeRow>(
            "SELECT project_id, volume_type_id FROM volume_default_types WHERE @T IS NULL OR volume_type_id = @T ORDER BY project_id", new { T = typeId })];
    }

    public async Task<bool> DeleteDefaultTypeAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM volume_default_types WHERE project_id = @P", new { P = projectId }) > 0;
    }
}
