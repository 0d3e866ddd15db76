using System.Text.Json;
using Ember.Server.Common;
using Ember.Server.Image;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume;

/// <summary>
/// The volume state machine, shared by the HTTP API and the in-process <see cref="IVolumeService"/> callers.
/// Quick checks and the status compare-and-swap happen on the caller's thread; file work runs in <see cref="BackgroundWork"/>.
/// </summary>
public sealed partial class VolumeService(
    VolumeStore store,
    IVolumeBackend backend,
    VolumeDataPlane dataPlane,
    BackgroundWork work,
    BackupChunkStore chunks,
    ImageService images,
    Policy policy,
    IServiceProvider services,
    IOptions<VolumeOptions> options,
    IHttpContextAccessor httpContext,
    ILogger<VolumeService> logger) : IVolumeService
{
    public const string DefaultTypeName = "__DEFAULT__";
    public const string MultiattachTypeName = "multiattach";
    public const string MultiattachSpec = "multiattach";
    public const string MultiattachSpecValue = "<is> True";

    /// <summary>Ember extension: the most attachments a volume of the type may have at once (no cap in Cinder).</summary>
    public const string MaxAttachmentsSpec = "ember:max_attachments";

    public const long GiB = 1L << 30;

    internal static readonly string[] DeletableStatuses = ["available", "error", "error_restoring", "error_extending", "error_managing"];

    public IVolumeBackend Backend => backend;

    public VolumeDataPlane DataPlane => dataPlane;

    /// <summary>Cinder's _is_multiattach: an exact string compare of the type's extra spec.</summary>
    public static bool IsMultiattachType(VolumeTypeRow type) =>
        SpecsOf(type).GetValueOrDefault(MultiattachSpec, "False") == MultiattachSpecValue;

    /// <summary>The attachment cap of the type, -1 when there is none.</summary>
    public static int MaxAttachmentsOf(VolumeTypeRow type) =>
        SpecsOf(type).TryGetValue(MaxAttachmentsSpec, out var text) && int.TryParse(text, out var max) && max > 0 ? max : -1;

    public static Dictionary<string, string> SpecsOf(VolumeTypeRow type) => MapOf(type.ExtraSpecs);

    public static Dictionary<string, string> MapOf(string? json) =>
        string.IsNullOrEmpty(json) ? new(StringComparer.Ordinal) : JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? new(StringComparer.Ordinal);

    public static string JsonOf(IReadOnlyDictionary<string, string> map) => JsonSerializer.Serialize(map);

    public static ApiException VolumeNotFound(string id) => ApiException.NotFound($"Volume {id} could not be found.");

    public static ApiException InvalidVolume(string reason) => ApiException.BadRequest($"Invalid volume: {reason}");

    // ---- lookups ----

    public static bool CanSee(RequestContext ctx, string projectId) => ctx.IsCloudAdmin || projectId == ctx.ProjectId;

    public async Task<VolumeRow> FindVisibleAsync(RequestContext ctx, string id)
    {
        var volume = await store.FindVolumeAsync(id);
        return volume is not null && CanSee(ctx, volume.ProjectId) ? volume : throw VolumeNotFound(id);
    }

    /// <summary>Name, description and (replaced whole) metadata of a visible volume; what is not given stays.</summary>
    public async Task<VolumeRow> UpdateVolumeAsync(RequestContext ctx, string id, Optional<string?> name, Optional<string?> description,
        IReadOnlyDictionary<string, string>? metadata)
    {
        _ = await FindVisibleAsync(ctx, id);
        await store.UpdateVolumeAsync(id, name, description, metadata is null ? null : JsonOf(metadata));
        return await FindVisibleAsync(ctx, id);
    }

    /// <summary>Changes a visible volume's metadata atomically (merge, replace, one key set or removed).</summary>
    public async Task<Dictionary<string, string>> ChangeMetadataAsync(RequestContext ctx, string id, Func<Dictionary<string, string>, Dictionary<string, string>> change)
    {
        _ = await FindVisibleAsync(ctx, id);
        return await store.ChangeVolumeMetadataAsync(id, change) ?? throw VolumeNotFound(id);
    }

    /// <summary>Changes a visible volume's image metadata atomically (os-set_image_metadata, os-unset_image_metadata).</summary>
    public async Task<Dictionary<string, string>> ChangeImageMetadataAsync(RequestContext ctx, string id, Func<Dictionary<string, string>, Dictionary<string, string>> change)
    {
        _ = await FindVisibleAsync(ctx, id);
        return await store.ChangeVolumeImageMetadataAsync(id, change) ?? throw VolumeNotFound(id);
    }

    /// <summary>A type the caller may use: public ones, and any for admins.</summary>
    public async Task<VolumeTypeRow> FindUsableTypeAsync(RequestContext ctx, string idOrName)
    {
        var type = await store.FindTypeAsync(idOrName);
        if (type is null || !await MayUseAsync(ctx, type))
        {
            throw Ids.IsUuid(idOrName)
                ? ApiException.NotFound($"Volume type {idOrName} could not be found.")
                : ApiException.NotFound($"Volume type with name {idOrName} could not be found.");
        }

        return type;
    }

    public async Task<VolumeTypeRow> DefaultTypeAsync() =>
        await store.FindTypeAsync(DefaultTypeName) ?? throw new InvalidOperationException("The __DEFAULT__ volume type is missing.");

    // ---- create ----

    public async Task<VolumeRow> CreateVolumeAsync(RequestContext ctx, VolumeCreateRequest request)
    {
        var projectId = ctx.RequireProject();
        if (request.BackupId is not null)
        {
            return await CreateVolumeFromBackupAsync(ctx, request);
        }

        var size = request.Size;
        SnapshotRow? snapshot = null;
        VolumeRow? source = null;
        ImageRow? image = null;
        ImageLocation? imageLocation = null;
        if (request.SnapshotId is { } snapshotId)
        {
            snapshot = await store.FindSnapshotAsync(snapshotId);
            if (snapshot is null || !CanSee(ctx, snapshot.ProjectId))
            {
                throw ApiException.NotFound($"Snapshot {snapshotId} could not be found.");
            }

            if (snapshot.Status != "available")
            {
                throw ApiException.BadRequest($"Invalid snapshot: Originating snapshot status must be one of 'available' values");
            }

            size = size == 0 ? snapshot.Size : size;
            if (size < snapshot.Size)
            {
                throw ApiException.BadRequest($"Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot size {snapshot.Size}GB. They must be >= original snapshot size.");
            }
        }

        if (request.SourceVolid is { } sourceId)
        {
            source = await store.FindVolumeAsync(sourceId);
            if (source is null || !CanSee(ctx, source.ProjectId))
            {
                throw VolumeNotFound(sourceId);
            }

            if (source.Status is not ("available" or "in-use"))
            {
                throw InvalidVolume("Unable to create a volume from an originating source volume when its status is not 'available' or 'in-use'.");
            }

            size = size == 0 ? source.Size : size;
            if (size < source.Size)
            {
                throw ApiException.BadRequest($"Invalid input received: Volume size '{size}'GB cannot be smaller than original volume size {source.Size}GB. They must be >= original volume size.");
            }
        }

        if (request.ImageRef is { Length: > 0 } imageRef)
        {
            image = await images.FindVisibleAsync(ctx, imageRef) ?? throw ApiException.NotFound($"Image {imageRef} could not be found.");

            if (image.Status != "active")
            {
                throw ApiException.BadRequest($"Invalid image identifier or unable to access requested image.");
            }

            // The stored file is checked again (Cinder's ImageUnacceptable), and its header gives the size.
            (imageLocation, var inspection) = await images.PrepareForUseAsync(image, CancellationToken.None);
            var needed = (int)Math.Max(image.MinDisk, ((inspection.VirtualSize ?? image.Size ?? 0) + GiB - 1) / GiB);
            size = size == 0 ? Math.Max(needed, 1) : size;
            if (size < needed)
            {
                throw ApiException.BadRequest($"Invalid input received: Image virtual size is {needed}GB and doesn't fit in a volume of size {size}GB.");
            }
        }

        if (size <= 0)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute size. Value: {size}. {size} is less than the minimum of 1");
        }

        var type = request.VolumeType is { Length: > 0 } typeName
            ? await FindUsableTypeAsync(ctx, typeName)
            : source is not null ? (await store.FindTypeAsync(source.VolumeTypeId))! : await DefaultTypeAsync(projectId);
        var multiattach = IsMultiattachType(type) || request.Multiattach == true;
        if (multiattach)
        {
            policy.Enforce(ctx, "volume:multiattach");
        }

        var limits = await store.LimitsOfAsync(projectId);
        if (limits.PerVolumeGigabytes >= 0 && size > limits.PerVolumeGigabytes)
        {
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum allowed limit {limits.PerVolumeGigabytes}G.");
        }

        var now = Ids.Now();
        var row = new VolumeRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            UserId = ctx.UserId,
            Name = request.Name,
            Description = request.Description,
            Size = size,
            Status = "creating",
            AttachStatus = "detached",
            VolumeTypeId = type.Id,
            AvailabilityZone = request.AvailabilityZone ?? "nova",
            Multiattach = multiattach,
            SnapshotId = snapshot?.Id,
            SourceVolid = source?.Id,
            Metadata = JsonOf(request.Metadata ?? new Dictionary<string, string>()),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await InsertVolumeAsync(row, type, limits);
        if (await NoBackendReasonAsync(type) is { } noBackend)
        {
            // Cinder's scheduler finds no valid backend: the volume goes to error, and its project gets a message.
            if (await store.TransitionAsync(row.Id, ["creating"], "error"))
            {
                await RecordFailureAsync(projectId, CurrentRequestId(), MessageFields.VolumeResource, row.Id, MessageFields.ScheduleAllocateVolume,
                    MessageFields.NoBackendAvailable, noBackend);
            }

            LogNotScheduled(logger, row.Id, noBackend);
            return row;
        }

        LogCreating(logger, row.Id, size, type.Name, multiattach);
        var newVolume = new NewVolume(row.Id, size * GiB, multiattach);
        work.Run("create", ("VolumeId", row.Id), async ct =>
        {
            string? imageMetadata = null;
            var bootable = false;
            if (snapshot is not null)
            {
                await backend.CreateFromSnapshotAsync(snapshot.VolumeId, snapshot.Id, newVolume, ct);
                bootable = source?.Bootable ?? (await store.FindVolumeAsync(snapshot.VolumeId))?.Bootable ?? false;
            }
            else if (source is not null)
            {
                await backend.CloneAsync(source.Id, newVolume, ct);
                bootable = source.Bootable;
                imageMetadata = source.ImageMetadata;
            }
            else if (image is not null)
            {
                await backend.CopyImageAsync(imageLocation!, newVolume, ct);
                bootable = true;
                imageMetadata = JsonOf(ImageMetadataOf(image));
            }
            else
            {
                await backend.CreateAsync(newVolume, ct);
            }

            if (!await store.FinishCreateAsync(row.Id, bootable, imageMetadata))
            {
                // Deleted (forced) while creating: the row is gone or elsewhere; drop the data.
                await backend.DeleteAsync(row.Id, CancellationToken.None);
            }
        }, FailWithMessage(projectId, MessageFields.VolumeResource, row.Id,
            image is not null ? MessageFields.CopyImageToVolume : MessageFields.CreateVolumeFromBackend, MessageFields.DriverFailedCreate,
            () => store.TransitionAsync(row.Id, ["creating"], "error")));
        return row;
    }

    /// <summary>Glance properties Cinder copies into volume_image_metadata.</summary>
    private static Dictionary<string, string> ImageMetadataOf(ImageRow image)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["image_id"] = image.Id,
            ["image_name"] = image.Name ?? "",
            ["checksum"] = image.Checksum ?? "",
            ["container_format"] = image.ContainerFormat ?? "",
            ["disk_format"] = image.DiskFormat ?? "",
            ["min_disk"] = image.MinDisk.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["min_ram"] = image.MinRam.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["size"] = (image.Size ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in MapOfLoose(image.Properties))
        {
            map[k] = v;
        }

        return map;
    }

    /// <summary>Image properties may hold non-strings; they are kept as their JSON text.</summary>
    private static Dictionary<string, string> MapOfLoose(string json)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(string.IsNullOrEmpty(json) ? "{}" : json);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        }

        return result;
    }

    /// <summary>Cinder's 413 bodies: which quota was hit, with limit and usage.</summary>
    public async Task<ApiException> OverQuotaAsync(string projectId, QuotaLimits limits, int size, string countResource)
    {
        var usage = await store.UsageOfAsync(projectId);
        if (countResource == "volumes" && limits.Volumes >= 0 && usage.Volumes >= limits.Volumes)
        {
            return new ApiException(ErrorKind.RequestTooLarge, $"VolumeLimitExceeded: Maximum number of volumes allowed ({limits.Volumes}) exceeded for quota 'volumes'.");
        }

        if (countResource == "snapshots" && limits.Snapshots >= 0 && usage.Snapshots >= limits.Snapshots)
        {
            return new ApiException(ErrorKind.RequestTooLarge, $"SnapshotLimitExceeded: Maximum number of snapshots allowed ({limits.Snapshots}) exceeded for quota 'snapshots'.");
        }

        return new ApiException(ErrorKind.RequestTooLarge,
            $"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size}G, quota is {limits.Gigabytes}G and {usage.Gigabytes}G has been consumed.");
    }

    // ---- delete ----

    public async Task DeleteVolumeAsync(RequestContext ctx, string id, bool cascade, bool force)
    {
        var volume = await FindVisibleAsync(ctx, id);
        if (!await store.BeginDeleteAsync(id, force ? null : DeletableStatuses, cascade))
        {
            var status = force ? "" : " status must be " + string.Join(" or ", DeletableStatuses) + " and";
            throw InvalidVolume($"Volume{status} must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.");
        }

        LogDeleting(logger, id);
        RunVolumeDelete(volume, cascade ? await store.ListSnapshotsAsync(null, id) : []);
    }

    /// <summary>
    /// The data half of a delete (also resumed at start-up): the snapshots' data, the volume's, then the rows. When the
    /// backend says something still depends on the data (Cinder's VolumeIsBusy), the volume goes back to available.
    /// </summary>
    private void RunVolumeDelete(VolumeRow volume, IReadOnlyList<SnapshotRow> snapshots) =>
        work.Run("delete", ("VolumeId", volume.Id), async ct =>
        {
            foreach (var snapshot in snapshots)
            {
                await backend.DeleteSnapshotAsync(volume.Id, snapshot.Id, ct);
            }

            dataPlane.Unexport(volume.LegacyExport);
            await backend.DeleteAsync(volume.Id, ct);
            await store.DeleteVolumeRowAsync(volume.Id);
        }, async e => await store.TransitionAsync(volume.Id, ["deleting"], e is VolumeBackendBusyException ? "available" : "error_deleting"));

    // ---- extend ----

    public async Task ExtendAsync(RequestContext ctx, string id, int newSize, Microversion version)
    {
        var volume = await FindVisibleAsync(ctx, id);
        if (newSize <= volume.Size)
        {
            throw ApiException.BadRequest($"Invalid input received: New size for extend must be greater than current size. (current: {volume.Size}, extended: {newSize}).");
        }

        var allowed = version >= VolumeVersions.ExtendInUse ? new[] { "available", "in-use" } : ["available"];
        if (volume.Status == "in-use")
        {
            policy.Enforce(ctx, "volume:extend_attached_volume");
        }

        var limits = await store.LimitsOfAsync(volume.ProjectId);
        if (limits.PerVolumeGigabytes >= 0 && newSize > limits.PerVolumeGigabytes)
        {
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"VolumeSizeExceedsLimit: Requested volume size {newSize}G is larger than maximum allowed limit {limits.PerVolumeGigabytes}G.");
        }

        if (!await store.BeginExtendAsync(id, allowed, volume.ProjectId, newSize - volume.Size, limits.Gigabytes))
        {
            var current = await store.FindVolumeAsync(id) ?? throw VolumeNotFound(id);
            if (allowed.Contains(current.Status))
            {
                throw await OverQuotaAsync(volume.ProjectId, limits, newSize - volume.Size, "gigabytes");
            }

            throw InvalidVolume($"Volume {id} status must be '{string.Join("' or '", allowed)}' to extend, currently {current.Status}.");
        }

        var backTo = volume.Status;
        work.Run("extend", ("VolumeId", id), async ct =>
        {
            await backend.ExtendAsync(id, newSize * GiB, ct);
            await store.FinishExtendAsync(id, newSize, backTo);
        }, FailWithMessage(volume.ProjectId, MessageFields.VolumeResource, id, MessageFields.ExtendVolume, MessageFields.DriverFailedExtend,
            () => store.TransitionAsync(id, ["extending"], "error_extending")));
    }

    // ---- admin actions and flags ----

    /// <summary>The statuses os-reset_status may set (Cinder's admin_actions).</summary>
    private static readonly string[] s_resetStatuses =
        ["available", "error", "creating", "deleting", "in-use", "attaching", "detaching", "error_deleting", "maintenance", "reserved", "error_extending", "extending"];

    /// <summary>os-reset_status: an admin sets status and/or attach_status, with no state machine in the way.</summary>
    public async Task ResetStatusAsync(RequestContext ctx, string id, string? status, string? attachStatus)
    {
        if (status is not null && !s_resetStatuses.Contains(status))
        {
            throw ApiException.BadRequest($"Invalid input received: Must specify a valid status: {status}");
        }

        if (attachStatus is not null && attachStatus is not ("attached" or "detached"))
        {
            throw ApiException.BadRequest($"Invalid input received: Must specify a valid attach status: {attachStatus}");
        }

        _ = await FindVisibleAsync(ctx, id);
        await store.ResetStatusAsync(id, status, attachStatus);
    }

    public async Task SetBootableAsync(RequestContext ctx, string id, bool bootable)
    {
        _ = await FindVisibleAsync(ctx, id);
        await store.SetVolumeFlagAsync(id, "bootable", bootable);
    }

    /// <summary>os-update_readonly_flag: only while the volume is available.</summary>
    public async Task SetReadonlyAsync(RequestContext ctx, string id, bool flag)
    {
        var volume = await FindVisibleAsync(ctx, id);
        if (!await store.SetReadonlyIfAvailableAsync(id, flag))
        {
            throw InvalidVolume($"Volume {id} status must be available to update readonly flag, but current status is: {volume.Status}.");
        }
    }

    // ---- IVolumeService ----

    async Task<VolumeInfo> IVolumeService.GetAsync(RequestContext ctx, string volumeId) =>
        await InfoOfAsync(await FindVisibleAsync(ctx, volumeId));

    async Task<VolumeInfo> IVolumeService.CreateAsync(RequestContext ctx, VolumeCreateRequest request) =>
        await InfoOfAsync(await CreateVolumeAsync(ctx, request));

    async Task<string> IVolumeService.CreateSnapshotForceAsync(RequestContext ctx, string volumeId, string name, string? description) =>
        (await CreateSnapshotAsync(ctx, volumeId, name, description, null, force: true)).Id;

    Task IVolumeService.DeleteVolumeAsync(RequestContext ctx, string volumeId) => DeleteVolumeAsync(ctx, volumeId, cascade: false, force: false);

    async Task<AttachmentInfo> IVolumeService.ReserveAsync(RequestContext ctx, string volumeId, string instanceId) =>
        await InfoOfAsync(await CreateAttachmentAsync(ctx, volumeId, instanceId, null, null));

    async Task<AttachmentInfo> IVolumeService.UpdateAsync(RequestContext ctx, string attachmentId, Connector connector, string mountpoint)
    {
        var connectorJson = new System.Text.Json.Nodes.JsonObject
        {
            ["host"] = connector.Host,
            ["ip"] = connector.Ip,
            ["initiator"] = connector.Initiator,
            ["mountpoint"] = connector.Mountpoint ?? mountpoint,
            ["mode"] = connector.Mode,
        };
        return await InfoOfAsync(await UpdateAttachmentAsync(ctx, attachmentId, connectorJson));
    }

    Task IVolumeService.CompleteAsync(RequestContext ctx, string attachmentId) => CompleteAttachmentAsync(ctx, attachmentId);

    Task IVolumeService.BeginDetachingAsync(RequestContext ctx, string volumeId) => BeginDetachingAsync(ctx, volumeId);

    Task IVolumeService.RollDetachingAsync(RequestContext ctx, string volumeId) => RollDetachingAsync(ctx, volumeId);

    Task IVolumeService.DeleteAttachmentAsync(RequestContext ctx, string attachmentId) => DeleteAttachmentAsync(ctx, attachmentId, isService: true);

    private async Task<VolumeInfo> InfoOfAsync(VolumeRow volume)
    {
        var attachments = await store.ListAttachmentsAsync(volume.Id);
        return new VolumeInfo(volume.Id, volume.Name, VolumeJson.DisplayStatus(volume.Status), volume.Size, volume.Multiattach, volume.Bootable,
            [.. attachments.Where(a => a.AttachStatus == "attached").Select(a => new VolumeAttachmentRef(a.Id, a.InstanceUuid, a.Mountpoint, a.AttachTime))]);
    }

    private async Task<AttachmentInfo> InfoOfAsync(AttachmentRow row) =>
        new(row.Id, row.VolumeId, row.InstanceUuid, row.AttachStatus, row.AttachMode, row.Mountpoint, await ConnectionOfAsync(row));

    /// <summary>The attachment's connection_info for the host its connector named; null before a connector came.</summary>
    public async Task<VolumeConnection?> ConnectionOfAsync(AttachmentRow row) => (await ConnectionsOfAsync([row]))[0];

    /// <summary>
    /// The connections of a page of attachments, reading their volumes' multiattach flags in one query: an NBD export's
    /// for a connected attachment of a file volume, the backend's own (RBD) for one whose connector has come.
    /// </summary>
    public async Task<IReadOnlyList<VolumeConnection?>> ConnectionsOfAsync(IReadOnlyList<AttachmentRow> rows)
    {
        var connected = rows.Where(r => r.ExportName is not null || r.Connector is not null).Select(r => r.VolumeId).Distinct(StringComparer.Ordinal).ToList();
        var multiattach = connected.Count == 0 ? new HashSet<string>() : await store.MultiattachAmongAsync(connected);
        return [.. rows.Select(r => ConnectionOf(r, multiattach.Contains(r.VolumeId)))];
    }

    private VolumeConnection? ConnectionOf(AttachmentRow row, bool multiattach)
    {
        var readOnly = row.AttachMode == "ro";
        if (row.ExportName is { } exportName)
        {
            return dataPlane.ConnectionOf(exportName, readOnly, multiattach, row.AttachedHost);
        }

        return row.Connector is not null && backend.AccessOf(row.VolumeId, readOnly, multiattach) is DirectAccess direct ? direct.Connection : null;
    }

    /// <summary>Compute's view of an attachment, when compute registered one (see <see cref="IVolumeConsumers"/>).</summary>
    private IVolumeConsumers? Consumers => services.GetService<IVolumeConsumers>();

    [LoggerMessage(Level = LogLevel.Information, Message = "Creating volume {VolumeId}: {Size} GiB, type {Type}, multiattach {Multiattach}")]
    private static partial void LogCreating(ILogger logger, string volumeId, int size, string type, bool multiattach);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No backend for volume {VolumeId}: {Reason}")]
    private static partial void LogNotScheduled(ILogger logger, string volumeId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleting volume {VolumeId}")]
    private static partial void LogDeleting(ILogger logger, string volumeId);
}

/// <summary>
/// Implemented by the compute service: whether an instance still uses an attachment, so that a non-admin
/// DELETE /attachments cannot pull a volume from under a running server (OSSA-2023-003). Optional.
/// </summary>
public interface IVolumeConsumers
{
    Task<bool> IsAttachmentInUseAsync(string instanceId, string volumeId, string attachmentId);
}
