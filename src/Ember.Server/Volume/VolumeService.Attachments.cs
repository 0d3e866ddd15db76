using System.Text.Json.Nodes;
using Ember.Nbd;
using Ember.Server.Common;

namespace Ember.Server.Volume;

// The attachment half of the state machine (reference §1.5, §2): reserved -> attaching -> attached, and the legacy actions.
public sealed partial class VolumeService
{
    public static ApiException AttachmentNotFound(string id) =>
        ApiException.NotFound($"Volume attachment could not be found with filter: attachment_id = {id}.");

    public async Task<AttachmentRow> FindVisibleAttachmentAsync(RequestContext ctx, string id)
    {
        var row = await store.FindAttachmentAsync(id);
        return row is not null && CanSee(ctx, row.ProjectId) ? row : throw AttachmentNotFound(id);
    }

    /// <summary>POST /attachments: reserve, and with a connector also export (attachment_update).</summary>
    public async Task<AttachmentRow> CreateAttachmentAsync(RequestContext ctx, string volumeId, string? instanceId, JsonObject? connector, string? mode)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        var type = await store.FindTypeAsync(volume.VolumeTypeId);
        var max = type is null ? -1 : MaxAttachmentsOf(type);
        var attachMode = mode ?? (volume.Readonly ? "ro" : "rw");
        if (volume.Readonly && attachMode == "rw")
        {
            throw ApiException.BadRequest($"Invalid attaching mode '{attachMode}' for volume {volumeId}.");
        }

        // Cinder refuses a second reserve while a multi-attach volume is still reserved/attaching for another
        // server, so two quick `nova boot`s on one volume race (terraform-provider-openstack #497). Attachments
        // of a multi-attach volume are independent rows, so Ember lets them overlap.
        string[] from = volume.Multiattach
            ? ["available", "in-use", "downloading", "reserved", "attaching"]
            : ["available", "downloading"];
        var now = Ids.Now();
        var row = new AttachmentRow
        {
            Id = Ids.NewUuid(),
            VolumeId = volumeId,
            ProjectId = volume.ProjectId,
            InstanceUuid = instanceId,
            AttachStatus = "reserved",
            AttachMode = attachMode,
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (!await store.ReserveAsync(row, from, max))
        {
            var current = await store.FindVolumeAsync(volumeId) ?? throw VolumeNotFound(volumeId);
            if (max >= 0 && from.Contains(current.Status))
            {
                throw ApiException.BadRequest(
                    $"Volume {volumeId} already has the maximum number of attachments ({max}) allowed by its volume type " +
                    $"(extra spec {MaxAttachmentsSpec}={max}). This limit is an Ember extension; OpenStack Cinder has none.");
            }

            throw InvalidVolume($"Volume {volumeId} status must be {string.Join(" or ", from)} to reserve, but the current status is {current.Status}.");
        }

        LogReserved(logger, row.Id, volumeId, instanceId);
        return connector is null ? row : await UpdateAttachmentAsync(ctx, row.Id, connector);
    }

    /// <summary>PUT /attachments/{id}: exports the volume for the connector; the attachment and volume go to attaching.</summary>
    public async Task<AttachmentRow> UpdateAttachmentAsync(RequestContext ctx, string attachmentId, JsonObject connector)
    {
        var attachment = await FindVisibleAttachmentAsync(ctx, attachmentId);
        if (attachment.AttachStatus.StartsWith("error", StringComparison.Ordinal))
        {
            throw InvalidVolume($"Attachment {attachmentId} is in an error state ({attachment.AttachStatus}).");
        }

        var volume = await store.FindVolumeAsync(attachment.VolumeId) ?? throw VolumeNotFound(attachment.VolumeId);
        if (!volume.Multiattach)
        {
            var others = await store.ListAttachmentsAsync(volume.Id);
            if (others.Any(a => a.Id != attachmentId && a.Connector is not null))
            {
                throw ApiException.Conflict($"duplicate connectors detected on volume {volume.Id}");
            }
        }

        // A file volume gets an NBD export of its own; an RBD volume none: the connector opens the image itself.
        var direct = backend.AccessOf(volume.Id, attachment.AttachMode == "ro", volume.Multiattach) is DirectAccess;
        var exportName = direct ? null : attachment.ExportName ?? NbdExportRegistry.NewExportName();
        if (exportName is not null)
        {
            dataPlane.Export(exportName, volume.Id, attachment.AttachMode == "ro", attachment.Id);
        }

        var updated = attachment with
        {
            Connector = connector.ToJsonString(),
            ExportName = exportName,
            Mountpoint = (connector["mountpoint"] as JsonValue)?.ToString() ?? attachment.Mountpoint,
            AttachedHost = (connector["host"] as JsonValue)?.ToString(),
        };
        if (!await store.ConnectAsync(updated))
        {
            if (attachment.ExportName is null)
            {
                dataPlane.Unexport(exportName);
            }

            var current = await store.FindVolumeAsync(volume.Id);
            throw InvalidVolume($"Volume {volume.Id} cannot be attached while its status is {current?.Status ?? "deleted"}.");
        }

        LogConnected(logger, attachmentId, volume.Id, updated.AttachedHost);
        return await store.FindAttachmentAsync(attachmentId) ?? throw AttachmentNotFound(attachmentId);
    }

