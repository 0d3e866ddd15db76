using Ember.Network;
using Ember.Server.Network;

namespace Ember.Server.Compute;

// Routers on a compute host (Neutron's L3 agent in DVR mode): each router with an interface on a network that has a server
// here is a qrouter namespace here, with all the router's interfaces.
public sealed partial class HostNetworking
{
    /// <summary>Each router realized here with what it was last given (under the lock).</summary>
    private readonly Dictionary<string, HostRouter> _appliedRouters = new(StringComparer.Ordinal);

    /// <summary>
    /// Keeps this host's router namespaces in step with the database: interfaces added or removed, gateways, floating
    /// IPs. A change made on the controller reaches the host within <see cref="s_watchPeriod"/>.
    /// </summary>
    public Task WatchRoutersAsync(CancellationToken cancellationToken) => WatchAsync("routers", SyncRoutersAsync, cancellationToken);

    /// <summary>
    /// Realizes the routers this host should have, removes the others, and the networks only routers had here (an external
    /// bridge, a network whose guests are all on other hosts) once no router here uses them.
    /// </summary>
    private async Task SyncRoutersAsync(CancellationToken cancellationToken)
    {
        var wanted = await networks.HostRoutersAsync(host.Value.HostName, options.Value.External.BridgeHasGateway, cancellationToken);
        var networksBefore = RouterNetworks();
        foreach (var router in wanted)
        {
            if (!_appliedRouters.TryGetValue(router.RouterId, out var applied) || !Same(applied, router))
            {
                await _dataPlane.SyncRouterAsync(router.RouterId, router.Config, cancellationToken);
                _appliedRouters[router.RouterId] = router;
            }
        }

        foreach (var gone in _appliedRouters.Keys.Except(wanted.Select(r => r.RouterId)).ToList())
        {
            await _dataPlane.DeleteRouterAsync(gone, cancellationToken);
            _appliedRouters.Remove(gone);
        }

        foreach (var network in networksBefore.Except(RouterNetworks()))
        {
            if (await networks.CountHostPortsAsync(network, host.Value.HostName, cancellationToken) == 0)
            {
                await DeleteNetworkAsync(network, cancellationToken);
            }
        }
    }

    /// <summary>The networks the routers applied here are plugged into: their interfaces' and gateways'.</summary>
    private HashSet<string> RouterNetworks() =>
        _appliedRouters.Values.SelectMany(r => r.Config.Interfaces.Select(i => i.NetworkId).Concat(r.Config.Gateway is { } g ? [g.NetworkId] : []))
            .ToHashSet(StringComparer.Ordinal);

    private static bool Same(HostRouter a, HostRouter b) =>
        System.Text.Json.JsonSerializer.Serialize(a) == System.Text.Json.JsonSerializer.Serialize(b);

    /// <summary>What the start's clean-up keeps: the routers this host should have, their ports and networks.</summary>
    private async Task<(List<string> Routers, List<string> Ports, List<string> Networks)> LiveRoutersAsync(CancellationToken cancellationToken)
    {
        var routers = await networks.HostRoutersAsync(host.Value.HostName, options.Value.External.BridgeHasGateway, cancellationToken);
        return (
            [.. routers.Select(r => r.RouterId)],
            [.. routers.SelectMany(r => r.Config.Interfaces.Select(i => i.PortId).Concat(r.Config.Gateway is { } g ? [g.PortId] : []))],
            [.. routers.SelectMany(r => r.Config.Interfaces.Select(i => i.NetworkId).Concat(r.Config.Gateway is { } g ? [g.NetworkId] : []))]);
    }
}
