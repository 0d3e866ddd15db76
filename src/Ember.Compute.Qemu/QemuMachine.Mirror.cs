using System.Text.Json.Nodes;
using Ember.Compute.Qemu.Qmp;

namespace Ember.Compute.Qemu;

// Swap volume's data move, as Nova's libvirt driver does it with a block copy: the new volume is opened beside the
// guest's disk, QEMU mirrors the disk onto it (sync=full) while the guest keeps running, and job-complete switches
// the guest's device to the new node; the old node is then closed. A disk's node is node-vdX or node-vdX-swap (the name
// the other one is free), so a device swapped any number of times has one of two names (DetachDiskAsync tries both).
// QEMU's node names allow letters, digits, '-', '.' and '_' only.
public sealed partial class QemuMachine
{
    /// <summary>The node name a disk takes after a swap when its current node has the plain name.</summary>
    internal static string SwappedNodeName(string deviceName) => "node-" + deviceName + "-swap";

    /// <summary>
    /// Moves the data of the guest's disk <paramref name="deviceName"/> onto <paramref name="target"/> (a network disk
    /// of the same device name, at least as large) and switches the device to it without the guest seeing a change.
    /// On failure or timeout the job is cancelled, the target closed, and the guest still uses its old disk.
    /// </summary>
    public async Task MirrorDiskAsync(string deviceName, NetworkDisk target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        QemuDriver.ValidateDeviceName(deviceName);
        if (target.DeviceName != deviceName || target is RbdDisk)
        {
            throw new QemuException($"disk {deviceName}: a swap target must be an NBD disk for the same device");
        }

        var source = await CurrentNodeAsync(deviceName, cancellationToken);
        var targetNode = source == "node-" + deviceName ? SwappedNodeName(deviceName) : "node-" + deviceName;
        var blockdev = QemuCommandLine.Blockdev(target);
        blockdev["node-name"] = targetNode;
        // A TCP target's TLS credentials are the host's client certificate, the object the source opened with.
        await Qmp.ExecuteAsync("blockdev-add", blockdev, cancellationToken);

        var jobId = "swap-" + deviceName;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(timeout);
        var ready = Qmp.WaitForEventAsync("BLOCK_JOB_READY", e => e.GetString("device") == jobId, wait.Token);
        var ended = Qmp.WaitForEventAsync("BLOCK_JOB_COMPLETED", e => e.GetString("device") == jobId, wait.Token);
        var cancelled = Qmp.WaitForEventAsync("BLOCK_JOB_CANCELLED", e => e.GetString("device") == jobId, wait.Token);
        var started = false;
        try
        {
            await Qmp.ExecuteAsync("blockdev-mirror", new JsonObject
            {
                ["job-id"] = jobId,
                ["device"] = source,
                ["target"] = targetNode,
                ["sync"] = "full",
            }, cancellationToken);
            started = true;

            // Ready: every block copied and new writes go to both; an error before that ends the job instead.
            if (await Task.WhenAny(ready, ended, cancelled) != ready)
            {
                throw new QemuException($"disk {deviceName}: the copy ended before it was ready: {JobError(ended)}");
            }

            await ready;
            await Qmp.ExecuteAsync("job-complete", new JsonObject { ["id"] = jobId }, cancellationToken);
            var completed = await ended;
            if (completed.GetString("error") is { } error)
            {
                throw new QemuException($"disk {deviceName}: the copy failed: {error}");
            }
        }
        catch (Exception ex) when (ex is QemuException or QmpErrorException or OperationCanceledException)
        {
            if (started && !ended.IsCompleted)
            {
                await RollbackAsync("job-cancel", new JsonObject { ["id"] = jobId }, jobId);
                await Task.WhenAny(ended, cancelled, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));
            }

            await RollbackAsync("blockdev-del", new JsonObject { ["node-name"] = targetNode }, targetNode);
            throw;
        }
        finally
        {
            await wait.CancelAsync(); // drop the waiters left
        }

        // The device reads and writes the target now; the old volume's connection is closed.
        await Qmp.ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = source }, cancellationToken);
        Log.DiskSwapped(_logger, Id, deviceName, targetNode);
    }

    /// <summary>The node the guest's device <paramref name="deviceName"/> reads (query-block's inserted node).</summary>
    private async Task<string> CurrentNodeAsync(string deviceName, CancellationToken cancellationToken)
    {
        // query-block names a device by its id, or by its QOM path when it has none.
        var id = "disk-" + deviceName;
        var qomPath = "/machine/peripheral/" + id + "/";
        foreach (var block in (await Qmp.ExecuteAsync("query-block", null, cancellationToken)).EnumerateArray())
        {
            if (block.TryGetProperty("qdev", out var q) && q.GetString() is { } qdev
                && (qdev == id || (qdev + "/").StartsWith(qomPath, StringComparison.Ordinal))
                && block.TryGetProperty("inserted", out var inserted))
            {
                return inserted.GetProperty("node-name").GetString()!;
            }
        }

        throw new QemuException($"disk {deviceName} is not attached");
    }

    private static string JobError(Task<QmpEvent> ended) =>
        ended.IsCompletedSuccessfully ? ended.Result.GetString("error") ?? "no error given" : "cancelled";
}
