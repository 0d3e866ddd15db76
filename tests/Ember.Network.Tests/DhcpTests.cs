namespace Ember.Network.Tests;

/// <summary>Real dnsmasq in a DHCP namespace serving "VMs" (namespaces with busybox udhcpc) on a real bridge. Needs root.</summary>
public sealed class DhcpTests : IAsyncLifetime
{
    private const string NetworkId = "5e0c4c1a-7d2b-4a51-9f3e-0b6f1d2c3a41";
    private const string SubnetId = "8a1f0e2d-3c4b-4d5e-8f60-718293a4b5c6";
    private const string Vm1Mac = "fa:16:3e:00:00:11";
    private const string Vm2Mac = "fa:16:3e:00:00:12";
    private const string Vm3Mac = "fa:16:3e:00:00:13";

    private readonly DataPlaneHost _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    private static DhcpConfig Config(string? gateway, params DhcpHost[] hosts) => new("fa:16:3e:00:00:02", 1450,
        [new DhcpSubnet(SubnetId, "10.77.0.0/24", "10.77.0.2", gateway, ["10.77.0.53"], [new HostRoute("169.254.169.254/32", "10.77.0.2")],
            TimeSpan.FromHours(1))],
        hosts);

    [Fact]
    public async Task Two_vms_get_their_fixed_address_router_and_mtu_and_reach_each_other_and_an_unknown_mac_gets_nothing()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.EnsureNetworkAsync(NetworkId, 1450);
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", "vm-one"), new DhcpHost(Vm2Mac, "10.77.0.12", null)));
        var bridge = dataPlane.BridgeName(NetworkId);
        var vm1 = await _host.AddVmAsync("1", Vm1Mac, bridge);
        var vm2 = await _host.AddVmAsync("2", Vm2Mac, bridge);
        var stranger = await _host.AddVmAsync("3", Vm3Mac, bridge);

        var lease1 = await _host.RequestLeaseAsync(vm1);
        var lease2 = await _host.RequestLeaseAsync(vm2);

