using System.Text.Json;
using Ember.Processes;

namespace Ember.Network;

/// <summary>
/// A network's VXLAN segment on this host, the way Neutron's Linux bridge agent spans a network over hosts: a VXLAN device
/// per network on its bridge, with unicast head-end replication (one all-zero FDB entry per peer host: broadcast, unknown
/// unicast and multicast frames are copied to each peer; no multicast group, no learning from the underlay).
/// </summary>
/// <param name="Vni">The VXLAN network identifier (provider:segmentation_id), 1 to 16777215.</param>
/// <param name="LocalAddress">This host's tunnel address (IPv4): the source of the UDP packets.</param>
/// <param name="Port">The UDP destination port (IANA's 4789 by default).</param>
/// <param name="Peers">The tunnel addresses of the other hosts that have ports on the network.</param>
/// <param name="DvrMac">
/// This host's DVR MAC (Neutron's DVR host MAC): the source a frame routed by this host's router copies gets when it
/// enters a tunnel, the only router frames the tunnel filter lets through; null lets none through.
/// </param>
public sealed record VxlanConfig(int Vni, string LocalAddress, int Port, IReadOnlyList<string> Peers, string? DvrMac = null)
{
    public const int MaxPeers = 1024;
}

public sealed partial class NetworkDataPlane
{
    private const string AllZeroMac = "00:00:00:00:00:00";

    /// <summary>The VXLAN device of a network: <c>{InterfacePrefix}v</c> and the first hex digits of its id.</summary>
    public string VxlanName(string networkId) => _names.Vxlan(DataPlaneNames.ParseId(networkId, nameof(networkId)));

    /// <summary>
    /// The network's VXLAN device exists with <paramref name="config"/>'s VNI, local address and port, is on the network's
    /// bridge (made if missing) with <paramref name="mtu"/>, and floods to exactly <see cref="VxlanConfig.Peers"/>. A device
    /// whose VNI, address or port differ is made again. The host-local service ports (the DHCP server's and routers'
    /// veths, which have the same MAC and address on every host) are cut off from the tunnels (<see cref="TunnelFilter"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A malformed id, VNI, address or port; nothing was changed.</exception>
    public async Task SyncVxlanAsync(string networkId, int mtu, VxlanConfig config, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(networkId, nameof(networkId));
        DataPlaneNames.ValidateMtu(mtu);
        ArgumentNullException.ThrowIfNull(config);
        if (config.Vni is < 1 or > (1 << 24) - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(config), config.Vni, "The VNI must be between 1 and 16777215.");
        }

