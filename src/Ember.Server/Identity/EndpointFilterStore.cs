using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>An OS-EP-FILTER endpoint group: the endpoints matching every filter (service_id, interface, region_id).</summary>
public sealed record EndpointGroupRow(string Id, string Name, string? Description, string Filters)
{
    public EndpointGroupRow() : this("", "", null, "{}") { }

    /// <summary>Whether the endpoint matches every filter of the group.</summary>
    public bool Matches(EndpointRow endpoint)
    {
        var filters = JsonNode.Parse(Filters) as JsonObject ?? [];
        return filters.All(f => f.Value?.ToString() == f.Key switch
        {
            "service_id" => endpoint.ServiceId,
            "interface" => endpoint.Interface,
            "region_id" => endpoint.RegionId,
            _ => null,
        });
    }
}

/// <summary>
/// Keystone's endpoint filter (OS-EP-FILTER): endpoint groups, and endpoints or groups associated with projects. A project
/// with any association sees only those endpoints in its tokens' catalog; one with none sees them all (Keystone's
/// return_all_endpoints_if_no_filter).
/// </summary>
public sealed class EndpointFilterStore(Database db, CatalogStore catalog)
{
    public const string FilterMessage = "Invalid input for field 'filters': the keys are service_id, interface and region_id, each a string.";

    public async Task<IReadOnlyList<EndpointGroupRow>> ListGroupsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<EndpointGroupRow>("SELECT * FROM endpoint_groups ORDER BY name, id")];
    }

    public async Task<EndpointGroupRow> GetGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<EndpointGroupRow>("SELECT * FROM endpoint_groups WHERE id = @Id", new { Id = id })
            ?? throw ApiException.NotFound($"Could not find endpoint group: {id}.");
    }

    public async Task CreateGroupAsync(EndpointGroupRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("INSERT INTO endpoint_groups (id, name, description, filters) VALUES (@Id, @Name, @Description, @Filters)", row);
    }

    public async Task UpdateGroupAsync(EndpointGroupRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE endpoint_groups SET name = @Name, description = @Description, filters = @Filters WHERE id = @Id", row);
    }

    public async Task DeleteGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM endpoint_groups WHERE id = @Id", new { Id = id }) == 0)
        {
            throw ApiException.NotFound($"Could not find endpoint group: {id}.");
        }
    }

    public async Task AddGroupToProjectAsync(string groupId, string projectId) => await WriteAssociationAsync("""
        INSERT INTO project_endpoint_groups (endpoint_group_id, project_id) VALUES (@A, @ProjectId)
        ON CONFLICT (endpoint_group_id, project_id) DO NOTHING
        """, groupId, projectId);

    public async Task<bool> RemoveGroupFromProjectAsync(string groupId, string projectId) =>
        await WriteAssociationAsync("DELETE FROM project_endpoint_groups WHERE endpoint_group_id = @A AND project_id = @ProjectId", groupId, projectId) > 0;

    public async Task AddEndpointToProjectAsync(string endpointId, string projectId) => await WriteAssociationAsync("""
        INSERT INTO project_endpoints (endpoint_id, project_id) VALUES (@A, @ProjectId)
        ON CONFLICT (endpoint_id, project_id) DO NOTHING
        """, endpointId, projectId);

    public async Task<bool> RemoveEndpointFromProjectAsync(string endpointId, string projectId) =>
        await WriteAssociationAsync("DELETE FROM project_endpoints WHERE endpoint_id = @A AND project_id = @ProjectId", endpointId, projectId) > 0;

    /// <summary>The projects a group is associated with.</summary>
    public async Task<IReadOnlyList<string>> ProjectsOfGroupAsync(string groupId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT project_id FROM project_endpoint_groups WHERE endpoint_group_id = @Id ORDER BY project_id", new { Id = groupId })];
    }

    /// <summary>The projects an endpoint is associated with directly.</summary>
    public async Task<IReadOnlyList<string>> ProjectsOfEndpointAsync(string endpointId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT project_id FROM project_endpoints WHERE endpoint_id = @Id ORDER BY project_id", new { Id = endpointId })];
    }

    public async Task<IReadOnlyList<EndpointGroupRow>> GroupsOfProjectAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<EndpointGroupRow>("""
            SELECT e.* FROM endpoint_groups e JOIN project_endpoint_groups p ON p.endpoint_group_id = e.id WHERE p.project_id = @Id ORDER BY e.name, e.id
            """, new { Id = projectId })];
    }

    /// <summary>
    /// The endpoints associated with the project, directly or through its groups; null when it has no association at all
    /// (then its catalog is the whole catalog).
    /// </summary>
    public async Task<IReadOnlyList<EndpointRow>?> EndpointsOfProjectAsync(string projectId)
    {
        IReadOnlyList<string> direct;
        IReadOnlyList<EndpointGroupRow> groups;
        await using (var c = await db.OpenAsync())
        {
            direct = [.. await c.QueryAsync<string>("SELECT endpoint_id FROM project_endpoints WHERE project_id = @Id", new { Id = projectId })];
            groups = [.. await c.QueryAsync<EndpointGroupRow>("""
                SELECT e.* FROM endpoint_groups e JOIN project_endpoint_groups p ON p.endpoint_group_id = e.id WHERE p.project_id = @Id
                """, new { Id = projectId })];
        }

        if (direct.Count == 0 && groups.Count == 0)
        {
            return null;
        }

        return [.. (await catalog.ListEndpointsAsync()).Where(e => direct.Contains(e.Id) || groups.Any(g => g.Matches(e)))];
    }

    /// <summary>An association write (@A, @ProjectId); a project or endpoint deleted meanwhile is a 404.</summary>
    private async Task<int> WriteAssociationAsync(string sql, string a, string projectId)
    {
        await using var c = await db.OpenAsync();
        try
        {
            return await c.ExecuteAsync(sql, new { A = a, ProjectId = projectId });
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            throw ApiException.NotFound($"Could not find project or endpoint: {projectId}, {a}.");
        }
    }
}
