namespace Ember.Network.Tests;

/// <summary>
/// Router namespaces against real <c>ip</c> and nftables, with namespaces standing in for VMs and for the outside world:
/// routing between two networks, SNAT to the gateway address, a floating IP's DNAT, interface removal, deletion and
/// the start-up clean-up. Needs root.
/// </summary>
public sealed class RouterTests : IAsyncLifetime
{
    private const string Router = "5c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";
    private const string Red = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
    private const string Green = "2c3d4e5f-6071-4829-83a4-b5c6d7e8f90a";
    private const string Public = "3d4e5f60-7182-4930-84b5-c6d7e8f90a1b";
    private const string RedPort = "4e5f6071-8293-4a41-85c6-d7e8f90a1b2c";
    private const string GreenPort = "5f607182-93a4-4b52-86d7-e8f90a1b2c3d";
    private const string GatewayPort = "60718293-a4b5-4c63-87e8-f90a1b2c3d4e";

    private readonly DataPlaneHost _host = new();

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    private static RouterConfig Config(bool withGreen, IReadOnlyList<FloatingIpNat> floating) => new(
        [
            new RouterInterface(RedPort, Red, "fa:16:3e:00:01:01", "10.94.1.1/24", 1450),
            .. withGreen ? new[] { new RouterInterface(GreenPort, Green, "fa:16:3e:00:02:01", "10.94.2.1/24", 1450) } : [],
        ],
        new RouterGateway(GatewayPort, Public, "fa:16:3e:00:03:01", "172.24.4.10/24", "172.24.4.1", 1500),
        EnableSnat: true,
        floating);

    private async Task<string> VmAsync(string name, string mac, string network, string address, string gateway)
    {
        var vm = await _host.AddVmAsync(name, mac, _host.NewDataPlane().BridgeName(network));
        await Cli.RunOkAsync("ip", "-n", vm, "addr", "add", address, "dev", "eth0");
        await Cli.RunOkAsync("ip", "-n", vm, "route", "add", "default", "via", gateway);
        return vm;
    }

    private static async Task<bool> PingsAsync(string fromNamespace, string address) =>
        (await Cli.RunAsync("ip", ["netns", "exec", fromNamespace, "busybox", "ping", "-c", "1", "-W", "2", address])).ExitCode == 0;

    [Fact]
    public async Task A_router_namespace_routes_between_its_subnets_NATs_to_the_outside_and_goes_away()
    {
        var dataPlane = _host.NewDataPlane();
        await dataPlane.SyncRouterAsync(Router, Config(withGreen: true, []));
        await dataPlane.SyncRouterAsync(Router, Config(withGreen: true, [])); // idempotent

        var red = await VmAsync("red", "fa:16:3e:10:00:05", Red, "10.94.1.5/24", "10.94.1.1");
        var green = await VmAsync("green", "fa:16:3e:20:00:05", Green, "10.94.2.5/24", "10.94.2.1");
        var outside = await VmAsync("outside", "fa:16:3e:30:00:c8", Public, "172.24.4.200/24", "172.24.4.1");
        await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "add", "table", "ip", "seen");
        await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "add set ip seen sources { type ipv4_addr; flags dynamic; }");
        await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "add chain ip seen input { type filter hook input priority 0; policy accept; }");
        await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "add rule ip seen input icmp type echo-request add @sources { ip saddr }");

        var ns = dataPlane.RouterNamespaceName(Router);
        Assert.Equal($"{_host.Prefix}-qrouter-{Router}", ns);
        Assert.True(await PingsAsync(green, "10.94.1.5"), "green does not reach red through the router");
        Assert.True(await PingsAsync(red, "172.24.4.200"), "red does not reach the outside");
        var sources = await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "list", "set", "ip", "seen", "sources");
        Assert.Contains("172.24.4.10", sources, StringComparison.Ordinal); // SNAT to the gateway address
        Assert.DoesNotContain("10.94.", sources, StringComparison.Ordinal);
        Assert.False(await PingsAsync(outside, "172.24.4.50"), "a floating IP answers before it exists");
        await Cli.RunOkAsync("ip", "-n", outside, "neigh", "flush", "all"); // the failed ARP lookup would be cached a while

        // A floating IP: the outside reaches red by it, and red leaves as it.
        await dataPlane.SyncRouterAsync(Router, Config(withGreen: true, [new FloatingIpNat("172.24.4.50", "10.94.1.5")]));
        Assert.True(await PingsAsync(outside, "172.24.4.50"), "the floating IP does not reach red");
        await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "flush", "set", "ip", "seen", "sources");
        Assert.True(await PingsAsync(red, "172.24.4.200"), "red does not reach the outside with a floating IP");
        Assert.Contains("172.24.4.50", await Cli.RunOkAsync("ip", "netns", "exec", outside, "nft", "list", "set", "ip", "seen", "sources"), StringComparison.Ordinal);

        // Green's interface removed: its veth goes, green is cut off; the router's forwarding is its namespace's only.
        await dataPlane.SyncRouterAsync(Router, Config(withGreen: false, []));
        Assert.False(await PingsAsync(green, "10.94.1.5"), "green still reaches red");
        var links = await Cli.RunOkAsync("ip", "-n", ns, "-o", "link", "show");
        Assert.DoesNotContain("qr-" + GreenPort.Replace("-", "", StringComparison.Ordinal)[..11], links, StringComparison.Ordinal);
        Assert.Contains("qg-" + GatewayPort.Replace("-", "", StringComparison.Ordinal)[..11], links, StringComparison.Ordinal);
        Assert.Contains("net.ipv4.ip_forward = 1", await Cli.RunOkAsync("ip", "netns", "exec", ns, "sysctl", "net.ipv4.ip_forward"), StringComparison.Ordinal);

        // Bad input changes nothing.
        await Assert.ThrowsAsync<ArgumentException>(() => dataPlane.SyncRouterAsync(Router, Config(withGreen: false, [new FloatingIpNat("172.24.4.x", "10.94.1.5")])));

        // After a restart, the clean-up keeps a live router and removes a dead one with its veths.
        var removed = await _host.NewDataPlane().CleanupAsync([Red, Green, Public], [RedPort, GreenPort, GatewayPort], [Router]);
        Assert.DoesNotContain(removed, r => r.Contains("qrouter", StringComparison.Ordinal));
        removed = await _host.NewDataPlane().CleanupAsync([Red, Green, Public], [], []);
        Assert.Contains(ns, removed);
        Assert.DoesNotContain(ns, await _host.NamespacesAsync());
        Assert.DoesNotContain(await _host.HostLinksAsync(), l => l.StartsWith("embr", StringComparison.Ordinal));

        await dataPlane.DeleteRouterAsync(Router); // already gone: no error
    }
}
