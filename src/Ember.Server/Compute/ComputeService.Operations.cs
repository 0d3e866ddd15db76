using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

public sealed partial class ComputeService
{
    /// <summary>
    /// POST os-volume_attachments: checks and reserves on the request thread, then the host connects and hot-plugs;
    /// the volume goes reserved -> attaching -> in-use as with Nova and Cinder.
    /// </summary>
    public async Task<BdmRow> AttachVolumeAsync(RequestContext ctx, string requestId, ServerRow server, string volumeId, string? device, string? tag,
        bool deleteOnTermination, Microversion version)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "attach_volume", [VmStates.Active, VmStates.Stopped, VmStates.Paused]);

        var host = await HostOfAsync(server);
        var existing = await store.ListBdmsAsync(server.Id);
        if (existing.Any(b => b.VolumeId == volumeId))
        {
            throw ApiException.BadRequest($"Invalid volume: volume {volumeId} already attached");
        }

        var volume = await GetVolumeForAttachAsync(ctx, volumeId, version);
        var name = AssignDevice(device, existing.Select(b => b.DeviceName).Append("vda").ToHashSet());
        var attachment = await volumes.ReserveAsync(ctx, volume.Id, server.Id);
        var bdm = new BdmRow
        {
            Id = Ids.NewUuid(),
            ServerId = server.Id,
            VolumeId = volume.Id,
            AttachmentId = attachment.Id,
            DeviceName = name,
            DeleteOnTermination = deleteOnTermination,
            Tag = tag,
            CreatedAt = Ids.Now(),
        };
        try
        {
            await store.AddBdmAsync(bdm);
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, [bdm]);
            throw;
        }

        await store.StartActionAsync(server.Id, requestId, "attach_volume", ctx);
        await host.AttachVolumeAsync(new AttachVolume(requestId, server.Id, DiskOf(bdm)), CancellationToken.None);
        return bdm;
    }

    /// <summary>DELETE os-volume_attachments/{volume}: begin_detaching now; the host unplugs and deletes the attachment.</summary>
    public async Task DetachVolumeAsync(RequestContext ctx, string requestId, ServerRow server, string volumeId)
    {
        var bdm = (await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.VolumeId == volumeId)
            ?? throw ApiException.NotFound($"Volume {volumeId} is not attached to server {server.Id}.");
        if (bdm.BootIndex == 0)
        {
            throw ApiException.BadRequest("Can't detach root device volume");
        }

        RequireUnlocked(ctx, server);
        RequireState(server, "detach_volume", [VmStates.Active, VmStates.Stopped, VmStates.Paused, VmStates.Error]);

        var host = await HostOfAsync(server);
        await volumes.BeginDetachingAsync(ctx, volumeId);
        await store.StartActionAsync(server.Id, requestId, "detach_volume", ctx);
        await host.DetachVolumeAsync(new DetachVolume(requestId, server.Id, DiskOf(bdm)), CancellationToken.None);
    }

    private static VolumeDisk DiskOf(BdmRow bdm) => new(bdm.Id, bdm.VolumeId, bdm.AttachmentId!, bdm.DeviceName, bdm.BootIndex);

    /// <summary>
    /// DELETE /servers/{id}: 204 at once; the host stops QEMU, releases the volumes, removes the files and the row. A
    /// server without a host, or whose host is down or no longer registered, is deleted locally, as Nova's API does.
    /// </summary>
    public async Task DeleteAsync(RequestContext ctx, string requestId, ServerRow server)
    {
        RequireUnlocked(ctx, server);
        await store.StartActionAsync(server.Id, requestId, "delete", ctx);
        if (server.Host.Length == 0 || !await hostStatus.IsUpAsync(server.Host))
        {
            LogLocalDelete(logger, server.Id, server.Host);
            await DeleteLocallyAsync(ctx, server);
            return;
        }

        var host = await HostOfAsync(server);
        await store.SetTaskStateAsync(server.Id, "deleting");
        await host.DeleteAsync(new DeleteServer(requestId, server.Id), CancellationToken.None);
    }

    /// <summary>os-stop: ACPI power-off (hard after a grace period), then SHUTOFF; Nova allows it from ERROR too.</summary>
    public Task StopAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "stop", [VmStates.Active, VmStates.Error], "powering-off", PowerActionKind.Stop);

    /// <summary>os-start: boots QEMU again with the same root disk and attached volumes.</summary>
    public Task StartAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "start", [VmStates.Stopped], "powering-on", PowerActionKind.Start);

    /// <summary>reboot: HARD is a reset; SOFT is an ACPI shutdown followed by a reset (hard after a grace period).</summary>
    public Task RebootAsync(RequestContext ctx, string requestId, ServerRow server, bool hard) =>
        PowerAsync(ctx, requestId, server, "reboot", [VmStates.Active], hard ? "reboot_started_hard" : "reboot_started",
            hard ? PowerActionKind.HardReboot : PowerActionKind.SoftReboot);

    /// <summary>pause: QMP stop, PAUSED (Nova allows it from ACTIVE only).</summary>
    public Task PauseAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "pause", [VmStates.Active], "pausing", PowerActionKind.Pause);

    /// <summary>unpause: QMP cont, from PAUSED.</summary>
    public Task UnpauseAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "unpause", [VmStates.Paused], "unpausing", PowerActionKind.Unpause);

    /// <summary>suspend: QMP stop as well (the memory is not saved to disk), SUSPENDED, from ACTIVE.</summary>
    public Task SuspendAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "suspend", [VmStates.Active], "suspending", PowerActionKind.Suspend);

    /// <summary>resume: QMP cont, from SUSPENDED.</summary>
    public Task ResumeAsync(RequestContext ctx, string requestId, ServerRow server) =>
        PowerAsync(ctx, requestId, server, "resume", [VmStates.Suspended], "resuming", PowerActionKind.Resume);

    /// <summary>
    /// Nova's checks in its decorators' order (the lock, the host, then vm_state and task_state), claims the
    /// task_state (compare-and-swap, one operation at a time), records the action and casts it to the host.
    /// </summary>
    private async Task PowerAsync(RequestContext ctx, string requestId, ServerRow server, string action, string[] allowed, string taskState,
        PowerActionKind kind)
    {
        RequireUnlocked(ctx, server);
        var host = await HostOfAsync(server);
        RequireState(server, action, allowed);
        if (!await store.ClaimTaskAsync(server.Id, allowed, taskState))
        {
            // Someone else's operation got there first: answer with the state it left.
            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = taskState }, action, allowed);
            throw InvalidState(server with { TaskState = taskState }, action);
        }

        await store.StartActionAsync(server.Id, requestId, action, ctx);
        await host.PowerAsync(new PowerAction(requestId, server.Id, kind), CancellationToken.None);
    }

    /// <summary>Nova's check_instance_lock: a locked server takes no action from anyone but an admin (409).</summary>
    public static void RequireUnlocked(RequestContext ctx, ServerRow server)
    {
        if (server.Locked && !ctx.IsCloudAdmin)
        {
            throw ApiException.Conflict($"Instance {server.Id} is locked");
        }
    }

    /// <summary>
    /// Nova's check_instance_state: the action is allowed from these vm_states with no task running. Nova checks the
    /// vm_state first, so a server still building is refused for its vm_state, not for its scheduling task.
    /// </summary>
    public static void RequireState(ServerRow server, string action, IReadOnlyCollection<string> allowedVmStates)
    {
        if (!allowedVmStates.Contains(server.VmState))
        {
            throw InvalidState(server with { TaskState = null }, action);
        }

        if (server.TaskState is not null)
        {
            throw InvalidState(server, action);
        }
    }

    /// <summary>Nova's message for InstanceInvalidState: the task_state when one is running, else the vm_state.</summary>
    public static ApiException InvalidState(ServerRow server, string action) => ApiException.Conflict(server.TaskState is { } task
        ? $"Cannot '{action}' instance {server.Id} while it is in task_state {task}"
        : $"Cannot '{action}' instance {server.Id} while it is in vm_state {server.VmState}");

    /// <summary>Ember's ember-exec action: runs a command in the guest through qemu-guest-agent.</summary>
    public async Task<ExecReply> ExecAsync(string requestId, ServerRow server, IReadOnlyList<string> command, string? stdin, int timeoutSeconds,
        CancellationToken cancellationToken)
    {
        // A resize waiting for its confirm (VERIFY_RESIZE) and a rescue run their guest, as in Nova.
        if (server.VmState is not (VmStates.Active or VmStates.Resized or VmStates.Rescued) || server.PowerState != PowerStates.Running)
        {
            throw ApiException.Conflict($"Cannot 'exec' in instance {server.Id} while it is in vm_state {server.VmState}");
        }

        return await (await HostOfAsync(server)).ExecAsync(new ExecRequest(requestId, server.Id, command, stdin, timeoutSeconds), cancellationToken);
    }

    /// <summary>changePassword through the guest agent.</summary>
    public async Task ChangePasswordAsync(string requestId, ServerRow server, string password, CancellationToken cancellationToken)
    {
        if (server.VmState != VmStates.Active || server.PowerState != PowerStates.Running)
        {
            throw ApiException.Conflict($"Cannot 'changePassword' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        await (await HostOfAsync(server)).SetPasswordAsync(new SetPasswordRequest(requestId, server.Id, password), cancellationToken);
    }

    /// <summary>The serial console log, the last <paramref name="lines"/> lines when given.</summary>
    public async Task<string> ConsoleOutputAsync(string requestId, ServerRow server, int? lines, CancellationToken cancellationToken) =>
        (await (await HostOfAsync(server)).GetConsoleOutputAsync(new ConsoleOutputRequest(requestId, server.Id, lines), cancellationToken)).Output;

    /// <summary>Running according to the row (which the host writes): the serial console and exec need a running guest.</summary>
    public static void RequireRunning(ServerRow server)
    {
        if (server.VmState != VmStates.Active || server.PowerState != PowerStates.Running)
        {
            throw ApiException.Conflict($"Instance {server.Id} is not running.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleting server {ServerId} locally: its host '{Host}' is none, down or not registered")]
    private static partial void LogLocalDelete(ILogger logger, string serverId, string host);
}
