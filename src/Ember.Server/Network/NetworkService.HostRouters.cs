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
    /// The routers <paramref name="host"/> realizes while networks do not span hosts (DVR-like): each router with an
    /// interface on a network that has a server port bound there, with those interfaces only, its gateway, and the
    /// floating IPs of ports bound there. Routers with admin_state_up false are not realized.
    /// </summary>
    /// <param name="bridgeHasGateway">The external bridge gets the external subnet's gateway address (the all-in-one host).</param>
    public async Task<List<HostRouter>> HostRoutersAsync(string host, bool bridgeHasGateway, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            // Two narrow reads every watch round, not the whole port table: this host's server ports, then the router
            // interfaces on their networks.
            var local = await s.HostServerPortsAsync(host);
            var localNetworks = local.Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal);
            var localPorts = local.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
            var interfaces = await s.OwnedPortsOnNetworksAsync(RouterInterfaceOwner, localNetworks);
            if (interfaces.Count == 0)
            {
                return [];
            }

            var ips = (await s.PortIpsAsync([.. interfaces.Select(p => p.Id)])).ToLookup(ip => ip.PortId, StringComparer.Ordinal);
            var subnets = new Dictionary<string, SubnetRow?>(StringComparer.Ordinal);
            var networks = new Dictionary<string, NetworkRow?>(StringComparer.Ordinal);
            async Task<SubnetRow?> SubnetAsync(string id) => subnets.TryGetValue(id, out var known) ? known : subnets[id] = await s.SubnetAsync(id);
            async Task<NetworkRow?> NetworkAsync(string id) => networks.TryGetValue(id, out var known) ? known : networks[id] = await s.NetworkAsync(id);
            async Task<string?> AddressAsync(PortIpRow ip) => await SubnetAsync(ip.SubnetId) is { } subnet ? $"{ip.IpAddress}/{subnet.Cidr.Split('/')[1]}" : null;

            var result = new List<HostRouter>();
            foreach (var group in interfaces.GroupBy(p => p.DeviceId, StringComparer.Ordinal))
            {
                if (await s.RouterAsync(group.Key) is not { AdminStateUp: true } router)
                {
                    continue;
                }

                var inside = new List<RouterInterface>();
                foreach (var port in group)
                {
                    foreach (var ip in ips[port.Id])
                    {
                        if (await AddressAsync(ip) is { } address)
                        {
                            inside.Add(new RouterInterface(port.Id, port.NetworkId, port.MacAddress, address, (await NetworkAsync(port.NetworkId))?.Mtu ?? options.Value.DefaultMtu));
                            break; // one address per interface port: the first subnet's
                        }
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

                var onNetworks = group.Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal);
                var localPortsKey = string.Join(',', local.Where(p => onNetworks.Contains(p.NetworkId)).Select(p => p.Id).Order(StringComparer.Ordinal));
                result.Add(new HostRouter(router.Id, new RouterConfig(inside, gateway, router.EnableSnat, floating), localPortsKey));
            }

            return result;
        }, cancellationToken);
}
