using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ember.Processes;

namespace Ember.Network;

/// <summary>
/// Routers, the way Neutron's L3 agent builds them: a namespace <c>{NamespacePrefix}-qrouter-{routerId}</c> with a veth
/// into each attached network's bridge (<c>qr-</c>, the subnet's gateway address) and one into the external network's
/// bridge (<c>qg-</c>, the gateway address and the floating IPs as /32s, so the namespace answers ARP for them), IP
/// forwarding on in that namespace only, and nftables NAT in that namespace only.
/// </summary>
public sealed partial class NetworkDataPlane
{
    /// <summary>The namespace of a router: <c>{NamespacePrefix}-qrouter-{routerId}</c>.</summary>
    public string RouterNamespaceName(string routerId) => _names.RouterNamespace(DataPlaneNames.ParseId(routerId, nameof(routerId)));

    /// <summary>
    /// Brings the router's namespace to <paramref name="config"/>: creates what is missing (the bridges included), sets
    /// addresses and MACs, removes interfaces no longer listed, sets the default route via the gateway's next hop, and
    /// replaces the namespace's NAT ruleset in one nft transaction.
    /// </summary>
    /// <exception cref="ArgumentException">The config is malformed; nothing was changed.</exception>
    public async Task SyncRouterAsync(string routerId, RouterConfig config, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(routerId, nameof(routerId));
        var interfaces = config.Interfaces.Select(i => ParseRouterPort(i.PortId, i.NetworkId, i.MacAddress, i.Address, i.Mtu, gateway: false)).ToList();
        RouterPortPlan? gateway = config.Gateway is { } g ? ParseRouterPort(g.PortId, g.NetworkId, g.MacAddress, g.Address, g.Mtu, gateway: true) : null;
        var nextHop = config.Gateway?.NextHop is { } hop ? ParseIpv4(hop, "NextHop") : null;
        var bridgeAddress = config.Gateway?.BridgeAddress is { } bridge ? ParseIpv4Interface(bridge, "BridgeAddress").Text : null;
        if (config.FloatingIps.Count > 0 && gateway is null)
        {
            throw new ArgumentException("Floating IPs need the router's gateway.", nameof(config));
        }

        var neighbours = config.Interfaces.Select(i => ParseNeighbours(i.Neighbours ?? [])).ToList();
        var floating = config.FloatingIps.Select(f => (Floating: ParseIpv4(f.FloatingIp, "FloatingIp"), Fixed: ParseIpv4(f.FixedIp, "FixedIp"))).ToList();
        if (interfaces.Concat(gateway is null ? [] : [gateway.Value]).GroupBy(p => p.Inside).Any(same => same.Count() > 1))
        {
            throw new ArgumentException("Two router ports have the same name: their ids must differ in the first 11 hex digits.", nameof(config));
        }

        var ruleset = RenderRouterNat(gateway?.Inside, gateway?.Address, config.EnableSnat ? interfaces.Select(i => i.Network).ToList() : [], floating);
        var ns = _names.RouterNamespace(id);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (!(await ListNamespacesAsync(cancellationToken)).Contains(ns))
            {
                await IpOkAsync(null, ["netns", "add", ns], cancellationToken);
            }

            await IpOkAsync(ns, ["link", "set", "dev", "lo", "up"], cancellationToken);
            // Forwarding in the router's namespace only: the host's own setting is left alone.
            (await RunInNamespaceAsync(ns, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"], null, cancellationToken)).EnsureSuccess();
            foreach (var (port, entries) in interfaces.Zip(neighbours))
            {
                await PlugRouterPortAsync(ns, port, [port.Address], cancellationToken);
                await SyncNeighboursAsync(ns, port.Inside, entries, cancellationToken);
            }

            if (gateway is { } gw)
            {
                await PlugRouterPortAsync(ns, gw, [gw.Address, .. floating.Select(f => f.Floating + "/32")], cancellationToken);
                await SyncAddressesAsync(_options.HostNamespace, _names.Bridge(gw.NetworkId), bridgeAddress is null ? [] : [bridgeAddress], cancellationToken);
            }

            var wanted = interfaces.Select(i => i.Inside).Concat(gateway is null ? [] : [gateway.Value.Inside]).ToHashSet(StringComparer.Ordinal);
            foreach (var link in await ListLinksAsync(ns, cancellationToken))
            {
                if ((link.StartsWith(DataPlaneNames.RouterInterfacePrefix, StringComparison.Ordinal) || link.StartsWith(DataPlaneNames.RouterGatewayPrefix, StringComparison.Ordinal))
                    && !wanted.Contains(link))
                {
                    // Its pair, the bridge end, goes with it.
                    await DeleteLinkAsync(ns, link, cancellationToken);
                }
            }

            if (gateway is { } withRoute && nextHop is not null)
            {
                await IpOkAsync(ns, ["route", "replace", "default", "via", nextHop, "dev", withRoute.Inside], cancellationToken);
            }
            else
            {
                await IpAsync(ns, ["route", "delete", "default"], cancellationToken); // absent is fine
            }

            (await RunInNamespaceAsync(ns, _options.NftBinary, ["-f", "/dev/stdin"], ruleset, cancellationToken)).EnsureSuccess();
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The router's namespace is gone, and with it every veth of its ports; the bridges stay (they are the networks').</summary>
    public async Task DeleteRouterAsync(string routerId, CancellationToken cancellationToken = default)
    {
        var ns = _names.RouterNamespace(DataPlaneNames.ParseId(routerId, nameof(routerId)));
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if ((await ListNamespacesAsync(cancellationToken)).Contains(ns))
            {
                await IpOkAsync(null, ["netns", "delete", ns], cancellationToken);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private readonly record struct RouterPortPlan(Guid Port, Guid NetworkId, string Mac, string Address, string Network, int Mtu, string Veth, string Inside);

    private RouterPortPlan ParseRouterPort(string portId, string networkId, string mac, string address, int mtu, bool gateway)
    {
        var port = DataPlaneNames.ParseId(portId, nameof(portId));
        var network = DataPlaneNames.ParseId(networkId, nameof(networkId));
        DataPlaneNames.ValidateMtu(mtu);
        var parsed = ParseIpv4Interface(address, nameof(address));
        return new RouterPortPlan(port, network, DataPlaneNames.ParseMac(mac, nameof(mac)), parsed.Text, parsed.Network, mtu,
            _names.RouterVeth(port), DataPlaneNames.RouterInside(port, gateway));
    }

    /// <summary>A veth from the router's namespace into the port's network bridge, with the port's MAC and exactly <paramref name="addresses"/>.</summary>
    private async Task PlugRouterPortAsync(string ns, RouterPortPlan port, IReadOnlyList<string> addresses, CancellationToken cancellationToken)
    {
        await EnsureBridgeAsync(port.NetworkId, port.Mtu, cancellationToken);
        if (!await LinkExistsAsync(ns, port.Inside, cancellationToken))
        {
            // A bridge end left without its pair (its namespace was lost) would block the name.
            await DeleteLinkAsync(_options.HostNamespace, port.Veth, cancellationToken);
            await IpOkAsync(_options.HostNamespace, ["link", "add", "name", port.Veth, "type", "veth", "peer", "name", port.Inside, "netns", ns], cancellationToken);
        }

        var mtu = Text(port.Mtu);
        await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", port.Veth, "mtu", mtu, "master", _names.Bridge(port.NetworkId), "up"], cancellationToken);
        await IpOkAsync(ns, ["link", "set", "dev", port.Inside, "address", port.Mac, "mtu", mtu, "up"], cancellationToken);
        await SyncAddressesAsync(ns, port.Inside, addresses, cancellationToken);
    }

    private static Dictionary<string, string> ParseNeighbours(IReadOnlyList<RouterNeighbour> neighbours)
    {
        if (neighbours.Count > RouterInterface.MaxNeighbours)
        {
            throw new ArgumentException($"At most {RouterInterface.MaxNeighbours} neighbours per router interface.", nameof(neighbours));
        }

        var parsed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in neighbours)
        {
            parsed[ParseIpv4(n.IpAddress, "neighbour")] = DataPlaneNames.ParseMac(n.MacAddress, "neighbour");
        }

        return parsed;
    }

    /// <summary>
    /// The permanent ARP entries of a router interface are exactly <paramref name="wanted"/>: the guests of the subnet, on
    /// this host or another, are known without an ARP request (which the tunnel filter would not let cross).
    /// </summary>
    private async Task SyncNeighboursAsync(string ns, string device, Dictionary<string, string> wanted, CancellationToken cancellationToken)
    {
        var json = (await IpOkAsync(ns, ["-j", "-4", "neigh", "show", "dev", device, "nud", "permanent"], cancellationToken)).StdOut;
        using var document = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        var present = document.RootElement.EnumerateArray()
            .Where(e => e.TryGetProperty("dst", out _))
            .ToDictionary(e => e.GetProperty("dst").GetString() ?? "", e => e.TryGetProperty("lladdr", out var mac) ? mac.GetString() ?? "" : "", StringComparer.Ordinal);
        // One `ip -batch` for all changes: a subnet may hold thousands of ports.
        var batch = new StringBuilder();
        foreach (var (address, mac) in wanted.Where(w => !present.TryGetValue(w.Key, out var current) || current != w.Value))
        {
            batch.Append(CultureInfo.InvariantCulture, $"neigh replace {address} lladdr {mac} dev {device} nud permanent\n");
        }

        foreach (var gone in present.Keys.Where(a => !wanted.ContainsKey(a)))
        {
            batch.Append(CultureInfo.InvariantCulture, $"neigh del {gone} dev {device}\n");
        }

        if (batch.Length > 0)
        {
            (await ProcessRunner.RunAsync(_options.IpBinary, ["-n", ns, "-batch", "-"], s_commandTimeout, stdin: batch.ToString(),
                cancellationToken: cancellationToken)).EnsureSuccess();
        }
    }

    /// <summary>
    /// The router's NAT, one table owned entirely by Ember in the router's namespace: per floating IP a DNAT (floating to
    /// fixed) and an SNAT (fixed to floating) out of the gateway, then SNAT of the internal subnets to the gateway address.
    /// Traffic between the router's own subnets is routed without NAT, as Neutron does.
    /// </summary>
    internal string RenderRouterNat(string? gatewayDevice, string? gatewayAddress, IReadOnlyList<string> snatNetworks, IReadOnlyList<(string Floating, string Fixed)> floating)
    {
        var table = $"ip {_names.InterfacePrefix}";
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"table {table}\ndelete table {table}\ntable {table} {{\n");
        text.Append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        foreach (var (floatingIp, fixedIp) in floating)
        {
            text.Append(CultureInfo.InvariantCulture, $"    ip daddr {floatingIp} dnat to {fixedIp}\n");
        }

        text.Append("  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        if (gatewayDevice is not null && gatewayAddress is not null)
        {
            foreach (var (floatingIp, fixedIp) in floating)
            {
                text.Append(CultureInfo.InvariantCulture, $"    oifname \"{gatewayDevice}\" ip saddr {fixedIp} snat to {floatingIp}\n");
            }

            var source = gatewayAddress.Split('/')[0];
            foreach (var network in snatNetworks.Distinct(StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"    oifname \"{gatewayDevice}\" ip saddr {network} snat to {source}\n");
            }
        }

        text.Append("  }\n}\n");
        return text.ToString();
    }

    private static string ParseIpv4(string text, string what) =>
        text.Count(c => c == '.') == 3 && IPAddress.TryParse(text, out var address) && address.AddressFamily == AddressFamily.InterNetwork
            ? address.ToString()
            : throw new ArgumentException($"{what} '{(text.Length <= 64 ? text : text[..64])}' is not an IPv4 address.", what);

    /// <summary>"10.0.0.1/24": the address as given (normalized) and its network ("10.0.0.0/24").</summary>
    private static (string Text, string Network) ParseIpv4Interface(string text, string what)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix is < 1 or > 32)
        {
            throw new ArgumentException($"{what} '{(text.Length <= 64 ? text : text[..64])}' is not an IPv4 address with a prefix length (10.0.0.1/24).", what);
        }

        var address = ParseIpv4(text[..slash], what);
        var bytes = IPAddress.Parse(address).GetAddressBytes();
        var value = (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
        var network = prefix == 32 ? value : value & (uint.MaxValue << (32 - prefix));
        var networkText = $"{network >> 24}.{(network >> 16) & 255}.{(network >> 8) & 255}.{network & 255}/{Text(prefix)}";
        return ($"{address}/{Text(prefix)}", networkText);
    }

    /// <summary>Runs a program inside the named namespace (<c>ip netns exec</c>).</summary>
    private Task<ProcessResult> RunInNamespaceAsync(string ns, string program, IEnumerable<string> args, string? stdin, CancellationToken cancellationToken) =>
        ProcessRunner.RunAsync(_options.IpBinary, ["netns", "exec", ns, program, .. args], s_commandTimeout, stdin: stdin, cancellationToken: cancellationToken);
}
