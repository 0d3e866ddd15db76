namespace Ember.Network;

/// <summary>Where the data plane puts things and what it names them; every name it creates starts with one of the prefixes.</summary>
public sealed class NetworkDataPlaneOptions
{
    /// <summary>2–4 lowercase letters or digits, a letter first: the start of every bridge, tap and veth Ember creates.</summary>
    public string InterfacePrefix { get; set; } = "emb";

    /// <summary>The start of every network namespace Ember creates (<c>{NamespacePrefix}-qdhcp-{networkId}</c>).</summary>
    public string NamespacePrefix { get; set; } = "ember";

    /// <summary>
    /// The named network namespace that holds the bridges and taps, or null for this process's own namespace. Tests set
    /// one they created, so nothing lands in the machine's root namespace.
    /// </summary>
    public string? HostNamespace { get; set; }

    /// <summary>dnsmasq's config, hosts, options, pid, lease and log files, one 0700 directory per network below it.</summary>
    public string StateDirectory { get; set; } = "/var/lib/ember/network";

    public string IpBinary { get; set; } = "ip";

    public string DnsmasqBinary { get; set; } = "dnsmasq";

    public string NftBinary { get; set; } = "nft";

    /// <summary>iproute2's <c>bridge</c>, for the VXLAN devices' flood entries.</summary>
    public string BridgeBinary { get; set; } = "bridge";
}
