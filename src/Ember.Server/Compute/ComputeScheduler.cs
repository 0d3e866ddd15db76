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
public sealed class ComputeScheduler(IComputeHosts hosts, IEnumerable<IHostFilter> filters)
{
    /// <summary>The fault message of a server no host was found for, as Nova's scheduler words it.</summary>
    public const string NoValidHost = "No valid host was found. There are not enough hosts available.";

    public async Task<string> SelectHostAsync(SchedulingRequest request, CancellationToken cancellationToken)
    {
        foreach (var host in hosts.Names)
        {
            var passes = true;
            foreach (var filter in filters)
            {
                passes = passes && await filter.PassesAsync(host, request, cancellationToken);
            }

            if (passes)
            {
                return host;
            }
        }

        throw new NoValidHostException();
    }
}

/// <summary>All-in-one: the one compute host is this process's <see cref="ComputeHostManager"/>, called in-process.</summary>
public sealed class LocalComputeHosts(ComputeHostManager local) : IComputeHosts
{
    public IReadOnlyList<string> Names { get; } = [local.Name];

    public IComputeHost Get(string name) =>
        name == local.Name ? local : throw ApiException.Conflict($"Compute host {name} is not available.");
}
