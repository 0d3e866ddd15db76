namespace Ember.Network.Tests;

/// <summary>
/// A network across two hosts: each host namespace gets the network's bridge and VXLAN device, flooding to the other host's
/// tunnel address over a veth that plays the hosts' own network; "VMs" on the two bridges reach each other, the host-local
/// service veths do not cross. Real <c>ip</c>, <c>bridge</c> and <c>nft</c>. Needs root.
/// </summary>
public sealed class VxlanTests : IAsyncLifetime
{
    private const string Network = "5c4b3a29-1807-4f6e-8d5c-4b3a29180716";
    private const string Underlay1 = "192.0.2.1";
    private const string Underlay2 = "192.0.2.2";

    private readonly DataPlaneHost _host1 = new();
    private readonly DataPlaneHost _host2 = new();

    public async Task InitializeAsync()
    {
        await _host1.InitializeAsync();
        await _host2.InitializeAsync();
        // The hosts' own network: one veth between the two host namespaces.
        await Cli.RunOkAsync("ip", "-n", _host1.HostNamespace, "link", "add", "under", "type", "veth", "peer", "name", "under", "netns", _host2.HostNamespace);
        foreach (var (host, address) in new[] { (_host1, Underlay1), (_host2, Underlay2) })
        {
            await Cli.RunOkAsync("ip", "-n", host.HostNamespace, "addr", "add", address + "/24", "dev", "under");
            await Cli.RunOkAsync("ip", "-n", host.HostNamespace, "link", "set", "under", "up");
        }
    }

    public async Task DisposeAsync()
    {
        await _host1.DisposeAsync();
        await _host2.DisposeAsync();
    }

