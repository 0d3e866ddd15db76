namespace Ember.Server.Compute;

/// <summary>
/// Nova's ComputeFilter: a host whose nova-compute service is disabled, forced down or silent for longer than
/// service_down_time takes no new servers (a host with no nova-compute row is no candidate at all).
/// </summary>
public sealed class ComputeFilter(ComputeServiceRegistry registry) : IHostFilter
{
    public ValueTask<bool> PassesAsync(HostState host, SchedulingRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(!host.Node.Disabled && registry.IsUp(host.Node));
}

/// <summary>
/// Nova's AvailabilityZoneFilter: a server that asks for a zone goes only to a host of that zone (the zone of its
/// nova-compute service); one that asks for none may go anywhere.
/// </summary>
public sealed class AvailabilityZoneFilter : IHostFilter
{
    public ValueTask<bool> PassesAsync(HostState host, SchedulingRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.Zone.Name is not { } zone || host.Node.Zone == zone);
}

/// <summary>
/// Nova's capacity check (the old CoreFilter, RamFilter and DiskFilter; placement's today): the host passes when the
/// server's vCPUs, memory and local disk fit beside what its servers use, under the allocation ratios and
/// reservations of <see cref="ComputeOptions"/>. The claim repeats the same check under the host's lock.
/// </summary>
public sealed class CapacityFilter(HostInventory inventory) : IHostFilter
{
    public ValueTask<bool> PassesAsync(HostState host, SchedulingRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(inventory.Fits(host.Node, host.Used, request.Resources));
}