    /// <summary>os-complete (3.44): attached / in-use.</summary>
    public async Task CompleteAttachmentAsync(RequestContext ctx, string attachmentId)
    {
        var attachment = await FindVisibleAttachmentAsync(ctx, attachmentId);
        if (!await store.CompleteAsync(attachmentId, attachment.VolumeId))
        {
            throw InvalidVolume($"Attachment {attachmentId} cannot be completed in status {attachment.AttachStatus}.");
        }
    }

    /// <summary>
    /// DELETE /attachments/{id}: the export goes first (its connections close at once), then the row; the volume's
    /// status is derived from what is left. Returns the remaining attachments of the volume.
    /// </summary>
    public async Task<IReadOnlyList<AttachmentRow>> DeleteAttachmentAsync(RequestContext ctx, string attachmentId, bool isService)
    {
        var attachment = await FindVisibleAttachmentAsync(ctx, attachmentId);
        await EnsureRemovableAsync(ctx, attachment, isService);
        dataPlane.Unexport(attachment.ExportName);
        var rest = await store.DeleteAttachmentAsync(attachmentId, attachment.VolumeId) ?? throw AttachmentNotFound(attachmentId);
        LogDetached(logger, attachmentId, attachment.VolumeId, rest.Count);
        return rest;
    }

    /// <summary>
    /// The detach rule (OSSA-2023-003), the same for DELETE /attachments and the legacy os-detach,
    /// os-terminate_connection and os-force_detach: while a server uses the attachment, only the compute service
    /// (in-process, <paramref name="isService"/>) or an admin may remove it; anyone else gets Cinder's 409 and must
    /// detach through the Compute API, so the guest never loses a disk from under it.
    /// </summary>
    private async Task EnsureRemovableAsync(RequestContext ctx, AttachmentRow attachment, bool isService)
    {
        if (!isService && !ctx.IsCloudAdmin && attachment.InstanceUuid is { } instance
            && Consumers is { } consumers && await consumers.IsAttachmentInUseAsync(instance, attachment.VolumeId, attachment.Id))
        {
            throw ApiException.Conflict($"Detach volume from instance {instance} using the Compute API");
        }
    }

    public async Task BeginDetachingAsync(RequestContext ctx, string volumeId)
    {
        await FindVisibleAsync(ctx, volumeId);
        if (!await store.TransitionAsync(volumeId, "in-use", "attached", "detaching"))
        {
            throw InvalidVolume("Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.");
        }
    }

    public async Task RollDetachingAsync(RequestContext ctx, string volumeId)
    {
        await FindVisibleAsync(ctx, volumeId);
        await store.TransitionAsync(volumeId, ["detaching"], "in-use");
    }

    // ---- legacy volume actions ----

