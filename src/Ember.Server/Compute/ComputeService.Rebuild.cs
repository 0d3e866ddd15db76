using System.Text.Json;
using Ember.Server.Common;
using Ember.Server.Image;

namespace Ember.Server.Compute;

// rebuild (nova/compute/api.py rebuild): the same server on a fresh root disk of a (possibly new) image.
public sealed partial class ComputeService
{
    /// <summary>Nova's vm_states rebuild is allowed from.</summary>
    private static readonly string[] s_rebuildStates = [VmStates.Active, VmStates.Stopped, VmStates.Error];

    /// <summary>
    /// rebuild. Nova's checks in its order (the lock, the host, the states), then the image as a create checks it against
    /// the server's flavor, or against the root volume of a volume-backed server. <paramref name="rebuilt"/> is the row with
    /// what the request changes (image, name, metadata...), written once task_state rebuilding is claimed; the host then
    /// replaces the root disk, or re-images the root volume in place. A volume-backed server is rebuilt only with
    /// <paramref name="reimageBootVolume"/> (Nova's reimage_boot_volume, from 2.93). Returns the row as the reply shows it.
    /// </summary>
    public async Task<ServerRow> RebuildAsync(RequestContext ctx, string requestId, ServerRow server, ServerRow rebuilt, string? adminPass,
        bool reimageBootVolume)
    {
        RequireUnlocked(ctx, server);
        var host = await HostOfAsync(server);
        RequireState(server, "rebuild", s_rebuildStates);
        var imageId = rebuilt.ImageId ?? throw ApiException.BadRequest("Invalid input for field/attribute rebuild. 'imageRef' is a required property");
        var rootBdm = (await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.BootIndex == 0);
        var volumeBacked = server.ImageId is null || rootBdm is not null;
        if (volumeBacked && !reimageBootVolume)
        {
            throw ApiException.BadRequest($"Image {imageId} is unacceptable: Unable to rebuild with a different image for a volume-backed server.");
        }

        var image = await images.FindVisibleAsync(ctx, imageId) ?? throw ApiException.BadRequest($"Image {imageId} could not be found.");
        if (image.Status != "active")
        {
            throw ApiException.BadRequest($"Image {image.Id} is not active.");
        }

        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        if (volumeBacked)
        {
            await CheckImageFitsRootVolumeAsync(ctx, image, rootBdm ?? throw ApiException.Conflict($"Instance {server.Id} is volume-backed but has no root volume."));
        }
        else
        {
            var flavorBytes = (long)flavor.Disk << 30;
            if (flavor.Disk > 0 && (image.MinDisk > flavor.Disk || image.VirtualSize is { } virtualSize && virtualSize > flavorBytes))
            {
                throw ApiException.BadRequest($"Flavor's disk is too small for requested image. Flavor disk is {flavorBytes} bytes, image is {image.VirtualSize ?? 0} bytes.");
            }
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

        await store.UpdateRebuiltServerAsync(rebuilt with { ImageId = image.Id, ImageProperties = ServerRequestSpec.ImagePropertiesOf(image.Properties) });
        await store.StartActionAsync(server.Id, requestId, "rebuild", ctx);
        await host.RebuildAsync(new RebuildServer(requestId, server.Id, adminPass), CancellationToken.None);
        return await store.FindServerAsync(server.Id) ?? throw ApiException.NotFound($"Instance {server.Id} could not be found.");
    }

    /// <summary>
    /// The image against the root volume (Nova's _check_requested_image for a volume root): min_disk within the volume's
    /// size, Nova's VolumeSmallerThanMinDisk; and its virtual size, which Cinder's reimage would refuse on the host later.
    /// </summary>
    private async Task CheckImageFitsRootVolumeAsync(RequestContext ctx, ImageRow image, BdmRow rootBdm)
    {
        var volume = await volumes.GetAsync(ctx, rootBdm.VolumeId);
        var volumeBytes = (long)volume.Size << 30;
        if ((long)image.MinDisk << 30 > volumeBytes)
        {
            throw ApiException.BadRequest(
                VolumeTooSmall(volumeBytes, image.MinDisk));
        }

        if (image.VirtualSize is { } virtualSize && virtualSize > volumeBytes)
        {
            throw ApiException.BadRequest(
                $"Image {image.Id} is unacceptable: Image virtual size is {(virtualSize + (1L << 30) - 1) >> 30}GB and doesn't fit in a volume of size {volume.Size}GB.");
        }
    }
}
