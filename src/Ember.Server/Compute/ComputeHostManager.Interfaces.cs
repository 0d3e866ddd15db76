using Ember.Compute.Qemu;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// os-interface on the host (Nova's attach_interface / detach_interface with the libvirt driver's hot-plug).
public sealed partial class ComputeHostManager
{
    /// <summary>
    /// Plugs the port here and hot-plugs its NIC into the running guest; a stopped server gets it at its next start (its
    /// ports are read at every boot). A failure is raised to the API, which releases the port.
    /// </summary>
    public async Task AttachInterfaceAsync(AttachInterface message, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope("RequestId:{RequestId}", message.RequestId);
        await machines.WithServerLockAsync(message.ServerId, async () =>
        {
            if (await OwnedAsync(message.ServerId) is null)
            {
                throw ApiException.Conflict($"Server {message.ServerId} is not on host {Name}.");
            }

            if (machines.Find(message.ServerId) is not { Exited.IsCompleted: false } machine)
            {
                return;
            }

            try
            {
                var nic = await networking.PlugPortAsync(message.ServerId, message.PortId, cancellationToken);
                await machine.AttachNicAsync(nic, cancellationToken);
            }
            catch (Exception ex) when (ex is QemuException or InvalidOperationException or IOException)
            {
                LogInterfaceAttachFailed(logger, message.PortId, message.ServerId, ex);
                await networking.ReleasePortAsync(message.ServerId, message.PortId, CancellationToken.None);
                throw new ApiException(ErrorKind.Internal, $"Failed to attach network adapter device to {message.ServerId}");
            }
        });
    }

    public Task DetachInterfaceAsync(DetachInterface message, CancellationToken cancellationToken)
    {
        Cast("detach interface", message.RequestId, message.ServerId, token => UnplugInterfaceAsync(message.ServerId, message.PortId, token));
        return Task.CompletedTask;
    }

    /// <summary>device_del and netdev_del in the running guest, then the port is released; a guest that keeps the NIC keeps the port.</summary>
    private async Task UnplugInterfaceAsync(string serverId, string portId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is null || await networking.NicOfAsync(serverId, portId, cancellationToken) is not { } nic)
        {
            return;
        }

        if (machines.Find(serverId) is { Exited.IsCompleted: false } machine)
        {
            try
            {
                await machine.DetachNicAsync(nic, QemuMachine.DefaultUnplugTimeout, cancellationToken);
            }
            catch (Exception ex) when (ex is QemuException && !cancellationToken.IsCancellationRequested)
            {
                // Nova logs and keeps the interface when the guest refuses: the port stays the server's, detach may be asked again.
                LogInterfaceDetachFailed(logger, portId, serverId, ex);
                return;
            }
        }

        await networking.ReleasePortAsync(serverId, portId, CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attaching port {PortId} to server {ServerId} failed; the port is released")]
    private static partial void LogInterfaceAttachFailed(ILogger logger, string portId, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Detaching port {PortId} from server {ServerId} failed; it stays attached")]
    private static partial void LogInterfaceDetachFailed(ILogger logger, string portId, string serverId, Exception exception);
}
