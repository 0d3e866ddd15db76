using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>One region of the catalog (Keystone's /v3/regions).</summary>
public sealed record RegionRow(string Id, string? Description, string? ParentRegionId)
{
    public RegionRow() : this("", null, null) { }
}

/// <summary>
/// Keystone's regions: a tree by parent_region_id. A region that holds endpoints (RegionOne holds the seeded catalog)
/// cannot be deleted, nor can its ancestors.
/// </summary>
public sealed class RegionStore(Database db)
{
    public const int MaxIdLength = 255;

    public async Task<IReadOnlyList<RegionRow>> ListAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RegionRow>("SELECT id, description, parent_region_id AS ParentRegionId FROM regions ORDER BY id")];
    }

    public async Task<RegionRow> GetAsync(string id) =>
        (await ListAsync()).FirstOrDefault(r => r.Id == id) ?? throw NotFound(id);

    /// <summary>A new region; its parent must exist, and an id taken is Keystone's 409.</summary>
    public async Task<RegionRow> CreateAsync(RegionRow region)
    {
        await CheckParentAsync(region.Id, region.ParentRegionId);
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO regions (id, description, parent_region_id) VALUES (@Id, @Description, @ParentRegionId)", region);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Conflict occurred attempting to store region - Duplicate ID, {region.Id}.");
        }

        return region;
    }

    public async Task<RegionRow> UpdateAsync(RegionRow region)
    {
        await CheckParentAsync(region.Id, region.ParentRegionId);
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE regions SET description = @Description, parent_region_id = @ParentRegionId WHERE id = @Id", region);
        return region;
    }

    /// <summary>Deletes the region and its child regions, as Keystone does, unless one of them holds the catalog's endpoints (403).</summary>
    public async Task DeleteAsync(string id)
    {
        var all = await ListAsync();
        _ = all.FirstOrDefault(r => r.Id == id) ?? throw NotFound(id);
        var doomed = new List<string> { id };
        for (var i = 0; i < doomed.Count; i++)
        {
            doomed.AddRange(all.Where(r => r.ParentRegionId == doomed[i]).Select(r => r.Id));
        }

        await using var c = await db.OpenAsync();
        if (await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM endpoints WHERE region_id {db.Dialect.In("@Ids")}", new { Ids = doomed.ToArray() }) > 0)
        {
            throw ApiException.Forbidden($"Unable to delete region {id} because it or its child regions have associated endpoints.");
        }

        await c.ExecuteAsync($"DELETE FROM regions WHERE id {db.Dialect.In("@Ids")}", new { Ids = doomed.ToArray() });
    }

    /// <summary>The parent must exist and must not be the region itself or one of its descendants (Keystone's 400).</summary>
    private async Task CheckParentAsync(string id, string? parentId)
    {
        if (parentId is null)
        {
            return;
        }

        var all = (await ListAsync()).ToDictionary(r => r.Id, StringComparer.Ordinal);
        if (!all.ContainsKey(parentId))
        {
            throw NotFound(parentId);
        }

        for (var ancestor = parentId; ancestor is not null; ancestor = all.GetValueOrDefault(ancestor)?.ParentRegionId)
        {
            if (ancestor == id)
            {
                throw ApiException.BadRequest($"The specified parent region {parentId} would create a circular region hierarchy.");
            }
        }
    }

    private static ApiException NotFound(string id) => ApiException.NotFound($"Could not find region: {id}.");
}
