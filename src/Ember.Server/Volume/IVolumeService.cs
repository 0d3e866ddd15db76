using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>
/// What the compute service asks of block storage, shaped like Nova's calls to Cinder
/// (nova/volume/cinder.py) so it can become a network client later. Errors are <see cref="ApiException"/>s
/// with Cinder's kinds and messages. Calls through this interface count as service requests.
/// </summary>
public interface IVolumeService
{
    /// <summary>The volume as <paramref name="ctx"/> sees it; 404 when it does not exist or is not visible.</summary>
    Task<VolumeInfo> GetAsync(RequestContext ctx, string volumeId);

    /// <summary>POST /attachments without a connector: reserves the volume for the instance (Cinder's rules and 400s).</summary>
    Task<AttachmentInfo> ReserveAsync(RequestContext ctx, string volumeId, string instanceId);

    /// <summary>PUT /attachments/{id} with a connector: exports the volume and returns the connection info.</summary>
    Task<AttachmentInfo> UpdateAsync(RequestContext ctx, string attachmentId, Connector connector, string mountpoint);

    /// <summary>os-complete: the attachment becomes attached and the volume in-use.</summary>
    Task CompleteAsync(RequestContext ctx, string attachmentId);

    /// <summary>os-begin_detaching: in-use -> detaching.</summary>
    Task BeginDetachingAsync(RequestContext ctx, string volumeId);

    /// <summary>os-roll_detaching: detaching -> in-use.</summary>
    Task RollDetachingAsync(RequestContext ctx, string volumeId);

    /// <summary>DELETE /attachments/{id}: removes the export and recomputes the volume status.</summary>
    Task DeleteAttachmentAsync(RequestContext ctx, string attachmentId);

    /// <summary>DELETE /volumes/{id} (delete_on_termination); the volume goes to deleting and is removed in the background.</summary>
    Task DeleteVolumeAsync(RequestContext ctx, string volumeId);

    /// <summary>POST /volumes (boot from volume); returns at once with status creating, poll <see cref="GetAsync"/> for available.</summary>
    Task<VolumeInfo> CreateAsync(RequestContext ctx, VolumeCreateRequest request);

    /// <summary>
    /// POST /snapshots with force (Nova's create_snapshot_force, for a volume-backed server's createImage): an in-use volume
    /// too; returns the new snapshot's id at once, with status creating.
    /// </summary>
    Task<string> CreateSnapshotForceAsync(RequestContext ctx, string volumeId, string name, string? description);

    /// <summary>
    /// os-reimage (3.68) with reimage_reserved (Nova's rebuild of a volume-backed server, 2.93): the image written over the
    /// volume in place; returns at once with status downloading, then the volume is back in its status (reserved) or error.
    /// </summary>
    Task ReimageAsync(RequestContext ctx, string volumeId, string imageId, bool reimageReserved);
}

/// <summary>A volume as a caller of <see cref="IVolumeService"/> needs it.</summary>
public sealed record VolumeInfo(
    string Id,
    string? Name,
    string Status,
    int Size,
    bool Multiattach,
    bool Bootable,
    IReadOnlyList<VolumeAttachmentRef> Attachments)
{
    /// <summary>The servers the volume is attached to (attached attachments only, as Cinder lists them).</summary>
    public IReadOnlyList<string> ServerIds => [.. Attachments.Where(a => a.ServerId is not null).Select(a => a.ServerId!)];
}

/// <summary>One entry of a volume's attachments[]: only attachments whose attach_status is attached.</summary>
public sealed record VolumeAttachmentRef(string AttachmentId, string? ServerId, string? Device, DateTime? AttachedAt);

/// <summary>An attachment; <see cref="Status"/> is Cinder's attach_status (reserved, attaching, attached, ...).</summary>
public sealed record AttachmentInfo(
    string Id,
    string VolumeId,
    string? InstanceId,
    string Status,
    string AttachMode,
    string? Mountpoint,
    VolumeConnection? Connection);

/// <summary>os-brick's connector dict, the fields Ember looks at.</summary>
public sealed record Connector(string? Host = null, string? Ip = null, string? Initiator = null, string? Mountpoint = null, string? Mode = null);

/// <summary>The body of POST /volumes, as the compute service fills it for a BDM with destination volume.</summary>
public sealed record VolumeCreateRequest(int Size)
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? VolumeType { get; init; }
    public string? ImageRef { get; init; }
    public string? SnapshotId { get; init; }
    public string? SourceVolid { get; init; }

    /// <summary>3.47: a backup whose data the new volume gets.</summary>
    public string? BackupId { get; init; }
    public string? AvailabilityZone { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>The legacy body flag (2015 clients): true makes the volume multi-attach.</summary>
    public bool? Multiattach { get; init; }
}
