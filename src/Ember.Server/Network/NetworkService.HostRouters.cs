using Ember.Network;

namespace Ember.Server.Network;

/// <summary>
/// A router as one host realizes it. <see cref="LocalPorts"/> are the host's server ports on the router's networks: when
/// they change, a bridge may have been deleted and made again, and the router's veths are plugged again.
/// </summary>
public sealed record HostRouter(string RouterId, RouterConfig Config, string LocalPorts);

// What a compute host's data plane needs of the routers (HostNetworking's router watch).
public sealed partial class NetworkService
{
    /// <summary>
    /// The routers <paramref name="host"/> realizes (DVR-like): each router with an interface on a network that has a server
    /// port bound there, with every interface of the router (a guest here reaches the router's other networks through
    /// this copy, their guests on other hosts over the tunnels), each with the subnet's ports as permanent neighbours, its
    /// gateway, and the floating IPs of ports bound there. Routers with admin_state_up false are not realized.
    /// </summary>
    /// <param name="bridgeHasGateway">The external bridge gets the external subnet's gateway address (the all-in-one host).</param>
    public async Task<List<HostRouter>> HostRoutersAsync(string host, bool bridgeHasGateway, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            // Narrow reads every watch round, not the whole port table: this host's server ports, the routers on their
            // networks, then the ports of those routers' networks (the neighbours).
            var local = await s.HostServerPortsAsync(host);
            var localPorts = local.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
            var routers = await RoutersOnNetworksAsync(s, local.Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal));
            if (routers.Count == 0)
            {
                return [];
            }

            var routerNetworks = routers.SelectMany(r => r.Interfaces.Select(p => p.NetworkId)).ToHashSet(StringComparer.Ordinal);
            var neighbourPorts = new List<PortRow>();
            foreach (var networkId in routerNetworks)
            {
                neighbourPorts.AddRange(await s.PortsAsync(null, networkId));
            }

            var ips = (await s.PortIpsAsync([.. neighbourPorts.Select(p => p.Id)])).ToLookup(ip => ip.PortId, StringComparer.Ordinal);
            var subnets = new Dictionary<string, SubnetRow?>(StringComparer.Ordinal);
            var networks = new Dictionary<string, NetworkRow?>(StringComparer.Ordinal);
            async Task<SubnetRow?> SubnetAsync(string id) => subnets.TryGetValue(id, out var known) ? known : subnets[id] = await s.SubnetAsync(id);
            async Task<NetworkRow?> NetworkAsync(string id) => networks.TryGetValue(id, out var known) ? known : networks[id] = await s.NetworkAsync(id);

            var result = new List<HostRouter>();
            foreach (var (router, interfacePorts) in routers)
            {
                var own = interfacePorts.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
                var inside = new List<RouterInterface>();
                foreach (var port in interfacePorts)
                {
                    // One address per interface port: the first subnet's.
                    if (ips[port.Id].FirstOrDefault() is { } ip && await SubnetAsync(ip.SubnetId) is { } subnet)
                    {
                        var neighbours = neighbourPorts
                            .Where(p => p.NetworkId == port.NetworkId && !own.Contains(p.Id))
                            .SelectMany(p => ips[p.Id].Where(i => i.SubnetId == subnet.Id).Select(i => new RouterNeighbour(i.IpAddress, p.MacAddress)))
                            .OrderBy(n => n.IpAddress, StringComparer.Ordinal)
                            .ToList();
                        inside.Add(new RouterInterface(port.Id, port.NetworkId, port.MacAddress, $"{ip.IpAddress}/{subnet.Cidr.Split('/')[1]}",
                            (await NetworkAsync(port.NetworkId))?.Mtu ?? options.Value.DefaultMtu, neighbours));
                    }
                }

                RouterGateway? gateway = null;
                var floating = new List<FloatingIpNat>();
                if (router.GatewayPortId is { } gatewayPortId && await s.PortAsync(gatewayPortId) is { } gatewayPort
                    && (await s.PortIpsAsync([gatewayPortId])).FirstOrDefault() is { } gatewayIp
                    && await SubnetAsync(gatewayIp.SubnetId) is { } external)
                {
                    var prefix = external.Cidr.Split('/')[1];
                    gateway = new RouterGateway(gatewayPort.Id, gatewayPort.NetworkId, gatewayPort.MacAddress, $"{gatewayIp.IpAddress}/{prefix}", external.GatewayIp,
                        (await NetworkAsync(gatewayPort.NetworkId))?.Mtu ?? options.Value.DefaultMtu,
                        bridgeHasGateway && external.GatewayIp is { } upstream ? $"{upstream}/{prefix}" : null);
                    floating.AddRange((await s.FloatingIpsOfRouterAsync(router.Id))
                        .Where(f => f.PortId is { } port && localPorts.Contains(port) && f.FixedIpAddress is not null)
                        .Select(f => new FloatingIpNat(f.FloatingIpAddress, f.FixedIpAddress!)));
                }

                var onNetworks = interfacePorts.Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal);
                var localPortsKey = string.Join(',', local.Where(p => onNetworks.Contains(p.NetworkId)).Select(p => p.Id).Order(StringComparer.Ordinal));
                result.Add(new HostRouter(router.Id, new RouterConfig(inside, gateway, router.EnableSnat, floating), localPortsKey));
            }

            return result;
        }, cancellationToken);

    /// <summary>
    /// The routers (admin_state_up) with an interface on one of <paramref name="networkIds"/>, each with all its interfaces:
    /// as in Neutron's DVR, a host that realizes a router has every interface of it.
    /// </summary>
    private static async Task<List<(RouterRow Router, List<PortRow> Interfaces)>> RoutersOnNetworksAsync(NetworkStore.Session s, IReadOnlyCollection<string> networkIds)
    {
        var result = new List<(RouterRow, List<PortRow>)>();
        var touching = await s.OwnedPortsOnNetworksAsync(RouterInterfaceOwner, networkIds);
        foreach (var routerId in touching.Select(p => p.DeviceId).Distinct(StringComparer.Ordinal))
        {
            if (await s.RouterAsync(routerId) is { AdminStateUp: true } router)
            {
                result.Add((router, await s.RouterPortsAsync(router.Id, RouterInterfaceOwner)));
            }
        }

        return result;
    }
}
