namespace Ember.Network.Tests;

/// <summary>Bridges, taps, deletion and the start-up clean-up against real <c>ip</c> and dnsmasq. Needs root.</summary>
public sealed class LifecycleTests : IAsyncLifetime
{
    private const string LiveNetwork = "0b3e8f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    private const string DeadNetwork = "9d8c7b6a-5f4e-4d3c-8b2a-190817161514";
    private const string LivePort = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    private const string DeadPort = "f0e1d2c3-b4a5-4968-8776-655443322110";

    private readonly DataPlaneHost _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    private static DhcpConfig Config(string cidr, string portIp) => new("fa:16:3e:00:00:02", 1500,
        [new DhcpSubnet("8a1f0e2d-3c4b-4d5e-8f60-718293a4b5c6", cidr, portIp, null, [], [], TimeSpan.FromDays(1))], []);

    [Fact]
    public async Task The_probe_finds_everything_on_this_machine()
    {
        var probe = await _host.NewDataPlane().ProbeAsync();

        Assert.True(probe.Available, probe.Reason);
    }

    [Fact]
    public async Task The_probe_names_a_missing_host_namespace()
    {
        var options = _host.Options;
        options.HostNamespace = _host.Prefix + "-absent";

        var probe = await new Ember.Network.NetworkDataPlane(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<Ember.Network.NetworkDataPlane>.Instance).ProbeAsync();

        Assert.False(probe.Available);
        Assert.Contains(options.HostNamespace, probe.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsureNetwork_makes_one_bridge_up_with_the_mtu_and_is_idempotent()
    {
        var dataPlane = _host.NewDataPlane();

        await dataPlane.EnsureNetworkAsync(LiveNetwork, 1450);
        await dataPlane.EnsureNetworkAsync(LiveNetwork, 1400);

        var bridge = dataPlane.BridgeName(LiveNetwork);
        Assert.Equal("embb0b3e8f6a1c2", bridge);
        var link = await Cli.RunOkAsync("ip", "-n", _host.HostNamespace, "-d", "link", "show", "dev", bridge);
        Assert.Contains("mtu 1400", link, StringComparison.Ordinal);
        Assert.Contains("state UP", link.Replace("state UNKNOWN", "state UP", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("bridge ", link, StringComparison.Ordinal);
        Assert.Equal(["lo", bridge], await _host.HostLinksAsync());
    }

    [Fact]
    public async Task PlugTap_makes_a_persistent_tap_on_the_bridge_idempotently_and_UnplugTap_removes_it()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.EnsureNetworkAsync(LiveNetwork, 1450);

        var tap = await dataPlane.PlugTapAsync(LivePort, LiveNetwork, "fa:16:3e:aa:bb:cc", 1450);
        Assert.Equal(tap, await dataPlane.PlugTapAsync(LivePort, LiveNetwork, "fa:16:3e:aa:bb:cc", 1450));

        Assert.Equal("embt1a2b3c4d5e6", tap);
        var link = await Cli.RunOkAsync("ip", "-n", _host.HostNamespace, "-d", "link", "show", "dev", tap);
        Assert.Contains($"master {dataPlane.BridgeName(LiveNetwork)}", link, StringComparison.Ordinal);
        Assert.Contains("tun type tap", link, StringComparison.Ordinal);
        Assert.Contains("fe:16:3e:aa:bb:cc", link, StringComparison.Ordinal);
        Assert.Contains("mtu 1450", link, StringComparison.Ordinal);
        Assert.Contains("UP", link, StringComparison.Ordinal);
        Assert.Single(await _host.HostLinksAsync(), tap);

        await dataPlane.UnplugTapAsync(LivePort);
        await dataPlane.UnplugTapAsync(LivePort);
        Assert.DoesNotContain(tap, await _host.HostLinksAsync());
    }

    [Fact]
    public async Task Cleanup_removes_only_what_no_live_network_or_port_owns_and_DeleteNetwork_leaves_nothing()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncDhcpAsync(LiveNetwork, Config("10.81.0.0/24", "10.81.0.2"));
        await dataPlane.SyncDhcpAsync(DeadNetwork, Config("10.82.0.0/24", "10.82.0.2"));
        var liveTap = await dataPlane.PlugTapAsync(LivePort, LiveNetwork, "fa:16:3e:00:00:21", 1500);
        var deadTap = await dataPlane.PlugTapAsync(DeadPort, DeadNetwork, "fa:16:3e:00:00:22", 1500);
        // Not ours: no prefix, or the prefix with a name we never make.
        await Cli.RunOkAsync("ip", "-n", _host.HostNamespace, "link", "add", "keep0", "type", "bridge");
        await Cli.RunOkAsync("ip", "-n", _host.HostNamespace, "link", "add", "embx0123456789a", "type", "bridge");
        var livePid = _host.DnsmasqPid(LiveNetwork);
        Assert.Equal(2, (await _host.DnsmasqPidsAsync()).Count);

        var removed = await _host.NewDataPlane().CleanupAsync([LiveNetwork], [LivePort]);

        Assert.Contains(dataPlane.DhcpNamespaceName(DeadNetwork), removed);
        Assert.Equal([livePid], await _host.DnsmasqPidsAsync());
        Assert.Equal([_host.HostNamespace, dataPlane.DhcpNamespaceName(LiveNetwork)], (await _host.NamespacesAsync()).Order());
        var links = await _host.HostLinksAsync();
        Assert.Equal(["embb0b3e8f6a1c2", "embd0b3e8f6a1c2", "embt1a2b3c4d5e6", "embx0123456789a", "keep0", "lo"], links.Order());
        Assert.Equal("embt1a2b3c4d5e6", liveTap);
        Assert.DoesNotContain(deadTap, links);
        Assert.Equal([LiveNetwork], Directory.GetDirectories(_host.StateDirectory).Select(Path.GetFileName));

        await dataPlane.DeleteNetworkAsync(LiveNetwork);
        await dataPlane.DeleteNetworkAsync(LiveNetwork);
        await dataPlane.UnplugTapAsync(LivePort);
        Assert.Empty(await _host.DnsmasqPidsAsync());
        Assert.Equal([_host.HostNamespace], await _host.NamespacesAsync());
        Assert.Equal(["embx0123456789a", "keep0", "lo"], (await _host.HostLinksAsync()).Order());
        Assert.Empty(Directory.GetDirectories(_host.StateDirectory));
        Assert.Empty(await _host.NewDataPlane().CleanupAsync([], []));
    }
}
