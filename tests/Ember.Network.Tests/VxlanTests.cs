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
        Assert.DoesNotContain(await _host1.HostLinksAsync(), l => l.StartsWith("emb", StringComparison.Ordinal));
    }

    private static async Task<bool> PingsAsync(string ns, string address) =>
        (await Cli.RunAsync("ip", ["netns", "exec", ns, "busybox", "ping", "-c", "2", "-W", "2", address])).ExitCode == 0;

    private static async Task<List<string>> FloodPeersAsync(DataPlaneHost host, string device) =>
        [.. (await Cli.RunOkAsync("bridge", "-n", host.HostNamespace, "fdb", "show", "dev", device)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.StartsWith("00:00:00:00:00:00 dst ", StringComparison.Ordinal)).Select(line => line.Split(' ')[2])];
}
