namespace Ember.Network;

/// <summary>
/// What a router namespace holds: an interface per attached subnet (the subnet's gateway address), the gateway on the
/// external network, SNAT of the interfaces' subnets to the gateway address, and per floating IP a DNAT and SNAT.
/// </summary>
/// <param name="EnableSnat">Internal subnets leave through the gateway as the gateway's address (Neutron's enable_snat).</param>
public sealed record RouterConfig(IReadOnlyList<RouterInterface> Interfaces, RouterGateway? Gateway, bool EnableSnat, IReadOnlyList<FloatingIpNat> FloatingIps);

/// <summary>A router interface: its port (veth named after it), network (bridge), MAC and address with prefix, e.g. <c>10.0.0.1/24</c>.</summary>
/// <param name="Neighbours">
/// The ports of the interface's subnet as permanent ARP entries on the <c>qr-</c> device (Neutron's DVR does the same): a
/// router copy never ARPs for a guest, because its ARP could not cross the tunnels (only routed IPv4 frames do).
/// </param>
public sealed record RouterInterface(string PortId, string NetworkId, string MacAddress, string Address, int Mtu, IReadOnlyList<RouterNeighbour>? Neighbours = null)
{
    public const int MaxNeighbours = 8192; // their listing (`ip -j neigh`, ~90 bytes each) stays under the 1 MiB output limit
}

/// <summary>A permanent ARP entry of a router interface: a port's IPv4 address and MAC.</summary>
public sealed record RouterNeighbour(string IpAddress, string MacAddress);

/// <summary>
/// The router's gateway port on the external network's bridge: address with prefix (<c>172.24.4.10/24</c>), the
/// upstream router (default route; null: none) and, on the all-in-one host, the address the external bridge itself
/// gets (<c>172.24.4.1/24</c>, DevStack's br-ex) so the host reaches floating IPs; null leaves the bridge without one.
/// </summary>
public sealed record RouterGateway(string PortId, string NetworkId, string MacAddress, string Address, string? NextHop, int Mtu, string? BridgeAddress = null);

/// <summary>A floating IP: traffic to <see cref="FloatingIp"/> goes to <see cref="FixedIp"/>, and the fixed IP leaves as the floating one.</summary>
public sealed record FloatingIpNat(string FloatingIp, string FixedIp);
