using System.Text.Json.Nodes;
using Ember.Compute.Qemu.Qmp;

namespace Ember.Compute.Qemu;

public sealed partial class QemuMachine
{
    /// <summary>
    /// Hot-plugs a virtio-net interface on an existing tap (Nova's attach_interface): <c>netdev_add</c> opens the tap by
    /// name, <c>device_add</c> gives the guest the NIC with the port's MAC; the netdev is removed again if the device is refused.
    /// </summary>
    public async Task AttachNicAsync(QemuNic nic, CancellationToken cancellationToken)
    {
        var netdev = new JsonObject
        {
            ["type"] = "tap",
            ["id"] = nic.NetdevId,
            ["ifname"] = nic.TapName,
            ["script"] = "no",
            ["downscript"] = "no",
            ["vhost"] = false,
        };
        await Qmp.ExecuteAsync("netdev_add", netdev, cancellationToken);
        try
        {
            await Qmp.ExecuteAsync("device_add", QemuCommandLine.NicDevice(nic), cancellationToken);
        }
        catch
        {
            await RollbackAsync("netdev_del", new JsonObject { ["id"] = nic.NetdevId }, nic.NetdevId);
            throw;
        }

        Log.NicAttached(_logger, Id, nic.DeviceId, nic.TapName);
    }

    /// <summary>
    /// Hot-unplugs a NIC: <c>device_del</c>, wait for the guest to release it (<c>DEVICE_DELETED</c>), then
    /// <c>netdev_del</c>, which closes QEMU's end of the tap. Throws <see cref="QemuUnplugTimeoutException"/> when the
    /// guest keeps the device; calling again later is safe, and a NIC already gone just loses its netdev.
    /// </summary>
    public async Task DetachNicAsync(QemuNic nic, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var deleted = Qmp.WaitForEventAsync("DEVICE_DELETED", e => e.GetString("device") == nic.DeviceId, wait.Token);
        var alreadyGone = false;
        try
        {
            await Qmp.ExecuteAsync("device_del", new JsonObject { ["id"] = nic.DeviceId }, cancellationToken);
        }
        catch (QmpErrorException ex) when (ex.ErrorClass == "DeviceNotFound")
        {
            alreadyGone = true;
        }
        catch (QmpErrorException ex) when (ex.Description.Contains("in the process of unplug", StringComparison.OrdinalIgnoreCase))
        {
            // An earlier detach timed out and the guest has not acted yet: wait for the same event.
        }

        if (!alreadyGone)
        {
            wait.CancelAfter(timeout);
            await deleted.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            if (!deleted.IsCompletedSuccessfully)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (deleted.Exception?.InnerException is { } failure)
                {
                    throw failure; // QEMU went away
                }

                throw new QemuUnplugTimeoutException(
                    $"the guest did not release {nic.DeviceId} within {timeout.TotalSeconds:0.#} s (it needs an OS with ACPI PCI hot-plug); the unplug request stays pending");
            }
        }

        await wait.CancelAsync();
        try
        {
            await Qmp.ExecuteAsync("netdev_del", new JsonObject { ["id"] = nic.NetdevId }, cancellationToken);
        }
        catch (QmpErrorException ex) when (ex.ErrorClass == "DeviceNotFound" || ex.Description.Contains("not found", StringComparison.OrdinalIgnoreCase))
        {
            // Removed by an earlier call.
        }

        Log.NicDetached(_logger, Id, nic.DeviceId);
    }
}