        if (config.Port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(config), config.Port, "The VXLAN UDP port must be between 1 and 65535.");
        }

        var local = ParseIpv4(config.LocalAddress, "LocalAddress");
        if (config.Peers.Count > VxlanConfig.MaxPeers)
        {
            throw new ArgumentException($"At most {VxlanConfig.MaxPeers} peers.", nameof(config));
        }

        var peers = config.Peers.Select(p => ParseIpv4(p, "peer")).Where(p => p != local).ToHashSet(StringComparer.Ordinal);
        var dvrMac = config.DvrMac is { } mac ? DataPlaneNames.ParseMac(mac, nameof(config.DvrMac)) : null;
        var device = _names.Vxlan(id);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await EnsureBridgeAsync(id, mtu, cancellationToken);
            if (await VxlanSettingsAsync(device, cancellationToken) is { } current && current != (config.Vni, local, config.Port))
            {
                await DeleteLinkAsync(_options.HostNamespace, device, cancellationToken);
            }

            if (!await LinkExistsAsync(_options.HostNamespace, device, cancellationToken))
            {
                await IpOkAsync(_options.HostNamespace, ["link", "add", device, "type", "vxlan", "id", Text(config.Vni), "local", local,
                    "dstport", Text(config.Port), "nolearning"], cancellationToken);
                // Like the bridge: no IPv6 link-local address of the host on a tenant network.
                await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", device, "addrgenmode", "none"], cancellationToken);
            }

            await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", device, "mtu", Text(mtu), "master", _names.Bridge(id), "up"], cancellationToken);
            var flooded = await FloodPeersAsync(device, cancellationToken);
            foreach (var peer in peers.Except(flooded))
            {
                await BridgeOkAsync(["fdb", "append", AllZeroMac, "dev", device, "dst", peer], cancellationToken);
            }

            foreach (var gone in flooded.Except(peers))
            {
                await BridgeOkAsync(["fdb", "del", AllZeroMac, "dev", device, "dst", gone], cancellationToken);
            }

            _dvrMac = dvrMac;
            await ApplyTunnelFilterAsync(present: true, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The network's VXLAN device is gone (whether or not it was there); with the last one, the tunnel filter goes.</summary>
    public async Task DeleteVxlanAsync(string networkId, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(networkId, nameof(networkId));
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await DeleteVxlanLockedAsync(id, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task DeleteVxlanLockedAsync(Guid networkId, CancellationToken cancellationToken)
    {
        await DeleteLinkAsync(_options.HostNamespace, _names.Vxlan(networkId), cancellationToken);
        await RemoveTunnelFilterIfUnusedAsync(cancellationToken);
    }

    private async Task RemoveTunnelFilterIfUnusedAsync(CancellationToken cancellationToken)
    {
        var links = await ListLinksAsync(_options.HostNamespace, cancellationToken);
        if (!links.Any(l => _names.TryParseInterface(l, out var kind, out _) && kind == DataPlaneNames.VxlanKind))
        {
            await ApplyTunnelFilterAsync(present: false, cancellationToken);
        }
    }

    /// <summary>
    /// The nftables table that keeps host-local services off the tunnels: every host runs the network's DHCP server and
    /// its routers' interfaces with the same MAC and address (DVR-like), so frames between them and a VXLAN device are
    /// dropped both ways, and each guest is served by its own host. One static table for all networks.
    /// With <paramref name="dvrMac"/>, one exception: an IPv4 frame a router copy sends into a tunnel (it routed it to a
    /// guest on another host) leaves with this host's DVR MAC as its source, so no other host learns the router's shared
    /// MAC on its tunnel port and the gateway stays local everywhere. ARP and everything else of the router's stays home.
    /// </summary>
    internal static string TunnelFilter(string interfacePrefix, bool present, string? dvrMac = null)
    {
        var table = TunnelTable(interfacePrefix);
        var text = $"table bridge {table}\ndelete table bridge {table}\n";
        if (!present)
        {
            return text;
        }

        var vxlan = $"\"{interfacePrefix}{DataPlaneNames.VxlanKind}*\"";
        var router = $"\"{interfacePrefix}{DataPlaneNames.RouterVethKind}*\"";
        var routed = dvrMac is null ? "" :
            $"\t\tiifname {router} oifname {vxlan} ether type ip ether saddr set {dvrMac}\n\t\tiifname {router} oifname {vxlan} ether saddr {dvrMac} accept\n";
        var rules = routed + string.Concat(new[] { DataPlaneNames.DhcpVethKind, DataPlaneNames.RouterVethKind }.Select(kind =>
        {
            var service = $"\"{interfacePrefix}{kind}*\"";
            return $"\t\tiifname {service} oifname {vxlan} drop\n\t\tiifname {vxlan} oifname {service} drop\n";
        }));
        return text + $"table bridge {table} {{\n\tchain forward {{\n\t\ttype filter hook forward priority -350; policy accept;\n{rules}\t}}\n}}\n";
    }

    /// <summary>The tunnel filter's table: <c>{InterfacePrefix}_tunnel</c>, owned entirely by Ember.</summary>
    public static string TunnelTable(string interfacePrefix) => interfacePrefix + "_tunnel";

    /// <summary>The DVR MAC the last <see cref="SyncVxlanAsync"/> gave (under the lock).</summary>
    private string? _dvrMac;

    private async Task ApplyTunnelFilterAsync(bool present, CancellationToken cancellationToken) =>
        (await RunInHostNamespaceAsync(_options.NftBinary, ["-f", "/dev/stdin"], TunnelFilter(_names.InterfacePrefix, present, _dvrMac), cancellationToken)).EnsureSuccess();

    /// <summary>The VNI, local address and port of an existing VXLAN device; null when there is none.</summary>
    private async Task<(int Vni, string Local, int Port)?> VxlanSettingsAsync(string device, CancellationToken cancellationToken)
    {
        var result = await IpAsync(_options.HostNamespace, ["-j", "-d", "link", "show", "dev", device], cancellationToken);
        if (result.ExitCode != 0)
        {
            return null;
        }

        using var document = JsonDocument.Parse(result.StdOut);
        var link = document.RootElement[0];
        if (!link.TryGetProperty("linkinfo", out var info) || !info.TryGetProperty("info_data", out var data)
            || info.GetProperty("info_kind").GetString() != "vxlan")
        {
            return (0, "", 0); // a link of our name that is no VXLAN device: made again
        }

        return (data.GetProperty("id").GetInt32(), data.TryGetProperty("local", out var l) ? l.GetString() ?? "" : "", data.GetProperty("port").GetInt32());
    }

    /// <summary>The destinations of the device's all-zero (flood) FDB entries.</summary>
    private async Task<HashSet<string>> FloodPeersAsync(string device, CancellationToken cancellationToken)
    {
        var json = (await BridgeOkAsync(["-j", "fdb", "show", "dev", device], cancellationToken)).StdOut;
        using var document = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        return document.RootElement.EnumerateArray()
            .Where(e => e.GetProperty("mac").GetString() == AllZeroMac && e.TryGetProperty("dst", out _))
            .Select(e => e.GetProperty("dst").GetString() ?? "")
            .ToHashSet(StringComparer.Ordinal);
    }

    private async Task<ProcessResult> BridgeOkAsync(IEnumerable<string> args, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync(_options.BridgeBinary, _options.HostNamespace is { } ns ? ["-n", ns, .. args] : args, s_commandTimeout,
            cancellationToken: cancellationToken)).EnsureSuccess();

    /// <summary>Whether this kernel can make VXLAN devices: the module is loaded (or built in), or there to load.</summary>
    private static bool VxlanSupported()
    {
        if (Directory.Exists("/sys/module/vxlan"))
        {
            return true;
        }

        var modules = "/lib/modules/" + File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        return Directory.Exists(modules) && Directory.EnumerateFiles(modules, "vxlan.ko*", SearchOption.AllDirectories).Any();
    }
}
