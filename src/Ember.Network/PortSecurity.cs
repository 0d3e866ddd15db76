namespace Ember.Network;

/// <summary>
/// What one port may send and receive (Neutron's port security and security groups, already resolved by the caller).
/// With <paramref name="Enabled"/> false the port is not filtered at all, like a Neutron port with
/// port_security_enabled=false.
/// </summary>
/// <param name="FixedIps">The port's addresses: the only source addresses (with the pairs') it may send from.</param>
/// <param name="Rules">The rules of all its security groups; traffic no rule allows is dropped (replies to allowed traffic pass).</param>
public sealed record PortSecurity(string PortId, string Mac, IReadOnlyList<string> FixedIps, IReadOnlyList<AllowedAddressPair> AllowedAddressPairs,
    IReadOnlyList<SecurityRule> Rules, bool Enabled = true);

/// <summary>An extra address (or CIDR) the port may send from, with the MAC it may use for it (null: the port's).</summary>
public sealed record AllowedAddressPair(string IpAddress, string? MacAddress = null);

/// <summary>Ingress is traffic to the VM, egress traffic from it (Neutron's directions).</summary>
public enum RuleDirection
{
    Ingress,
    Egress,
}

/// <summary>
/// One security group rule. <paramref name="Protocol"/> is null (any), a name (tcp, udp, sctp, icmp, icmpv6) or a
/// number; for tcp/udp/sctp the port range bounds the destination port, for icmp/icmpv6 min is the type and max the
/// code (Neutron's meaning). The remote is <paramref name="RemoteIpPrefix"/>, or the member addresses of the remote
/// group (<paramref name="RemoteGroupIps"/>, expanded by the caller; an empty list matches nothing), or anyone.
/// </summary>
/// <param name="EtherType">IPv4 or IPv6.</param>
public sealed record SecurityRule(RuleDirection Direction, string EtherType = "IPv4", string? Protocol = null, int? PortRangeMin = null,
    int? PortRangeMax = null, string? RemoteIpPrefix = null, IReadOnlyList<string>? RemoteGroupIps = null);
