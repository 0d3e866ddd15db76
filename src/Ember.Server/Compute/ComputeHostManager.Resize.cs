using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// resize on the host, in place: the root overlay is kept as disk.resize-orig until the resize is confirmed (deleted)
// or reverted (put back), as Nova's libvirt driver keeps the instance directory as _resize.
public sealed partial class ComputeHostManager
{
    private const string KeptDisk = "disk.resize-orig";

    public Task ResizeAsync(ResizeServer message, CancellationToken cancellationToken)
    {
        Cast(message.Step switch
        {
            ResizeStep.Confirm => "confirm_resize",
            ResizeStep.Revert => "revert_resize",
            _ => "resize",
        }, message.RequestId, message.ServerId, token => message.Step switch
        {
            ResizeStep.Confirm => ConfirmResizeNowAsync(message.ServerId),
            ResizeStep.Revert => RevertResizeNowAsync(message.ServerId, token),
            _ => ResizeNowAsync(message.ServerId, token),
        });
        return Task.CompletedTask;
    }

    /// <summary>
    /// resize_migrating (the guest shut down, the overlay copied aside), resize_migrated (the overlay grown to the new
    /// flavor's disk), resize_finish (a guest that ran boots with the new vCPUs and RAM); then VERIFY_RESIZE.
    /// A failure leaves ERROR with the fault, the kept disk still there.
    /// </summary>
    private async Task ResizeNowAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { TaskState: "resize_prep" } server)
        {
            return;
        }

        try
        {
            var wasRunning = await ShutDownAsync(server.Id, cancellationToken);
            await store.MoveTaskAsync(server.Id, "resize_prep", "resize_migrating");
            var dir = InstanceDir(server.Id);
            var disk = Path.Combine(dir, "disk");
            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            if (File.Exists(disk))
            {
                File.Copy(disk, Path.Combine(dir, KeptDisk), overwrite: true);
                if (flavor.Disk > 0)
                {
                    await driver.GrowDiskAsync(disk, (long)flavor.Disk << 30, cancellationToken);
                }
            }

            await store.MoveTaskAsync(server.Id, "resize_migrating", "resize_migrated");
            await store.MoveTaskAsync(server.Id, "resize_migrated", "resize_finish");
            if (wasRunning)
            {
                await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            }

            // The migration's status first: the server's state lets the next request (confirm, revert) in.
            await store.SetMigrationStatusAsync(server.Id, "resize", "finished");
            await store.SetStateAsync(server.Id, VmStates.Resized, null, wasRunning ? PowerStates.Running : PowerStates.Shutdown);
            LogResized(logger, server.Id, server.FlavorId);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogResizeFailed(logger, server.Id, ex);
            await store.SetMigrationStatusAsync(server.Id, "resize", "error");
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>confirm: the kept disk goes; ACTIVE, or SHUTOFF for a server resized while stopped.</summary>
    private async Task ConfirmResizeNowAsync(string serverId)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        File.Delete(Path.Combine(InstanceDir(server.Id), KeptDisk));
        var running = server.PowerState == PowerStates.Running;
        await store.SetMigrationStatusAsync(server.Id, "resize", "confirmed");
        await store.EndResizeAsync(server.Id, revert: false, running ? VmStates.Active : VmStates.Stopped, server.PowerState);
    }

    /// <summary>revert: the guest stops, the kept disk comes back with the old flavor, and a guest that ran boots again.</summary>
    private async Task RevertResizeNowAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { } server)
        {
            return;
        }

        try
        {
            var wasRunning = await ShutDownAsync(server.Id, cancellationToken);
            var dir = InstanceDir(server.Id);
            var kept = Path.Combine(dir, KeptDisk);
            if (File.Exists(kept))
            {
                File.Move(kept, Path.Combine(dir, "disk"), overwrite: true);
            }

            await store.SetMigrationStatusAsync(server.Id, "resize", "reverted");
            await store.EndResizeAsync(server.Id, revert: true, wasRunning ? VmStates.Active : VmStates.Stopped,
                wasRunning ? PowerStates.Running : PowerStates.Shutdown);
            if (wasRunning && await store.FindServerAsync(server.Id) is { } reverted)
            {
                var (flavor, image, volumeDisks) = await BootSpecAsync(reverted);
                await BootAsync(reverted, flavor, image, volumeDisks, cancellationToken);
            }

            LogResizeReverted(logger, server.Id, JsonSerializer.Deserialize<FlavorRow>(server.OldFlavorJson ?? "{}")?.Id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogResizeFailed(logger, server.Id, ex);
            await store.SetMigrationStatusAsync(server.Id, "resize", "error");
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>Shuts the guest down (ACPI, hard after the grace period) if QEMU runs; true when it did.</summary>
    private async Task<bool> ShutDownAsync(string serverId, CancellationToken cancellationToken)
    {
        if (machines.Remove(serverId) is not { } machine)
        {
            return false;
        }

        await machine.ShutdownAsync(s_powerOffGrace, cancellationToken);
        await machine.DisposeAsync();
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} resized to flavor {FlavorId}, waiting for confirm or revert")]
    private static partial void LogResized(ILogger logger, string serverId, string flavorId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} reverted to flavor {FlavorId}")]
    private static partial void LogResizeReverted(ILogger logger, string serverId, string? flavorId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Resize of server {ServerId} failed")]
    private static partial void LogResizeFailed(ILogger logger, string serverId, Exception exception);
}
