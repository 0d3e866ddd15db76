using Ember.Compute.Qemu;

namespace Ember.Server.Compute;

public sealed partial class HostNetworking
{
    /// <summary>The NICs QEMU has for the server's ports (their taps named from the port ids), in guest order; none without ports.</summary>
    public async Task<IReadOnlyList<QemuNic>> NicsOfAsync(string serverId, CancellationToken cancellationToken) =>
        [.. (await networks.ListServerPortsAsync(serverId, cancellationToken)).Select(p => new QemuNic(p.PortId, _dataPlane.TapName(p.PortId), p.MacAddress, p.Mtu))];
}
