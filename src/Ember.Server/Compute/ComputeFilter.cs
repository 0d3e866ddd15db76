namespace Ember.Server.Compute;

/// <summary>
/// Nova's ComputeFilter: a host whose nova-compute service is disabled, forced down, silent for longer than
/// service_down_time, or not registered at all takes no new servers.
/// </summary>
public sealed class ComputeFilter(ComputeServiceStore store, ComputeServiceRegistry registry) : IHostFilter
{
    public async ValueTask<bool> PassesAsync(string host, SchedulingRequest request, CancellationToken cancellationToken) =>
        await store.FindAsync(host, ComputeServiceStore.ComputeBinary) is { Disabled: false } service && registry.IsUp(service);
}

/// <summary>No host passed every filter (Nova's NoValidHost): the server is stored in ERROR with this as its fault.</summary>
public sealed class NoValidHostException() : Exception(ComputeScheduler.NoValidHost);
