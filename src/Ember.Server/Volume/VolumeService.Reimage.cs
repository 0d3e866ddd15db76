using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Volume;

// os-reimage (3.68, cinder/volume/api.py reimage): the volume's data replaced by an image's, in place.
public sealed partial class VolumeService
{
    /// <summary>
    /// Writes the image over an available or errored volume (or a reserved one with reimage_reserved, as Nova's
    /// rebuild of a volume-backed server asks): downloading while it runs, then back, bootable, with the image's metadata.
    /// </summary>
    public async Task ReimageAsync(RequestContext ctx, string id, string imageId, bool reimageReserved)
    {
        var volume = await FindVisibleAsync(ctx, id);
        var image = await images.FindVisibleAsync(ctx, imageId) ?? throw ApiException.NotFound($"Image {imageId} could not be found.");
        if (image.Status != "active")
        {
            throw ApiException.BadRequest("Invalid image identifier or unable to access requested image.");
        }

        var (imageLocation, inspection) = await images.PrepareForUseAsync(image, CancellationToken.None);
        var needed = (int)Math.Max(image.MinDisk, ((inspection.VirtualSize ?? image.Size ?? 0) + GiB - 1) / GiB);
        if (needed > volume.Size)
        {
            throw ApiException.BadRequest($"Invalid input received: Image virtual size is {needed}GB and doesn't fit in a volume of size {volume.Size}GB.");
        }

        // The data is replaced by deleting the volume's and writing the image anew; a backend's snapshots (RBD's
        // protected ones) would hold the old data, so a volume with snapshots is refused.
        if ((await store.ListSnapshotsAsync(null, id)).Count > 0)
        {
            throw InvalidVolume($"Volume {id} has snapshots; delete them before re-imaging it.");
        }

        string[] from = reimageReserved ? ["available", "error", "reserved"] : ["available", "error"];
        if (!await store.TransitionAsync(id, from, "downloading"))
        {
            var current = await store.FindVolumeAsync(id) ?? throw VolumeNotFound(id);
            throw InvalidVolume($"Volume {id} status must be available or error{(reimageReserved ? " or reserved" : "")}, but current status is: {current.Status}.");
        }

        var backTo = volume.Status == "reserved" ? "reserved" : "available";
        var imageMetadata = JsonOf(ImageMetadataOf(image));
        work.Run("reimage", ("VolumeId", id), async ct =>
        {
            await backend.DeleteAsync(id, ct);
            await backend.CopyImageAsync(imageLocation, new NewVolume(id, volume.Size * GiB, volume.Multiattach), ct);
            await store.FinishReimageAsync(id, imageMetadata, backTo);
        }, FailWithMessage(volume.ProjectId, MessageFields.VolumeResource, id, MessageFields.CopyImageToVolume, MessageFields.UnknownError,
            () => store.TransitionAsync(id, ["downloading"], "error")));
    }
}

public sealed partial class VolumeStore
{
    /// <summary>Ends an os-reimage: downloading -> the status it came from, bootable, with the new image's metadata.</summary>
    public async Task<bool> FinishReimageAsync(string id, string imageMetadata, string backTo)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync(
            "UPDATE volumes SET status = @BackTo, bootable = @Bootable, image_metadata = @ImageMetadata, updated_at = @Now WHERE id = @Id AND status = 'downloading'",
            new { Id = id, BackTo = backTo, Bootable = true, ImageMetadata = imageMetadata, Now = Ids.Now() }) == 1;
    }
}
