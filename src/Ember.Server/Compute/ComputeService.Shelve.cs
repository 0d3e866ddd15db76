using System.Text.Json;
using Ember.Server.Common;

namespace Ember.Server.Compute;

// shelve, shelveOffload and unshelve (nova/compute/api.py). Ember offloads at once, as Nova with shelved_offload_time=0:
// a shelved server keeps its row, ports, volumes and quota usage (Nova counts its cores and ram as long as it exists),
// but no host, no QEMU and no disk on any host; its root disk waits in the image "<name>-shelved".
public sealed partial class ComputeService
{
    private static readonly string[] s_shelveStates = [VmStates.Active, VmStates.Stopped, VmStates.Paused, VmStates.Suspended];
    private static readonly string[] s_shelvedStates = [VmStates.Shelved];
    private static readonly string[] s_unshelveStates = [VmStates.Shelved, VmStates.ShelvedOffloaded];

    /// <summary>
    /// shelve: the lock and the states as Nova checks them; an image-backed server gets a queued snapshot image named
    /// "&lt;server&gt;-shelved" (as createImage makes it), a volume-backed one none (its volumes stay attached), and the
    /// host does the rest under task_state shelving.
    /// </summary>
    public async Task ShelveAsync(RequestContext ctx, string requestId, ServerRow server)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "shelve", s_shelveStates);
        var host = await HostOfAsync(server);
        var volumeBacked = server.ImageId is null || (await store.ListBdmsAsync(server.Id)).Any(b => b.BootIndex == 0);
        var image = volumeBacked ? null
            : await images.CreateAsync(ctx, await SnapshotImageAsync(ctx, server, $"{server.Name}-shelved", new Dictionary<string, string>(), volumeBacked: false));
        if (!await store.ClaimTaskAsync(server.Id, s_shelveStates, "shelving"))
        {
            if (image is not null)
            {
                await images.DiscardAsync(image.Id);
            }

            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = "deleting" }, "shelve", s_shelveStates);
            throw InvalidState(server with { TaskState = "shelving" }, "shelve");
        }

        await store.SetShelvedImageAsync(server.Id, image?.Id);
        await store.StartActionAsync(server.Id, requestId, "shelve", ctx);
        await host.ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Shelve, image?.Id), CancellationToken.None);
    }

    /// <summary>shelveOffload: from SHELVED only (a server whose offload did not happen yet or failed).</summary>
    public async Task ShelveOffloadAsync(RequestContext ctx, string requestId, ServerRow server)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "shelveOffload", s_shelvedStates);
        var host = await HostOfAsync(server);
        if (!await store.ClaimTaskAsync(server.Id, s_shelvedStates, "shelving_offloading"))
        {
            throw InvalidState(await store.FindServerAsync(server.Id) ?? server, "shelveOffload");
        }

        await store.StartActionAsync(server.Id, requestId, "shelveOffload", ctx);
        await host.ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Offload), CancellationToken.None);
    }

    /// <summary>
    /// unshelve: from SHELVED or SHELVED_OFFLOADED. An offloaded server is scheduled again, in its availability zone
    /// unless <paramref name="zone"/> names another (2.77), on <paramref name="targetHost"/> when an admin names one
    /// (2.91; the scheduler's filters still run there), anywhere when <paramref name="unpinZone"/> (2.91's null zone),
    /// claims room there and is moved onto it with its ports; the host boots it. With no host to take it the
    /// server stays SHELVED_OFFLOADED with Nova's NoValidHost fault (the API has answered 202 already, as Nova's has).
    /// </summary>
    public async Task UnshelveAsync(RequestContext ctx, string requestId, ServerRow server, string? zone, string? targetHost, bool unpinZone = false)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "unshelve", s_unshelveStates);
        if ((zone is not null || targetHost is not null || unpinZone) && server.VmState != VmStates.ShelvedOffloaded)
        {
            // Nova's UnshelveInstanceInvalidState: a server still on its host is not scheduled again.
            throw ApiException.Conflict(
                $"The unshelve server operation on {server.Id} with a host or an availability zone is not supported when the server status is {ComputeJson.Status(server)}. The server status must be SHELVED_OFFLOADED.");
        }

        if (zone is not null && !await scheduler.IsAvailableZoneAsync(zone))
        {
            throw ApiException.BadRequest("The requested availability zone is not available");
        }

        var expectedZone = unpinZone ? null : zone ?? server.AvailabilityZone;
        if (targetHost is not null)
        {
            var hostZone = await scheduler.ZoneOfHostAsync(targetHost) ?? throw ApiException.BadRequest($"Compute host {targetHost} could not be found.");
            if (expectedZone is not null && hostZone != expectedZone)
            {
                throw ApiException.Conflict($"Host {targetHost} is not in availability zone {expectedZone}.");
            }
        }

        if (!await store.ClaimTaskAsync(server.Id, s_unshelveStates, "unshelving"))
        {
            throw InvalidState(await store.FindServerAsync(server.Id) ?? server, "unshelve");
        }

        if (zone is not null || unpinZone)
        {
            // Nova re-pins the request spec to the zone asked for, or unpins it (2.91's null zone): 2.96 shows it.
            await store.SetPinnedZoneAsync(server.Id, zone);
        }

        await store.StartActionAsync(server.Id, requestId, "unshelve", ctx);
        if (server.VmState == VmStates.Shelved)
        {
            await (await HostOfAsync(server)).ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Unshelve), CancellationToken.None);
            return;
        }

        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var volumeBacked = server.ImageId is null || (await store.ListBdmsAsync(server.Id)).Any(b => b.BootIndex == 0);
        var resources = ResourceRequest.Of(flavor, volumeBacked);
        var request = new SchedulingRequest(server.Id, server.ProjectId, new FlavorSpec(flavor.Ram, flavor.Vcpus, flavor.Disk),
            server.ShelvedImageId is { } image ? new ImageSpec(image) : null, resources,
            new ZoneRequest(expectedZone) { RequestedHost = targetHost },
            await serverGroups.GroupOfAsync(server.Id));
        var candidates = await scheduler.SelectHostsAsync(request, CancellationToken.None);
        var newHost = await MoveToFirstFittingHostAsync(server, candidates, resources, []);
        if (newHost is null)
        {
            LogNoValidHost(logger, server.Id, "no host to unshelve on");
            await store.SetStateAsync(server.Id, VmStates.ShelvedOffloaded, null, server.PowerState, NoValidHostFault());
            await store.RecordActionEventAsync(server.Id, requestId, "conductor_unshelve_instance", null, success: false, ComputeScheduler.NoValidHost);
            return;
        }

        await networks.BindServerPortsAsync(server.Id, newHost, CancellationToken.None);
        await (await hosts.GetAsync(newHost, CancellationToken.None)).ShelveAsync(new ShelveServer(requestId, server.Id, ShelveStep.Unshelve),
            CancellationToken.None);
    }
}
