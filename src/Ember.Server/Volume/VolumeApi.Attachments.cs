using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// The attachments API (3.27+; os-complete 3.44; mode 3.54): cinder/api/v3/attachments.py.
public static partial class VolumeApi
{
    private static readonly string[] s_attachmentCreateKeys = ["volume_uuid", "instance_uuid", "connector", "mode"];

    private static void MapAttachments(RouteGroupBuilder v3)
    {
        v3.MapPost("/attachments", (Delegate)(CreateAttachmentAsync));
        v3.MapGet("/attachments", (Delegate)((HttpContext http) => ListAttachmentsAsync(http, detail: false)));
        v3.MapGet("/attachments/detail", (Delegate)((HttpContext http) => ListAttachmentsAsync(http, detail: true)));
        v3.MapGet("/attachments/{id}", (Delegate)(ShowAttachmentAsync));
        v3.MapPut("/attachments/{id}", (Delegate)(UpdateAttachmentAsync));
        v3.MapDelete("/attachments/{id}", (Delegate)(DeleteAttachmentAsync));
        v3.MapPost("/attachments/{id}/action", (Delegate)(AttachmentActionAsync));
    }

    private static async Task<JsonObject> AttachmentDetailAsync(HttpContext http, RequestContext ctx, VolumeService service, AttachmentRow row) =>
        VolumeJson.AttachmentDetail(row, await service.ConnectionOfAsync(row), MaySeeExportNames(http, ctx));

    /// <summary>
    /// The export name is the credential of the data plane: only those who may change attachments see it
    /// (Cinder shows connection_info to the owner with a member role, not to readers).
    /// </summary>
    private static bool MaySeeExportNames(HttpContext http, RequestContext ctx) => http.Allows(ctx, "volume:attachment_update");

    private static async Task<IResult> CreateAttachmentAsync(HttpContext http)
    {
        RequireVersion(http, VolumeVersions.NewAttach);
        var ctx = Authorize(http, "volume:attachment_create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "attachment");
        var version = http.VolumeVersion();
        foreach (var (key, _) in body)
        {
            if (!s_attachmentCreateKeys.Contains(key) || key == "mode" && version < VolumeVersions.AttachmentMode)
            {
                throw ApiException.BadRequest($"Additional properties are not allowed ('{key}' was unexpected)");
            }
        }

        var volumeId = Json.OptionalString(body, "volume_uuid") ?? throw ApiException.BadRequest("'volume_uuid' is a required property");
        var instanceId = Json.OptionalString(body, "instance_uuid");
        if (instanceId is not null && !Ids.IsUuid(instanceId))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute instance_uuid. Value: {instanceId}. '{instanceId}' is not a 'uuid'");
        }

        var connector = body["connector"] switch
        {
            null => null,
            // Cinder tests the connector for truth: an empty {} (cinderclient sends one) only reserves.
            JsonObject { Count: 0 } => null,
            JsonObject o => o.DeepClone().AsObject(),
            _ => throw ApiException.BadRequest("Invalid input for field/attribute connector: expected an object."),
        };
        var mode = Json.OptionalString(body, "mode");
        if (mode is not (null or "rw" or "ro"))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute mode. Value: {mode}. '{mode}' is not one of ['rw', 'ro']");
        }

        var service = Service(http);
        var row = await service.CreateAttachmentAsync(ctx, volumeId, instanceId, connector, mode);
        return Json.Reply(new JsonObject { ["attachment"] = await AttachmentDetailAsync(http, ctx, service, row) });
    }

    private static async Task<IResult> ListAttachmentsAsync(HttpContext http, bool detail)
    {
        RequireVersion(http, VolumeVersions.NewAttach);
        var ctx = Authorize(http, "volume:attachment_get_all");
        var service = Service(http);
        var query = http.Request.Query;
        var filter = new AttachmentFilter
        {
            ProjectId = query["project_id"].FirstOrDefault(),
            VolumeId = query.TryGetValue("volume_id", out var volumeId) ? volumeId.ToString() : null,
            InstanceId = query.TryGetValue("instance_id", out var instance) ? instance.ToString() : null,
            AttachStatuses = [.. new[] { "status", "attach_status" }.Where(query.ContainsKey).Select(key => query[key].ToString())],
        };
        var page = await service.ListAttachmentsAsync(ctx, IsTrue(http.Request, "all_tenants"), filter, PageRequestOf(http.Request));
        var list = new JsonArray();
        if (detail)
        {
            var connections = await service.ConnectionsOfAsync(page.Items);
            var withSecret = MaySeeExportNames(http, ctx);
            for (var i = 0; i < page.Items.Count; i++)
            {
                list.Add(VolumeJson.AttachmentDetail(page.Items[i], connections[i], withSecret));
            }
        }
        else
        {
            foreach (var row in page.Items)
            {
                list.Add(VolumeJson.AttachmentSummary(row));
            }
        }

        var body = new JsonObject { ["attachments"] = list };
        if (QueryParams.NextLink(http, page, a => a.Id, QueryParams.Limit(http.Request.Query)) is { } next)
        {
            body["attachments_links"] = next;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowAttachmentAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.NewAttach);
        var ctx = Authorize(http, "volume:attachment_get");
        var service = Service(http);
        var row = await service.FindVisibleAttachmentAsync(ctx, id);
        return Json.Reply(new JsonObject { ["attachment"] = await AttachmentDetailAsync(http, ctx, service, row) });
    }

    private static async Task<IResult> UpdateAttachmentAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.NewAttach);
        var ctx = Authorize(http, "volume:attachment_update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "attachment");
        if (body["connector"] is not JsonObject { Count: > 0 } connector)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute connector. 'connector' is a required property with at least one key");
        }

        var service = Service(http);
        var row = await service.UpdateAttachmentAsync(ctx, id, connector.DeepClone().AsObject());
        return Json.Reply(new JsonObject { ["attachment"] = await AttachmentDetailAsync(http, ctx, service, row) });
    }

    private static async Task<IResult> DeleteAttachmentAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.NewAttach);
        var ctx = Authorize(http, "volume:attachment_delete");
        var rest = await Service(http).DeleteAttachmentAsync(ctx, id, isService: false);
        var list = new JsonArray();
        foreach (var row in rest)
        {
            list.Add(VolumeJson.AttachmentSummary(row));
        }

        return Json.Reply(new JsonObject { ["attachments"] = list });
    }

    private static async Task<IResult> AttachmentActionAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.AttachmentComplete);
        var ctx = Authorize(http, "volume:attachment_complete");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body.Count != 1 || !body.ContainsKey("os-complete"))
        {
            throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        }

        await Service(http).CompleteAttachmentAsync(ctx, id);
        return Results.NoContent();
    }
}
