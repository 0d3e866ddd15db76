using System.Text.Json.Nodes;
using Ember.OpenStack;
using Ember.Server.Common;
using Ember.Server.Volume;

namespace Ember.Server.Compute;

/// <summary>
/// <see cref="IVolumeService"/> for a compute host on another machine: the same calls Nova makes to Cinder, over the
/// controller's Block Storage API at 3.54 (attachments with connectors, os-complete, detach actions; os-reimage at 3.68). The request
/// context is not sent: the host acts as its own Keystone user, which must be a cloud admin to detach attachments
/// a server still uses (the rule an in-process call passes as a service request). Errors come back as
/// <see cref="ApiException"/>s with Cinder's status and message.
/// </summary>
public sealed class VolumeApiClient(OpenStackClient controller) : IVolumeService
{
    private const string Version = "volume 3.54";

    /// <summary>os-reimage needs 3.68.</summary>
    private const string ReimageVersion = "volume 3.68";

    public async Task<VolumeInfo> GetAsync(RequestContext ctx, string volumeId) =>
        VolumeOf((await SendAsync(HttpMethod.Get, $"volumes/{Escape(volumeId)}"))!["volume"]!.AsObject());

    public async Task<VolumeInfo> CreateAsync(RequestContext ctx, VolumeCreateRequest request)
    {
        var volume = new JsonObject
        {
            ["size"] = request.Size,
            ["name"] = request.Name,
            ["description"] = request.Description,
            ["volume_type"] = request.VolumeType,
            ["imageRef"] = request.ImageRef,
            ["snapshot_id"] = request.SnapshotId,
            ["source_volid"] = request.SourceVolid,
            ["availability_zone"] = request.AvailabilityZone,
        };
        if (request.Metadata is { } metadata)
        {
            volume["metadata"] = Json.ToJson(metadata);
        }

        if (request.Multiattach is { } multiattach)
        {
            volume["multiattach"] = multiattach;
        }

        foreach (var key in volume.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList())
        {
            volume.Remove(key);
        }

        return VolumeOf((await SendAsync(HttpMethod.Post, "volumes", new JsonObject { ["volume"] = volume }))!["volume"]!.AsObject());
    }

    public async Task<string> CreateSnapshotForceAsync(RequestContext ctx, string volumeId, string name, string? description)
    {
        var snapshot = new JsonObject { ["volume_id"] = volumeId, ["name"] = name, ["description"] = description, ["force"] = true };
        return (await SendAsync(HttpMethod.Post, "snapshots", new JsonObject { ["snapshot"] = snapshot }))!["snapshot"]!["id"]!.GetValue<string>();
    }

    public Task DeleteVolumeAsync(RequestContext ctx, string volumeId) => SendAsync(HttpMethod.Delete, $"volumes/{Escape(volumeId)}");

    public async Task<AttachmentInfo> ReserveAsync(RequestContext ctx, string volumeId, string instanceId) =>
        AttachmentOf((await SendAsync(HttpMethod.Post, "attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = volumeId, ["instance_uuid"] = instanceId } }))!);

    public async Task<AttachmentInfo> UpdateAsync(RequestContext ctx, string attachmentId, Connector connector, string mountpoint)
    {
        var body = new JsonObject
        {
            ["host"] = connector.Host,
            ["ip"] = connector.Ip,
            ["initiator"] = connector.Initiator,
            ["mountpoint"] = connector.Mountpoint ?? mountpoint,
            ["mode"] = connector.Mode,
        };
        return AttachmentOf((await SendAsync(HttpMethod.Put, $"attachments/{Escape(attachmentId)}",
            new JsonObject { ["attachment"] = new JsonObject { ["connector"] = body } }))!);
    }

    public Task CompleteAsync(RequestContext ctx, string attachmentId) =>
        SendAsync(HttpMethod.Post, $"attachments/{Escape(attachmentId)}/action", new JsonObject { ["os-complete"] = null });

    public Task BeginDetachingAsync(RequestContext ctx, string volumeId) =>
        SendAsync(HttpMethod.Post, $"volumes/{Escape(volumeId)}/action", new JsonObject { ["os-begin_detaching"] = new JsonObject() });

    public Task RollDetachingAsync(RequestContext ctx, string volumeId) =>
        SendAsync(HttpMethod.Post, $"volumes/{Escape(volumeId)}/action", new JsonObject { ["os-roll_detaching"] = new JsonObject() });

    public Task DeleteAttachmentAsync(RequestContext ctx, string attachmentId) => SendAsync(HttpMethod.Delete, $"attachments/{Escape(attachmentId)}");

    public Task ReimageAsync(RequestContext ctx, string volumeId, string imageId, bool reimageReserved) =>
        SendAsync(HttpMethod.Post, $"volumes/{Escape(volumeId)}/action",
            new JsonObject { ["os-reimage"] = new JsonObject { ["image_id"] = imageId, ["reimage_reserved"] = reimageReserved } }, ReimageVersion);

    private static string Escape(string id) => Uri.EscapeDataString(id);

    /// <summary>One call; a reply outside 2xx becomes an ApiException with Cinder's status and message.</summary>
    private async Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonObject? body = null, string version = Version)
    {
        var url = await controller.EndpointAsync("block-storage", CancellationToken.None) + "/" + path;
        try
        {
            return await controller.RequestJsonAsync(method, url, body, version, CancellationToken.None);
        }
        catch (OpenStackException ex)
        {
            var kind = Enum.IsDefined((ErrorKind)ex.StatusCode) ? (ErrorKind)ex.StatusCode : ErrorKind.Internal;
            throw new ApiException(kind, ex.ApiMessage);
        }
    }

    private static VolumeInfo VolumeOf(JsonObject v) => new(
        v["id"]!.GetValue<string>(),
        v["name"]?.GetValue<string>(),
        v["status"]!.GetValue<string>(),
        v["size"]!.GetValue<int>(),
        v["multiattach"]?.GetValue<bool>() ?? false,
        v["bootable"]?.GetValue<string>() == "true",
        [.. (v["attachments"]?.AsArray() ?? []).Select(a => new VolumeAttachmentRef(
            a!["attachment_id"]!.GetValue<string>(),
            a["server_id"]?.GetValue<string>(),
            a["device"]?.GetValue<string>(),
            a["attached_at"]?.GetValue<string>() is { Length: > 0 } at ? DateTime.Parse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal) : null))]);

    private static AttachmentInfo AttachmentOf(JsonNode reply)
    {
        var a = reply["attachment"]!.AsObject();
        return new AttachmentInfo(
            a["id"]!.GetValue<string>(),
            a["volume_id"]!.GetValue<string>(),
            a["instance"]?.GetValue<string>(),
            a["status"]!.GetValue<string>(),
            a["attach_mode"]?.GetValue<string>() ?? "rw",
            Mountpoint: null, // Cinder's attachment reply does not carry it; the host knows the device it chose
            VolumeJson.ConnectionFrom(a["connection_info"] as JsonObject));
    }
}
