using Ember.Compute.Qemu;

namespace Ember.Server.Compute;

// os-interface on the host: one port plugged into, or released from, a server that already has its others.
public sealed partial class HostNetworking
{
    /// <summary>
    /// The bridge, tap, DHCP entry and filter of one port the server was just given (bound to this host), before the NIC
    /// is hot-plugged: the guest's first frame is filtered and its DHCP request answered.
    /// </summary>
    /// <exception cref="InvalidOperationException">The port is not the server's, or this host has no data plane.</exception>
    public async Task<QemuNic> PlugPortAsync(string serverId, string portId, CancellationToken cancellationToken)
    {
        var port = (await networks.ListServerPortsAsync(serverId, cancellationToken)).FirstOrDefault(p => p.PortId == portId)
            ?? throw new InvalidOperationException($"Port {portId} is not an interface of server {serverId}.");
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await RequireDataPlaneAsync(cancellationToken);
            await _dataPlane.EnsureNetworkAsync(port.NetworkId, port.Mtu, cancellationToken);
            var tap = await _dataPlane.PlugTapAsync(port.PortId, port.NetworkId, port.MacAddress, port.Mtu, cancellationToken);
            await SyncDhcpAsync(port.NetworkId, cancellationToken);
            await ApplyPortSecurityAsync(cancellationToken);
            await networks.MarkServerPortsActiveAsync(serverId, cancellationToken);
            return new QemuNic(port.PortId, tap, port.MacAddress, port.Mtu);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The NIC QEMU has for one of the server's ports (its ids and tap are derived from the port id), or null when it has no such port.</summary>
    public async Task<QemuNic?> NicOfAsync(string serverId, string portId, CancellationToken cancellationToken) =>
        (await networks.ListServerPortsAsync(serverId, cancellationToken)).FirstOrDefault(p => p.PortId == portId) is { } port
            ? new QemuNic(port.PortId, _dataPlane.TapName(port.PortId), port.MacAddress, port.Mtu)
            : null;

    /// <summary>
    /// After the NIC left the guest: the port is released (deleted if it was made for the server, else unbound and
    /// kept), its tap goes, and the network leaves this host when none of its servers uses it any more.
    /// </summary>
    public async Task ReleasePortAsync(string serverId, string portId, CancellationToken cancellationToken)
    {
        if (await networks.ReleaseServerPortAsync(serverId, portId, cancellationToken) is not { } port || !options.Value.HostNetworking)
        {
            return;
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            await _dataPlane.UnplugTapAsync(port.Id, cancellationToken);
            if (await networks.CountHostPortsAsync(port.NetworkId, host.Value.HostName, cancellationToken) == 0)
            {
                await DeleteNetworkAsync(port.NetworkId, cancellationToken);
            }
            else
            {
                await SyncDhcpAsync(port.NetworkId, cancellationToken);
            }

            await ApplyPortSecurityAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }
}
