using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Network;

/// <summary>The Network API (Neutron subset): whether it is served, the default MTU, and the pool that Nova's "networks: auto" draws from.</summary>
public sealed class NetworkOptions : IValidatableObject
{
    /// <summary>Serve /network and list it in the catalog. Off: no routes, no catalog entry (clients then see no Neutron).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The MTU of a new network when none is asked for: 1450 leaves room for the VXLAN header on a 1500 underlay.</summary>
    [Range(68, 9000)]
    public int DefaultMtu { get; set; } = 1450;

    /// <summary>
    /// The IPv4 range the auto-allocated networks' subnets are carved from, one block of
    /// <see cref="AutoAllocationPrefixLength"/> per project, the first block no other project holds.
    /// </summary>
    [Required]
    public string AutoAllocationCidr { get; set; } = "10.128.0.0/16";

    /// <summary>The prefix length of each project's auto-allocated subnet.</summary>
    [Range(8, 30)]
    public int AutoAllocationPrefixLength { get; set; } = 24;

    /// <summary>
    /// This machine wires servers' ports into Linux bridges with DHCP (Neutron's Linux bridge and DHCP agents, in
    /// src/Ember.Network): needs root. Off (the default, so a test or a user without root changes nothing on the
    /// host): the API still serves, <c>networks: auto</c> gives a server no interface, and a server asked onto a
    /// network is refused. <c>./run.sh</c> turns it on; on several machines every compute host and the controller set it.
    /// </summary>
    public bool HostNetworking { get; set; }

    /// <summary>The first letters of every bridge, tap and veth the data plane makes (2 to 4; interface names stop at 15 bytes).</summary>
    [RegularExpression("^[a-z][a-z0-9]{1,3}$")]
    public string InterfacePrefix { get; set; } = "emb";

    /// <summary>The first part of every network namespace the data plane makes (<c>PREFIX-qdhcp-NETWORK</c>); one per machine-wide Ember.</summary>
    [RegularExpression("^[a-z][a-z0-9-]{0,23}$")]
    public string NamespacePrefix { get; set; } = "ember";

    /// <summary>
    /// This compute host's VXLAN tunnel endpoint (IPv4), registered with its network agent so the other hosts send it their
    /// networks' frames; empty: the address of Compute:HostListen, else the host's first IPv4 address.
    /// </summary>
    public string TunnelAddress { get; set; } = "";

    /// <summary>The UDP port of the VXLAN tunnels (IANA's 4789, as Linux bridge agent's default); the same on every host.</summary>
    [Range(1, 65535)]
    public int VxlanPort { get; set; } = 4789;

    /// <summary>The external network made at start (DevStack's <c>public</c>); none when <see cref="ExternalNetworkOptions.Name"/> is empty.</summary>
    public ExternalNetworkOptions External { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var result in External.Validate())
        {
            yield return result;
        }

        if (TunnelAddress.Length > 0 && Ipv4.Parse(TunnelAddress) is null)
        {
            yield return new ValidationResult($"Network:TunnelAddress '{TunnelAddress}' is not an IPv4 address.");
        }

        if (!Ipv4Cidr.TryParse(AutoAllocationCidr, out var pool, out var exact) || !exact)
        {
            yield return new ValidationResult($"Network:AutoAllocationCidr '{AutoAllocationCidr}' is not an IPv4 network such as 10.128.0.0/16.");
        }
        else if (pool.Prefix > AutoAllocationPrefixLength)
        {
            yield return new ValidationResult("Network:AutoAllocationPrefixLength must be at least the prefix length of Network:AutoAllocationCidr.");
        }
    }
}

/// <summary>
/// The external network (router:external, shared by every project through routers and floating IPs) the controller
/// makes at start when it is missing, as DevStack makes <c>public</c> with 172.24.4.0/24.
/// </summary>
public sealed class ExternalNetworkOptions
{
    /// <summary>The network's name (e.g. <c>public</c>); empty: no external network is made.</summary>
    public string Name { get; set; } = "";

    /// <summary>Its one IPv4 subnet.</summary>
    public string Cidr { get; set; } = "172.24.4.0/24";

    /// <summary>The subnet's gateway (the upstream router; on the all-in-one host, the external bridge's own address); empty: the first host.</summary>
    public string GatewayIp { get; set; } = "";

    /// <summary>The allocation pool for router gateways and floating IPs; empty: every host address but the gateway.</summary>
    public string AllocationStart { get; set; } = "";

    public string AllocationEnd { get; set; } = "";

    /// <summary>
    /// The host gives the external network's bridge the gateway address (as DevStack gives br-ex 172.24.4.1), so it
    /// reaches floating IPs and routers' gateways directly. Only for the all-in-one host (<c>./run.sh</c>).
    /// </summary>
    public bool BridgeHasGateway { get; set; }

    public IEnumerable<ValidationResult> Validate()
    {
        if (Name.Length == 0)
        {
            yield break;
        }

        if (Name.Length > 255)
        {
            yield return new ValidationResult("Network:External:Name is at most 255 characters.");
        }

        if (!Ipv4Cidr.TryParse(Cidr, out var cidr, out var exact) || !exact || cidr.Prefix is < 8 or > 30)
        {
            yield return new ValidationResult($"Network:External:Cidr '{Cidr}' is not an IPv4 network such as 172.24.4.0/24 (prefix 8 to 30).");
            yield break;
        }

        foreach (var (key, value) in new[] { ("GatewayIp", GatewayIp), ("AllocationStart", AllocationStart), ("AllocationEnd", AllocationEnd) })
        {
            if (value.Length > 0 && !(Ipv4.Parse(value) is { } address && cidr.IsHost(address)))
            {
                yield return new ValidationResult($"Network:External:{key} '{value}' is not a host address of {Cidr}.");
            }
        }

        if ((AllocationStart.Length == 0) != (AllocationEnd.Length == 0))
        {
            yield return new ValidationResult("Network:External:AllocationStart and AllocationEnd are given together.");
        }
    }
}
