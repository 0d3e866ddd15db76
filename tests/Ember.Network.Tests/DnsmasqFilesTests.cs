namespace Ember.Network.Tests;

/// <summary>What goes into dnsmasq's files, and what is refused before it gets there (no root needed).</summary>
public sealed class DnsmasqFilesTests
{
    private const string SubnetId = "8a1f0e2d-3c4b-4d5e-8f60-718293a4b5c6";

    private static DhcpSubnet Subnet(string cidr = "10.0.0.0/24", string portIp = "10.0.0.2", string? gateway = "10.0.0.1") =>
        new(SubnetId, cidr, portIp, gateway, [], [], TimeSpan.FromDays(1));

    private static DnsmasqFiles Render(IReadOnlyList<DhcpSubnet> subnets, params DhcpHost[] hosts) =>
        DnsmasqFiles.Render(new DhcpConfig("fa:16:3e:00:00:02", 1450, subnets, hosts), "ns-0123456789a", "/state/net");

    [Fact]
    public void A_subnet_becomes_a_static_range_and_its_options()
    {
        var files = Render([Subnet() with { DnsServers = ["8.8.8.8", "1.1.1.1"], HostRoutes = [new("192.168.0.0/16", "10.0.0.254")] }],
            new DhcpHost("FA:16:3E:00:00:11", "10.0.0.11", "web-1"));

        Assert.Contains($"dhcp-range=set:subnet-{SubnetId},10.0.0.0,static,255.255.255.0,86400s\n", files.Config, StringComparison.Ordinal);
        Assert.Contains("interface=ns-0123456789a\n", files.Config, StringComparison.Ordinal);
        Assert.Contains("dhcp-hostsfile=/state/net/hosts\n", files.Config, StringComparison.Ordinal);
        Assert.Equal("fa:16:3e:00:00:11,10.0.0.11,web-1\n", files.Hosts);
        Assert.Equal(
            $"tag:subnet-{SubnetId},option:router,10.0.0.1\n" +
            $"tag:subnet-{SubnetId},option:dns-server,8.8.8.8,1.1.1.1\n" +
            $"tag:subnet-{SubnetId},option:classless-static-route,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1\n" +
            $"tag:subnet-{SubnetId},249,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1\n" +
            $"tag:subnet-{SubnetId},option:mtu,1450\n",
            files.Options);
        Assert.Equal(["10.0.0.2/24"], files.PortAddresses);
    }

    [Fact]
    public void No_gateway_sends_an_empty_router_option_so_dnsmasq_does_not_offer_itself()
    {
        var files = Render([Subnet(gateway: null)]);

        Assert.StartsWith($"tag:subnet-{SubnetId},option:router\n", files.Options, StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6_subnets_and_their_hosts_are_skipped()
    {
        var files = Render([Subnet("fd00::/64", "fd00::2", null)], new DhcpHost("fa:16:3e:00:00:11", "fd00::11", null));

        Assert.False(files.Serves);
        Assert.Empty(files.Hosts);
    }

    [Theory]
    [InlineData("10.0.0.5/24", "10.0.0.2", "fa:16:3e:00:00:11", "10.0.0.11", "h")]
    [InlineData("10.0.0.0/24", "10.0.1.2", "fa:16:3e:00:00:11", "10.0.0.11", "h")]
    [InlineData("10.0.0.0/24", "10.0.0.2", "01:16:3e:00:00:11", "10.0.0.11", "h")]
    [InlineData("10.0.0.0/24", "10.0.0.2", "fa:16:3e:00:00:11", "10.0.0.11", "two words")]
    [InlineData("10.0.0.0/24", "10.0.0.2", "fa:16:3e:00:00:11", "10.0.0.11", "a\nb")]
    [InlineData("10.0.0.0/24", "10.0.0.2", "fa:16:3e:00:00:11,x", "10.0.0.11", "h")]
    [InlineData("10.0.0.0/24", "10.0.0.2", "fa:16:3e:00:00:11", "10.9.0.11", "h")]
    public void Malformed_or_inconsistent_fields_are_refused(string cidr, string portIp, string mac, string ip, string hostname)
    {
        Assert.Throws<ArgumentException>(() => Render([Subnet(cidr, portIp)], new DhcpHost(mac, ip, hostname)));
    }

    [Fact]
    public void Counts_are_bounded()
    {
        var hosts = Enumerable.Range(0, DnsmasqFiles.MaxHosts + 1).Select(i => new DhcpHost("fa:16:3e:00:00:11", "10.0.0.11", null)).ToArray();

        Assert.Throws<ArgumentException>(() => Render([Subnet("10.0.0.0/8", "10.0.0.2")], hosts));
        Assert.Throws<ArgumentException>(() => Render([Subnet() with { DnsServers = [.. Enumerable.Repeat("8.8.8.8", 9)] }]));
        Assert.Throws<ArgumentException>(() => Render([Subnet() with { LeaseTime = TimeSpan.FromSeconds(30) }]));
    }

    [Fact]
    public void Interface_names_fit_in_15_bytes_and_parse_back()
    {
        var id = Guid.Parse("0b3e8f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        var names = new DataPlaneNames("embx", "ember");

        Assert.Equal("embxb0b3e8f6a1c", names.Bridge(id));
        Assert.True(names.TryParseInterface(names.Tap(id), out var kind, out var digits));
        Assert.Equal(('t', "0b3e8f6a1c"), (kind, digits));
        Assert.False(names.TryParseInterface("embxq0b3e8f6a1c", out _, out _));
        Assert.True(names.TryParseDhcpNamespace("ember-qdhcp-0b3e8f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", out var network));
        Assert.Equal(id, network);
        Assert.False(names.TryParseDhcpNamespace("ember-qdhcp-0B3E8F6A-1c2d-4e5f-8a9b-0c1d2e3f4a5b", out _));
        Assert.Throws<ArgumentException>(() => new DataPlaneNames("e", "ember"));
    }
}
