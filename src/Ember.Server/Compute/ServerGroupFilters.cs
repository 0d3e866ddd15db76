namespace Ember.Server.Compute;

/// <summary>
/// Nova's ServerGroupAffinityFilter and ServerGroupAntiAffinityFilter in one: a server booted into a group with a hard
/// policy goes only where the policy allows, given the hosts of the group's members as the database has them (so it
/// works unchanged with many hosts). Soft policies pass every host (<see cref="ServerGroupPolicies.Allows"/>).
/// </summary>
public abstract class ServerGroupFilter(ServerGroupStore store, string policy) : IHostFilter
{
    public async ValueTask<bool> PassesAsync(HostState host, SchedulingRequest request, CancellationToken cancellationToken)
    {
        if (request.Group is not { } group || group.Policy != policy)
        {
            return true;
        }

        return ServerGroupPolicies.Allows(policy, host.Host, await store.MemberHostsAsync(group.Id, request.ServerId));
    }
}

/// <summary>Affinity: the host of the group's members; any host for the first member.</summary>
public sealed class ServerGroupAffinityFilter(ServerGroupStore store) : ServerGroupFilter(store, ServerGroupPolicies.Affinity);

/// <summary>Anti-affinity: only a host with no member of the group on it.</summary>
public sealed class ServerGroupAntiAffinityFilter(ServerGroupStore store) : ServerGroupFilter(store, ServerGroupPolicies.AntiAffinity);
