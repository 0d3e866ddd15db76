using System.Text.Json;

namespace Ember.Server.Network;

/// <summary>One interface of a server as its metadata describes it (network_data.json; meta_data.json's devices when tagged).</summary>
public sealed record MetadataNic(string PortId, string NetworkId, string MacAddress, int Mtu, IReadOnlyList<MetadataAddress> Addresses, string? Tag = null);

/// <summary>A fixed address with its subnet's settings.</summary>
public sealed record MetadataAddress(string IpAddress, string Cidr, string? GatewayIp, bool EnableDhcp, IReadOnlyList<string> DnsNameservers,
    IReadOnlyList<HostRouteText> HostRoutes);

// What the metadata service and the config drive read (Nova asks Neutron the same: the port of an address, a server's network info).
public sealed partial class NetworkService
{
    /// <summary>
    /// The server that holds <paramref name="ipAddress"/> on <paramref name="networkId"/> (the device of the compute port with
    /// that fixed address), or null: how the metadata service knows who asks, from the packet's source and the network
    /// it arrived on, never from anything the guest says.
    /// </summary>
    public async Task<string?> ServerOfAddressAsync(string networkId, string ipAddress, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var ports = await PortViewsAsync(s, await s.PortsAsync(null, networkId));
            return ports.FirstOrDefault(p => p.Port.DeviceOwner == ComputeOwner && p.Port.DeviceId.Length > 0
                && p.FixedIps.Any(ip => ip.IpAddress == ipAddress))?.Port.DeviceId;
        }, cancellationToken);

    /// <summary>The server's compute ports with their addresses and subnets, in guest order (eth0 first).</summary>
    public async Task<List<MetadataNic>> ServerNetworkInfoAsync(string serverId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var result = new List<MetadataNic>();
            foreach (var port in (await PortViewsAsync(s, await s.PortsAsync(null, deviceId: serverId))).Where(p => p.Port.DeviceOwner == ComputeOwner))
            {
                var network = await s.NetworkAsync(port.Port.NetworkId);
                var subnets = (await s.SubnetsOfAsync(port.Port.NetworkId)).ToDictionary(x => x.Id, StringComparer.Ordinal);
                var addresses = port.FixedIps.Where(ip => subnets.ContainsKey(ip.SubnetId)).Select(ip =>
                {
                    var subnet = subnets[ip.SubnetId];
                    return new MetadataAddress(ip.IpAddress, subnet.Cidr, subnet.GatewayIp, subnet.EnableDhcp,
                        JsonSerializer.Deserialize(subnet.DnsNameservers, NetworkStoredJson.Default.ListString)!,
                        JsonSerializer.Deserialize(subnet.HostRoutes, NetworkStoredJson.Default.ListHostRouteText)!);
                }).ToList();
                result.Add(new MetadataNic(port.Port.Id, port.Port.NetworkId, port.Port.MacAddress, network?.Mtu ?? 0, addresses, port.Port.DeviceTag));
            }

            return result;
        }, cancellationToken);
}
