using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

/// <summary>The group a server is booted into, as the scheduler sees it (part of Nova's RequestSpec.instance_group).</summary>
public sealed record ServerGroupHint(string Id, string Policy);

/// <summary>Nova's server group policies (one per group below 2.64) and what each allows of a host.</summary>
public static class ServerGroupPolicies
{
    public const string Affinity = "affinity";
    public const string AntiAffinity = "anti-affinity";
    public const string SoftAffinity = "soft-affinity";
    public const string SoftAntiAffinity = "soft-anti-affinity";

    /// <summary>The policies a create may name at <paramref name="version"/>: the soft ones from 2.15.</summary>
    public static IReadOnlyList<string> Allowed(Microversion version) =>
        version.AtLeast(15) ? [AntiAffinity, Affinity, SoftAntiAffinity, SoftAffinity] : [AntiAffinity, Affinity];

    /// <summary>
    /// Whether <paramref name="host"/> keeps the policy, given the hosts of the group's other members. Soft policies
    /// are weighers (prefer, never refuse: <see cref="ComputeScheduler"/>), so they allow every host.
    /// </summary>
    public static bool Allows(string policy, string host, IReadOnlyCollection<string> memberHosts) => policy switch
    {
        AntiAffinity => !memberHosts.Contains(host),
        Affinity => memberHosts.Count == 0 || memberHosts.Contains(host),
        _ => true,
    };
}

/// <summary>
/// Server groups: who sees which group, Nova's quotas (<c>server_groups</c> per project, <c>server_group_members</c> per
/// group, 10 each by default), and membership of the servers booted with a group hint.
/// </summary>
public sealed class ServerGroupService(ServerGroupStore store, ComputeQuotas quotas)
{
    /// <summary>Nova's default quota of server groups per project (os-quota-sets server_groups changes it).</summary>
    public const int MaxGroupsPerProject = 10;

    /// <summary>Nova's default quota of servers per server group.</summary>
    public const int MaxMembersPerGroup = 10;

    public async Task<ServerGroupRow> CreateAsync(RequestContext ctx, string name, string policy)
    {
        var row = new ServerGroupRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Policy = policy,
            ProjectId = ctx.ProjectId!,
            UserId = ctx.UserId,
            CreatedAt = Ids.Now(),
        };
        return await store.InsertGroupWithinQuotaAsync(row, await quotas.LimitOfAsync(row.ProjectId, "server_groups"))
            ? row
            : throw ApiException.Forbidden("Quota exceeded, too many server groups.");
    }

    /// <summary>The group if the caller may see it (its project, or a cloud admin); 404 in Nova's words otherwise.</summary>
    public async Task<ServerGroupRow> GetAsync(RequestContext ctx, string id) =>
        await FindVisibleAsync(ctx, id) ?? throw ApiException.NotFound($"Instance group {id} could not be found.");

    /// <summary>The caller's project's groups, or every project's for an admin who asks.</summary>
    public Task<IReadOnlyList<ServerGroupRow>> ListAsync(RequestContext ctx, bool allProjects, int? limit, int offset) =>
        store.ListGroupsAsync(allProjects && ctx.IsCloudAdmin ? null : ctx.ProjectId, limit, offset);

    public async Task DeleteAsync(RequestContext ctx, string id)
    {
        var group = await GetAsync(ctx, id);
        if (!await store.DeleteGroupAsync(group.Id))
        {
            throw ApiException.NotFound($"Instance group {id} could not be found.");
        }
    }

    public Task<ILookup<string, string>> MembersAsync(IReadOnlyCollection<string> groupIds) => store.MembersAsync(groupIds);

    /// <summary>
    /// The group a server create names in its scheduler hints: 400 when the caller cannot see it (Nova's
    /// InstanceGroupNotFound at boot), 403 when it already has its quota of members.
    /// </summary>
    /// <summary>The group a server is a member of, so that moving it keeps its group's policy; null when it has none.</summary>
    public Task<ServerGroupHint?> GroupOfAsync(string serverId) => store.GroupOfAsync(serverId);

    public async Task<ServerGroupHint> ForBootAsync(RequestContext ctx, string groupId)
    {
        var group = await FindVisibleAsync(ctx, groupId) ?? throw ApiException.BadRequest($"Instance group {groupId} could not be found.");
        var limit = await quotas.LimitOfAsync(group.ProjectId, "server_group_members");
        if (limit >= 0 && await store.CountMembersAsync(group.Id) >= limit)
        {
            throw GroupFull();
        }

        return new ServerGroupHint(group.Id, group.Policy);
    }

    /// <summary>
    /// Makes the new server a member (see <see cref="ServerGroupStore.AddMemberAsync"/>): the quota is counted again
    /// under the group's lock, and a host another boot of the group made wrong since scheduling is taken away.
    /// </summary>
    public async Task<MemberAdded> AddMemberAsync(ServerGroupHint group, ServerRow server, string noValidHostFault) =>
        await store.AddMemberAsync(group.Id, server.Id, await quotas.LimitOfAsync(server.ProjectId, "server_group_members"),
            memberHosts => server.Host.Length == 0 || ServerGroupPolicies.Allows(group.Policy, server.Host, memberHosts), noValidHostFault);

    public static ApiException GroupFull() => ApiException.Forbidden("Quota exceeded, too many servers in group");

    private async Task<ServerGroupRow?> FindVisibleAsync(RequestContext ctx, string id)
    {
        var group = await store.FindGroupAsync(id);
        return group is not null && (ctx.IsCloudAdmin || group.ProjectId == ctx.ProjectId) ? group : null;
    }
}

/// <summary>Registration of server groups: the store, the service, the two filters and the os-server-groups policy rows.</summary>
public static class ServerGroupServices
{
    /// <summary>Nova's defaults: members of the project create and delete, readers list and show.</summary>
    private static readonly KeyValuePair<string, PolicyRule>[] s_policy =
    [
        new("os_compute_api:os-server-groups:create", PolicyRule.Member),
        new("os_compute_api:os-server-groups:delete", PolicyRule.Member),
        new("os_compute_api:os-server-groups:index", PolicyRule.Reader),
        new("os_compute_api:os-server-groups:show", PolicyRule.Reader),
    ];

    public static IServiceCollection AddServerGroups(this IServiceCollection services) => services
        .AddSingleton(new PolicyRules(s_policy))
        .AddSingleton<ServerGroupStore>()
        .AddSingleton<ServerGroupService>()
        .AddSingleton<IHostFilter, ServerGroupAffinityFilter>()
        .AddSingleton<IHostFilter, ServerGroupAntiAffinityFilter>();
}
