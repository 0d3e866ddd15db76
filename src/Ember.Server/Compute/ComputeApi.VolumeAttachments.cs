using System.Text.Json.Nodes;
using Ember.Server.Common;
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

            var bdm = await compute.AttachVolumeAsync(context, RequestId(http), server, volumeId, Json.OptionalString(body, "device"),
                version.AtLeast(49) ? Json.OptionalString(body, "tag") : null, deleteOnTermination: false, version);
            return Json.Reply(new JsonObject { ["volumeAttachment"] = ComputeJson.VolumeAttachment(bdm, version) });
        });
        v21.MapDelete(collection + "/{volumeId}", async (HttpContext http, ComputeStore store, ComputeService compute, string id, string volumeId) =>
        {
            var context = Authorize(http, "os_compute_api:os-volumes-attachments:delete");
            var server = await FindServerAsync(store, context, id);
            await compute.DetachVolumeAsync(context, RequestId(http), server, volumeId);
            return Results.Accepted();
        });
    }
}
