using Ember.Compute.Qemu;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// rescue and unrescue on the host (Nova's rescue_instance and unrescue_instance with the libvirt driver's legacy rescue):
// a fresh overlay of the rescue image, disk.rescue, boots as vda with the server's own root disk as vdb; volumes and
// the config drive are left out, as in Nova's legacy rescue. Unrescue drops disk.rescue and boots the server as it was.
public sealed partial class ComputeHostManager
{
    private const string RescueDisk = "disk.rescue";

    public Task RescueAsync(RescueServer message, CancellationToken cancellationToken)
    {
        Cast(message.Unrescue ? "unrescue" : "rescue", message.RequestId, message.ServerId,
            token => message.Unrescue ? UnrescueNowAsync(message.ServerId, token) : RescueNowAsync(message, token));
        return Task.CompletedTask;
    }

    /// <summary>task_state rescuing: the guest shuts down and boots the rescue disk; RESCUED, running, with the new admin password set by the agent.</summary>
    private async Task RescueNowAsync(RescueServer message, CancellationToken cancellationToken)
    {
        var adminPass = message.AdminPass ?? bootPasswords.Take(message.ServerId);
        if (await OwnedAsync(message.ServerId) is not { TaskState: "rescuing" } server)
        {
            return;
        }

        try
        {
            await ShutDownAsync(server.Id, cancellationToken);
            var dir = InstanceDir(server.Id);
            var (flavor, image, _) = await BootSpecAsync(server);
            var own = await RootOverlayAsync(dir, flavor, image ?? throw new InvalidOperationException("A volume-backed server is not rescued here."),
                cancellationToken);
            var rescueBase = await images.FetchAsync(new ImageSpec(message.ImageId ?? image.Id), cancellationToken);
            var rescueDisk = Path.Combine(dir, RescueDisk);
            File.Delete(rescueDisk);
            await driver.CreateOverlayAsync(rescueBase.Path, rescueBase.Format, rescueDisk, null, cancellationToken);
            var nics = await networking.PlugAsync(server.Id, cancellationToken);
            var spec = new QemuMachineSpec(server.Id, dir, flavor.Ram, flavor.Vcpus, new FileDisk("vda", rescueDisk, "qcow2", Backing: rescueBase), [], nics,
                RescuedRoot: own with { DeviceName = "vdb" });
            var machine = await driver.StartAsync(spec, cancellationToken);
            machines.Add(machine);
            WatchExit(machine);
            await store.SetStateAsync(server.Id, VmStates.Rescued, null, PowerStates.Running);
            LogRescued(logger, server.Id, message.ImageId);
            if (adminPass is { } password)
            {
                work.Run("admin password", ("ServerId", server.Id), token => SetPasswordWhenAgentReadyAsync(machine, password, token));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRescueFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>task_state unrescuing: the rescue guest shuts down, its disk goes, and the server boots its own root disk: ACTIVE.</summary>
    private async Task UnrescueNowAsync(string serverId, CancellationToken cancellationToken)
    {
        if (await OwnedAsync(serverId) is not { TaskState: "unrescuing" } server)
        {
            return;
        }

        try
        {
            await ShutDownAsync(server.Id, cancellationToken);
            File.Delete(Path.Combine(InstanceDir(server.Id), RescueDisk));
            var (flavor, image, volumeDisks) = await BootSpecAsync(server);
            await BootAsync(server, flavor, image, volumeDisks, cancellationToken);
            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running);
            LogUnrescued(logger, server.Id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRescueFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} rescued from image {ImageId}")]
    private static partial void LogRescued(ILogger logger, string serverId, string? imageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} unrescued")]
    private static partial void LogUnrescued(ILogger logger, string serverId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Rescue or unrescue of server {ServerId} failed")]
    private static partial void LogRescueFailed(ILogger logger, string serverId, Exception exception);
}
