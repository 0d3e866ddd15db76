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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
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
