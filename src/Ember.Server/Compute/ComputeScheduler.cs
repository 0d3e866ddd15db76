using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>What the scheduler knows of a server to place (Nova's RequestSpec, the part Ember uses).</summary>
public sealed record SchedulingRequest(string ServerId, string ProjectId, FlavorSpec Flavor, ImageSpec? Image, ServerGroupHint? Group = null);

/// <summary>One of Nova's scheduler filters: may this host take this server?</summary>
public interface IHostFilter
{
    ValueTask<bool> PassesAsync(string host, SchedulingRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Picks the compute host of a new server: the first known host that every filter passes (the server group filters
/// among them); <see cref="NoValidHostException"/> when none does. Filters (capacity, availability zone) plug in as <see cref="IHostFilter"/>s.
/// </summary>
public sealed class ComputeScheduler(IComputeHosts hosts, IEnumerable<IHostFilter> filters, ComputeServiceStore services)
{
    /// <summary>The fault message of a server no host was found for, as Nova's scheduler words it.</summary>
    public const string NoValidHost = "No valid host was found. There are not enough hosts available.";

    public async Task<string> SelectHostAsync(SchedulingRequest request, CancellationToken cancellationToken)
    {
        var passing = new List<string>();
        foreach (var host in await hosts.NamesAsync(cancellationToken))
        {
            var passes = true;
            foreach (var filter in filters)
            {
                passes = passes && await filter.PassesAsync(host, request, cancellationToken);
            }

            if (passes)
            {
                passing.Add(host);
            }
        }

        return passing.Count switch
        {
            0 => throw new NoValidHostException(),
            1 => passing[0],
            _ => await SpreadAsync(passing),
        };
    }

    /// <summary>
    /// The weigher: of the hosts that passed, the one with the fewest servers (then by name), so that boots spread
    /// over the hosts, as Nova's default weighers spread by free RAM.
    /// </summary>
    private async Task<string> SpreadAsync(IReadOnlyList<string> passing)
    {
        var load = new List<(long Servers, string Host)>();
        foreach (var host in passing)
        {
            load.Add((await services.CountServersOnHostAsync(host), host));
        }

        return load.Order().First().Host;
    }
}

/// <summary>
/// The compute hosts the scheduler chooses among: every registered nova-compute service (<see cref="ComputeFilter"/>
/// then keeps those enabled and up). This process's own host is called in-process; any other is reached through the
/// database (<see cref="QueuedComputeHost"/>). All-in-one, the only registered host is the local one; a controller
/// has no local host.
/// </summary>
public sealed class RegisteredComputeHosts(ComputeServiceStore services, ComputeServiceRegistry registry, HostMessageQueue queue,
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

        return await services.FindAsync(name, ComputeServiceStore.ComputeBinary) is { } service && registry.IsUp(service)
            ? new QueuedComputeHost(name, queue)
            : throw ApiException.Conflict($"Compute host {name} is not available.");
    }
}
