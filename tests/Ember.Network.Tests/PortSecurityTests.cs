namespace Ember.Network.Tests;

/// <summary>
/// nftables port security between two "VMs" (namespaces whose veth ends carry the ports' tap names) on a real
/// bridge: security groups, replies, anti-spoofing. Needs root.
/// </summary>
public sealed class PortSecurityTests : IAsyncLifetime
{
    private const string NetworkId = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b0a";
    private const string Port1 = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c01";
    private const string Port2 = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d02";
    private const string Mac1 = "fa:16:3e:00:01:01";
    private const string Mac2 = "fa:16:3e:00:01:02";
    private const string Ip1 = "10.66.0.11";
    private const string Ip2 = "10.66.0.12";

    private static readonly SecurityRule s_egressAll = new(RuleDirection.Egress);

    private readonly DataPlaneHost _host = new();
    private NetworkDataPlane _dataPlane = null!;
    private string _vm1 = "";
    private string _vm2 = "";

    public async Task InitializeAsync()
    {
        await _host.InitializeAsync();
        try
        {
            _dataPlane = _host.NewDataPlane();
            await _dataPlane.EnsureNetworkAsync(NetworkId, 1500);
            var bridge = _dataPlane.BridgeName(NetworkId);
            _vm1 = await _host.AddVmAsync("1", Mac1, bridge, _dataPlane.TapName(Port1));
            _vm2 = await _host.AddVmAsync("2", Mac2, bridge, _dataPlane.TapName(Port2));
            await Cli.RunOkAsync("ip", "-n", _vm1, "addr", "add", Ip1 + "/24", "dev", "eth0");
            await Cli.RunOkAsync("ip", "-n", _vm2, "addr", "add", Ip2 + "/24", "dev", "eth0");
        }
        catch
        {
            // xUnit does not dispose what failed to initialize.
            await _host.DisposeAsync();
            throw;
        }
    }

    public Task DisposeAsync() => _host.DisposeAsync();

    private static PortSecurity Port(string id, string mac, string ip, params SecurityRule[] rules) => new(id, mac, [ip], [], rules);

    private static async Task<bool> PingAsync(string fromNs, string to) =>
        (await Cli.RunAsync("ip", ["netns", "exec", fromNs, "busybox", "ping", "-c", "1", "-W", "2", to])).ExitCode == 0;

