using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Image;
using Ember.Server.Volume;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// A volume made at boot: from <paramref name="SnapshotId"/> (an entry of an image's <c>block_device_mapping</c>
/// property, what createImage of a volume-backed server writes), from <see cref="ImageId"/> (a request's image->volume
/// mapping, `openstack server create --boot-from-volume N`), or blank when it names neither.
/// </summary>
public sealed record NewVolumeMapping(string? SnapshotId, int VolumeSize, int? BootIndex, string? DeviceName, bool DeleteOnTermination, string? Tag)
{
    public string? ImageId { get; init; }
}

// Booting an image that carries a block device mapping (nova/compute/api.py _check_and_transform_bdm and
// _merge_bdms_lists): the image's mappings, less those the request overrides by device name, become new volumes.
public sealed partial class ComputeService
{
    /// <summary>At most one mapping per device name Ember gives (vda..vdz).</summary>
    private const int MaxNewVolumeMappings = 26;

    /// <summary>How long a create waits for a volume from a snapshot: Nova's block_device_allocate_retries (60) times 3 s.</summary>
    private static readonly TimeSpan s_volumeCreateWait = TimeSpan.FromMinutes(3);

    /// <summary>
    /// The image's mappings in Nova's image form: bdm_v2 entries (source_type snapshot, destination_type volume) or legacy
    /// ones (a snapshot_id, the root being the one on root_device_name). Empty when the image has none.
    /// </summary>
    public static List<NewVolumeMapping> NewVolumeMappingsOf(ImageRow image)
    {
        var properties = ImageJson.PropertiesOf(image);
        if (properties.GetValueOrDefault("block_device_mapping") is not { Length: > 0 } text)
        {
            return [];
        }

        JsonArray entries;
        try
        {
            entries = JsonNode.Parse(text) as JsonArray ?? throw new JsonException("not a list");
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"Block Device Mapping is Invalid: the block_device_mapping of image {image.Id} is not a list of mappings ({ex.Message}).");
        }

        if (entries.Count > MaxNewVolumeMappings)
        {
            throw ApiException.BadRequest($"Block Device Mapping is Invalid: image {image.Id} maps {entries.Count} devices, more than {MaxNewVolumeMappings}.");
        }

        var v2 = string.Equals(properties.GetValueOrDefault("bdm_v2"), "true", StringComparison.OrdinalIgnoreCase);
        var rootDevice = DeviceOf(properties.GetValueOrDefault("root_device_name")) ?? "vda";
        var mappings = new List<NewVolumeMapping>();
        foreach (var entry in entries)
        {
            if (entry is not JsonObject item)
            {
                throw ApiException.BadRequest($"Block Device Mapping is Invalid: the block_device_mapping of image {image.Id} holds a non-object.");
            }

            var source = v2 ? Json.OptionalString(item, "source_type") : "snapshot";
            var destination = v2 ? Json.OptionalString(item, "destination_type") : "volume";
            if (source != "snapshot" || destination != "volume" || Json.OptionalString(item, "snapshot_id") is not { Length: > 0 } snapshotId)
            {
                throw ApiException.BadRequest(
                    $"Block Device Mapping is Invalid: image {image.Id} maps {source}->{destination}; Ember boots image mappings of snapshot->volume only.");
            }

            var device = Json.OptionalString(item, "device_name");
            var bootIndex = v2 ? (int?)Json.OptionalInteger(item, "boot_index") : DeviceOf(device) == rootDevice ? 0 : null;
            mappings.Add(new NewVolumeMapping(snapshotId, (int)(Json.OptionalInteger(item, "volume_size") ?? 0), bootIndex, device,
                Json.OptionalBoolean(item, "delete_on_termination") ?? false, Json.OptionalString(item, "tag")));
        }

