using System.Net;
using Ember.Compute.Qemu;
using Ember.Network;
using Ember.Server.Compute.Metadata;
using Ember.Server.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// A compute host's side of networking, what Neutron's Linux bridge agent and a DHCP agent do on each machine: before
/// QEMU starts, every port of the server gets its network's bridge, a tap and a DHCP server answering with the port's
/// fixed address; when the server goes, the taps go, and a network none of this host's servers uses any more leaves
/// nothing behind. The ports themselves are the network service's (read from the shared database); this host only
/// reads them. Every network that has a port here gets its own dnsmasq on this host (distributed DHCP, as OVN does), kept
/// off the VXLAN tunnels that join the network's bridges across hosts, so no network node is needed (docs/network.md).
/// </summary>
public sealed partial class HostNetworking(
    NetworkService networks,
    IOptions<NetworkOptions> options,
    IOptions<EmberOptions> host,
    MetadataAnswers metadata,
    IOptions<ComputeOptions> compute,
    ILoggerFactory loggerFactory)
{
    /// <summary>How long a lease lasts (Neutron's dhcp_lease_duration default is a day).</summary>
    private static readonly TimeSpan s_leaseTime = TimeSpan.FromDays(1);

    private readonly ILogger _logger = loggerFactory.CreateLogger<HostNetworking>();
    private readonly NetworkDataPlane _dataPlane = new(
        new NetworkDataPlaneOptions
        {
            InterfacePrefix = options.Value.InterfacePrefix,
            NamespacePrefix = options.Value.NamespacePrefix,
            StateDirectory = Path.Combine(host.Value.DataDir, "network"),
        },
        loggerFactory.CreateLogger<NetworkDataPlane>());

    /// <summary>How often the host compares what it enforces (port filters, routers) with the database: a change reaches every host this way.</summary>
    private static readonly TimeSpan s_watchPeriod = TimeSpan.FromSeconds(2);

    /// <summary>A watch's full round even when nothing was written (<see cref="WatchAsync"/>).</summary>
    private static readonly TimeSpan s_resyncPeriod = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _lock = new(1, 1);
    private DataPlaneProbe? _probe;
    private string? _appliedSecurity;

    /// <summary>The metadata service of each network whose DHCP server runs here, by network id (under the lock).</summary>
    private readonly Dictionary<string, MetadataListener> _metadata = new(StringComparer.Ordinal);

    /// <summary>Bridges, taps and DHCP for the server's ports, in guest order (eth0 first); none when it has no port.</summary>
    /// <exception cref="InvalidOperationException">The server has ports and this host has no data plane (with the reason).</exception>
    public async Task<IReadOnlyList<QemuNic>> PlugAsync(string serverId, CancellationToken cancellationToken)
    {
        var ports = await networks.ListServerPortsAsync(serverId, cancellationToken);
        if (ports.Count == 0)
        {
            return [];
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            await RequireDataPlaneAsync(cancellationToken);
            var nics = new List<QemuNic>();
            foreach (var port in ports)
            {
                await _dataPlane.EnsureNetworkAsync(port.NetworkId, port.Mtu, cancellationToken);
                var tap = await _dataPlane.PlugTapAsync(port.PortId, port.NetworkId, port.MacAddress, port.Mtu, cancellationToken);
                nics.Add(new QemuNic(port.PortId, tap, port.MacAddress, port.Mtu));
            }

            foreach (var networkId in ports.Select(p => p.NetworkId).Distinct())
            {
                await SyncDhcpAsync(networkId, cancellationToken);
            }

            // The bridges reach the other hosts' before the guest asks for its address (the watch keeps them in step after).
            await SyncTunnelsAsync(cancellationToken);

            // Filtered before the guest sends its first frame: QEMU starts after this.
            await ApplyPortSecurityAsync(cancellationToken);
            await networks.MarkServerPortsActiveAsync(serverId, cancellationToken);
            return nics;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Removes the server's taps (QEMU has stopped) and keeps its ports, bound to no host: a shelved server's ports wait
    /// for its unshelve, which binds them to the host it lands on (Nova's cleanup_instance_network_on_host). The bridges
    /// of networks no server uses any more go at this host's next start.
    /// </summary>
    public async Task UnplugAsync(string serverId, CancellationToken cancellationToken)
    {
        var ports = await networks.ListServerPortsAsync(serverId, cancellationToken);
        await networks.BindServerPortsAsync(serverId, "", cancellationToken);
        if (ports.Count == 0 || !options.Value.HostNetworking)
        {
            return;
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            foreach (var port in ports)
            {
                await _dataPlane.UnplugTapAsync(port.PortId, cancellationToken);
            }

            await ApplyPortSecurityAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Removes the server's taps (QEMU has stopped) and its ports (those made for it; the others are unbound and kept),
    /// then takes down the bridge and DHCP server of every network no server of this host uses any more.
    /// </summary>
    public async Task ReleaseAsync(string serverId, CancellationToken cancellationToken)
    {
        var ports = await networks.DeleteServerPortsAsync(serverId, cancellationToken);
        if (ports.Count == 0 || !options.Value.HostNetworking)
        {
            return;
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            foreach (var port in ports)
            {
                await _dataPlane.UnplugTapAsync(port.Id, cancellationToken);
            }

            foreach (var networkId in ports.Select(p => p.NetworkId).Distinct())
            {
                if (await networks.CountHostPortsAsync(networkId, host.Value.HostName, cancellationToken) == 0)
                {
                    await DeleteNetworkAsync(networkId, cancellationToken);
                }
                else
                {
                    await SyncDhcpAsync(networkId, cancellationToken);
                }
            }

            await ApplyPortSecurityAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Keeps the host's port filters in step with the database while the host runs: a security group rule or a port's
    /// groups changed on the controller reach the host within <see cref="s_watchPeriod"/> (Neutron pushes them to its
    /// agents over RPC; a compute host here has the database and no bus).
    /// </summary>
    public Task WatchPortSecurityAsync(CancellationToken cancellationToken) =>
        WatchAsync("port filters", ApplyPortSecurityAsync, cancellationToken);

    /// <summary>
    /// Runs <paramref name="round"/> under the host's lock every <see cref="s_watchPeriod"/> until cancelled: when the
    /// network revision moved since its last round, and at least every <see cref="s_resyncPeriod"/> in any case (what
    /// the round compares with the host may have drifted without a write).
    /// </summary>
    private async Task WatchAsync(string what, Func<CancellationToken, Task> round, CancellationToken cancellationToken)
    {
        if (!(await ProbeAsync(cancellationToken)).Available)
        {
            return;
        }

        long? seen = null;
        var lastRound = DateTime.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Read before the round: a write committed while it runs moves the revision again, and the next round sees it.
                var revision = await networks.RevisionAsync(cancellationToken);
                if (revision == seen && DateTime.UtcNow - lastRound < s_resyncPeriod)
                {
                    await Task.Delay(s_watchPeriod, cancellationToken);
                    continue;
                }

                await _lock.WaitAsync(cancellationToken);
                try
                {
                    await round(cancellationToken);
                }
                finally
                {
                    _lock.Release();
                }

                (seen, lastRound) = (revision, DateTime.UtcNow);

                await Task.Delay(s_watchPeriod, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A failed ip/nft run or database read must not end the watch: the next round tries again.
                LogWatchFailed(_logger, what, ex.Message);
                await Task.Delay(s_watchPeriod, cancellationToken);
            }
        }
    }

    /// <summary>The whole host's port filters, replaced in one nft transaction when they differ from the last applied.</summary>
    private async Task ApplyPortSecurityAsync(CancellationToken cancellationToken)
    {
        var ports = await networks.HostPortSecurityAsync(host.Value.HostName, cancellationToken);
        var wanted = System.Text.Json.JsonSerializer.Serialize(ports);
        if (wanted == _appliedSecurity || (_appliedSecurity is null && ports.Count == 0))
        {
            // Unchanged; or nothing to filter yet, and the host's netfilter settings are left as they are until a port comes.
            return;
        }

        await _dataPlane.ApplyPortSecurityAsync(ports, cancellationToken);
        _appliedSecurity = wanted;
    }

    /// <summary>
    /// On start: keeps what this host's servers still use and removes every bridge, tap, namespace and dnsmasq of its
    /// prefixes that nothing owns any more (Neutron agents' resync after a restart).
    /// </summary>
    public async Task CleanupAsync(IReadOnlyCollection<string> serverIds, CancellationToken cancellationToken)
    {
        if (!options.Value.HostNetworking || !(await ProbeAsync(cancellationToken)).Available)
        {
            return;
        }

        var livePorts = new List<ServerPort>();
        foreach (var serverId in serverIds)
        {
            livePorts.AddRange(await networks.ListServerPortsAsync(serverId, cancellationToken));
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            var routers = await LiveRoutersAsync(cancellationToken);
            var removed = await _dataPlane.CleanupAsync(livePorts.Select(p => p.NetworkId).Concat(routers.Networks).Distinct(),
                livePorts.Select(p => p.PortId).Concat(routers.Ports), routers.Routers, cancellationToken);
            if (removed.Count > 0)
            {
                LogCleanedUp(_logger, removed.Count, string.Join(", ", removed));
            }

            // The DHCP servers outlive a restart of this process, its metadata listeners do not: open them again.
            foreach (var networkId in livePorts.Select(p => p.NetworkId).Distinct())
            {
                await EnsureMetadataAsync(networkId);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Whether this host can plug ports, and why not; probed once.</summary>
    public async Task<DataPlaneProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.HostNetworking)
        {
            return DataPlaneProbe.Unavailable("Network:HostNetworking is off on this host");
        }

        return _probe ??= await _dataPlane.ProbeAsync(cancellationToken);
    }

    private async Task RequireDataPlaneAsync(CancellationToken cancellationToken)
    {
        var probe = await ProbeAsync(cancellationToken);
        if (!probe.Available)
        {
            throw new InvalidOperationException($"Host {host.Value.HostName} cannot plug network ports: {probe.Reason}.");
        }
    }

    /// <summary>The network's DHCP server on this host, serving every port of the network its fixed address.</summary>
    private async Task SyncDhcpAsync(string networkId, CancellationToken cancellationToken)
    {
        if (await networks.GetDhcpViewAsync(networkId, cancellationToken) is not { } view)
        {
            await DeleteNetworkAsync(networkId, cancellationToken);
            return;
        }

        // The metadata address is reached through the DHCP port (Neutron's isolated metadata): a host route every
        // subnet's clients learn, unless the subnet routes 169.254.169.254 itself.
        var subnets = view.Subnets.Where(s => s.DhcpIp is not null).Select(s => new Ember.Network.DhcpSubnet(
            s.SubnetId, s.Cidr, s.DhcpIp!, s.GatewayIp, s.DnsNameservers,
            [.. s.HostRoutes.Select(r => new HostRoute(r.Destination, r.Nexthop)),
                .. s.HostRoutes.Any(r => r.Destination == MetadataRoute) ? Array.Empty<HostRoute>() : [new HostRoute(MetadataRoute, s.DhcpIp!)]],
            s_leaseTime)).ToList();
        var served = subnets.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var hosts = view.Hosts
            .Where(h => h.DeviceOwner != NetworkService.DhcpOwner && served.Contains(h.SubnetId))
            .Select(h => new Ember.Network.DhcpHost(h.MacAddress, h.IpAddress, h.Hostname)).ToList();
        var dhcpMac = await networks.DhcpPortMacAsync(networkId, cancellationToken);
        if (dhcpMac is null || subnets.Count == 0)
        {
            // No DHCP-enabled subnet: the guests configure themselves. (A DHCP server of a subnet deleted since stays
            // until the network leaves this host; its leases name addresses nothing else can have.)
            return;
        }

        await _dataPlane.SyncDhcpAsync(networkId, new DhcpConfig(dhcpMac, view.Mtu, subnets, hosts, MetadataAddress: true), cancellationToken);
        await EnsureMetadataAsync(networkId);
    }

    private const string MetadataRoute = MetadataEndpoint.Address + "/32";

    /// <summary>
    /// The network's metadata service: a socket on 169.254.169.254:80 opened inside its DHCP namespace (so only that
    /// network's guests reach it), served by this process. Opened again when the namespace was made anew. A failure is
    /// logged: guests then boot without metadata (a config drive still works).
    /// </summary>
    private async Task EnsureMetadataAsync(string networkId)
    {
        var ns = _dataPlane.DhcpNamespace(networkId);
        var identity = NamespaceSockets.Identity(ns);
        if (_metadata.TryGetValue(networkId, out var existing))
        {
            if (existing.NamespaceIdentity == identity)
            {
                return;
            }

            await StopMetadataAsync(networkId);
        }

        if (identity is null)
        {
            return;
        }

        try
        {
            var socket = NamespaceSockets.ListenTcp(ns, new IPEndPoint(IPAddress.Parse(MetadataEndpoint.Address), MetadataEndpoint.Port), backlog: 64);
            _metadata[networkId] = new MetadataListener(identity, socket,
                (source, path, token) => metadata.AnswerAsync(networkId, source, path, token), _logger,
                (source, path, body, token) => metadata.PostAsync(networkId, source, path, body, token));
            LogMetadataListening(_logger, networkId, ns);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            LogMetadataFailed(_logger, networkId, ex.Message);
        }
    }

    private async Task StopMetadataAsync(string networkId)
    {
        if (_metadata.Remove(networkId, out var listener))
        {
            await listener.DisposeAsync();
        }
    }

    /// <summary>The network's bridge, VXLAN device, DHCP server and metadata service leave this host.</summary>
    private async Task DeleteNetworkAsync(string networkId, CancellationToken cancellationToken)
    {
        await StopMetadataAsync(networkId);
        await _dataPlane.DeleteNetworkAsync(networkId, cancellationToken);
        _appliedTunnels.Remove(networkId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metadata service of network {NetworkId} listening in {Namespace}")]
    private static partial void LogMetadataListening(ILogger logger, string networkId, string @namespace);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Metadata service of network {NetworkId} not started: {Reason}")]
    private static partial void LogMetadataFailed(ILogger logger, string networkId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Network data plane: {What} not updated: {Reason}")]
    private static partial void LogWatchFailed(ILogger logger, string what, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Network data plane: removed {Count} leftovers nothing owns: {Names}")]
    private static partial void LogCleanedUp(ILogger logger, int count, string names);
}
