namespace Ember.Network.Tests;

/// <summary>What goes into the nftables ruleset, and what is refused before nft sees it (no root needed).</summary>
public sealed class NftRulesetTests
{
    private const string PortId = "0b3e8f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

    private static readonly DataPlaneNames s_names = new("emb", "ember");

    private static string Render(params SecurityRule[] rules) =>
        NftRuleset.Render("emb", s_names, [new PortSecurity(PortId, "fa:16:3e:00:00:01", ["10.0.0.5", "fd00::5"], [new AllowedAddressPair("10.0.1.0/24", "fa:16:3e:00:00:99")], rules)]);

    [Fact]
    public void Rules_become_matches_in_the_port_s_chains()
    {
        var text = Render(
            new SecurityRule(RuleDirection.Ingress, Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIpPrefix: "192.168.1.7/24"),
            new SecurityRule(RuleDirection.Ingress, Protocol: "icmp", PortRangeMin: 8, RemoteGroupIps: ["10.0.0.6", "fd00::6"]),
            new SecurityRule(RuleDirection.Egress, "IPv6", Protocol: "udp", PortRangeMin: 53, PortRangeMax: 54),
            new SecurityRule(RuleDirection.Ingress, Protocol: "tcp", RemoteGroupIps: []));

        Assert.StartsWith("table bridge emb\ndelete table bridge emb\ntable inet emb\ndelete table inet emb\n", text, StringComparison.Ordinal);
        Assert.Contains("iifname vmap { \"embt0b3e8f6a1c2\" : jump from-embt0b3e8f6a1c2 }", text, StringComparison.Ordinal);
        Assert.Contains("ether saddr != { fa:16:3e:00:00:01, fa:16:3e:00:00:99 } drop", text, StringComparison.Ordinal);
        Assert.Contains("ether type ip ip saddr != { 10.0.0.5/32, 10.0.1.0/24 } drop", text, StringComparison.Ordinal);
        Assert.Contains("ip6 saddr != { ::/128, fe80::/10, fd00::5/128 } drop", text, StringComparison.Ordinal);
        Assert.Contains("meta nfproto ipv4 meta l4proto tcp th dport 22 ip saddr 192.168.1.0/24 accept", text, StringComparison.Ordinal);
        Assert.Contains("meta nfproto ipv4 meta l4proto icmp icmp type 8 ip saddr { 10.0.0.6 } accept", text, StringComparison.Ordinal);
        Assert.Contains("meta nfproto ipv6 meta l4proto udp th dport 53-54 accept", text, StringComparison.Ordinal);
        // The rule with an empty remote group matches nothing and is left out.
        Assert.Single(text.Split('\n'), line => line.Contains("meta l4proto tcp", StringComparison.Ordinal));
    }

    [Fact]
    public void No_ports_only_deletes_the_tables()
    {
        Assert.Equal("table bridge emb\ndelete table bridge emb\ntable inet emb\ndelete table inet emb\n", NftRuleset.Render("emb", s_names, []));
    }

    [Theory]
    [InlineData("IPv4", "gre", null, null, null)]
    [InlineData("IPv4", "tcp", 0, 10, null)]
    [InlineData("IPv4", "tcp", 20, 10, null)]
    [InlineData("IPv4", "icmpv6", null, null, null)]
    [InlineData("IPv4", null, 22, 22, null)]
    [InlineData("IPv5", null, null, null, null)]
    [InlineData("IPv4", "tcp", null, null, "fd00::/64")]
    [InlineData("IPv4", "tcp", null, null, "10.0.0.0/24; drop")]
    public void Malformed_rules_are_refused(string etherType, string? protocol, int? min, int? max, string? prefix)
    {
        Assert.Throws<ArgumentException>(() => Render(new SecurityRule(RuleDirection.Ingress, etherType, protocol, min, max, prefix)));
    }
}