        Assert.NotNull(lease1);
        Assert.Equal(("10.77.0.11", "255.255.255.0", "10.77.0.1", "1450", "10.77.0.53", "vm-one"),
            (lease1["ip"], lease1["subnet"], lease1["router"], lease1["mtu"], lease1["dns"], lease1["hostname"]));
        Assert.Equal("169.254.169.254/32 10.77.0.2 0.0.0.0/0 10.77.0.1", lease1["staticroutes"]);
        Assert.NotNull(lease2);
        Assert.Equal(("10.77.0.12", "10.77.0.1", "1450"), (lease2["ip"], lease2["router"], lease2["mtu"]));
        await Cli.RunOkAsync("ip", "netns", "exec", vm1, "busybox", "ping", "-c", "1", "-W", "5", "10.77.0.12");
        await Cli.RunOkAsync("ip", "netns", "exec", vm2, "busybox", "ping", "-c", "1", "-W", "5", "10.77.0.11");
        Assert.Null(await _host.RequestLeaseAsync(stranger));
    }

    [Fact]
    public async Task The_dhcp_namespace_holds_the_metadata_address_and_a_socket_opened_in_it_sees_the_vms_own_address()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", null)) with { MetadataAddress = true });
        var ns = dataPlane.DhcpNamespace(NetworkId);
        Assert.Contains("169.254.169.254/32", (await Cli.RunOkAsync("ip", "-n", ns, "-4", "-o", "addr", "show")), StringComparison.Ordinal);

        // Opened by this process, in the namespace: this process's own namespace has no such address.
        using var listener = NamespaceSockets.ListenTcp(ns, new System.Net.IPEndPoint(System.Net.IPAddress.Parse(MetadataEndpoint.Address), MetadataEndpoint.Port), 4);
        Assert.NotNull(NamespaceSockets.Identity(ns));
        var vm1 = await _host.AddVmAsync("1", Vm1Mac, dataPlane.BridgeName(NetworkId));
        var lease = await _host.RequestLeaseAsync(vm1);
        Assert.Equal("10.77.0.11", lease?["ip"]);
        await Cli.RunOkAsync("ip", "-n", vm1, "route", "add", "169.254.169.254/32", "via", "10.77.0.2");

        var accepted = listener.AcceptAsync();
        var client = Cli.RunAsync("ip", ["netns", "exec", vm1, "busybox", "sh", "-c", "echo ping | busybox nc 169.254.169.254 80"]);
        using (var connection = await accepted.WaitAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.Equal("10.77.0.11", ((System.Net.IPEndPoint)connection.RemoteEndPoint!).Address.ToString());
        }

        await client;

        // Without the metadata address (and after the namespace is gone) there is nothing to bind to.
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", null)));
        Assert.DoesNotContain("169.254.169.254", (await Cli.RunOkAsync("ip", "-n", ns, "-4", "-o", "addr", "show")), StringComparison.Ordinal);
        await dataPlane.DeleteNetworkAsync(NetworkId);
        Assert.Null(NamespaceSockets.Identity(ns));
        Assert.ThrowsAny<IOException>(() => NamespaceSockets.ListenTcp(ns, new System.Net.IPEndPoint(System.Net.IPAddress.Any, 80), 1));
    }

    [Fact]
    public async Task A_new_host_is_served_after_a_reload_of_the_same_dnsmasq_which_a_restarted_ember_adopts()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", null)));
        var pid = _host.DnsmasqPid(NetworkId);
        var vm3 = await _host.AddVmAsync("3", Vm3Mac, dataPlane.BridgeName(NetworkId));
        Assert.Null(await _host.RequestLeaseAsync(vm3));

        var restarted = _host.NewDataPlane();
        await restarted.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", null), new DhcpHost(Vm3Mac, "10.77.0.13", null)));

        var lease = await _host.RequestLeaseAsync(vm3);
        Assert.Equal("10.77.0.13", lease?["ip"]);
        Assert.Equal(pid, _host.DnsmasqPid(NetworkId));
        Assert.Equal([pid], await _host.DnsmasqPidsAsync());
    }

    [Fact]
    public async Task A_subnet_without_gateway_offers_no_router_and_a_changed_subnet_restarts_dnsmasq()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.77.0.11", null)));
        var pid = _host.DnsmasqPid(NetworkId);

        var isolated = Config(null, new DhcpHost(Vm1Mac, "10.77.0.11", null)) with { Mtu = 1400 };
        isolated = isolated with { Subnets = [isolated.Subnets[0] with { LeaseTime = TimeSpan.FromMinutes(10) }] };
        await dataPlane.SyncDhcpAsync(NetworkId, isolated);
        var vm1 = await _host.AddVmAsync("1", Vm1Mac, dataPlane.BridgeName(NetworkId));

        var lease = await _host.RequestLeaseAsync(vm1);
        Assert.NotNull(lease);
        Assert.Equal(("10.77.0.11", "1400"), (lease["ip"], lease["mtu"]));
        Assert.False(lease.ContainsKey("router"), string.Join(", ", lease));
        Assert.Equal("169.254.169.254/32 10.77.0.2", lease["staticroutes"]);
        Assert.NotEqual(pid, _host.DnsmasqPid(NetworkId));
        Assert.Single(await _host.DnsmasqPidsAsync());
    }

    [Fact]
    public async Task A_config_without_ipv4_subnets_removes_the_dhcp_server_but_keeps_the_bridge()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1"));
        Assert.Contains(dataPlane.DhcpNamespaceName(NetworkId), await _host.NamespacesAsync());

        await dataPlane.SyncDhcpAsync(NetworkId, new DhcpConfig("fa:16:3e:00:00:02", 1450, [], []));

        Assert.DoesNotContain(dataPlane.DhcpNamespaceName(NetworkId), await _host.NamespacesAsync());
        Assert.Empty(await _host.DnsmasqPidsAsync());
        Assert.Contains(dataPlane.BridgeName(NetworkId), await _host.HostLinksAsync());
    }

    [Fact]
    public async Task A_host_outside_every_subnet_is_refused_before_anything_is_created()
    {
        var dataPlane = _host.NewDataPlane();

        await Assert.ThrowsAsync<ArgumentException>(() =>
            dataPlane.SyncDhcpAsync(NetworkId, Config("10.77.0.1", new DhcpHost(Vm1Mac, "10.78.0.11", null))));

        Assert.Equal([_host.HostNamespace], await _host.NamespacesAsync());
        Assert.Equal(["lo"], await _host.HostLinksAsync());
    }
}
