namespace Ember.Network;

/// <summary>
/// What a network's DHCP server hands out: only fixed addresses (one per host and subnet, like Neutron's DHCP agent)
/// to the listed MACs. IPv6 subnets are accepted and skipped (no DHCPv6 or router advertisements yet). A config
/// without IPv4 subnets removes the network's DHCP server.
/// </summary>
/// <param name="PortMac">The DHCP port's MAC, given to the namespace's end of its veth.</param>
/// <param name="Mtu">Sent as DHCP option 26 and set on the veth.</param>
/// <param name="MetadataAddress">
/// Also given to the namespace's end of the veth (<see cref="MetadataEndpoint.Address"/>/32), as Neutron's DHCP agent does
/// for isolated metadata; the subnets' host routes should send it via the DHCP port.
/// </param>
public sealed record DhcpConfig(string PortMac, int Mtu, IReadOnlyList<DhcpSubnet> Subnets, IReadOnlyList<DhcpHost> Hosts, bool MetadataAddress = false);

/// <summary>The well-known address of the instance metadata service.</summary>
public static class MetadataEndpoint
{
    public const string Address = "169.254.169.254";

    public const int Port = 80;
}

/// <summary>One DHCP-enabled subnet of the network.</summary>
/// <param name="Id">The subnet's UUID.</param>
/// <param name="Cidr">e.g. <c>10.0.0.0/24</c>.</param>
/// <param name="PortIp">The DHCP port's address in this subnet (the server's address).</param>
/// <param name="Gateway">Sent as the router; null sends none (dnsmasq would otherwise name itself).</param>
/// <param name="HostRoutes">Sent as classless static routes (options 121 and 249), with the default route via the gateway.</param>
/// <param name="LeaseTime">From 2 minutes (dnsmasq's minimum) to a year.</param>
public sealed record DhcpSubnet(string Id, string Cidr, string PortIp, string? Gateway, IReadOnlyList<string> DnsServers,
    IReadOnlyList<HostRoute> HostRoutes, TimeSpan LeaseTime);

/// <summary>A static route a subnet's clients learn by DHCP.</summary>
/// <param name="Destination">A CIDR, e.g. <c>169.254.169.254/32</c>.</param>
public sealed record HostRoute(string Destination, string NextHop);

/// <summary>A port that gets <paramref name="Ip"/> when it asks from <paramref name="Mac"/>.</summary>
/// <param name="Hostname">One DNS label sent as option 12, or null.</param>
public sealed record DhcpHost(string Mac, string Ip, string? Hostname);

/// <summary>Whether this machine can run the data plane, and if not, why.</summary>
public sealed record DataPlaneProbe(bool Available, string? Reason)
{
    public static DataPlaneProbe Ok { get; } = new(true, null);

    public static DataPlaneProbe Unavailable(string reason) => new(false, reason);
}
