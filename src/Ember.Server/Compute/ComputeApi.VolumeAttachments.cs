using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    private static void MapVolumeAttachments(RouteGroupBuilder v21)
    {
        const string collection = "/servers/{id}/os-volume_attachments";
        v21.MapGet(collection, async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-volumes-attachments:index");
            var server = await FindServerAsync(store, context, id);
            var version = ComputeVersion.Of(http);
            var list = new JsonArray([.. (await store.ListBdmsAsync(server.Id)).Select(b => (JsonNode)ComputeJson.VolumeAttachment(b, version))]);
            return Json.Reply(new JsonObject { ["volumeAttachments"] = list });
        });
        v21.MapGet(collection + "/{volumeId}", async (HttpContext http, ComputeStore store, string id, string volumeId) =>
        {
            var context = Authorize(http, "os_compute_api:os-volumes-attachments:show");
            var server = await FindServerAsync(store, context, id);
            var bdm = (await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.VolumeId == volumeId)
                ?? throw ApiException.NotFound($"Volume {volumeId} is not attached to server {id}.");
            return Json.Reply(new JsonObject { ["volumeAttachment"] = ComputeJson.VolumeAttachment(bdm, ComputeVersion.Of(http)) });
        });
        v21.MapPost(collection, async (HttpContext http, ComputeStore store, ComputeService compute, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-volumes-attachments:create");
            var version = ComputeVersion.Of(http);
            var server = await FindServerAsync(store, context, id);
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volumeAttachment");
            var volumeId = Json.RequiredString(body, "volumeId");
            if (!Ids.IsUuid(volumeId))
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute volumeId. Value: {volumeId}. '{volumeId}' is not a 'uuid'");
            }

            RefuseLaterFields(body, version, "volumeAttachment", ("delete_on_termination", 79));
            var bdm = await compute.AttachVolumeAsync(context, RequestId(http), server, volumeId, Json.OptionalString(body, "device"),
                version.AtLeast(49) ? Json.OptionalString(body, "tag") : null, Json.OptionalBoolean(body, "delete_on_termination") ?? false, version);
            return Json.Reply(new JsonObject { ["volumeAttachment"] = ComputeJson.VolumeAttachment(bdm, version) });
        });
        v21.MapPut(collection + "/{volumeId}", UpdateVolumeAttachmentAsync);
        v21.MapDelete(collection + "/{volumeId}", async (HttpContext http, ComputeStore store, ComputeService compute, string id, string volumeId) =>
        {
            var context = Authorize(http, "os_compute_api:os-volumes-attachments:delete");
            var server = await FindServerAsync(store, context, id);
            await compute.DetachVolumeAsync(context, RequestId(http), server, volumeId);
            return Results.Accepted();
        });
    }

    /// <summary>
    /// PUT os-volume_attachments/{volume}: from 2.85 {"volumeAttachment": {"volumeId": the same volume,
    /// "delete_on_termination": bool}} changes whether the volume goes with the server; the other fields of the view
    /// may be given but not changed. Another volumeId (and any PUT before 2.85) is Nova's swap, which Ember does not do.
    /// </summary>
    private static async Task<IResult> UpdateVolumeAttachmentAsync(HttpContext http, ComputeStore store, VolumeService volumes, string id, string volumeId)
    {
        var version = ComputeVersion.Of(http);
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volumeAttachment");
        var newVolumeId = Json.RequiredString(body, "volumeId");
        if (!version.AtLeast(85) || newVolumeId != volumeId)
        {
            var admin = Authorize(http, "os_compute_api:os-volumes-attachments:swap");
            await CheckSwapVolumeAsync(volumes, store, admin, id, volumeId, newVolumeId);
            throw new ApiException(ErrorKind.NotImplemented, "Ember does not swap a server's volume for another: detach it and attach the other.");
        }

        var context = Authorize(http, "os_compute_api:os-volumes-attachments:update");
        string[] allowed = ["volumeId", "id", "serverId", "device", "tag", "delete_on_termination"];
        if (body.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        var server = await FindServerAsync(store, context, id);
        var bdm = (await store.ListBdmsAsync(server.Id)).FirstOrDefault(b => b.VolumeId == volumeId)
            ?? throw ApiException.NotFound($"Volume {volumeId} is not attached to server {id}.");
        foreach (var (key, current) in new[] { ("id", volumeId), ("serverId", server.Id), ("device", "/dev/" + bdm.DeviceName), ("tag", bdm.Tag) })
        {
            if (body.ContainsKey(key) && Json.OptionalString(body, key) != current)
            {
                throw ApiException.BadRequest($"The {key} property is not mutable");
            }
        }

        if (Json.OptionalBoolean(body, "delete_on_termination") is { } deleteOnTermination)
        {
            await store.UpdateBdmDeleteOnTerminationAsync(bdm.Id, deleteOnTermination);
        }

        return Results.Accepted();
    }
}
