namespace Ember.Server.Network;

// What compute asks besides NetworkService.Compute.cs: a server's addresses for its views, and what a host's data plane needs.
public sealed partial class NetworkService
{
    /// <summary>The MAC of the network's DHCP port, which the host gives its DHCP server's interface; null without one.</summary>
    public async Task<string?> DhcpPortMacAsync(string networkId, CancellationToken cancellationToken) =>
        (await store.ReadAsync(s => s.DhcpPortAsync(networkId), cancellationToken))?.MacAddress;

    /// <summary>How many servers' ports on the network are bound to <paramref name="host"/>: none left, its bridge and DHCP server go.</summary>
    public async Task<int> CountHostPortsAsync(string networkId, string host, CancellationToken cancellationToken) =>
        (await store.ReadAsync(s => s.PortsAsync(null, networkId), cancellationToken))
            .Count(p => p.DeviceOwner == ComputeOwner && p.BindingHostId == host);

    /// <summary>A server's addresses as Nova shows them: by network name, in port order (eth0's first).</summary>
    public async Task<List<ServerAddress>> ServerAddressesAsync(string serverId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var result = new List<ServerAddress>();
            var ports = await PortViewsAsync(s, await s.PortsAsync(null, deviceId: serverId));
            foreach (var port in ports.Where(p => p.Port.DeviceOwner == ComputeOwner))
            {
                var name = (await s.NetworkAsync(port.Port.NetworkId))?.Name ?? port.Port.NetworkId;
                result.AddRange(port.FixedIps.Select(ip => new ServerAddress(name, ip.IpAddress, port.Port.MacAddress)));
            }

            return result;
        }, cancellationToken);
}

/// <summary>One fixed address of a server, with the network's name and the port's MAC (Nova's addresses, OS-EXT-IPS-MAC).</summary>
public sealed record ServerAddress(string NetworkName, string Address, string MacAddress);
