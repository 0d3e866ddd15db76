using System.Text.Json;
using Ember.Processes;
using Microsoft.Extensions.Logging;

namespace Ember.Network;

/// <summary>
/// The Linux data plane of Ember's networks, the way Neutron's Linux bridge and DHCP agents build it: a bridge per
/// network, a persistent tap per VM port on it, and per DHCP-enabled network a namespace with dnsmasq serving fixed
/// addresses. Every call is idempotent and brings the machine to the state it describes; calls are serialized (one
/// lock), since they inspect then change shared kernel state. Failures of <c>ip</c> or dnsmasq surface as
/// <see cref="ProcessFailedException"/> carrying their error text; bad arguments as <see cref="ArgumentException"/>.
/// </summary>
public sealed partial class NetworkDataPlane
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(30);

    private readonly NetworkDataPlaneOptions _options;
    private readonly DataPlaneNames _names;
    private readonly string _stateDirectory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <exception cref="ArgumentException">A prefix or the state directory is malformed.</exception>
    public NetworkDataPlane(NetworkDataPlaneOptions options, ILogger<NetworkDataPlane> logger)
    {
        _options = options;
        _names = new DataPlaneNames(options.InterfacePrefix, options.NamespacePrefix);
        if (string.IsNullOrWhiteSpace(options.StateDirectory) || options.StateDirectory.Any(char.IsControl))
        {
            throw new ArgumentException("StateDirectory must be a path without control characters.", nameof(options));
        }

        _stateDirectory = Path.GetFullPath(options.StateDirectory).TrimEnd('/');
        _logger = logger;
    }

    /// <summary>The bridge of a network: <c>{InterfacePrefix}b</c> and the first hex digits of its id.</summary>
    public string BridgeName(string networkId) => _names.Bridge(DataPlaneNames.ParseId(networkId, nameof(networkId)));

    /// <summary>The tap of a port: <c>{InterfacePrefix}t</c> and the first hex digits of its id.</summary>
    public string TapName(string portId) => _names.Tap(DataPlaneNames.ParseId(portId, nameof(portId)));

    /// <summary>The namespace of a network's DHCP server: <c>{NamespacePrefix}-qdhcp-{networkId}</c>.</summary>
    public string DhcpNamespaceName(string networkId) => _names.DhcpNamespace(DataPlaneNames.ParseId(networkId, nameof(networkId)));

    /// <summary>Whether this machine can run the data plane; never throws for a missing piece, it says which one.</summary>
    public async Task<DataPlaneProbe> ProbeAsync(CancellationToken cancellationToken = default)
    {
        if (!OperatingSystem.IsLinux())
        {
            return DataPlaneProbe.Unavailable("the network data plane needs Linux");
        }

        // CAP_NET_ADMIN (12) for links and addresses, CAP_SYS_ADMIN (21) for `ip netns add` (it mounts).
        var capabilities = EffectiveCapabilities();
        if ((capabilities & (1UL << 12)) == 0 || (capabilities & (1UL << 21)) == 0)
        {
            return DataPlaneProbe.Unavailable("not root: CAP_NET_ADMIN and CAP_SYS_ADMIN are needed for bridges, taps and namespaces");
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return DataPlaneProbe.Unavailable("/dev/net/tun is missing (no tun driver): taps cannot be created");
        }

        foreach (var (program, args, package) in new[]
        {
            (_options.IpBinary, new[] { "-V" }, "iproute2"),
            (_options.BridgeBinary, ["-V"], "iproute2"),
            (_options.DnsmasqBinary, ["--version"], "dnsmasq-base"),
            (_options.NftBinary, ["--version"], "nftables"),
        })
        {
            try
            {
                (await ProcessRunner.RunAsync(program, args, s_commandTimeout, cancellationToken: cancellationToken)).EnsureSuccess();
            }
            catch (ProcessFailedException ex)
            {
                return DataPlaneProbe.Unavailable($"{program} does not run (Debian package {package}): {ex.Message}");
            }
        }

        // Port security needs bridged packets in conntrack; the per-namespace switch exists once br_netfilter is loaded.
        if (!File.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables"))
        {
            return DataPlaneProbe.Unavailable("br_netfilter is not loaded (modprobe br_netfilter): security groups cannot be enforced");
        }

        if (!VxlanSupported())
        {
            return DataPlaneProbe.Unavailable("the kernel has no vxlan module: tenant networks cannot span hosts");
        }

        if (_options.HostNamespace is { } host && (await IpAsync(host, ["link", "show", "lo"], cancellationToken)).ExitCode != 0)
        {
            return DataPlaneProbe.Unavailable($"the host namespace {host} does not exist");
        }

        return DataPlaneProbe.Ok;
    }

    /// <summary>The network's bridge exists, is up and has <paramref name="mtu"/>.</summary>
    public async Task EnsureNetworkAsync(string networkId, int mtu, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(networkId, nameof(networkId));
        DataPlaneNames.ValidateMtu(mtu);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await EnsureBridgeAsync(id, mtu, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// A persistent tap for the port, enslaved to the network's bridge (created if missing) and up; returns its name,
    /// which QEMU opens with <c>-netdev tap,ifname=NAME,script=no,downscript=no</c>. The tap's own MAC is the port's
    /// with the first byte 0xfe (like Nova's), so the bridge never takes the guest's address for its own.
    /// </summary>
    public async Task<string> PlugTapAsync(string portId, string networkId, string mac, int mtu, CancellationToken cancellationToken = default)
    {
        var port = DataPlaneNames.ParseId(portId, nameof(portId));
        var network = DataPlaneNames.ParseId(networkId, nameof(networkId));
        var guestMac = DataPlaneNames.ParseMac(mac, nameof(mac));
        DataPlaneNames.ValidateMtu(mtu);
        var tap = _names.Tap(port);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await EnsureBridgeAsync(network, mtu, cancellationToken);
            if (!await LinkExistsAsync(_options.HostNamespace, tap, cancellationToken))
            {
                await IpOkAsync(_options.HostNamespace, ["tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken);
            }

            await IpOkAsync(_options.HostNamespace,
                ["link", "set", "dev", tap, "address", "fe" + guestMac[2..], "mtu", Text(mtu), "master", _names.Bridge(network), "up"], cancellationToken);
            return tap;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The port's tap is gone (whether or not it was there).</summary>
    public async Task UnplugTapAsync(string portId, CancellationToken cancellationToken = default)
    {
        var tap = _names.Tap(DataPlaneNames.ParseId(portId, nameof(portId)));
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await DeleteLinkAsync(_options.HostNamespace, tap, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// The network's dnsmasq is stopped and its namespace, veth, VXLAN device, bridge and state files are gone. Taps still on the
    /// bridge stay (they belong to ports) but are no longer enslaved.
    /// </summary>
    public async Task DeleteNetworkAsync(string networkId, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(networkId, nameof(networkId));
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await RemoveDhcpAsync(id, cancellationToken);
            await DeleteVxlanLockedAsync(id, cancellationToken);
            await DeleteLinkAsync(_options.HostNamespace, _names.Bridge(id), cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Removes every bridge, veth, tap, DHCP namespace, dnsmasq and state directory of these prefixes that belongs to
    /// no live network or port, as Neutron's agents resync on start; returns what it removed. Names without the
    /// prefixes, or that do not parse as ours exactly, are never touched.
    /// </summary>
    /// <remarks>Router namespaces count as live when in <paramref name="liveRouterIds"/>; a router port's veth when its port is in <paramref name="livePortIds"/>.</remarks>
    public async Task<IReadOnlyList<string>> CleanupAsync(IEnumerable<string> liveNetworkIds, IEnumerable<string> livePortIds,
        IEnumerable<string>? liveRouterIds = null, CancellationToken cancellationToken = default)
    {
        var routers = (liveRouterIds ?? []).Select(id => DataPlaneNames.ParseId(id, "router id")).ToHashSet();
        var networks = liveNetworkIds.Select(id => DataPlaneNames.ParseId(id, "network id")).ToHashSet();
        var ports = livePortIds.Select(id => DataPlaneNames.ParseId(id, "port id")).ToHashSet();
        var networkDigits = networks.Select(_names.IdDigitsOf).ToHashSet(StringComparer.Ordinal);
        var portDigits = ports.Select(_names.IdDigitsOf).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        await _lock.WaitAsync(cancellationToken);
        try
        {
            // dnsmasq first: a namespace with a process in it lives on after `ip netns delete`.
            foreach (var (pid, configPath) in Dnsmasq.All(_stateDirectory))
            {
                if (!(Guid.TryParseExact(Path.GetFileName(Path.GetDirectoryName(configPath)), "D", out var network) && networks.Contains(network)))
                {
                    await StopDnsmasqAsync(pid, network, cancellationToken);
                    removed.Add($"dnsmasq {pid}");
                }
            }

            foreach (var ns in await ListNamespacesAsync(cancellationToken))
            {
                if (_names.TryParseDhcpNamespace(ns, out var network) && !networks.Contains(network)
                    || _names.TryParseRouterNamespace(ns, out var router) && !routers.Contains(router))
                {
                    await IpOkAsync(null, ["netns", "delete", ns], cancellationToken);
                    removed.Add(ns);
                }
            }

            foreach (var link in await ListLinksAsync(_options.HostNamespace, cancellationToken))
            {
                if (_names.TryParseInterface(link, out var kind, out var digits)
                    && !(kind is DataPlaneNames.TapKind or DataPlaneNames.RouterVethKind ? portDigits : networkDigits).Contains(digits))
                {
                    await DeleteLinkAsync(_options.HostNamespace, link, cancellationToken);
                    removed.Add(link);
                }
            }

            await RemoveTunnelFilterIfUnusedAsync(cancellationToken);
            if (Directory.Exists(_stateDirectory))
            {
                foreach (var dir in Directory.EnumerateDirectories(_stateDirectory))
                {
                    if (Guid.TryParseExact(Path.GetFileName(dir), "D", out var network) && !networks.Contains(network))
                    {
                        Directory.Delete(dir, recursive: true);
                        removed.Add(dir);
                    }
                }
            }
        }
        finally
        {
            _lock.Release();
        }

        foreach (var name in removed)
        {
            Log.RemovedStale(_logger, name);
        }

        return removed;
    }

    private async Task EnsureBridgeAsync(Guid networkId, int mtu, CancellationToken cancellationToken)
    {
        var bridge = _names.Bridge(networkId);
        if (!await LinkExistsAsync(_options.HostNamespace, bridge, cancellationToken))
        {
            await IpOkAsync(_options.HostNamespace, ["link", "add", "name", bridge, "type", "bridge"], cancellationToken);
            // No IPv6 link-local address: the host has no business on a tenant network.
            await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", bridge, "addrgenmode", "none"], cancellationToken);
        }

        await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", bridge, "mtu", Text(mtu), "up"], cancellationToken);
    }

    private async Task<bool> LinkExistsAsync(string? ns, string name, CancellationToken cancellationToken) =>
        (await IpAsync(ns, ["link", "show", "dev", name], cancellationToken)).ExitCode == 0;

    private async Task DeleteLinkAsync(string? ns, string name, CancellationToken cancellationToken)
    {
        // A veth whose peer's namespace was deleted goes by itself, but later: the kernel tears a namespace down
        // asynchronously (seconds on a loaded host). Gone between the check and the delete is done, not a failure that
        // would stop a network's delete before its VXLAN device and bridge.
        if (await LinkExistsAsync(ns, name, cancellationToken)
            && (await IpAsync(ns, ["link", "delete", "dev", name], cancellationToken)) is { ExitCode: not 0 } failed
            && await LinkExistsAsync(ns, name, cancellationToken))
        {
            failed.EnsureSuccess();
        }
    }

    private async Task<List<string>> ListLinksAsync(string? ns, CancellationToken cancellationToken)
    {
        var json = (await IpOkAsync(ns, ["-j", "link", "show"], cancellationToken)).StdOut;
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(link => link.GetProperty("ifname").GetString() ?? "").ToList();
    }

    /// <summary>The names in <c>ip netns list</c> (each line is a name, then maybe "(id: N)").</summary>
    private async Task<List<string>> ListNamespacesAsync(CancellationToken cancellationToken)
    {
        var text = (await IpOkAsync(null, ["netns", "list"], cancellationToken)).StdOut;
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line => line.Split(' ')[0]).ToList();
    }

    /// <summary>Runs <c>ip</c>, in namespace <paramref name="ns"/> when given (<c>ip -n</c>); the exit code is the caller's to judge.</summary>
    private Task<ProcessResult> IpAsync(string? ns, IEnumerable<string> args, CancellationToken cancellationToken) =>
        ProcessRunner.RunAsync(_options.IpBinary, ns is null ? args : ["-n", ns, .. args], s_commandTimeout, cancellationToken: cancellationToken);

    private async Task<ProcessResult> IpOkAsync(string? ns, IEnumerable<string> args, CancellationToken cancellationToken) =>
        (await IpAsync(ns, args, cancellationToken)).EnsureSuccess();

    private static ulong EffectiveCapabilities()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return line is not null && ulong.TryParse(line["CapEff:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out var caps) ? caps : 0;
    }

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
