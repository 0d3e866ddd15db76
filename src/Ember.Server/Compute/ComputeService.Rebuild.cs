using System.Text.Json;
using Ember.Server.Common;

namespace Ember.Server.Compute;

// rebuild (nova/compute/api.py rebuild): the same server on a fresh root disk of a (possibly new) image.
public sealed partial class ComputeService
{
    /// <summary>Nova's vm_states rebuild is allowed from.</summary>
    private static readonly string[] s_rebuildStates = [VmStates.Active, VmStates.Stopped, VmStates.Error];

    /// <summary>
    /// rebuild. Nova's checks in its order (the lock, the host, the states), then the image as a create checks it against
    /// the server's flavor. <paramref name="rebuilt"/> is the row with what the request changes (image, name, metadata...),
    /// written once task_state rebuilding is claimed; the host then replaces the root disk. Volume-backed servers are
    /// refused (Nova's reimage of the root volume, 2.93, is not done here). Returns the row as the reply shows it.
    /// </summary>
    public async Task<ServerRow> RebuildAsync(RequestContext ctx, string requestId, ServerRow server, ServerRow rebuilt, string? adminPass)
    {
        RequireUnlocked(ctx, server);
        var host = await HostOfAsync(server);
        RequireState(server, "rebuild", s_rebuildStates);
        var imageId = rebuilt.ImageId ?? throw ApiException.BadRequest("Invalid input for field/attribute rebuild. 'imageRef' is a required property");
        var bdms = await store.ListBdmsAsync(server.Id);
        if (server.ImageId is null || bdms.Any(b => b.BootIndex == 0))
        {
            throw ApiException.BadRequest(
                $"Image {imageId} is unacceptable: Unable to rebuild with a different image for a volume-backed server (Ember rebuilds image-backed servers only).");
        }

        var image = await images.FindVisibleAsync(ctx, imageId) ?? throw ApiException.BadRequest($"Image {imageId} could not be found.");
        if (image.Status != "active")
        {
            throw ApiException.BadRequest($"Image {image.Id} is not active.");
        }

        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var flavorBytes = (long)flavor.Disk << 30;
        if (flavor.Disk > 0 && (image.MinDisk > flavor.Disk || image.VirtualSize is { } virtualSize && virtualSize > flavorBytes))
        {
            throw ApiException.BadRequest($"Flavor's disk is too small for requested image. Flavor disk is {flavorBytes} bytes, image is {image.VirtualSize ?? 0} bytes.");
        }

        if (flavor.Ram < image.MinRam)
        {
            throw ApiException.BadRequest("Flavor's memory is too small for requested image.");
        }

        await CheckKernelImagesAsync(ctx, image);

        if (!await store.ClaimTaskAsync(server.Id, s_rebuildStates, "rebuilding"))
        {
            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = "rebuilding" }, "rebuild", s_rebuildStates);
            throw InvalidState(server with { TaskState = "rebuilding" }, "rebuild");
        }

        await store.UpdateRebuiltServerAsync(rebuilt with { ImageId = image.Id });
        await store.StartActionAsync(server.Id, requestId, "rebuild", ctx);
        await host.RebuildAsync(new RebuildServer(requestId, server.Id, adminPass), CancellationToken.None);
        return await store.FindServerAsync(server.Id) ?? throw ApiException.NotFound($"Instance {server.Id} could not be found.");
    }
}
