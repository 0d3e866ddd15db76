using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// Evacuate (Nova's os-evacuate): a server whose compute host is down is rebuilt on another host. Its volumes move
/// with it: each gets a new attachment for the new host and the old one is deleted, which revokes the dead host's
/// NBD export at once (its QEMU, if it still runs, loses the disk). An image-backed root disk starts again from the
/// image, as Nova's evacuate without shared storage does. When the old host comes back it removes its copy
/// (ComputeHostManager.Recovery).
/// </summary>
public sealed partial class ComputeService
{
    private static readonly string[] s_evacuable = [VmStates.Active, VmStates.Stopped, VmStates.Error];

    /// <summary>Checks as Nova's API does, claims the task, picks and claims a host, moves the volumes, casts the spawn.</summary>
    /// <param name="targetHost">The admin's choice (validated by the scheduler, as from 2.29); null lets the scheduler pick.</param>
    /// <param name="force">2.29-2.67's force: the target host skips the scheduler's filters (it must still be up and have room).</param>
    /// <param name="stopAtDestination">2.95: the server ends SHUTOFF on its new host whatever its state was.</param>
    public async Task EvacuateAsync(RequestContext ctx, string requestId, ServerRow server, string? targetHost, bool force, string? adminPass,
        bool stopAtDestination = false)
    {
        // Nova's order: the instance's state (409) before its host (400).
        if (server.Host.Length == 0 || !s_evacuable.Contains(server.VmState) || server.TaskState is not null)
        {
            throw EvacuateConflict(server);
        }

        if (await hostStatus.IsUpAsync(server.Host))
        {
            throw ApiException.BadRequest($"Compute service of {server.Host} is still in use.");
        }

        if (targetHost == server.Host)
        {
            throw ApiException.BadRequest("The target host can't be the same one.");
        }

        if (!await store.ClaimTaskAsync(server.Id, s_evacuable, "rebuilding"))
        {
            throw EvacuateConflict(server);
        }

        await store.StartActionAsync(server.Id, requestId, "evacuate", ctx);
        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        await store.StartMigrationAsync(new MigrationRow
        {
            ServerId = server.Id,
            ProjectId = server.ProjectId,
            UserId = ctx.UserId,
            SourceCompute = server.Host,
            OldFlavorId = flavor.Id,
            NewFlavorId = flavor.Id,
            MigrationType = "evacuation",
            Status = "accepted",
        });
        var bdms = (await store.ListBdmsAsync(server.Id)).Where(b => b.AttachmentId is not null).ToList();
        var resources = ResourceRequest.Of(flavor, bootFromVolume: server.ImageId is null || bdms.Any(b => b.BootIndex == 0));
        var request = new SchedulingRequest(server.Id, server.ProjectId, new FlavorSpec(flavor.Ram, flavor.Vcpus, flavor.Disk),
            server.ImageId is { } image ? new ImageSpec(image) : null, resources, force ? new ZoneRequest(null, targetHost) : ZoneRequest.None,
            await serverGroups.GroupOfAsync(server.Id));
        var candidates = (await scheduler.SelectHostsAsync(request, CancellationToken.None))
            .Where(c => c.Host != server.Host && (targetHost is null || c.Host == targetHost))
            .ToList();

        // The new attachments first: if one cannot be made, nothing has moved and the old ones still stand.
        var moved = new List<(BdmRow Bdm, string NewAttachment)>();
        try
        {
            foreach (var bdm in bdms)
            {
                moved.Add((bdm, (await volumes.ReserveAsync(ctx, bdm.VolumeId, server.Id)).Id));
            }
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, moved.Select(m => m.Bdm with { AttachmentId = m.NewAttachment }));
            await store.SetTaskStateAsync(server.Id, null);
            await store.SetMigrationStatusAsync(server.Id, "evacuation", "error");
            throw;
        }

        var newHost = await MoveToFirstFittingHostAsync(server, candidates, resources, [.. moved.Select(m => (m.Bdm.Id, m.NewAttachment))]);
        if (newHost is null)
        {
            // Nova answers 200 and leaves the server where it was, with the scheduler's fault; the old attachments stand.
            LogNoValidHost(logger, server.Id, "no host to evacuate to");
            await ReleaseAttachmentsAsync(ctx, moved.Select(m => m.Bdm with { AttachmentId = m.NewAttachment }));
            await store.SetStateAsync(server.Id, server.VmState, null, server.PowerState, NoValidHostFault());
            await store.SetMigrationStatusAsync(server.Id, "evacuation", "error");
            return;
        }

        LogEvacuated(logger, server.Id, server.Host, newHost);
        await ReleaseAttachmentsAsync(ctx, moved.Select(m => m.Bdm));
        var disks = moved.Select(m => DiskOf(m.Bdm with { AttachmentId = m.NewAttachment })).ToList();
        // Its ports follow it (Nova's setup_networks_on_host for the destination): the new host plugs and filters them.
        await networks.BindServerPortsAsync(server.Id, newHost, CancellationToken.None);
        // Nova's rebuild on the destination brings a stopped server back stopped, and from 2.95 every server.
        var spawn = new SpawnServer(requestId, server.Id, request.Flavor, request.Image, disks, adminPass)
        {
            StopWhenBuilt = stopAtDestination || server.VmState == VmStates.Stopped,
        };
        await (await hosts.GetAsync(newHost, CancellationToken.None)).SpawnAsync(spawn, CancellationToken.None);
        // Nova's compute marks it done once the rebuild on the destination ends; Ember once the destination took the spawn.
        await store.SetMigrationStatusAsync(server.Id, "evacuation", "done", newHost);
    }

    private static ApiException EvacuateConflict(ServerRow server) => ApiException.Conflict(server.Host.Length == 0
        ? $"Cannot 'evacuate' instance {server.Id}: it has no host."
        : $"Cannot 'evacuate' instance {server.Id} while it is in vm_state {server.VmState}, task_state {server.TaskState ?? "None"}");

    /// <summary>Claims the first candidate the server still fits on and moves it there; the new host's name, or null.</summary>
    private async Task<string?> MoveToFirstFittingHostAsync(ServerRow server, IReadOnlyList<HostState> candidates, ResourceRequest resources,
        IReadOnlyList<(string BdmId, string AttachmentId)> attachments)
    {
        foreach (var candidate in candidates)
        {
            if (await store.MoveServerAsync(server.Id, server.Host, candidate.Host, candidate.Node.Zone, attachments,
                    used => inventory.Fits(candidate.Node, used, resources)))
            {
                return candidate.Host;
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} evacuated from {From} to {To}")]
    private static partial void LogEvacuated(ILogger logger, string serverId, string from, string to);
}
