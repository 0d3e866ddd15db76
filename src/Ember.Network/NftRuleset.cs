using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ember.Network;

/// <summary>
/// The nftables ruleset for port security, rendered as one <c>nft -f</c> file that replaces both of Ember's tables in
/// one transaction. The kernel may lack bridge conntrack (<c>CONFIG_NF_CONNTRACK_BRIDGE</c>), so the work is split:
/// <list type="bullet">
/// <item><c>table bridge {prefix}</c> (forward hook, before br_netfilter) sees the tap a frame comes from and goes to:
/// it drops spoofed frames (MAC, ARP, IPv4/IPv6 source) and writes the source port's number into the low 16 bits of
/// the packet mark and the destination port's into the high 16.</item>
/// <item><c>table inet {prefix}</c> (forward hook, reached through br_netfilter, where conntrack works but the
/// bridge ports are no longer visible) applies each port's security group rules statefully, by those marks.</item>
/// </list>
/// </summary>
internal static class NftRuleset
{
    public const int MaxPorts = 4096;
    public const int MaxRulesPerPort = 1024;
    public const int MaxAddressesPerPort = 256;

    public static string Render(string table, DataPlaneNames names, IReadOnlyList<PortSecurity> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        Check(ports.Count <= MaxPorts, $"At most {MaxPorts} ports.");
        var filtered = new List<(string Tap, int Number, PortSecurity Port)>();
        var taps = new HashSet<string>(StringComparer.Ordinal);
        foreach (var port in ports)
        {
            ArgumentNullException.ThrowIfNull(port);
            var tap = names.Tap(DataPlaneNames.ParseId(port.PortId, "port id"));
            Check(taps.Add(tap), $"Port {port.PortId} is listed twice.");
            if (port.Enabled)
            {
                filtered.Add((tap, filtered.Count + 1, port));
            }
        }

        var bridge = new StringBuilder();
        var inet = new StringBuilder();
        foreach (var (tap, number, port) in filtered)
        {
            RenderPort(bridge, inet, tap, number, port);
        }

        var text = new StringBuilder()
            // Creating then deleting makes the deletes succeed whether or not the tables existed; all of it is one transaction.
            .Append(CultureInfo.InvariantCulture, $"table bridge {table}\ndelete table bridge {table}\ntable inet {table}\ndelete table inet {table}\n");
        if (filtered.Count == 0)
        {
            return text.ToString();
        }

        text.Append(CultureInfo.InvariantCulture, $"table bridge {table} {{\n  chain ports {{\n    type filter hook forward priority -300; policy accept;\n    meta mark set 0\n")
            .Append(CultureInfo.InvariantCulture, $"    iifname vmap {{ {string.Join(", ", filtered.Select(p => $"\"{p.Tap}\" : jump from-{p.Tap}"))} }}\n")
            .Append(CultureInfo.InvariantCulture, $"    oifname vmap {{ {string.Join(", ", filtered.Select(p => $"\"{p.Tap}\" : jump to-{p.Tap}"))} }}\n  }}\n")
            .Append(bridge).Append("}\n")
            // Two base chains: an accept in the egress chain of the sender must not skip the ingress chain of the receiver.
            .Append(CultureInfo.InvariantCulture, $"table inet {table} {{\n  chain egress {{\n    type filter hook forward priority 0; policy accept;\n")
            .Append(CultureInfo.InvariantCulture, $"    meta mark & 0xffff vmap {{ {string.Join(", ", filtered.Select(p => $"{p.Number} : jump egress-{p.Tap}"))} }}\n  }}\n")
            .Append("  chain ingress {\n    type filter hook forward priority 10; policy accept;\n")
            .Append(CultureInfo.InvariantCulture, $"    meta mark & 0xffff0000 vmap {{ {string.Join(", ", filtered.Select(p => $"0x{p.Number << 16:x} : jump ingress-{p.Tap}"))} }}\n  }}\n")
            .Append(inet).Append("}\n");
        return text.ToString();
    }

    private static void RenderPort(StringBuilder bridge, StringBuilder inet, string tap, int number, PortSecurity port)
    {
        var mac = DataPlaneNames.ParseMac(port.Mac, "port MAC");
        var fixedIps = port.FixedIps ?? [];
        var pairs = port.AllowedAddressPairs ?? [];
        var rules = port.Rules ?? [];
        Check(fixedIps.Count + pairs.Count <= MaxAddressesPerPort, $"At most {MaxAddressesPerPort} addresses and address pairs per port.");
        Check(rules.Count <= MaxRulesPerPort, $"At most {MaxRulesPerPort} rules per port.");
        var macs = new SortedSet<string>(StringComparer.Ordinal) { mac };
        var sources = new List<IPNetwork>();
        foreach (var ip in fixedIps)
        {
            sources.Add(Addresses.ParseNetworkLoose(Addresses.ParseAddress(ip, null, "fixed IP").ToString(), "fixed IP"));
        }

        foreach (var pair in pairs)
        {
            ArgumentNullException.ThrowIfNull(pair);
            sources.Add(Addresses.ParseNetworkLoose(pair.IpAddress, "allowed address pair"));
            if (pair.MacAddress is not null)
            {
                macs.Add(DataPlaneNames.ParseMac(pair.MacAddress, "allowed address pair MAC"));
            }
        }

        var v4 = sources.Where(s => s.BaseAddress.AddressFamily == AddressFamily.InterNetwork).Select(s => s.ToString()).ToList();
        var v6 = sources.Where(s => s.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6).Select(s => s.ToString()).ToList();
        var macSet = Set(macs);

        bridge.Append(CultureInfo.InvariantCulture, $"  chain from-{tap} {{\n    meta mark set meta mark | {number}\n")
            .Append(CultureInfo.InvariantCulture, $"    ether saddr != {macSet} drop\n")
            .Append("    ether type != { ip, arp, ip6 } drop\n")
            .Append(CultureInfo.InvariantCulture, $"    ether type arp arp saddr ether != {macSet} drop\n")
            // 0.0.0.0: ARP probes of a client checking its new address (RFC 5227).
            .Append(CultureInfo.InvariantCulture, $"    ether type arp arp saddr ip != {Set(["0.0.0.0", .. v4])} drop\n")
            // A VM is a DHCP client, never a DHCP server; its DISCOVER comes from 0.0.0.0.
            .Append("    ether type ip udp sport 67 drop\n")
            .Append("    ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return\n")
            .Append(v4.Count == 0 ? "    ether type ip drop\n" : $"    ether type ip ip saddr != {Set(v4)} drop\n")
            .Append("    ether type ip6 icmpv6 type nd-router-advert drop\n")
            .Append("    ether type ip6 udp sport 547 drop\n")
            // :: for duplicate address detection, link-local for neighbour discovery.
            .Append(CultureInfo.InvariantCulture, $"    ether type ip6 ip6 saddr != {Set(["::/128", "fe80::/10", .. v6])} drop\n")
            .Append("  }\n")
            .Append(CultureInfo.InvariantCulture, $"  chain to-{tap} {{\n    meta mark set meta mark | 0x{number << 16:x}\n  }}\n");

        foreach (var direction in new[] { RuleDirection.Egress, RuleDirection.Ingress })
        {
            var egress = direction == RuleDirection.Egress;
            inet.Append(CultureInfo.InvariantCulture, $"  chain {(egress ? "egress" : "ingress")}-{tap} {{\n")
                // Only replies pass on conntrack's word: a packet in a connection's own direction meets the rules on
                // every packet, so a rule deleted closes a live connection at its next packet (Neutron flushes the
                // conntrack entries of a deleted rule instead; this needs no conntrack tool and cannot miss one).
                .Append("    ct state related accept\n    ct state established ct direction reply accept\n    ct state invalid drop\n")
                // DHCP (its replies are not replies to conntrack: the request went to the broadcast address) and
                // IPv6 neighbour discovery always pass, as in Neutron.
                .Append(egress ? "    udp sport 68 udp dport 67 accept\n" : "    udp sport 67 udp dport 68 accept\n")
                .Append("    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n");
            foreach (var rule in rules.Where(r => r?.Direction == direction))
            {
                if (Match(rule) is { } match)
                {
                    inet.Append(CultureInfo.InvariantCulture, $"    {match} accept\n");
                }
            }

            inet.Append("    drop\n  }\n");
        }
    }

    /// <summary>The nft match of a rule, or null when it can match nothing (an empty remote group).</summary>
    private static string? Match(SecurityRule rule)
    {
        var family = rule.EtherType switch
        {
            "IPv4" => AddressFamily.InterNetwork,
            "IPv6" => AddressFamily.InterNetworkV6,
            _ => throw new ArgumentException($"Ethertype '{rule.EtherType}' is not IPv4 or IPv6."),
        };
        var ip = family == AddressFamily.InterNetwork ? "ip" : "ip6";
        var parts = new List<string> { $"meta nfproto {(family == AddressFamily.InterNetwork ? "ipv4" : "ipv6")}" };
        var protocol = rule.Protocol?.ToLowerInvariant();
        switch (protocol)
        {
            case null or "any":
                Check(rule.PortRangeMin is null && rule.PortRangeMax is null, "A port range needs a protocol.");
                break;
            case "tcp" or "udp" or "sctp" or "6" or "17" or "132":
                var name = protocol switch { "6" => "tcp", "17" => "udp", "132" => "sctp", _ => protocol };
                parts.Add($"meta l4proto {name}");
                if (rule.PortRangeMin is not null || rule.PortRangeMax is not null)
                {
                    var min = rule.PortRangeMin ?? 1;
                    var max = rule.PortRangeMax ?? 65535;
                    Check(min is >= 1 and <= 65535 && max is >= 1 and <= 65535 && min <= max, "Port range must be 1-65535, min <= max.");
                    parts.Add(min == max ? $"th dport {min}" : $"th dport {min}-{max}");
                }

                break;
            case "icmp" or "1" or "icmpv6" or "ipv6-icmp" or "58":
                var v6 = protocol is "icmpv6" or "ipv6-icmp" or "58";
                Check(v6 == (family == AddressFamily.InterNetworkV6), $"Protocol {protocol} does not go with {rule.EtherType}.");
                var keyword = v6 ? "icmpv6" : "icmp";
                parts.Add($"meta l4proto {(v6 ? "ipv6-icmp" : "icmp")}");
                if (rule.PortRangeMin is { } type)
                {
                    Check(type is >= 0 and <= 255, "ICMP type must be 0-255.");
                    parts.Add($"{keyword} type {type}");
                    if (rule.PortRangeMax is { } code)
                    {
                        Check(code is >= 0 and <= 255, "ICMP code must be 0-255.");
                        parts.Add($"{keyword} code {code}");
                    }
                }
                else
                {
                    Check(rule.PortRangeMax is null, "An ICMP code needs a type.");
                }

                break;
            default:
                Check(int.TryParse(protocol, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 0 and <= 255,
                    $"Protocol '{rule.Protocol}' is not a name Ember knows or a number 0-255.");
                Check(rule.PortRangeMin is null && rule.PortRangeMax is null, "A port range needs tcp, udp, sctp or icmp.");
                parts.Add($"meta l4proto {number}");
                break;
        }

        var remote = rule.Direction == RuleDirection.Ingress ? "saddr" : "daddr";
        Check(rule.RemoteIpPrefix is null || rule.RemoteGroupIps is null, "A rule has a remote IP prefix or a remote group, not both.");
        if (rule.RemoteIpPrefix is { } prefix)
        {
            var network = Addresses.ParseNetworkLoose(prefix, "remote IP prefix");
            Check(network.BaseAddress.AddressFamily == family, $"Remote IP prefix {prefix} is not {rule.EtherType}.");
            parts.Add($"{ip} {remote} {network}");
        }
        else if (rule.RemoteGroupIps is { } members)
        {
            Check(members.Count <= MaxAddressesPerPort * 16, "Too many remote group members.");
            var addresses = members.Select(m => Addresses.ParseAddress(m, null, "remote group member")).Where(a => a.AddressFamily == family).Distinct().ToList();
            if (addresses.Count == 0)
            {
                return null;
            }

            parts.Add($"{ip} {remote} {Set(addresses.Select(a => a.ToString()))}");
        }

        return string.Join(' ', parts);
    }

    private static string Set(IEnumerable<string> elements) => $"{{ {string.Join(", ", elements)} }}";

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }
}
