using Ember.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Network.Tests;

/// <summary>
/// A stand-in for a compute host: a network namespace of its own (so nothing lands in the machine's root namespace),
/// a private state directory and a random namespace prefix, and "VMs" as namespaces whose eth0 is a veth with its
/// other end on a bridge in the host namespace (what a tap is to a guest). Everything whose name starts with the
/// prefix is removed on dispose, dnsmasq included, even when the test failed half-way.
/// </summary>
public sealed class DataPlaneHost : IAsyncLifetime
{
    private readonly string _scripts = Directory.CreateTempSubdirectory("ember-netdp-scripts").FullName;

    /// <summary>"et" and 6 hex digits: the prefix of the namespaces this host and its data plane create.</summary>
    public string Prefix { get; } = "et" + Guid.NewGuid().ToString("N")[..6];

    public string HostNamespace => Prefix + "-host";

    public string StateDirectory { get; } = Directory.CreateTempSubdirectory("ember-netdp-state").FullName;

    public NetworkDataPlaneOptions Options => new()
    {
        NamespacePrefix = Prefix,
        HostNamespace = HostNamespace,
        StateDirectory = StateDirectory,
    };

    /// <summary>A data plane on this host; a second one stands for Ember after a restart.</summary>
    public NetworkDataPlane NewDataPlane() => new(Options, NullLogger<NetworkDataPlane>.Instance);

    public async Task InitializeAsync()
    {
        await Cli.RunOkAsync("ip", "netns", "add", HostNamespace);
        await Cli.RunOkAsync("ip", "-n", HostNamespace, "link", "set", "lo", "up");
    }

    public async Task DisposeAsync()
    {
        foreach (var pid in await DnsmasqPidsAsync())
        {
            await Cli.RunAsync("kill", ["-9", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        foreach (var ns in await NamespacesAsync())
        {
            await Cli.RunAsync("ip", ["netns", "delete", ns]);
        }

        Directory.Delete(StateDirectory, recursive: true);
        Directory.Delete(_scripts, recursive: true);
    }

    /// <summary>Namespaces named with this host's prefix (`ip netns list`).</summary>
    public async Task<List<string>> NamespacesAsync() =>
        (await Cli.RunOkAsync("ip", "netns", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0]).Where(ns => ns.StartsWith(Prefix, StringComparison.Ordinal)).ToList();

    /// <summary>The interface names in the host namespace (`ip -n HOST link`).</summary>
    public async Task<List<string>> HostLinksAsync() =>
        (await Cli.RunOkAsync("ip", "-n", HostNamespace, "-o", "link", "show")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':')[1].Trim().Split('@')[0]).ToList();

    /// <summary>dnsmasq processes started with a config file in this host's state directory (pgrep).</summary>
    public async Task<List<int>> DnsmasqPidsAsync()
    {
        var result = await Cli.RunAsync("pgrep", ["-f", "dnsmasq --conf-file=" + StateDirectory + "/"]);
        return result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
    }

    /// <summary>The pid dnsmasq wrote for a network.</summary>
    public int DnsmasqPid(string networkId) => int.Parse(File.ReadAllText(Path.Combine(StateDirectory, networkId, "dnsmasq.pid")).Trim());

    /// <summary>
    /// A "VM": namespace PREFIX-NAME whose eth0 has <paramref name="mac"/>, its veth peer (<c>vm</c>+NAME in the host
    /// namespace, no Ember prefix, unless <paramref name="outside"/> names it: a tap's name, to stand in for the tap) on
    /// <paramref name="bridge"/>.
    /// </summary>
    public async Task<string> AddVmAsync(string name, string mac, string bridge, string? outside = null)
    {
        var ns = $"{Prefix}-{name}";
        outside ??= "vm" + name;
        await Cli.RunOkAsync("ip", "netns", "add", ns);
        await Cli.RunOkAsync("ip", "-n", HostNamespace, "link", "add", outside, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns);
        await Cli.RunOkAsync("ip", "-n", HostNamespace, "link", "set", outside, "master", bridge, "up");
        await Cli.RunOkAsync("ip", "-n", ns, "link", "set", "lo", "up");
        await Cli.RunOkAsync("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    /// <summary>
    /// Asks for a lease with busybox udhcpc in the VM (a few tries, then gives up); on success its script applies the
    /// address and MTU and the options dnsmasq sent come back as udhcpc's variables (ip, subnet, router, mtu,
    /// staticroutes, dns); null when no lease came.
    /// </summary>
    public async Task<Dictionary<string, string>?> RequestLeaseAsync(string vmNamespace)
    {
        var lease = Path.Combine(_scripts, vmNamespace + ".lease");
        var script = Path.Combine(_scripts, "udhcpc.sh");
        if (!File.Exists(script))
        {
            await File.WriteAllTextAsync(script, $"""
                #!/bin/sh
                [ "$1" = bound ] || exit 0
                ip addr add "$ip/$subnet" dev "$interface"
                [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
                for name in ip subnet router mtu staticroutes dns hostname; do
                    eval "echo $name=\$$name"
                done > "{_scripts}/$NETNS.lease"
                """.Replace("\r", "", StringComparison.Ordinal) + "\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // -O: ask for the MTU and classless routes, as cloud images' clients do; -n: exit 1 without a lease.
        var result = await Cli.RunAsync("ip", ["netns", "exec", vmNamespace, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
            "-t", "4", "-T", "1", "-s", script, "-O", "mtu", "-O", "staticroutes"], env: [new("NETNS", vmNamespace)]);
        if (result.ExitCode != 0)
        {
            Assert.False(File.Exists(lease), result.ToString());
            return null;
        }

        return File.ReadAllLines(lease).Select(line => line.Split('=', 2)).Where(kv => kv[1].Length > 0).ToDictionary(kv => kv[0], kv => kv[1]);
    }
}
