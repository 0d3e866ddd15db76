using System.Net;
using System.Net.Sockets;
using Ember.Network;
using Ember.Server.Network;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// Tenant networks across hosts (Neutron's Linux bridge agent with VXLAN): a VXLAN device per network on its bridge, flooding
// to the other hosts that have server ports on the network. This host's agent row tells the others where to send.
public sealed partial class HostNetworking
{
    /// <summary>The tunnels this host made, by network, with what they were last given (under the lock).</summary>
    private readonly Dictionary<string, HostTunnel> _appliedTunnels = new(StringComparer.Ordinal);

    private string? _tunnelAddress;

    /// <summary>This host's DVR MAC: the source of the frames its router copies route into a tunnel (null: none pass).</summary>
    private string? _dvrMac;

    /// <summary>
    /// Registers this host's network agent (its tunnel address and port, whether it has a data plane and why not); logs the
    /// reason when it has none, so `ember serve` says it as well as `openstack network agent list`.
    /// </summary>
    public async Task RegisterAgentAsync(CancellationToken cancellationToken)
    {
        var probe = await ProbeAsync(cancellationToken);
        _tunnelAddress = TunnelAddress();
        var available = probe.Available && _tunnelAddress is not null;
        var reason = probe.Reason ?? (_tunnelAddress is null ? "no tunnel address: set Network:TunnelAddress" : "");
        if (!available)
        {
            LogUnavailable(_logger, host.Value.HostName, reason);
        }
        else
        {
            _dvrMac = await networks.GetOrCreateDvrHostMacAsync(host.Value.HostName, cancellationToken);
        }

        await networks.RegisterAgentAsync(new NetworkAgentRow
        {
            Host = host.Value.HostName,
            TunnelAddress = _tunnelAddress,
            TunnelPort = options.Value.VxlanPort,
            Available = available,
            Reason = reason,
            StartedAt = DateTime.UtcNow,
        }, cancellationToken);
    }

    /// <summary>
    /// Keeps this host's VXLAN devices in step with the database: a host that gets (or loses) its first port on a network
    /// shared with this one is added to (or dropped from) the flood list within <see cref="s_watchPeriod"/>.
    /// </summary>
    public Task WatchTunnelsAsync(CancellationToken cancellationToken) => WatchAsync("tunnels", SyncTunnelsAsync, cancellationToken);

    /// <summary>The VXLAN device of each tunnelled network with a server here, flooding to the hosts that share it.</summary>
    private async Task SyncTunnelsAsync(CancellationToken cancellationToken)
    {
        if (_tunnelAddress is null)
        {
            return;
        }

        var wanted = await networks.HostTunnelsAsync(host.Value.HostName, cancellationToken);
        foreach (var tunnel in wanted)
        {
            if (!_appliedTunnels.TryGetValue(tunnel.NetworkId, out var applied) || (applied.Vni, applied.Mtu) != (tunnel.Vni, tunnel.Mtu) || !applied.Peers.SequenceEqual(tunnel.Peers))
            {
                await _dataPlane.SyncVxlanAsync(tunnel.NetworkId, tunnel.Mtu,
                    new VxlanConfig(tunnel.Vni, _tunnelAddress, options.Value.VxlanPort, tunnel.Peers, _dvrMac), cancellationToken);
                _appliedTunnels[tunnel.NetworkId] = tunnel;
            }
        }

        // A network that left this host normally took its VXLAN device with its bridge (DeleteNetworkAsync, which forgets
        // the tunnel only once they are gone; a network only a router had here goes with the router, SyncRoutersAsync); one
        // whose delete failed midway is removed again here, every round until done.
        foreach (var gone in _appliedTunnels.Keys.Except(wanted.Select(t => t.NetworkId)).ToList())
        {
            if (await networks.CountHostPortsAsync(gone, host.Value.HostName, cancellationToken) == 0)
            {
                await DeleteNetworkAsync(gone, cancellationToken);
            }
            else
            {
                _appliedTunnels.Remove(gone);
            }
        }
    }

    /// <summary>Network:TunnelAddress, else the address Compute:HostListen binds, else the host's first IPv4 address.</summary>
    private string? TunnelAddress()
    {
        if (options.Value.TunnelAddress.Length > 0)
        {
            return options.Value.TunnelAddress;
        }

        if (compute.Value.HostListen is { } listen && IPEndPoint.TryParse(listen, out var endPoint)
            && endPoint.Address.AddressFamily == AddressFamily.InterNetwork && !endPoint.Address.Equals(IPAddress.Any))
        {
            return endPoint.Address.ToString();
        }

        return HostCapacityProbe.HostIp();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Networking is unavailable on host {Host}: {Reason}. Servers here can only boot with networks: none.")]
    private static partial void LogUnavailable(ILogger logger, string host, string reason);
}
