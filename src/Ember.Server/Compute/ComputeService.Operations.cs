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
        if (server.VmState is not (VmStates.Active or VmStates.Stopped) || server.TaskState is not null)
        {
            throw ApiException.Conflict($"Cannot 'attach_volume' instance {server.Id} while it is in vm_state {server.VmState}");
        }

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

        if (server.TaskState is not null)
        {
            throw ApiException.Conflict($"Cannot 'detach_volume' instance {server.Id} while it is in task_state {server.TaskState}");
        }

        var host = await HostOfAsync(server);
        await volumes.BeginDetachingAsync(ctx, volumeId);
        await host.DetachVolumeAsync(new DetachVolume(requestId, server.Id, DiskOf(bdm)), CancellationToken.None);
    }

    private static VolumeDisk DiskOf(BdmRow bdm) => new(bdm.Id, bdm.VolumeId, bdm.AttachmentId!, bdm.DeviceName, bdm.BootIndex);

    /// <summary>
    /// DELETE /servers/{id}: 204 at once; the host stops QEMU, releases the volumes, removes the files and the row. A
    /// server without a host, or whose host is down or no longer registered, is deleted locally, as Nova's API does.
    /// </summary>
    public async Task DeleteAsync(RequestContext ctx, string requestId, ServerRow server)
    {
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

    /// <summary>os-stop: ACPI power-off (hard after a grace period), then SHUTOFF.</summary>
    public Task StopAsync(string requestId, ServerRow server) =>
        PowerAsync(requestId, server, [VmStates.Active], "powering-off", PowerActionKind.Stop,
            $"Cannot 'stop' instance {server.Id} while it is in vm_state {server.VmState}");

    /// <summary>os-start: boots QEMU again with the same root disk and attached volumes.</summary>
    public Task StartAsync(string requestId, ServerRow server) =>
        PowerAsync(requestId, server, [VmStates.Stopped], "powering-on", PowerActionKind.Start,
            $"Cannot 'start' instance {server.Id} while it is in vm_state {server.VmState}");

    /// <summary>reboot: HARD is a reset; SOFT is an ACPI shutdown followed by a reset (hard after a grace period).</summary>
    public Task RebootAsync(string requestId, ServerRow server, bool hard) =>
        PowerAsync(requestId, server, [VmStates.Active], hard ? "reboot_started_hard" : "reboot_started",
            hard ? PowerActionKind.HardReboot : PowerActionKind.SoftReboot,
            $"Cannot 'reboot' instance {server.Id} while it is in task_state {server.TaskState ?? "None"}");

    /// <summary>Claims the task_state (compare-and-swap, one operation at a time, as Nova does) and casts the action.</summary>
    private async Task PowerAsync(string requestId, ServerRow server, string[] allowed, string taskState, PowerActionKind action, string conflict)
    {
        var host = await HostOfAsync(server);
        if (!await store.ClaimTaskAsync(server.Id, allowed, taskState))
        {
            throw ApiException.Conflict(conflict);
        }

        await host.PowerAsync(new PowerAction(requestId, server.Id, action), CancellationToken.None);
    }

    /// <summary>Ember's ember-exec action: runs a command in the guest through qemu-guest-agent.</summary>
    public async Task<ExecReply> ExecAsync(string requestId, ServerRow server, IReadOnlyList<string> command, string? stdin, int timeoutSeconds,
        CancellationToken cancellationToken)
    {
        if (server.VmState != VmStates.Active || server.PowerState != PowerStates.Running)
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