    private static Task<CliResult> ConnectAsync(string fromNs, string to, int port) =>
        Cli.RunAsync("ip", ["netns", "exec", fromNs, "busybox", "nc", "-w", "2", to, port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            stdin: "hello\n", timeout: TimeSpan.FromSeconds(20));

    [Fact]
    public async Task Traffic_is_dropped_until_a_rule_allows_it_and_replies_pass()
    {
        await _dataPlane.ApplyPortSecurityAsync([Port(Port1, Mac1, Ip1, s_egressAll), Port(Port2, Mac2, Ip2, s_egressAll)]);
        var listener = Cli.RunAsync("ip", ["netns", "exec", _vm2, "busybox", "nc", "-l", "-p", "5000"], timeout: TimeSpan.FromSeconds(60));

        Assert.False(await PingAsync(_vm1, Ip2));
        Assert.NotEqual(0, (await ConnectAsync(_vm1, Ip2, 5000)).ExitCode);

        await _dataPlane.ApplyPortSecurityAsync([
            Port(Port1, Mac1, Ip1, s_egressAll),
            Port(Port2, Mac2, Ip2, s_egressAll,
                new SecurityRule(RuleDirection.Ingress, Protocol: "icmp", RemoteGroupIps: [Ip1]),
                new SecurityRule(RuleDirection.Ingress, Protocol: "tcp", PortRangeMin: 5000, PortRangeMax: 5000, RemoteIpPrefix: "10.66.0.0/24")),
        ]);

        Assert.True(await PingAsync(_vm1, Ip2));
        Assert.False(await PingAsync(_vm2, Ip1));
        var client = await ConnectAsync(_vm1, Ip2, 5000);
        var received = await listener;
        Assert.Equal("hello\n", received.StdOut);
        Assert.Equal(0, client.ExitCode);
    }

    [Fact]
    public async Task A_spoofed_source_address_is_dropped_unless_it_is_an_allowed_address_pair()
    {
        var icmpIn = new SecurityRule(RuleDirection.Ingress, Protocol: "icmp");
        await _dataPlane.ApplyPortSecurityAsync([Port(Port1, Mac1, Ip1, s_egressAll, icmpIn), Port(Port2, Mac2, Ip2, s_egressAll, icmpIn)]);
        Assert.True(await PingAsync(_vm1, Ip2));

        // VM 1 takes an address that is not its own; static neighbour entries keep ARP out of it, so only the IP check can stop it.
        const string Spoofed = "10.66.0.99";
        await Cli.RunOkAsync("ip", "-n", _vm1, "addr", "flush", "dev", "eth0");
        await Cli.RunOkAsync("ip", "-n", _vm1, "addr", "add", Spoofed + "/24", "dev", "eth0");
        await Cli.RunOkAsync("ip", "-n", _vm1, "neigh", "replace", Ip2, "lladdr", Mac2, "dev", "eth0");
        await Cli.RunOkAsync("ip", "-n", _vm2, "neigh", "replace", Spoofed, "lladdr", Mac1, "dev", "eth0");
        Assert.False(await PingAsync(_vm1, Ip2));

        await _dataPlane.ApplyPortSecurityAsync([
            new PortSecurity(Port1, Mac1, [Ip1], [new AllowedAddressPair(Spoofed)], [s_egressAll, icmpIn]),
            Port(Port2, Mac2, Ip2, s_egressAll, icmpIn),
        ]);
        Assert.True(await PingAsync(_vm1, Ip2));
    }

    [Fact]
    public async Task A_port_with_port_security_disabled_and_an_empty_list_are_not_filtered()
    {
        await _dataPlane.ApplyPortSecurityAsync([Port(Port1, Mac1, Ip1, s_egressAll), Port(Port2, Mac2, Ip2) with { Enabled = false }]);
        Assert.True(await PingAsync(_vm1, Ip2));
        Assert.False(await PingAsync(_vm2, Ip1));

        await _dataPlane.ApplyPortSecurityAsync([]);

        Assert.True(await PingAsync(_vm2, Ip1));
        Assert.Equal("", await Cli.RunOkAsync("ip", "netns", "exec", _host.HostNamespace, "nft", "list", "tables"));
    }

    [Fact]
    public async Task A_malformed_rule_is_refused_and_the_ruleset_stays()
    {
        await _dataPlane.ApplyPortSecurityAsync([Port(Port1, Mac1, Ip1, s_egressAll), Port(Port2, Mac2, Ip2, s_egressAll)]);

        await Assert.ThrowsAsync<ArgumentException>(() => _dataPlane.ApplyPortSecurityAsync([
            Port(Port1, Mac1, Ip1, new SecurityRule(RuleDirection.Ingress, Protocol: "tcp", PortRangeMin: 0, PortRangeMax: 70000)),
        ]));

        Assert.False(await PingAsync(_vm1, Ip2));
        Assert.Contains("table bridge emb", await Cli.RunOkAsync("ip", "netns", "exec", _host.HostNamespace, "nft", "list", "tables"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dhcp_passes_port_security_without_any_rule()
    {
        const string Port3 = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e03";
        const string Mac3 = "fa:16:3e:00:01:03";
        await _dataPlane.SyncDhcpAsync(NetworkId, new DhcpConfig("fa:16:3e:00:01:fe", 1500,
            [new DhcpSubnet("d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70", "10.66.0.0/24", "10.66.0.2", null, [], [], TimeSpan.FromHours(1))],
            [new DhcpHost(Mac3, "10.66.0.13", null)]));
        var vm3 = await _host.AddVmAsync("3", Mac3, _dataPlane.BridgeName(NetworkId), _dataPlane.TapName(Port3));

        await _dataPlane.ApplyPortSecurityAsync([new PortSecurity(Port3, Mac3, ["10.66.0.13"], [], [])]);

        Assert.Equal("10.66.0.13", (await _host.RequestLeaseAsync(vm3))?["ip"]);
        Assert.False(await PingAsync(vm3, "10.66.0.2"));
    }
}
