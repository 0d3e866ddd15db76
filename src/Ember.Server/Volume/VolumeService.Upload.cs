using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Image;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

// os-volume_upload_image (cinder/api/contrib/volume_actions.py, volume/api.py copy_volume_to_image): a new image
// holding the volume's data, what `openstack image create --volume` and `cinder upload-to-image` do.
public sealed partial class VolumeService
{
    /// <summary>The disk formats Cinder's API accepts for an upload, less ploop, which QEMU cannot write.</summary>
    public static readonly string[] UploadDiskFormats = ["raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx"];

    /// <summary>What an upload makes: the image's name, formats, visibility (3.1) and protected flag (3.1).</summary>
    public sealed record UploadRequest(string ImageName, string DiskFormat, string ContainerFormat, string Visibility, bool Protected, bool Force);

    /// <summary>
    /// Creates the image (queued) in the caller's project and turns an available volume to uploading; the data is then
    /// converted to the image's disk_format and uploaded with every check an upload gets (inspection, storage quota).
    /// The volume goes back to available either way; a failed upload deletes the image and leaves a user message.
    /// </summary>
    public async Task<JsonObject> UploadToImageAsync(RequestContext ctx, string id, UploadRequest request)
    {
        var volume = await FindVisibleAsync(ctx, id);
        if (request.Force && volume.Status == "in-use")
        {
            // Cinder's enable_force_upload defaults to False: a volume a guest writes to is not copied.
            throw InvalidVolume("Unable to force upload an in-use volume.");
        }

        if (volume.Status != "available")
        {
            throw InvalidVolume($"Volume {id} status must be available, but current status is: {volume.Status}.");
        }

        var now = Ids.Now();
        var image = await images.CreateAsync(ctx, new ImageRow
        {
            Id = Ids.NewUuid(),
            Name = request.ImageName,
            Status = "queued",
            Visibility = request.Visibility,
            Protected = request.Protected,
            DiskFormat = request.DiskFormat,
            ContainerFormat = request.ContainerFormat,
            MinDisk = volume.Size,
            Owner = ctx.ProjectId!,
            CreatedAt = now,
            UpdatedAt = now,
        });
        if (!await store.TransitionAsync(id, ["available"], "uploading"))
        {
            await images.DiscardAsync(image.Id);
            var current = await store.FindVolumeAsync(id) ?? throw VolumeNotFound(id);
            throw InvalidVolume($"Volume {id} status must be available, but current status is: {current.Status}.");
        }

        LogUploading(logger, id, image.Id, request.DiskFormat);
        var requestId = CurrentRequestId();
        work.Run("upload", ("VolumeId", id), async ct =>
        {
            await images.UploadFromFileAsync(ctx, image.Id, (path, token) => backend.CopyToFileAsync(id, path, request.DiskFormat, token), ct);
            await store.TransitionAsync(id, ["uploading"], "available");
        }, async e =>
        {
            await store.TransitionAsync(id, ["uploading"], "available");
            await images.DiscardAsync(image.Id);
            await RecordFailureAsync(volume.ProjectId, requestId, MessageFields.VolumeResource, id, MessageFields.CopyVolumeToImage,
                MessageFields.FailedToUploadVolume, FailureReasons.Of(e));
        });

        var type = await store.FindTypeAsync(volume.VolumeTypeId);
        return new JsonObject
        {
            ["id"] = volume.Id,
            ["updated_at"] = volume.UpdatedAt,
            ["status"] = "uploading",
            ["display_description"] = volume.Description,
            ["size"] = volume.Size,
            ["volume_type"] = type is null ? null : VolumeJson.Type(type, ctx),
            ["image_id"] = image.Id,
            ["container_format"] = image.ContainerFormat,
            ["disk_format"] = image.DiskFormat,
            ["image_name"] = image.Name,
            ["protected"] = image.Protected,
            ["visibility"] = image.Visibility,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Uploading volume {VolumeId} to image {ImageId} ({DiskFormat})")]
    private static partial void LogUploading(ILogger logger, string volumeId, string imageId, string diskFormat);
}
