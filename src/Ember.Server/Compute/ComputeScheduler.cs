using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>What the scheduler knows of a server to place (Nova's RequestSpec, the part Ember uses).</summary>
public sealed record SchedulingRequest(
    string ServerId,
    string ProjectId,
    FlavorSpec Flavor,
    ImageSpec? Image,
    ResourceRequest Resources,
    ZoneRequest Zone,
    ServerGroupHint? Group = null);

/// <summary>A candidate host as the scheduler sees it (Nova's HostState): its registered compute node and what its servers use.</summary>
public sealed record HostState(ServiceRow Node, HostUsage Used)
{
    public string Host => Node.Host;
}

/// <summary>One of Nova's scheduler filters: may this host take this server?</summary>
public interface IHostFilter
{
    ValueTask<bool> PassesAsync(HostState host, SchedulingRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Picks the candidate hosts of a new server, best first: the registered compute hosts that every filter passes
/// (compute, availability zone, capacity, server groups), weighed by free RAM so that boots spread. A forced host skips the filters,
/// as in Nova. The caller claims the first candidate that still has room (<see cref="ComputeStore.InsertClaimedServerAsync"/>),
/// so a host taken meanwhile by a concurrent boot falls through to the next, as Nova's alternates do.
/// </summary>
public sealed class ComputeScheduler(
    IComputeHosts hosts, IEnumerable<IHostFilter> filters, ComputeServiceStore services, ComputeHostStatus status, HostInventory inventory,
    ServerGroupStore groups)
{
    /// <summary>The fault message of a server no host was found for, as Nova's scheduler words it.</summary>
    public const string NoValidHost = "No valid host was found. There are not enough hosts available.";

    /// <summary>The hosts that may take the server, best first; empty when none may (NoValidHost).</summary>
    public async Task<IReadOnlyList<HostState>> SelectHostsAsync(SchedulingRequest request, CancellationToken cancellationToken)
    {
        var states = await HostStatesAsync(cancellationToken);
        if (request.Zone.IsForced)
        {
            return [.. states.Where(s => IsForced(s.Node, request.Zone) && status.IsUp(s.Node))];
        }

        var passing = new List<HostState>();
        foreach (var state in states.Where(s => IsRequested(s.Node, request.Zone)))
        {
            var passes = true;
            foreach (var filter in filters)
            {
                passes = passes && await filter.PassesAsync(state, request, cancellationToken);
            }

            if (passes)
            {
                passing.Add(state);
            }
        }

        return await WeighedAsync(passing, request);
    }

    /// <summary>
    /// Whether <paramref name="zone"/> is one a server may ask for: the zone of an enabled nova-compute service
    /// (Nova's available zones, less the internal services' zone, where no server can go).
    /// </summary>
    public async Task<bool> IsAvailableZoneAsync(string zone) =>
        (await services.ListAsync(binary: ComputeServiceStore.ComputeBinary)).Any(s => !s.Disabled && s.Zone == zone);

    /// <summary>
    /// Nova's legacy forced host: the registered compute node of that name (and hypervisor hostname, when given). It
    /// must also be reachable, because Ember refuses casts to a host that is down rather than queueing them.
    /// </summary>
    private static bool IsForced(ServiceRow node, ZoneRequest zone) =>
        (zone.ForcedHost is null || node.Host == zone.ForcedHost) && (zone.ForcedNode is null || node.HypervisorHostname == zone.ForcedNode);

    /// <summary>The availability zone of the compute host <paramref name="host"/>, or null when there is no such host.</summary>
    public async Task<string?> ZoneOfHostAsync(string host) =>
        (await services.ListAsync(host, ComputeServiceStore.ComputeBinary)).FirstOrDefault()?.Zone;

    /// <summary>2.74's requested destination narrows the candidates; the filters still decide.</summary>
    private static bool IsRequested(ServiceRow node, ZoneRequest zone) =>
        (zone.RequestedHost is null || node.Host == zone.RequestedHost) && (zone.RequestedNode is null || node.HypervisorHostname == zone.RequestedNode);

    /// <summary>Every host <see cref="IComputeHosts"/> offers that has a nova-compute row, with what its servers use.</summary>
    private async Task<List<HostState>> HostStatesAsync(CancellationToken cancellationToken)
    {
        var nodes = (await services.ListAsync(binary: ComputeServiceStore.ComputeBinary)).ToDictionary(n => n.Host, StringComparer.Ordinal);
        var usage = await services.UsageAsync();
        return [.. (await hosts.NamesAsync(cancellationToken))
            .Where(nodes.ContainsKey)
            .Select(h => new HostState(nodes[h], usage.GetValueOrDefault(h) ?? HostUsage.None(h)))];
    }

    /// <summary>
    /// Nova's weighers, best host first. For a server group with a soft policy, the ServerGroupSoftAffinityWeigher
    /// (more of the group's members first) or ServerGroupSoftAntiAffinityWeigher (fewer first) decides; then Nova's
    /// RAMWeigher: the most free RAM (after the reservation, under the allocation ratio) first, so that boots spread
    /// and a big host takes more than a small one. Nova sums the two with multipliers, where spreading can outweigh a
    /// soft policy; Ember lets the policy win whenever it can be kept, which is what its user asked for.
    /// </summary>
    /// <remarks>
    /// Hosts of equal weight come in random order (Nova's shuffle_best_same_weighed_hosts): concurrent boots all see
    /// the same usage before any of them is claimed, and with a fixed order they would all try the same host first.
    /// </remarks>
    private async Task<List<HostState>> WeighedAsync(List<HostState> passing, SchedulingRequest request)
    {
        Func<HostState, int> group = _ => 0;
        if (request.Group is { Policy: ServerGroupPolicies.SoftAffinity or ServerGroupPolicies.SoftAntiAffinity } soft)
        {
            var memberHosts = await groups.MemberHostsAsync(soft.Id, request.ServerId);
            var sign = soft.Policy == ServerGroupPolicies.SoftAffinity ? 1 : -1;
            group = s => sign * memberHosts.Count(h => h == s.Host);
        }

        return [.. passing.OrderByDescending(group)
            .ThenByDescending(s => inventory.MemoryMb(s.Node).Free(s.Used.MemoryMb))
            .ThenBy(_ => Random.Shared.Next())];
    }
}

/// <summary>
/// Whether the API can reach a compute host: its own in-process host always; another only while its nova-compute
/// service is registered and up (Nova's servicegroup rule). Work for a host it cannot reach is refused with 409, and
/// a server on such a host is deleted locally, as Nova's API does for a compute that is down.
/// </summary>
public sealed class ComputeHostStatus(ComputeServiceStore services, ComputeServiceRegistry registry, IEnumerable<ComputeHostManager> localHost)
{
    /// <summary>This process's own compute host; none on a controller.</summary>
    private readonly string? _local = localHost.SingleOrDefault()?.Name;

    public bool IsUp(ServiceRow node) => node.Host == _local || registry.IsUp(node);

    public async Task<bool> IsUpAsync(string host) =>
        host == _local || await services.FindAsync(host, ComputeServiceStore.ComputeBinary) is { } node && registry.IsUp(node);

    /// <summary>
    /// Nova's host_status (2.16) of servers, from one read of the registry however many servers are shown: DOWN when
    /// the host's nova-compute is forced down, MAINTENANCE when it is disabled, UP when it is up, UNKNOWN when it has
    /// not reported within service_down_time, and "" for a server with no host or a host with no nova-compute row.
    /// </summary>
    public async Task<Func<ServerRow, string>> HostStatusesAsync()
    {
        var nodes = (await services.ListAsync(binary: ComputeServiceStore.ComputeBinary)).ToDictionary(n => n.Host, StringComparer.Ordinal);
        return server => nodes.GetValueOrDefault(server.Host) switch
        {
            null => "",
            { ForcedDown: true } => "DOWN",
            { Disabled: true } => "MAINTENANCE",
            var node => IsUp(node) ? "UP" : "UNKNOWN",
        };
    }
}

/// <summary>
/// The compute hosts the scheduler chooses among: every registered nova-compute service (<see cref="ComputeFilter"/>
/// then keeps those enabled and up). This process's own host is called in-process; any other is a
/// <see cref="RemoteComputeHost"/> (casts through the database, calls to the listener its row names). All-in-one, the
/// only registered host is the local one; a controller has no local host.
/// </summary>
public sealed class RegisteredComputeHosts(
    ComputeServiceStore services,
    ComputeHostStatus status,
    HostMessageQueue queue,
    HostCallClient calls,
    IEnumerable<ComputeHostManager> localHost) : IComputeHosts
{
    private readonly ComputeHostManager? _local = localHost.SingleOrDefault();

    public async Task<IReadOnlyList<string>> NamesAsync(CancellationToken cancellationToken) =>
        [.. (await services.ListAsync(binary: ComputeServiceStore.ComputeBinary)).Select(s => s.Host).Order(StringComparer.Ordinal)];

    /// <summary>Another host only while it is registered and up: work for a host that is gone is refused, not queued.</summary>
    public async Task<IComputeHost> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (name == _local?.Name)
        {
            return _local;
        }

        return await services.FindAsync(name, ComputeServiceStore.ComputeBinary) is { } service && status.IsUp(service)
            ? new RemoteComputeHost(name, queue, calls, service.CallUrl, service.CertificateSha256)
            : throw ApiException.Conflict($"Compute host {name} is not available.");
    }
}
