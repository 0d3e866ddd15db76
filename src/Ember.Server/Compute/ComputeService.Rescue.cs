using Ember.Server.Common;

namespace Ember.Server.Compute;

// rescue and unrescue (nova/compute/api.py): the guest boots a fresh disk of a rescue image with its own root disk
// attached second, so a broken root file system can be mended from outside it.
public sealed partial class ComputeService
{
    private static readonly string[] s_rescueStates = [VmStates.Active, VmStates.Stopped, VmStates.Error];
    private static readonly string[] s_rescuedStates = [VmStates.Rescued];

    /// <summary>
    /// rescue: the lock, the states (so a shelved server hears about its state), the host. A volume-backed server is
    /// refused: below 2.87 as Nova refuses it, from 2.87 (<paramref name="volumeBackedAllowed"/>) as Nova refuses it on a
    /// host without the COMPUTE_RESCUE_BFV trait, which no Ember host has (stable device rescue is not done). The rescue
    /// image is <paramref name="rescueImageId"/> or the server's own, and must be active.
    /// </summary>
    public async Task RescueAsync(RequestContext ctx, string requestId, ServerRow server, string? rescueImageId, string? adminPass,
        bool volumeBackedAllowed = false)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "rescue", s_rescueStates);
        var host = await HostOfAsync(server);
        if (server.ImageId is null || (await store.ListBdmsAsync(server.Id)).Any(b => b.BootIndex == 0))
        {
            throw ApiException.BadRequest($"Instance {server.Id} cannot be rescued: "
                + (volumeBackedAllowed ? "Host unable to rescue a volume-backed instance" : "Cannot rescue a volume-backed instance"));
        }

        var imageId = rescueImageId ?? server.ImageId;
        var image = await images.FindVisibleAsync(ctx, imageId) ?? throw ApiException.BadRequest($"Image {imageId} could not be found.");
        if (image.Status != "active")
        {
            throw ApiException.BadRequest($"Image {image.Id} is not active.");
        }

        if (!await store.ClaimTaskAsync(server.Id, s_rescueStates, "rescuing"))
        {
            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = "rescuing" }, "rescue", s_rescueStates);
            throw InvalidState(server with { TaskState = "rescuing" }, "rescue");
        }

        await store.StartActionAsync(server.Id, requestId, "rescue", ctx);
        await host.RescueAsync(new RescueServer(requestId, server.Id, Unrescue: false, image.Id, adminPass), CancellationToken.None);
    }

    /// <summary>unrescue: from RESCUED; the host boots the server's own root disk again.</summary>
    public async Task UnrescueAsync(RequestContext ctx, string requestId, ServerRow server)
    {
        RequireUnlocked(ctx, server);
        RequireState(server, "unrescue", s_rescuedStates);
        var host = await HostOfAsync(server);
        if (!await store.ClaimTaskAsync(server.Id, s_rescuedStates, "unrescuing"))
        {
            throw InvalidState(await store.FindServerAsync(server.Id) ?? server, "unrescue");
        }

        await store.StartActionAsync(server.Id, requestId, "unrescue", ctx);
        await host.RescueAsync(new RescueServer(requestId, server.Id, Unrescue: true), CancellationToken.None);
    }
}
