using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// rebuild on the host (Nova's rebuild_instance with the libvirt driver): the same server, its root disk made afresh
// from the image its row now names; the attached volumes, ports and files other than the root disk stay.
public sealed partial class ComputeHostManager
{
    public Task RebuildAsync(RebuildServer message, CancellationToken cancellationToken)
    {
        Cast("rebuild", message.RequestId, message.ServerId, token => RebuildNowAsync(message, token));
        return Task.CompletedTask;
    }

    /// <summary>
    /// task_state rebuilding → rebuild_block_device_mapping → rebuild_spawning, as Nova's steps. The guest is shut down
    /// (ACPI, hard after a grace period), the root overlay and the config drive go (both are made again from the row),
    /// and the server boots ACTIVE; a stopped one gets its new overlay and stays SHUTOFF, as Nova powers it off again.
    /// A failure leaves it in ERROR with the fault.
    /// </summary>
    private async Task RebuildNowAsync(RebuildServer message, CancellationToken cancellationToken)
    {
        var adminPass = message.AdminPass ?? bootPasswords.Take(message.ServerId);
        // A delete that came meanwhile took the task_state: it wins.
        if (await OwnedAsync(message.ServerId) is not { TaskState: "rebuilding" } server)
        {
            return;
        }

        try
        {
            if (machines.Remove(server.Id) is { } machine)
            {
                await machine.ShutdownAsync(s_powerOffGrace, cancellationToken);
                await machine.DisposeAsync();
            }

            if (!await store.MoveTaskAsync(server.Id, "rebuilding", "rebuild_block_device_mapping"))
            {
                return;
            }

            var dir = InstanceDir(server.Id);
            File.Delete(Path.Combine(dir, "disk"));
            File.Delete(Path.Combine(dir, Metadata.ConfigDrive.FileName));
            if (!await store.MoveTaskAsync(server.Id, "rebuild_block_device_mapping", "rebuild_spawning"))
            {
                return;
            }

            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            if (server.VmState == VmStates.Stopped)
            {
                Directory.CreateDirectory(dir);
                await RootOverlayAsync(dir, flavor, image ?? throw new InvalidOperationException("The server has no image to rebuild from."),
                    cancellationToken);
                await store.SetStateAsync(server.Id, VmStates.Stopped, null, PowerStates.Shutdown);
                LogRebuilt(logger, server.Id, server.ImageId);
                return;
            }

            var booted = await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running, launched: true);
            LogRebuilt(logger, server.Id, server.ImageId);
            if (adminPass is { } password)
            {
                work.Run("admin password", ("ServerId", server.Id), token => SetPasswordWhenAgentReadyAsync(booted, password, token));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRebuildFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} rebuilt on image {ImageId}")]
    private static partial void LogRebuilt(ILogger logger, string serverId, string? imageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Server {ServerId} failed to rebuild")]
    private static partial void LogRebuildFailed(ILogger logger, string serverId, Exception exception);
}
