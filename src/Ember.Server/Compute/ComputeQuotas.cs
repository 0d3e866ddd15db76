using Dapper;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>
/// Nova's quotas: a project's limits (its own, else the default quota class's, else Ember's defaults) and what it
/// uses. Ember's defaults are Nova's except instances, cores and ram, which are unlimited (-1) until an admin sets
/// them: a host's own capacity already bounds those on a small cloud.
/// </summary>
public sealed class ComputeQuotas(Database db)
{
    /// <summary>The rows of the default quota class (os-quota-class-sets/default) use this project id.</summary>
    private const string DefaultClass = "class:default";

    /// <summary>The resources of os-quota-sets from 2.57 on (network proxies and injected files gone), with Ember's defaults.</summary>
    public static readonly IReadOnlyDictionary<string, int> Defaults = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["instances"] = -1,
        ["cores"] = -1,
        ["ram"] = -1,
        ["key_pairs"] = KeypairStore.DefaultLimit,
        ["metadata_items"] = 128,
        ["server_groups"] = ServerGroupService.MaxGroupsPerProject,
        ["server_group_members"] = ServerGroupService.MaxMembersPerGroup,
    };

    /// <summary>Resources shown only below 2.57 (injected files) and below 2.36 (Nova's old network proxies, never enforced here).</summary>
    public static readonly IReadOnlyDictionary<string, int> Below257 = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["injected_files"] = 5,
        ["injected_file_content_bytes"] = 10240,
        ["injected_file_path_bytes"] = 255,
    };

    public static readonly IReadOnlyDictionary<string, int> Below236 = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["fixed_ips"] = -1,
        ["floating_ips"] = -1,
        ["security_groups"] = -1,
        ["security_group_rules"] = -1,
    };

    /// <summary>Every resource a quota set may name at some version.</summary>
    public static bool IsResource(string name) => Defaults.ContainsKey(name) || Below257.ContainsKey(name) || Below236.ContainsKey(name);

    /// <summary>The default quota class: Ember's defaults with what an admin set on the class.</summary>
    public async Task<Dictionary<string, int>> DefaultsAsync() => await OverlayAsync(AllDefaults(), DefaultClass);

    /// <summary>The project's limits: its own where set, else the default class's.</summary>
    public async Task<Dictionary<string, int>> LimitsOfAsync(string projectId) => await OverlayAsync(await DefaultsAsync(), projectId);

    public async Task<int> LimitOfAsync(string projectId, string resource) => (await LimitsOfAsync(projectId))[resource];

    public Task SetAsync(string projectId, IReadOnlyDictionary<string, int> limits) => WriteAsync(projectId, limits);

    public Task SetDefaultsAsync(IReadOnlyDictionary<string, int> limits) => WriteAsync(DefaultClass, limits);

    /// <summary>Back to the defaults (DELETE os-quota-sets/{id}).</summary>
    public async Task DeleteAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM compute_quotas WHERE project_id = @P", new { P = projectId });
    }

    /// <summary>What the project uses: its servers, their flavors' cores and RAM, its server groups; and the user's key pairs.</summary>
    public async Task<Dictionary<string, int>> UsageOfAsync(string projectId, string userId)
    {
        string Flavor(string key) => db.Dialect.JsonInteger("flavor_json", key);
        await using var c = await db.OpenAsync();
        // Summed in the database, as the scheduler's host usage is: no flavor is read back into C# per server.
        var servers = await c.QuerySingleAsync<(long Instances, long Cores, long Ram)>($"""
            SELECT COUNT(*), CAST(COALESCE(SUM({Flavor(nameof(FlavorRow.Vcpus))}), 0) AS BIGINT), CAST(COALESCE(SUM({Flavor(nameof(FlavorRow.Ram))}), 0) AS BIGINT)
            FROM servers WHERE project_id = @P AND vm_state <> @Deleted
            """, new { P = projectId, Deleted = VmStates.Deleted });
        var usage = AllDefaults().Keys.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        usage["instances"] = (int)servers.Instances;
        usage["cores"] = (int)servers.Cores;
        usage["ram"] = (int)servers.Ram;
        usage["server_groups"] = await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM server_groups WHERE project_id = @P", new { P = projectId });
        usage["key_pairs"] = await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM key_pairs WHERE user_id = @U", new { U = userId });
        return usage;
    }

    private static Dictionary<string, int> AllDefaults() =>
        Defaults.Concat(Below257).Concat(Below236).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    private async Task<Dictionary<string, int>> OverlayAsync(Dictionary<string, int> limits, string projectId)
    {
        foreach (var (resource, limit) in await QuotaRows.ReadAsync(db, "compute_quotas", projectId))
        {
            limits[resource] = limit;
        }

        return limits;
    }

    private Task WriteAsync(string projectId, IReadOnlyDictionary<string, int> limits) => QuotaRows.WriteAsync(db, "compute_quotas", projectId, limits);
}