    /// <summary>os-reserve: available (or in-use for multiattach) -> attaching.</summary>
    public async Task LegacyReserveAsync(RequestContext ctx, string volumeId)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        string[] from = volume.Multiattach ? ["available", "in-use"] : ["available"];
        if (!await store.TransitionAsync(volumeId, from, "attaching"))
        {
            var current = await store.FindVolumeAsync(volumeId);
            throw InvalidVolume($"Volume status must be {string.Join(" or ", from)} to reserve, but the current status is {current?.Status}.");
        }
    }

    /// <summary>os-unreserve: attaching -> in-use when attachments remain, else available.</summary>
    public async Task LegacyUnreserveAsync(RequestContext ctx, string volumeId)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        if (volume.Status == "attaching")
        {
            await store.RecomputeStatusAsync(volumeId);
        }
    }

    /// <summary>os-attach: records an attached attachment; the volume becomes in-use.</summary>
    public async Task LegacyAttachAsync(RequestContext ctx, string volumeId, string? instanceId, string? hostName, string? mountpoint, string? mode)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        if (volume.Status == "maintenance")
        {
            throw InvalidVolume("Volume status must be available or in-use or attaching to attach, but the current status is maintenance.");
        }

        var attachMode = mode ?? (volume.Readonly ? "ro" : "rw");
        if (volume.Readonly && attachMode == "rw")
        {
            throw ApiException.BadRequest($"Invalid attaching mode '{attachMode}' for volume {volumeId}.");
        }

        if (volume.Status is not ("attaching" or "available" or "in-use") || volume.Status == "in-use" && !volume.Multiattach)
        {
            throw InvalidVolume(volume.Status == "in-use" ? "volume is already attached" : $"Volume status must be attaching to attach, but the current status is {volume.Status}.");
        }

        var now = Ids.Now();
        await store.InsertAttachedAsync(new AttachmentRow
        {
            Id = Ids.NewUuid(),
            VolumeId = volumeId,
            ProjectId = volume.ProjectId,
            InstanceUuid = instanceId,
            AttachStatus = "attached",
            AttachMode = attachMode,
            Mountpoint = mountpoint,
            AttachedHost = hostName,
            AttachTime = now,
            CreatedAt = now,
            UpdatedAt = now,
        });
    }

    /// <summary>os-detach and os-force_detach: drop the given attachment (or the only one), under the detach rule.</summary>
    public async Task LegacyDetachAsync(RequestContext ctx, string volumeId, string? attachmentId)
    {
        await FindVisibleAsync(ctx, volumeId);
        var attachments = await store.ListAttachmentsAsync(volumeId);
        AttachmentRow? target;
        if (attachmentId is not null)
        {
            target = attachments.FirstOrDefault(a => a.Id == attachmentId) ?? throw AttachmentNotFound(attachmentId);
        }
        else if (attachments.Count > 1)
        {
            throw InvalidVolume("Detach volume failed: More than one attachment, but no attachment_id provided.");
        }
        else
        {
            target = attachments.FirstOrDefault();
        }

        if (target is null)
        {
            await store.RecomputeStatusAsync(volumeId);
            return;
        }

        await EnsureRemovableAsync(ctx, target, isService: false);
        dataPlane.Unexport(target.ExportName);
        await store.DeleteAttachmentAsync(target.Id, volumeId);
    }

    /// <summary>
    /// os-initialize_connection: one export per volume for legacy callers (none for an RBD volume, which the connector
    /// opens itself); nested connection_info for the connector's host.
    /// </summary>
    public async Task<JsonObject> LegacyInitializeConnectionAsync(RequestContext ctx, string volumeId, string? connectorHost)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        if (volume.Status is not ("available" or "attaching" or "in-use" or "reserved" or "detaching"))
        {
            throw InvalidVolume($"Volume {volumeId} status must be available, attaching, reserved or in-use to initialize a connection, but the current status is {volume.Status}.");
        }

        if (backend.AccessOf(volumeId, volume.Readonly, volume.Multiattach) is DirectAccess direct)
        {
            return new JsonObject { ["connection_info"] = VolumeJson.NestedConnection(direct.Connection, volumeId) };
        }

        var exportName = volume.LegacyExport ?? NbdExportRegistry.NewExportName();
        dataPlane.Export(exportName, volumeId, volume.Readonly, attachmentId: null);
        if (volume.LegacyExport is null)
        {
            await store.SetLegacyExportAsync(volumeId, exportName);
        }

        var connection = dataPlane.ConnectionOf(exportName, volume.Readonly, volume.Multiattach, connectorHost);
        return new JsonObject { ["connection_info"] = VolumeJson.NestedConnection(connection, volumeId) };
    }

    /// <summary>
    /// os-terminate_connection: removes the legacy export. An RBD volume has none: nothing is revoked on the volume
    /// side (the cephx user is the backend's, shared by every attachment), as in Cinder's rbd driver. It names no attachment, so like Cinder it is refused
    /// while any attachment of the volume is used by a server (the caller cannot say which connection it means).
    /// </summary>
    public async Task LegacyTerminateConnectionAsync(RequestContext ctx, string volumeId)
    {
        var volume = await FindVisibleAsync(ctx, volumeId);
        foreach (var attachment in await store.ListAttachmentsAsync(volumeId))
        {
            await EnsureRemovableAsync(ctx, attachment, isService: false);
        }

        if (volume.LegacyExport is not null)
        {
            dataPlane.Unexport(volume.LegacyExport);
            await store.SetLegacyExportAsync(volumeId, null);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Attachment {AttachmentId} reserved volume {VolumeId} for instance {InstanceId}")]
    private static partial void LogReserved(Microsoft.Extensions.Logging.ILogger logger, string attachmentId, string volumeId, string? instanceId);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Attachment {AttachmentId} of volume {VolumeId} connected for host {Host}")]
    private static partial void LogConnected(Microsoft.Extensions.Logging.ILogger logger, string attachmentId, string volumeId, string? host);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Attachment {AttachmentId} of volume {VolumeId} deleted; {Remaining} remain")]
    private static partial void LogDetached(Microsoft.Extensions.Logging.ILogger logger, string attachmentId, string volumeId, int remaining);
}