        return mappings;
    }

    /// <summary>
    /// Nova's _merge_bdms_lists: the request's mappings override the image's by device name; the root is the image's
    /// when the request names none (a request with its own root never reads the image).
    /// </summary>
    public static List<NewVolumeMapping> MergeNewVolumeMappings(IReadOnlyList<NewVolumeMapping> image, IReadOnlyList<BootVolume> requested)
    {
        var overridden = requested.Select(v => DeviceOf(v.DeviceName)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var kept = image.Where(m => DeviceOf(m.DeviceName) is not { } device || !overridden.Contains(device)).ToList();
        return kept.Count(m => m.BootIndex == 0) <= 1
            ? kept
            : throw ApiException.BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.");
    }

    /// <summary>Nova's message for a root volume smaller than its image's min_disk (GiB).</summary>
    private static string VolumeTooSmall(long volumeBytes, long minDiskGigabytes) =>
        $"Volume is smaller than the minimum size specified in image metadata. Volume size is {volumeBytes} bytes, minimum size is {minDiskGigabytes << 30} bytes.";

    /// <summary>
    /// The images a request's image->volume mappings name: each visible and active, and no larger a minimum disk than the
    /// volume (Nova's _validate_bdm and _check_requested_image).
    /// </summary>
    private async Task CheckNewVolumeImagesAsync(RequestContext ctx, IReadOnlyList<NewVolumeMapping> mappings)
    {
        foreach (var mapping in mappings.Where(m => m.ImageId is not null))
        {
            var image = await images.FindVisibleAsync(ctx, mapping.ImageId!) ?? throw ApiException.BadRequest($"Image {mapping.ImageId} could not be found.");
            if (image.Status != "active")
            {
                throw ApiException.BadRequest($"Image {image.Id} is not active.");
            }

            if (image.MinDisk > mapping.VolumeSize)
            {
                throw ApiException.BadRequest(
                    VolumeTooSmall((long)mapping.VolumeSize << 30, image.MinDisk));
            }
        }
    }

    /// <summary>
    /// Makes each volume as the caller (Nova's DriverSnapshotBlockDevice, DriverImageBlockDevice and DriverBlankBlockDevice:
    /// no name, the mapping's size or the snapshot's) and waits until each is available. On failure the volumes made so far
    /// are deleted.
    /// </summary>
    private async Task<List<BootVolume>> CreateNewVolumesAsync(RequestContext ctx, IReadOnlyList<NewVolumeMapping> mappings)
    {
        var made = new List<BootVolume>();
        try
        {
            foreach (var mapping in mappings)
            {
                VolumeInfo volume;
                try
                {
                    volume = await volumes.CreateAsync(ctx, new VolumeCreateRequest(mapping.VolumeSize) { SnapshotId = mapping.SnapshotId, ImageRef = mapping.ImageId, Name = "", Description = "" });
                }
                catch (ApiException ex) when (ex.Kind == ErrorKind.RequestTooLarge)
                {
                    // Cinder's 413 for the volume quotas is Nova's OverQuota: a 403.
                    throw ApiException.Forbidden($"Quota exceeded for resources: volumes ({ex.Message})");
                }

                made.Add(new BootVolume(volume.Id, mapping.DeviceName, mapping.BootIndex, mapping.DeleteOnTermination, mapping.Tag));
            }

            foreach (var boot in made)
            {
                await WaitForVolumeAsync(ctx, boot.VolumeId);
            }

            return made;
        }
        catch
        {
            await DeleteVolumesAsync(ctx, made);
            throw;
        }
    }

    /// <summary>Polls a new volume until it is available; an error status or the wait running out is Nova's VolumeNotCreated.</summary>
    private async Task WaitForVolumeAsync(RequestContext ctx, string volumeId)
    {
        var deadline = DateTime.UtcNow + s_volumeCreateWait;
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var volume = await volumes.GetAsync(ctx, volumeId);
            if (volume.Status == "available")
            {
                return;
            }

            if (volume.Status is "error" || DateTime.UtcNow >= deadline)
            {
                throw ApiException.BadRequest(
                    $"Block Device Mapping is Invalid: Volume {volumeId} did not finish being created even after we waited {(int)s_volumeCreateWait.TotalSeconds} seconds. And its status is {volume.Status}.");
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 3000));
        }
    }

    /// <summary>Deletes the volumes a failed create made; a failure is logged (the volume stays, visible to its project).</summary>
    private async Task DeleteVolumesAsync(RequestContext ctx, IEnumerable<BootVolume> made)
    {
        foreach (var boot in made)
        {
            try
            {
                await WaitUntilSettledAsync(ctx, boot.VolumeId);
                await volumes.DeleteVolumeAsync(ctx, boot.VolumeId);
            }
            catch (ApiException ex)
            {
                LogVolumeNotDeleted(logger, boot.VolumeId, ex.Message);
            }
        }
    }

    /// <summary>A volume still creating cannot be deleted: wait (bounded) until it is not.</summary>
    private async Task WaitUntilSettledAsync(RequestContext ctx, string volumeId)
    {
        var deadline = DateTime.UtcNow + s_volumeCreateWait;
        while ((await volumes.GetAsync(ctx, volumeId)).Status == "creating" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }
    }

    /// <summary>"/dev/vda" or "vda" -> "vda"; null when none.</summary>
    private static string? DeviceOf(string? name) =>
        name?.Trim() is { Length: > 0 } trimmed ? trimmed.StartsWith("/dev/", StringComparison.Ordinal) ? trimmed[5..] : trimmed : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {VolumeId} made for a failed server create was not deleted: {Reason}")]
    private static partial void LogVolumeNotDeleted(ILogger logger, string volumeId, string reason);
}
