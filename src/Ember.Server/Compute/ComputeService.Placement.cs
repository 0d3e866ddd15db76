using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// How a new server claims its host, what happens when no host takes it (Nova: 202, then ERROR with the scheduler's
/// fault and no host), how a server booted with a group hint joins its group, and the API's local delete.
/// </summary>
public sealed partial class ComputeService
{
    /// <summary>
    /// Stores the server on the first candidate it still fits on: the claim, made under the host's lock so concurrent
    /// boots never overcommit it (Nova's scheduler claims in placement and falls back to the alternates it picked).
    /// When none has room the server is stored unplaced, without its volume mappings (the caller releases them).
    /// </summary>
    private async Task<ServerRow> InsertOnFirstFittingHostAsync(ServerRow server, IReadOnlyList<BdmRow> bdms, IReadOnlyList<HostState> candidates,
        ResourceRequest resources)
    {
        foreach (var candidate in candidates)
        {
            var placed = server with { Host = candidate.Host, AvailabilityZone = candidate.Node.Zone };
            if (await store.InsertClaimedServerAsync(placed, bdms, used => inventory.Fits(candidate.Node, used, resources)) is { } claimed)
            {
                return claimed;
            }
        }

        LogNoValidHost(logger, server.Id, candidates.Count == 0 ? "no host passed the scheduler's filters" : "the candidate hosts filled up meanwhile");
        return await store.InsertServerAsync(Unplaced(server), []);
    }

    /// <summary>The server failed before it reached a host: ERROR, no host, Nova's NoValidHost fault.</summary>
    private static ServerRow Unplaced(ServerRow server) =>
        server with { Host = "", VmState = VmStates.Error, TaskState = null, FaultJson = NoValidHostFault() };

    /// <summary>Nova's fault of a server the scheduler found no host for (code 500, as NoValidHost carries).</summary>
    private static string NoValidHostFault() =>
        new JsonObject { ["code"] = 500, ["created"] = Ids.ZuluSeconds(Ids.Now()), ["message"] = ComputeScheduler.NoValidHost }.ToJsonString();

    /// <summary>
    /// Makes the stored server a member of its group. A group that filled up since the check before scheduling takes the
    /// server back out of existence (403, volumes released); a host a concurrent boot of the group made wrong leaves
    /// the server unplaced (ERROR, NoValidHost), as Nova's late check on the compute host would after its retries.
    /// </summary>
    private async Task<ServerRow> JoinGroupAsync(RequestContext ctx, ServerGroupHint group, ServerRow server, IReadOnlyList<BdmRow> bdms)
    {
        switch (await serverGroups.AddMemberAsync(group, server, NoValidHostFault()))
        {
            case MemberAdded.GroupFull:
                await store.DeleteServerAsync(server.Id);
                await ReleaseAttachmentsAsync(ctx, bdms);
                throw ServerGroupService.GroupFull();
            case MemberAdded.Unplaced:
                LogGroupPolicyLost(logger, server.Id, group.Id, server.Host);
                return Unplaced(server);
            default:
                return server;
        }
    }

    /// <summary>
    /// Nova's local delete, for a server that never reached a host, is shelved off any host, or whose host is down or
    /// gone: no host to ask, so the API side releases its attachments (deleting the volumes marked
    /// delete_on_termination), deletes a shelved server's image and removes the row; group membership goes with it.
    /// Whatever a dead host left behind (QEMU, files) is its own to clean up.
    /// </summary>
    private async Task DeleteLocallyAsync(RequestContext ctx, ServerRow server)
    {
        var bdms = await store.ListBdmsAsync(server.Id);
        await ReleaseAttachmentsAsync(ctx, bdms);
        foreach (var bdm in bdms.Where(b => b.DeleteOnTermination))
        {
            try
            {
                await volumes.DeleteVolumeAsync(ctx, bdm.VolumeId);
            }
            catch (ApiException ex)
            {
                LogReleaseFailed(logger, bdm.VolumeId, ex.Message);
            }
        }

        if (server.ShelvedImageId is { } shelved)
        {
            // A shelved server's root disk goes with it, as Nova deletes the shelved image.
            await images.DiscardAsync(shelved);
        }

        await networks.DeleteServerPortsAsync(server.Id, CancellationToken.None);
        await store.DeleteServerAsync(server.Id);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} lost its host {Host}: a concurrent boot into group {GroupId} was placed first")]
    private static partial void LogGroupPolicyLost(ILogger logger, string serverId, string groupId, string host);
}
