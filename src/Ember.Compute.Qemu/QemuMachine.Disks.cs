using System.Text.Json.Nodes;
using Ember.Compute.Qemu.Qmp;

namespace Ember.Compute.Qemu;

public sealed partial class QemuMachine
{
    /// <summary>Default time the guest gets to release a device on <see cref="DetachDiskAsync(string, CancellationToken)"/>.</summary>
    public static readonly TimeSpan DefaultUnplugTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Hot-plugs a volume as a virtio-blk disk: its credential object (if any), <c>blockdev-add</c>, then
    /// <c>device_add</c>, each rolled back if a later step fails.
    /// </summary>
    public Task AttachDiskAsync(NetworkDisk disk, CancellationToken cancellationToken) => AddDiskAsync(disk, bootIndex: null, cancellationToken);

    /// <summary>
    /// Adds the volumes of <paramref name="spec"/> while the CPUs are still stopped (-S), in guest order: the
    /// root disk first when it is a volume, then vdb, vdc... After a volume root, a reset lets the firmware see its
    /// bootindex (fw_cfg's boot order is rebuilt on reset).
    /// </summary>
    internal async Task AddBootDisksAsync(QemuMachineSpec spec, CancellationToken cancellationToken)
    {
        if (spec.RootDisk is NetworkDisk root)
        {
            await AddDiskAsync(root, bootIndex: 0, cancellationToken);
        }

        foreach (var disk in spec.Disks)
        {
            await AddDiskAsync(disk, bootIndex: null, cancellationToken);
        }

        if (spec.RootDisk is NetworkDisk)
        {
            var reset = Qmp.WaitForEventAsync("RESET", cancellationToken: cancellationToken);
            await Qmp.ExecuteAsync("system_reset", null, cancellationToken);
            await reset;
        }
    }

    private async Task AddDiskAsync(NetworkDisk disk, int? bootIndex, CancellationToken cancellationToken)
    {
        QemuDriver.ValidateDeviceName(disk.DeviceName);
        var credential = QemuCommandLine.CredentialObject(disk);
        var credentialId = credential?["id"]!.GetValue<string>();
        if (credential is not null)
        {
            await Qmp.ExecuteAsync("object-add", credential, cancellationToken);
        }

        try
        {
            await Qmp.ExecuteAsync("blockdev-add", QemuCommandLine.Blockdev(disk), cancellationToken);
            try
            {
                await Qmp.ExecuteAsync("device_add", QemuCommandLine.Device(disk, bootIndex), cancellationToken);
            }
            catch
            {
                await RollbackAsync("blockdev-del", new JsonObject { ["node-name"] = disk.NodeName }, disk.NodeName);
                throw;
            }
        }
        catch
        {
            if (credentialId is not null)
            {
                await RollbackAsync("object-del", new JsonObject { ["id"] = credentialId }, credentialId);
            }

            throw;
        }

        Log.DiskAttached(_logger, Id, disk.DeviceName, disk switch
        {
            NbdDisk nbd => $"nbd export {nbd.ExportName[..Math.Min(8, nbd.ExportName.Length)]}…",
            RbdDisk rbd => $"rbd {rbd.Pool}/{rbd.Image}",
            _ => disk.GetType().Name,
        });
    }

    private async Task RollbackAsync(string command, JsonObject arguments, string what)
    {
        try
        {
            await Qmp.ExecuteAsync(command, arguments, CancellationToken.None);
        }
        catch (Exception rollback)
        {
            Log.RollbackFailed(_logger, Id, what, rollback);
        }
    }

    /// <inheritdoc cref="DetachDiskAsync(string, TimeSpan, CancellationToken)"/>
    public Task DetachDiskAsync(string deviceName, CancellationToken cancellationToken) =>
        DetachDiskAsync(deviceName, DefaultUnplugTimeout, cancellationToken);

    /// <summary>
    /// Hot-unplugs a disk: <c>device_del</c>, wait for the guest to release it (<c>DEVICE_DELETED</c>), then
    /// <c>blockdev-del</c>. Throws <see cref="QemuUnplugTimeoutException"/> if the guest does not release it in
    /// time (no OS, no ACPI hot-plug support, device busy); the request stays pending in the guest and the NBD
    /// connection stays open, so calling this again later is safe. Detaching a device that is already gone
    /// just removes its block node.
    /// </summary>
    public async Task DetachDiskAsync(string deviceName, TimeSpan timeout, CancellationToken cancellationToken)
    {
        QemuDriver.ValidateDeviceName(deviceName);
        var deviceId = "disk-" + deviceName;
        var nodeName = "node-" + deviceName;

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var deleted = Qmp.WaitForEventAsync("DEVICE_DELETED", e => e.GetString("device") == deviceId, wait.Token);
        var refused = Qmp.WaitForEventAsync("DEVICE_UNPLUG_GUEST_ERROR", e => e.GetString("device") == deviceId, wait.Token);
        var alreadyGone = false;
        try
        {
            await Qmp.ExecuteAsync("device_del", new JsonObject { ["id"] = deviceId }, cancellationToken);
        }
        catch (QmpErrorException ex) when (ex.ErrorClass == "DeviceNotFound")
        {
            alreadyGone = true;
        }
        catch (QmpErrorException ex) when (ex.Description.Contains("in the process of unplug", StringComparison.OrdinalIgnoreCase))
        {
            // An earlier detach timed out and the guest still has not acted; keep waiting for the same event.
        }

        if (!alreadyGone)
        {
            wait.CancelAfter(timeout);
            var first = await Task.WhenAny(deleted, refused);
            if (first == refused && refused.IsCompletedSuccessfully)
            {
                throw new QemuException($"the guest refused to release {deviceName}");
            }

            if (!deleted.IsCompletedSuccessfully)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await deleted.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                if (deleted.Exception?.InnerException is { } failure)
                {
                    throw failure; // QEMU went away
                }

                throw new QemuUnplugTimeoutException(
                    $"the guest did not release {deviceName} within {timeout.TotalSeconds:0.#} s (it needs an OS with ACPI PCI hot-plug); "
                    + "the unplug request stays pending");
            }
        }

        await wait.CancelAsync(); // drop the other waiter
        // A swapped disk's node has the other name (MirrorDiskAsync); the one that is not there is "not found".
        foreach (var node in new[] { nodeName, SwappedNodeName(deviceName) })
        {
            try
            {
                await Qmp.ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = node }, cancellationToken);
            }
            catch (QmpErrorException ex) when (ex.Description.Contains("Failed to find node", StringComparison.OrdinalIgnoreCase))
            {
                // Already removed by an earlier call, or never there.
            }
        }

        foreach (var credential in NetworkDisk.CredentialObjectIds(deviceName))
        {
            try
            {
                // The TLS credentials of an NBD disk over TCP or the key of an RBD disk; "not found" for the others.
                await Qmp.ExecuteAsync("object-del", new JsonObject { ["id"] = credential }, cancellationToken);
            }
            catch (QmpErrorException)
            {
            }
        }

        Log.DiskDetached(_logger, Id, deviceName);
    }
}
