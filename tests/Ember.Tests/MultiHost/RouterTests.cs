using Ember.Tests.Support;
using static Ember.Tests.Support.MultiHostFixture;

namespace Ember.Tests.MultiHost;

/// <summary>
/// Routers and floating IPs with real packets: two servers on two networks reach each other only while a router joins
/// their subnets; a floating IP on the external network <c>public</c> reaches a server from a namespace that plays the
/// outside world (a veth onto the external network's bridge in the compute host's namespace) once a security group
/// rule lets it in, and the servers leave through the router as the floating IP or the router's gateway address.
/// Deleting it all leaves no router namespace, veth or bridge behind.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class RouterTests(RouterMultiHostFixture cloud) : IClassFixture<RouterMultiHostFixture>
{
    private const string Host = "host-1";
    private const string OutsideAddress = "172.24.4.200";

    [Fact]
    public async Task A_router_joins_two_networks_and_a_floating_ip_reaches_a_server_from_outside()
    {
        var red = await ServerOnNewNetworkAsync("red", "10.93.1.0/24");
        var green = await ServerOnNewNetworkAsync("green", "10.93.2.0/24");

        // No router: the guests' default route (the subnets' .1) leads nowhere.
        Assert.True(await PingFailsAsync("green", red), "green reaches red without a router");

        var router = Id((await cloud.OpenStackAsync("router", "create", "r1", "-f", "json")).EnsureSuccess().Json());
        (await cloud.OpenStackAsync("router", "add", "subnet", "r1", "red-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "add", "subnet", "r1", "green-v4")).EnsureSuccess();
        await WaitForAsync(async () => !await PingFailsAsync("green", red, attempts: 1), "the router to join red and green");
        // The compute host made the router's namespace (it runs in its own mount namespace, where the name can be entered).
        Assert.Contains($"{cloud.NamespacePrefixOf(Host)}-qrouter-{router}", await NamespacesAsync());

        (await cloud.OpenStackAsync("router", "remove", "subnet", "r1", "green-v4")).EnsureSuccess();
        Assert.True(await PingFailsAsync("green", red), "green still reaches red after its subnet left the router");

        // The gateway on public, a floating IP for red; the outside world is a namespace on public's bridge.
        (await cloud.OpenStackAsync("router", "set", "--external-gateway", "public", "r1")).EnsureSuccess();
        var gatewayIp = (await cloud.OpenStackAsync("router", "show", "r1", "-f", "json")).EnsureSuccess().Json()["external_gateway_info"]!["external_fixed_ips"]![0]!["ip_address"]!.GetValue<string>();
        var floating = (await cloud.OpenStackAsync("floating", "ip", "create", "public", "-f", "json")).EnsureSuccess().Json();
        var floatingIp = Text(floating, "floating_ip_address");
        (await cloud.OpenStackAsync("server", "add", "floating", "ip", "red", floatingIp)).EnsureSuccess();

        var publicId = Id((await cloud.OpenStackAsync("network", "show", "public", "-f", "json")).EnsureSuccess().Json());
        var outside = $"{cloud.NamespacePrefixOf(Host)}-outside";
        await AddOutsideAsync(outside, "embb" + publicId.Replace("-", "", StringComparison.Ordinal)[..11]);
        try
        {
            // The router's gateway answers ARP for the floating IP (the router has it); the port's filter is what stops pings.
            await WaitForAsync(async () => (await Cli.RunAsync("ip", ["netns", "exec", outside, "busybox", "arping", "-c", "1", "-w", "2", "-I", "eth0", floatingIp])).ExitCode == 0,
                "the floating IP on the router's gateway");
            // The default group lets in only its members: the outside is not one.
            Assert.True(await OutsidePingFailsAsync(outside, floatingIp), "the floating IP answers without a rule letting the outside in");
            var redPort = Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", "red", "-f", "json")).EnsureSuccess().Json().AsArray());
            var group = (await cloud.OpenStackAsync("port", "show", Text(redPort, "ID"), "-f", "json")).EnsureSuccess().Json()["security_group_ids"]![0]!.GetValue<string>();
            (await cloud.OpenStackAsync("security", "group", "rule", "create", "--ingress", "--protocol", "icmp", "--remote-ip", "0.0.0.0/0", group, "-f", "json")).EnsureSuccess();
            await WaitForAsync(async () => !await OutsidePingFailsAsync(outside, floatingIp, attempts: 1), "the icmp rule to let the outside reach the floating IP");

            // SNAT: red leaves as its floating IP; green (back on the router, no floating IP) as the router's gateway address.
            (await cloud.OpenStackAsync("router", "add", "subnet", "r1", "green-v4")).EnsureSuccess();
            await WaitForAsync(async () => !await PingFailsAsync("red", OutsideAddress, attempts: 1), "red to reach the outside");
            await WaitForAsync(async () => !await PingFailsAsync("green", OutsideAddress, attempts: 1), "green to reach the outside");
            var sources = (await Cli.RunAsync("ip", ["netns", "exec", outside, "nft", "list", "set", "ip", "seen", "sources"])).EnsureSuccess().StdOut;
            Assert.Contains(floatingIp, sources, StringComparison.Ordinal);
            Assert.Contains(gatewayIp, sources, StringComparison.Ordinal);
            Assert.DoesNotContain("10.93.", sources, StringComparison.Ordinal);
        }
        finally
        {
            await Cli.RunAsync("ip", ["netns", "delete", outside]);
        }

        // Everything goes: floating IP, interfaces, router, servers, networks; the host keeps nothing of it.
        (await cloud.OpenStackAsync("floating", "ip", "delete", floatingIp)).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "remove", "subnet", "r1", "red-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "remove", "subnet", "r1", "green-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "delete", "r1")).EnsureSuccess();
        (await cloud.OpenStackAsync("server", "delete", "--wait", "red", "green")).EnsureSuccess();
        (await cloud.OpenStackAsync("network", "delete", "red", "green")).EnsureSuccess();
        await WaitForAsync(async () => !(await NamespacesAsync()).Any(ns => ns.StartsWith(cloud.NamespacePrefixOf(Host) + "-", StringComparison.Ordinal))
            && !(await HostLinksAsync()).Any(l => l.StartsWith("emb", StringComparison.Ordinal)), "the router's namespace, veths and bridges to go", TimeSpan.FromSeconds(60));
    }

    /// <summary>A network with one subnet and a server on it on <see cref="Host"/>; returns the server's address once it has its lease.</summary>
    private async Task<string> ServerOnNewNetworkAsync(string name, string cidr)
    {
        (await cloud.OpenStackAsync("network", "create", name, "-f", "json")).EnsureSuccess();
        (await cloud.OpenStackAsync("subnet", "create", "--network", name, "--subnet-range", cidr, $"{name}-v4", "-f", "json")).EnsureSuccess();
        (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--network", name,
            "--availability-zone", $"nova:{Host}", "--wait", name, "-f", "json")).EnsureSuccess();
        var port = Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", name, "-f", "json")).EnsureSuccess().Json().AsArray());
        var address = Text(Assert.Single(port!["Fixed IP Addresses"]!.AsArray()), "ip_address");
        Assert.Equal("leased", await cloud.ExecAsync(name,
            $"for i in $(seq 120); do ip -4 addr show eth0 | grep -q ' {address}/24 ' && ip route | grep -q default && echo leased && exit 0; sleep 0.5; done; ip addr; exit 1"));
        return address;
    }

    /// <summary>
    /// The outside world: a namespace with 172.24.4.200/24 on a veth whose other end is on the external network's bridge
    /// in the compute host's namespace, recording the source of every ping it gets (nft set "sources").
    /// </summary>
    private async Task AddOutsideAsync(string outside, string externalBridge)
    {
        var hostNamespace = cloud.NamespaceOf(Host);
        await WaitForAsync(async () => (await Cli.RunAsync("ip", ["-n", hostNamespace, "link", "show", externalBridge])).ExitCode == 0, "the external bridge on the host");
        (await Cli.RunAsync("ip", ["netns", "add", outside])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["-n", hostNamespace, "link", "add", "outside0", "type", "veth", "peer", "name", "eth0", "netns", outside])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["-n", hostNamespace, "link", "set", "outside0", "master", externalBridge, "up"])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["-n", outside, "addr", "add", $"{OutsideAddress}/24", "dev", "eth0"])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["-n", outside, "link", "set", "eth0", "up"])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["-n", outside, "link", "set", "lo", "up"])).EnsureSuccess();
        (await Cli.RunAsync("ip", ["netns", "exec", outside, "nft", "-f", "-"], stdin:
            "table ip seen {\n set sources {\n type ipv4_addr; flags dynamic;\n }\n chain input {\n type filter hook input priority 0; policy accept;\n" +
            " icmp type echo-request add @sources { ip saddr }\n }\n}\n")).EnsureSuccess();
    }

    /// <summary>True once a ping from the guest gets no answer, tried <paramref name="attempts"/> times a second apart.</summary>
    private async Task<bool> PingFailsAsync(string server, string address, int attempts = 3)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if ((await cloud.ExecAsync(server, $"ping -c 1 -W 2 {address} > /dev/null && echo answered || echo silent")) == "silent")
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        return false;
    }

    /// <summary>True when a ping from the outside namespace gets no answer in each of <paramref name="attempts"/> tries.</summary>
    private static async Task<bool> OutsidePingFailsAsync(string outside, string address, int attempts = 3)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if ((await Cli.RunAsync("ip", ["netns", "exec", outside, "busybox", "ping", "-c", "1", "-W", "2", address])).ExitCode == 0)
            {
                return false;
            }
        }

        return true;
    }

    private async Task<List<string>> HostLinksAsync()
    {
        var output = (await Cli.RunAsync("ip", ["-n", cloud.NamespaceOf(Host), "-o", "link", "show"])).EnsureSuccess().StdOut;
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(':')[1].Trim().Split('@')[0])];
    }

    private static async Task<List<string>> NamespacesAsync() =>
        [.. (await Cli.RunAsync("ip", ["netns", "list"])).EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
}
