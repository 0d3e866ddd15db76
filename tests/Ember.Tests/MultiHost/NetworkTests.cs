using System.Text.Json.Nodes;
using Ember.Tests.Support;
using static Ember.Tests.Support.MultiHostFixture;

namespace Ember.Tests.MultiHost;

/// <summary>
/// Servers with network interfaces, end to end with real packets: networks and subnets made with Debian's openstack
/// client, servers booted onto them get their fixed addresses from the compute host's dnsmasq and ping each other over
/// the host's bridge, within the security groups the host enforces; "networks: auto" makes the project's network; deleting the servers leaves no tap, bridge, DHCP
/// namespace or dnsmasq behind. The compute hosts run in their own network namespaces, so nothing lands on this machine's.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class NetworkTests(NetworkMultiHostFixture cloud) : IClassFixture<NetworkMultiHostFixture>
{
    private const string Host = "host-1";

    [Fact]
    public async Task Two_servers_on_a_private_network_get_their_addresses_by_dhcp_and_ping_each_other()
    {
        var network = Id((await cloud.OpenStackAsync("network", "create", "blue", "-f", "json")).EnsureSuccess().Json());
        (await cloud.OpenStackAsync("subnet", "create", "--network", "blue", "--subnet-range", "10.91.7.0/24", "blue-v4", "-f", "json")).EnsureSuccess();

        var addresses = new Dictionary<string, string>();
        foreach (var name in new[] { "net-a", "net-b" })
        {
            (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--network", "blue",
                "--availability-zone", $"nova:{Host}", "--wait", name, "-f", "json")).EnsureSuccess();
            var port = Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", name, "-f", "json")).EnsureSuccess().Json().AsArray());
            Assert.Equal("ACTIVE", Text(port, "Status")); // the host plugged it
            var address = Text(Assert.Single(port!["Fixed IP Addresses"]!.AsArray()), "ip_address");
            Assert.StartsWith("10.91.7.", address, StringComparison.Ordinal);
            addresses[name] = address;

            // server show lists the address under the network's name, as Nova does.
            var shown = (await cloud.OpenStackAsync("server", "show", name, "-f", "json")).EnsureSuccess().Json();
            Assert.Contains(address, shown["addresses"]!["blue"]!.ToJsonString(), StringComparison.Ordinal);
        }

        // Each guest asked for a lease at boot and got exactly its port's address, then reaches the other one.
        foreach (var (name, address) in addresses)
        {
            Assert.Equal("leased", await cloud.ExecAsync(name,
                $"for i in $(seq 120); do ip -4 addr show eth0 | grep -q ' {address}/24 ' && echo leased && exit 0; sleep 0.5; done; ip addr; exit 1"));
        }

        var ping = await cloud.ExecAsync("net-a", $"ping -c 3 -W 5 {addresses["net-b"]}");
        Assert.Contains("3 packets received", ping, StringComparison.Ordinal);

        // Security groups, enforced on the host: both ports are in the project's default group, which lets members in.
        // net-b moved to a group of its own without ingress rules stops answering; an icmp rule lets the ping in again.
        var portOfB = Text(Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", "net-b", "-f", "json")).EnsureSuccess().Json().AsArray()), "ID");
        (await cloud.OpenStackAsync("security group", "create", "closed", "-f", "json")).EnsureSuccess();
        (await cloud.OpenStackAsync("port", "set", "--no-security-group", "--security-group", "closed", portOfB)).EnsureSuccess();
        Assert.True(await PingFailsAsync("net-a", addresses["net-b"]), "net-b still answers with no ingress rule");
        (await cloud.OpenStackAsync("security group", "rule", "create", "--protocol", "icmp", "--ingress", "closed", "-f", "json")).EnsureSuccess();
        await WaitForAsync(async () => !await PingFailsAsync("net-a", addresses["net-b"]), "the icmp rule to let the ping in");

        // Anti-spoofing: net-a sending from an address it was not given gets nothing through.
        await cloud.ExecAsync("net-a", "ip addr add 10.91.7.250/24 dev eth0");
        Assert.Contains("0 packets received", await cloud.ExecAsync("net-a", $"ping -c 2 -W 2 -I 10.91.7.250 {addresses["net-b"]} || true"), StringComparison.Ordinal);

        // On the compute host: the network's bridge, one tap per server on it, the DHCP namespace with its dnsmasq.
        var links = await HostLinksAsync();
        Assert.Contains(links, l => l.StartsWith("embb", StringComparison.Ordinal));
        Assert.Equal(2, links.Count(l => l.StartsWith("embt", StringComparison.Ordinal)));
        Assert.Contains($"{cloud.NamespacePrefixOf(Host)}-qdhcp-{network}", await NamespacesAsync());

        // Deleting the servers deletes their ports; the last one takes the network's bridge and DHCP server off the host.
        (await cloud.OpenStackAsync("server", "delete", "--wait", "net-a", "net-b")).EnsureSuccess();
        var ports = (await cloud.OpenStackAsync("port", "list", "--network", "blue", "--long", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.All(ports, p => Assert.Equal("network:dhcp", Text(p, "Device Owner")));
        Assert.DoesNotContain(await HostLinksAsync(), l => l.StartsWith("emb", StringComparison.Ordinal));
        Assert.DoesNotContain(await NamespacesAsync(), ns => ns.StartsWith(cloud.NamespacePrefixOf(Host) + "-", StringComparison.Ordinal));
        Assert.NotEqual(0, (await Cli.RunAsync("pgrep", ["-f", $"dnsmasq.*{network}"])).ExitCode);

        (await cloud.OpenStackAsync("network", "delete", "blue")).EnsureSuccess();
    }

    [Fact]
    public async Task Two_servers_on_one_network_on_two_hosts_get_dhcp_and_ping_each_other_over_vxlan()
    {
        var network = (await cloud.OpenStackAsync("network", "create", "span", "-f", "json")).EnsureSuccess().Json();
        var networkId = Id(network);
        var vni = network["provider:segmentation_id"]!.GetValue<int>(); // the admin sees the VNI, as in Neutron
        Assert.Equal("vxlan", Text(network, "provider:network_type"));
        (await cloud.OpenStackAsync("subnet", "create", "--network", "span", "--subnet-range", "10.91.9.0/24", "span-v4", "-f", "json")).EnsureSuccess();

        var hosts = new Dictionary<string, string> { ["span-1"] = "host-1", ["span-2"] = "host-2" };
        var addresses = new Dictionary<string, string>();
        foreach (var (name, host) in hosts)
        {
            (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--network", "span",
                "--availability-zone", $"nova:{host}", "--wait", name, "-f", "json")).EnsureSuccess();
            var port = Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", name, "-f", "json")).EnsureSuccess().Json().AsArray());
            addresses[name] = Text(Assert.Single(port!["Fixed IP Addresses"]!.AsArray()), "ip_address");
        }

        // Each guest gets its lease from the DHCP server of its own host (the same DHCP port on both, kept off the tunnel).
        foreach (var (name, address) in addresses)
        {
            Assert.Equal("leased", await cloud.ExecAsync(name,
                $"for i in $(seq 120); do ip -4 addr show eth0 | grep -q ' {address}/24 ' && echo leased && exit 0; sleep 0.5; done; ip addr; exit 1"));
            Assert.Equal("1450", await cloud.ExecAsync(name, "cat /sys/class/net/eth0/mtu")); // DHCP option 26: 1500 less VXLAN's 50
        }

        // The frames cross between the hosts' namespaces inside VXLAN: each host's device floods to the other's tunnel address.
        await WaitForAsync(async () => !await PingFailsAsync("span-1", addresses["span-2"], attempts: 1), "span-1 to reach span-2 over VXLAN");
        Assert.Contains("3 packets received", await cloud.ExecAsync("span-2", $"ping -c 3 -W 5 {addresses["span-1"]}"), StringComparison.Ordinal);
        var vxlan = "embv" + networkId.Replace("-", "", StringComparison.Ordinal)[..11];
        foreach (var (host, peer) in new[] { ("host-1", "host-2"), ("host-2", "host-1") })
        {
            var details = (await Cli.RunAsync("ip", ["-n", cloud.NamespaceOf(host), "-d", "link", "show", "dev", vxlan])).EnsureSuccess().StdOut;
            Assert.Contains($"vxlan id {vni} local {cloud.AddressOf(host)}", details, StringComparison.Ordinal);
            Assert.Contains("dstport 4789 nolearning", details, StringComparison.Ordinal);
            Assert.Contains("master embb", details, StringComparison.Ordinal);
            var fdb = (await Cli.RunAsync("bridge", ["-n", cloud.NamespaceOf(host), "fdb", "show", "dev", vxlan])).EnsureSuccess().StdOut;
            Assert.Contains($"00:00:00:00:00:00 dst {cloud.AddressOf(peer)} self permanent", fdb, StringComparison.Ordinal);
            Assert.Contains($"{cloud.NamespacePrefixOf(host)}-qdhcp-{networkId}", await NamespacesAsync());
        }

        // The agents: one of each kind per compute host, alive, with the tunnel address the other host floods to.
        var agents = (await cloud.OpenStackAsync("network", "agent", "list", "--agent-type", "linux-bridge", "-f", "json")).EnsureSuccess().Json().AsArray();
        foreach (var host in MultiHostFixture.ComputeHosts)
        {
            var agent = Assert.Single(agents, a => Text(a, "Host") == host)!;
            Assert.True(agent["Alive"]!.ToJsonString() is "true" or "\":-)\"", agent.ToJsonString());
            var shown = (await cloud.OpenStackAsync("network", "agent", "show", Text(agent, "ID"), "-f", "json")).EnsureSuccess().Json();
            Assert.Contains(cloud.AddressOf(host), shown["configuration"]!.ToJsonString(), StringComparison.Ordinal); // tunneling_ip
        }

        // Deleting the servers and the network leaves no VXLAN device, bridge, namespace or tunnel filter on either host.
        (await cloud.OpenStackAsync("server", "delete", "--wait", "span-1", "span-2")).EnsureSuccess();
        (await cloud.OpenStackAsync("network", "delete", "span")).EnsureSuccess();
        foreach (var host in MultiHostFixture.ComputeHosts)
        {
            Assert.DoesNotContain(await HostLinksAsync(host), l => l.StartsWith("emb", StringComparison.Ordinal));
            Assert.DoesNotContain(await NamespacesAsync(), ns => ns.StartsWith(cloud.NamespacePrefixOf(host) + "-", StringComparison.Ordinal));
            var tables = (await Cli.RunAsync("ip", ["netns", "exec", cloud.NamespaceOf(host), "nft", "list", "tables"])).EnsureSuccess().StdOut;
            Assert.DoesNotContain("emb_tunnel", tables, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_router_joins_networks_whose_servers_are_on_different_hosts_as_neutrons_dvr_does()
    {
        // red's server on host-1, green's on host-2: each host's copy of the router gets both interfaces.
        var hosts = new Dictionary<string, (string Host, string Cidr)> { ["dred"] = ("host-1", "10.91.11.0/24"), ["dgreen"] = ("host-2", "10.91.12.0/24") };
        var addresses = new Dictionary<string, string>();
        var networkIds = new Dictionary<string, string>();
        foreach (var (name, (host, cidr)) in hosts)
        {
            networkIds[name] = Id((await cloud.OpenStackAsync("network", "create", name, "-f", "json")).EnsureSuccess().Json());
            (await cloud.OpenStackAsync("subnet", "create", "--network", name, "--subnet-range", cidr, name + "-v4", "-f", "json")).EnsureSuccess();
            (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--network", name,
                "--availability-zone", $"nova:{host}", "--wait", name, "-f", "json")).EnsureSuccess();
            var port = Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", name, "-f", "json")).EnsureSuccess().Json().AsArray());
            addresses[name] = Text(Assert.Single(port!["Fixed IP Addresses"]!.AsArray()), "ip_address");
        }

        foreach (var (name, address) in addresses)
        {
            Assert.Equal("leased", await cloud.ExecAsync(name,
                $"for i in $(seq 120); do ip -4 addr show eth0 | grep -q ' {address}/24 ' && echo leased && exit 0; sleep 0.5; done; ip addr; exit 1"));
        }

        Assert.True(await PingFailsAsync("dred", addresses["dgreen"], attempts: 1), "dred reaches dgreen without a router");
        var router = Id((await cloud.OpenStackAsync("router", "create", "dvr", "-f", "json")).EnsureSuccess().Json());
        (await cloud.OpenStackAsync("router", "add", "subnet", "dvr", "dred-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "add", "subnet", "dvr", "dgreen-v4")).EnsureSuccess();

        // The request is routed by host-1's copy, the answer by host-2's; both ways.
        await WaitForAsync(async () => !await PingFailsAsync("dred", addresses["dgreen"], attempts: 1), "dred to reach dgreen through the router across hosts");
        Assert.Contains("3 packets received", await cloud.ExecAsync("dgreen", $"ping -c 3 -W 5 {addresses["dred"]}"), StringComparison.Ordinal);
        foreach (var (host, other) in new[] { ("host-1", "dgreen"), ("host-2", "dred") })
        {
            Assert.Contains($"{cloud.NamespacePrefixOf(host)}-qrouter-{router}", await NamespacesAsync());
            // The network only the router has here is tunnelled to the host with its server.
            var fdb = (await Cli.RunAsync("bridge", ["-n", cloud.NamespaceOf(host), "fdb", "show", "dev", "embv" + networkIds[other].Replace("-", "", StringComparison.Ordinal)[..11]])).EnsureSuccess().StdOut;
            Assert.Contains("00:00:00:00:00:00 dst ", fdb, StringComparison.Ordinal);
            // Routed frames enter the tunnels with the host's DVR MAC (fa:16:3f, Neutron's dvr_base_mac), nothing else of the router.
            var filter = (await Cli.RunAsync("ip", ["netns", "exec", cloud.NamespaceOf(host), "nft", "list", "table", "bridge", "emb_tunnel"])).EnsureSuccess().StdOut;
            Assert.Contains("ether saddr set fa:16:3f:", filter, StringComparison.Ordinal);
        }

        // Security groups still apply to routed traffic from another host: dgreen in a group without ingress rules stops
        // answering dred; an icmp rule lets it in again.
        var greenPort = Text(Assert.Single((await cloud.OpenStackAsync("port", "list", "--server", "dgreen", "-f", "json")).EnsureSuccess().Json().AsArray()), "ID");
        (await cloud.OpenStackAsync("security group", "create", "dvr-closed", "-f", "json")).EnsureSuccess();
        (await cloud.OpenStackAsync("port", "set", "--no-security-group", "--security-group", "dvr-closed", greenPort)).EnsureSuccess();
        Assert.True(await PingFailsAsync("dred", addresses["dgreen"]), "dgreen still answers dred with no ingress rule");
        (await cloud.OpenStackAsync("security group", "rule", "create", "--protocol", "icmp", "--ingress", "dvr-closed", "-f", "json")).EnsureSuccess();
        await WaitForAsync(async () => !await PingFailsAsync("dred", addresses["dgreen"], attempts: 1), "the icmp rule to let dred's ping in");

        // Deleting it all leaves nothing of Ember's on either host: no link, namespace or nftables table.
        (await cloud.OpenStackAsync("router", "remove", "subnet", "dvr", "dred-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "remove", "subnet", "dvr", "dgreen-v4")).EnsureSuccess();
        (await cloud.OpenStackAsync("router", "delete", "dvr")).EnsureSuccess();
        (await cloud.OpenStackAsync("server", "delete", "--wait", "dred", "dgreen")).EnsureSuccess();
        (await cloud.OpenStackAsync("network", "delete", "dred", "dgreen")).EnsureSuccess();
        (await cloud.OpenStackAsync("security group", "delete", "dvr-closed")).EnsureSuccess();
        foreach (var host in MultiHostFixture.ComputeHosts)
        {
            var left = new List<string>();
            await WaitForAsync(async () => (left = [.. (await HostLinksAsync(host)).Where(l => l.StartsWith("emb", StringComparison.Ordinal))]).Count == 0,
                $"{host} to remove its links", lastSeen: () => string.Join(", ", left));
            Assert.DoesNotContain(await NamespacesAsync(), ns => ns.StartsWith(cloud.NamespacePrefixOf(host) + "-", StringComparison.Ordinal));
            var tables = (await Cli.RunAsync("ip", ["netns", "exec", cloud.NamespaceOf(host), "nft", "list", "tables"])).EnsureSuccess().StdOut;
            Assert.DoesNotContain("emb", tables, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_server_booted_without_a_network_gets_the_projects_auto_allocated_one()
    {
        // openstack server create without --network sends Nova's "networks": "auto" (2.37 and later).
        (await cloud.OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny",
            "--availability-zone", "nova:host-2", "--wait", "auto-1", "-f", "json")).EnsureSuccess();
        var shown = (await cloud.OpenStackAsync("server", "show", "auto-1", "-f", "json")).EnsureSuccess().Json();
        var address = shown["addresses"]!["auto_allocated_network"]!.AsArray().Select(a => a!.GetValue<string>()).Single();
        Assert.StartsWith("10.128.", address, StringComparison.Ordinal);
        Assert.Equal("leased", await cloud.ExecAsync("auto-1",
            $"for i in $(seq 120); do ip -4 addr show eth0 | grep -q ' {address}/' && echo leased && exit 0; sleep 0.5; done; exit 1"));

        // The network stays the project's; the next server joins it rather than making another.
        var networks = (await cloud.OpenStackAsync("network", "list", "--name", "auto_allocated_network", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Single(networks);
        (await cloud.OpenStackAsync("server", "delete", "--wait", "auto-1")).EnsureSuccess();
    }

    /// <summary>True once a ping gets no answer (the filter is applied within a few seconds of the change).</summary>
    private async Task<bool> PingFailsAsync(string server, string address, int attempts = 15)
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

    /// <summary>The interface names in the compute host's namespace.</summary>
    private async Task<List<string>> HostLinksAsync(string host = Host)
    {
        var output = (await Cli.RunAsync("ip", ["-n", cloud.NamespaceOf(host), "-o", "link", "show"])).EnsureSuccess().StdOut;
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(':')[1].Trim().Split('@')[0])];
    }

    private static async Task<List<string>> NamespacesAsync() =>
        [.. (await Cli.RunAsync("ip", ["netns", "list"])).EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])];
}