    [Fact]
    public async Task Two_hosts_bridges_joined_by_vxlan_carry_the_vms_frames_but_not_the_host_local_services()
    {
        var dp1 = _host1.NewDataPlane();
        var dp2 = _host2.NewDataPlane();
        await dp1.SyncVxlanAsync(Network, 1450, new VxlanConfig(4242, Underlay1, 4789, [Underlay2]));
        await dp2.SyncVxlanAsync(Network, 1450, new VxlanConfig(4242, Underlay2, 4789, [Underlay1, Underlay2])); // itself is skipped
        var vxlan = dp1.VxlanName(Network);
        Assert.Equal("embv5c4b3a29180", vxlan);

        var details = await Cli.RunOkAsync("ip", "-n", _host1.HostNamespace, "-d", "link", "show", "dev", vxlan);
        Assert.Contains($"vxlan id 4242 local {Underlay1}", details, StringComparison.Ordinal);
        Assert.Contains("dstport 4789 nolearning", details, StringComparison.Ordinal);
        Assert.Contains("mtu 1450", details, StringComparison.Ordinal);
        Assert.Contains($"master {dp1.BridgeName(Network)}", details, StringComparison.Ordinal);
        Assert.Equal([Underlay1], await FloodPeersAsync(_host2, vxlan));

        var a = await _host1.AddVmAsync("a", "fa:16:3e:00:00:0a", dp1.BridgeName(Network));
        var b = await _host2.AddVmAsync("b", "fa:16:3e:00:00:0b", dp2.BridgeName(Network));
        // A service veth on each host (what the DHCP namespace's is): the same MAC on both, as the one DHCP port is.
        var service1 = await _host1.AddVmAsync("s1", "fa:16:3e:00:00:02", dp1.BridgeName(Network), outside: "embd5c4b3a29180");
        var service2 = await _host2.AddVmAsync("s2", "fa:16:3e:00:00:02", dp2.BridgeName(Network), outside: "embd5c4b3a29180");
        foreach (var (ns, address) in new[] { (a, "10.5.0.10"), (b, "10.5.0.11"), (service1, "10.5.0.2"), (service2, "10.5.0.3") })
        {
            await Cli.RunOkAsync("ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
        }

        Assert.True(await PingsAsync(a, "10.5.0.11"), "a does not reach b over VXLAN");
        Assert.True(await PingsAsync(b, "10.5.0.10"), "b does not reach a over VXLAN");
        Assert.True(await PingsAsync(a, "10.5.0.2"), "a does not reach its own host's service");
        Assert.False(await PingsAsync(a, "10.5.0.3"), "a reaches the other host's service over the tunnel");
        Assert.False(await PingsAsync(b, "10.5.0.2"), "b reaches the other host's service over the tunnel");

        // Peers follow the database: host-1 with none floods nowhere; a VNI change makes the device again.
        await dp1.SyncVxlanAsync(Network, 1450, new VxlanConfig(4242, Underlay1, 4789, []));
        Assert.Empty(await FloodPeersAsync(_host1, vxlan));
        await dp1.SyncVxlanAsync(Network, 1450, new VxlanConfig(4243, Underlay1, 4789, [Underlay2]));
        Assert.Contains("vxlan id 4243 ", await Cli.RunOkAsync("ip", "-n", _host1.HostNamespace, "-d", "link", "show", "dev", vxlan), StringComparison.Ordinal);
        Assert.Equal([Underlay2], await FloodPeersAsync(_host1, vxlan));

        // Deleting the network takes the device; the clean-up of a restart takes a device of a network nothing owns; with
        // the last device the tunnel filter goes.
        await dp1.DeleteNetworkAsync(Network);
        Assert.DoesNotContain(vxlan, await _host1.HostLinksAsync());
        Assert.DoesNotContain("emb_tunnel", await Cli.RunOkAsync("ip", "netns", "exec", _host1.HostNamespace, "nft", "list", "tables"), StringComparison.Ordinal);
        Assert.Contains("emb_tunnel", await Cli.RunOkAsync("ip", "netns", "exec", _host2.HostNamespace, "nft", "list", "tables"), StringComparison.Ordinal);
        var removed = await _host2.NewDataPlane().CleanupAsync([], []);
        Assert.Contains(vxlan, removed);
        Assert.DoesNotContain("emb_tunnel", await Cli.RunOkAsync("ip", "netns", "exec", _host2.HostNamespace, "nft", "list", "tables"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_settings_are_refused_before_anything_changes()
    {
        var dp = _host1.NewDataPlane();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => dp.SyncVxlanAsync(Network, 1450, new VxlanConfig(0, Underlay1, 4789, [])));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => dp.SyncVxlanAsync(Network, 1450, new VxlanConfig(1 << 24, Underlay1, 4789, [])));
        await Assert.ThrowsAsync<ArgumentException>(() => dp.SyncVxlanAsync(Network, 1450, new VxlanConfig(7, "2001:db8::1", 4789, [])));
        await Assert.ThrowsAsync<ArgumentException>(() => dp.SyncVxlanAsync(Network, 1450, new VxlanConfig(7, Underlay1, 4789, ["10.0.0.1; reboot"])));
        await Assert.ThrowsAsync<ArgumentException>(() => dp.SyncVxlanAsync(Network, 1450, new VxlanConfig(7, Underlay1, 4789, [], DvrMac: "01:00:5e:00:00:01")));
        Assert.DoesNotContain(await _host1.HostLinksAsync(), l => l.StartsWith("emb", StringComparison.Ordinal));
    }

    private const string Router = "6d5c4b3a-2918-4f07-9e6d-5c4b3a291807";
    private const string Red = "7e6d5c4b-3a29-4180-8f7e-6d5c4b3a2918";
    private const string Green = "8f7e6d5c-4b3a-4291-807f-7e6d5c4b3a29";
    private const string RedInterface = "9a8f7e6d-5c4b-43a2-9180-8f7e6d5c4b3a";
    private const string GreenInterface = "ab9a8f7e-6d5c-44b3-a291-908f7e6d5c4b";
    private const string RedMac = "fa:16:3e:00:01:01";
    private const string GreenMac = "fa:16:3e:00:02:01";
    private const string VmA = "fa:16:3e:10:00:05";
    private const string VmB = "fa:16:3e:20:00:05";

    [Fact]
    public async Task A_router_on_both_hosts_routes_between_networks_whose_vms_are_on_different_hosts()
    {
        // Each host's copy of the router has both interfaces (the same MACs and addresses) and both VMs as neighbours.
        var router = new RouterConfig(
            [
                new RouterInterface(RedInterface, Red, RedMac, "10.95.1.1/24", 1450, [new RouterNeighbour("10.95.1.5", VmA)]),
                new RouterInterface(GreenInterface, Green, GreenMac, "10.95.2.1/24", 1450, [new RouterNeighbour("10.95.2.5", VmB)]),
            ], null, EnableSnat: false, []);
        var dp1 = _host1.NewDataPlane();
        var dp2 = _host2.NewDataPlane();
        await dp1.SyncRouterAsync(Router, router);
        await dp2.SyncRouterAsync(Router, router);
        var a = await _host1.AddVmAsync("a", VmA, dp1.BridgeName(Red));
        var b = await _host2.AddVmAsync("b", VmB, dp2.BridgeName(Green));
        foreach (var (vm, address, gateway) in new[] { (a, "10.95.1.5/24", "10.95.1.1"), (b, "10.95.2.5/24", "10.95.2.1") })
        {
            await Cli.RunOkAsync("ip", "-n", vm, "addr", "add", address, "dev", "eth0");
            await Cli.RunOkAsync("ip", "-n", vm, "route", "add", "default", "via", gateway);
        }

        // Peers as the database gives them: the hosts with servers on the network (host-1 has a only, host-2 b only).
        async Task TunnelsAsync(string? dvr1, string? dvr2)
        {
            await dp1.SyncVxlanAsync(Red, 1450, new VxlanConfig(4301, Underlay1, 4789, [], dvr1));
            await dp1.SyncVxlanAsync(Green, 1450, new VxlanConfig(4302, Underlay1, 4789, [Underlay2], dvr1));
            await dp2.SyncVxlanAsync(Red, 1450, new VxlanConfig(4301, Underlay2, 4789, [Underlay1], dvr2));
            await dp2.SyncVxlanAsync(Green, 1450, new VxlanConfig(4302, Underlay2, 4789, [], dvr2));
        }

        // Without DVR MACs the router copies' frames stay home, as every host-local service's do.
        await TunnelsAsync(null, null);
        Assert.True(await PingsAsync(a, "10.95.1.1"), "a does not reach its own host's router copy");
        Assert.False(await PingsAsync(a, "10.95.2.5"), "a reaches b through the router without DVR MACs");

        // With them, a's request goes through host-1's copy and b's answer through host-2's, each leaving with its host's MAC.
        await TunnelsAsync("fa:16:3f:00:00:01", "fa:16:3f:00:00:02");
        Assert.True(await PingsAsync(a, "10.95.2.5"), "a does not reach b through the router across hosts");
        Assert.True(await PingsAsync(b, "10.95.1.5"), "b does not reach a through the router across hosts");
        Assert.Contains("fa:16:3f:00:00:01", await Cli.RunOkAsync("bridge", "-n", _host2.HostNamespace, "fdb", "show", "dev", dp2.VxlanName(Green)), StringComparison.Ordinal);
        Assert.Contains("fa:16:3f:00:00:02", await Cli.RunOkAsync("bridge", "-n", _host1.HostNamespace, "fdb", "show", "dev", dp1.VxlanName(Red)), StringComparison.Ordinal);
        foreach (var (host, dp) in new[] { (_host1, dp1), (_host2, dp2) })
        {
            foreach (var network in new[] { Red, Green })
            {
                // The router's shared MACs never cross: each host's guests find their gateway at home.
                var learned = await Cli.RunOkAsync("bridge", "-n", host.HostNamespace, "fdb", "show", "dev", dp.VxlanName(network));
                Assert.DoesNotContain(RedMac, learned, StringComparison.Ordinal);
                Assert.DoesNotContain(GreenMac, learned, StringComparison.Ordinal);
            }
        }

        // The router's neighbours are permanent entries, and follow the config.
        var neighbours = await Cli.RunOkAsync("ip", "-n", dp1.RouterNamespaceName(Router), "neigh", "show", "nud", "permanent");
        Assert.Contains($"10.95.2.5 dev qr-{GreenInterface[..8]}{GreenInterface[9..12]} lladdr {VmB} PERMANENT", neighbours, StringComparison.Ordinal);
        await dp1.SyncRouterAsync(Router, router with { Interfaces = [router.Interfaces[0], router.Interfaces[1] with { Neighbours = [] }] });
        Assert.False(await PingsAsync(a, "10.95.2.5"), "host-1's copy still knows b");

        foreach (var dp in new[] { dp1, dp2 })
        {
            await dp.DeleteRouterAsync(Router);
            await dp.DeleteNetworkAsync(Red);
            await dp.DeleteNetworkAsync(Green);
        }

        foreach (var host in new[] { _host1, _host2 })
        {
            Assert.DoesNotContain(await host.HostLinksAsync(), l => l.StartsWith("emb", StringComparison.Ordinal));
            Assert.DoesNotContain("emb", await Cli.RunOkAsync("ip", "netns", "exec", host.HostNamespace, "nft", "list", "tables"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_tunnel_filter_lets_through_only_routed_ipv4_frames_given_the_hosts_dvr_mac()
    {
        var plain = NetworkDataPlane.TunnelFilter("emb", present: true);
        Assert.DoesNotContain("saddr", plain, StringComparison.Ordinal);
        Assert.Contains("iifname \"embr*\" oifname \"embv*\" drop", plain, StringComparison.Ordinal);

        var dvr = NetworkDataPlane.TunnelFilter("emb", present: true, "fa:16:3f:aa:bb:cc");
        var rewrite = dvr.IndexOf("iifname \"embr*\" oifname \"embv*\" ether type ip ether saddr set fa:16:3f:aa:bb:cc", StringComparison.Ordinal);
        var pass = dvr.IndexOf("iifname \"embr*\" oifname \"embv*\" ether saddr fa:16:3f:aa:bb:cc accept", StringComparison.Ordinal);
        var drop = dvr.IndexOf("iifname \"embr*\" oifname \"embv*\" drop", StringComparison.Ordinal);
        Assert.True(rewrite >= 0 && rewrite < pass && pass < drop, dvr);
        Assert.Contains("iifname \"embv*\" oifname \"embr*\" drop", dvr, StringComparison.Ordinal); // nothing comes in to a router copy
        Assert.Equal("table bridge emb_tunnel\ndelete table bridge emb_tunnel\n", NetworkDataPlane.TunnelFilter("emb", present: false, "fa:16:3f:aa:bb:cc"));
    }

    private static async Task<bool> PingsAsync(string ns, string address) =>
        (await Cli.RunAsync("ip", ["netns", "exec", ns, "busybox", "ping", "-c", "2", "-W", "2", address])).ExitCode == 0;

    private static async Task<List<string>> FloodPeersAsync(DataPlaneHost host, string device) =>
        [.. (await Cli.RunOkAsync("bridge", "-n", host.HostNamespace, "fdb", "show", "dev", device)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.StartsWith("00:00:00:00:00:00 dst ", StringComparison.Ordinal)).Select(line => line.Split(' ')[2])];
}
