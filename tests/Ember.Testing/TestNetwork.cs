using System.Globalization;

namespace Ember.Testing;

/// <summary>
/// A private network for multi-host tests: a bridge in this (the root) namespace with the first address of a /24 the
/// machine does not use, and one network namespace per simulated machine, joined to the bridge by a veth pair, so
/// every byte between them crosses a real TCP link. Every name starts with <see cref="Prefix"/>; all of it is
/// removed on dispose and nothing else of the host's interfaces, routes or firewall is touched. Needs root.
/// </summary>
public sealed class TestNetwork : IAsyncDisposable
{
    private readonly List<string> _namespaces = [];
    private readonly string _subnet;

    private TestNetwork(string prefix, string subnet)
    {
        Prefix = prefix;
        _subnet = subnet;
    }

    /// <summary>"et" and 6 hex digits: every interface and namespace name begins with it (interface names stop at 15 bytes).</summary>
    public string Prefix { get; }

    /// <summary>The root namespace's address on the bridge: processes outside the namespaces listen here.</summary>
    public string HostAddress => _subnet + ".1";

    public string Bridge => Prefix + "br";

    public static async Task<TestNetwork> CreateAsync()
    {
        var prefix = "et" + Guid.NewGuid().ToString("N")[..6];
        var network = new TestNetwork(prefix, await FreeSubnetAsync());
        try
        {
            await IpAsync("link", "add", network.Bridge, "type", "bridge");
            await IpAsync("addr", "add", network.HostAddress + "/24", "dev", network.Bridge);
            await IpAsync("link", "set", network.Bridge, "up");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A namespace named PREFIX-NAME with the address .<paramref name="number"/> of the subnet on its end of a veth
    /// pair and loopback up; returns (namespace, address).
    /// </summary>
    public async Task<(string Namespace, string Address)> AddMachineAsync(string name, int number)
    {
        var ns = $"{Prefix}-{name}";
        var outside = $"{Prefix}v{number}";
        var address = $"{_subnet}.{number.ToString(CultureInfo.InvariantCulture)}";
        await IpAsync("netns", "add", ns);
        _namespaces.Add(ns);
        await IpAsync("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await IpAsync("link", "set", outside, "master", Bridge);
        await IpAsync("link", "set", outside, "up");
        await IpAsync("-n", ns, "addr", "add", address + "/24", "dev", "eth0");
        await IpAsync("-n", ns, "link", "set", "eth0", "up");
        await IpAsync("-n", ns, "link", "set", "lo", "up");
        return (ns, address);
    }

    /// <summary>Takes a machine's link down or up (its veth on the bridge side): a network partition without killing anything.</summary>
    public Task SetLinkAsync(int number, bool up) => IpAsync("link", "set", $"{Prefix}v{number}", up ? "up" : "down");

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes its veth end, and with it the peer on the bridge.
        foreach (var ns in _namespaces)
        {
            await Cli.RunAsync("ip", ["netns", "delete", ns]);
        }

        await Cli.RunAsync("ip", ["link", "delete", Bridge]);
    }

    /// <summary>A 10.2xx.y.0/24 no route of this machine covers, so the bridge shadows nothing.</summary>
    private static async Task<string> FreeSubnetAsync()
    {
        var routes = (await Cli.RunAsync("ip", ["-4", "route", "show", "table", "all"])).EnsureSuccess().StdOut;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var subnet = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 255)}";
            if (!routes.Contains(subnet + ".", StringComparison.Ordinal) && !routes.Contains("10.0.0.0/8", StringComparison.Ordinal))
            {
                return subnet;
            }
        }

        throw new InvalidOperationException("No free 10.x.y.0/24 for a test network.");
    }

    private static async Task IpAsync(params string[] args)
    {
        var result = await Cli.RunAsync("ip", args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {result.StdErr}");
        }
    }
}
