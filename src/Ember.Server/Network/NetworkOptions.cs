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
