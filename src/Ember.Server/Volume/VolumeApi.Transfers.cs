using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Volume transfers (cinder/api/contrib/volume_transfer.py as /os-volume-transfer, v3/volume_transfer.py as
// /volume-transfers from 3.55): create, list, show, accept, delete.
public static partial class VolumeApi
{
    private static void MapTransfers(RouteGroupBuilder v3)
    {
        foreach (var (path, min) in new[] { ("/os-volume-transfer", VolumeVersions.Min), ("/volume-transfers", VolumeVersions.TransfersV355) })
        {
            v3.MapPost(path, (Delegate)((HttpContext http) => CreateTransferAsync(http, min)));
            v3.MapGet(path, (Delegate)((HttpContext http) => ListTransfersAsync(http, min, detail: false)));
            v3.MapGet(path + "/detail", (Delegate)((HttpContext http) => ListTransfersAsync(http, min, detail: true)));
            v3.MapGet(path + "/{id}", (HttpContext http, string id) => ShowTransferAsync(http, min, id));
            v3.MapDelete(path + "/{id}", (HttpContext http, string id) => DeleteTransferAsync(http, min, id));
            v3.MapPost(path + "/{id}/accept", (HttpContext http, string id) => AcceptTransferAsync(http, min, id));
        }
    }

    private static JsonObject TransferSummary(TransferRow t, string baseUrl) => new()
    {
        ["id"] = t.Id,
        ["volume_id"] = t.VolumeId,
        ["name"] = t.Name,
        ["links"] = VolumeJson.Links(baseUrl, t.ProjectId, "os-volume-transfer", t.Id),
    };

    /// <summary>Cinder's transfer detail; 3.57 adds the projects, accepted and no_snapshots.</summary>
    private static JsonObject TransferDetail(TransferRow t, string baseUrl, Microversion version)
    {
        var o = TransferSummary(t, baseUrl);
        o["created_at"] = Ids.CinderTime(t.CreatedAt);
        if (version >= VolumeVersions.TransferDetails)
        {
            o["source_project_id"] = t.ProjectId;
            o["destination_project_id"] = null; // an accepted transfer is gone: every one shown is still open
            o["accepted"] = false;
            o["no_snapshots"] = t.NoSnapshots;
        }

        return o;
    }

    private static async Task<IResult> CreateTransferAsync(HttpContext http, Microversion min)
    {
        RequireVersion(http, min);
        var ctx = Authorize(http, "volume:create_transfer");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "transfer");
        var volumeId = Json.OptionalString(body, "volume_id") ?? throw ApiException.BadRequest("Invalid input for field/attribute transfer. 'volume_id' is a required property");
        var noSnapshots = http.VolumeVersion() >= VolumeVersions.TransfersV355 && (Json.OptionalBoolean(body, "no_snapshots") ?? false);
        var (row, authKey) = await Service(http).CreateTransferAsync(ctx, volumeId, Limits.Text(Json.OptionalString(body, "name"), "name"), noSnapshots);
        var view = TransferDetail(row, http.BaseUrl(), http.VolumeVersion());
        view["auth_key"] = authKey;
        return Json.Reply(new JsonObject { ["transfer"] = view }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListTransfersAsync(HttpContext http, Microversion min, bool detail)
    {
        RequireVersion(http, min);
        var ctx = Authorize(http, "volume:get_all_transfers");
        var name = http.Request.Query.TryGetValue("name", out var given) ? given.ToString() : null;
        var page = await Service(http).ListTransfersAsync(ctx, IsTrue(http.Request, "all_tenants"), name, PageRequestOf(http.Request));
        var list = new JsonArray();
        foreach (var row in page.Items)
        {
            list.Add(detail ? TransferDetail(row, http.BaseUrl(), http.VolumeVersion()) : TransferSummary(row, http.BaseUrl()));
        }

        var body = new JsonObject { ["transfers"] = list };
        if (QueryParams.NextLink(http, page, t => t.Id, QueryParams.Limit(http.Request.Query)) is { } next)
        {
            body["transfers_links"] = next;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowTransferAsync(HttpContext http, Microversion min, string id)
    {
        RequireVersion(http, min);
        var ctx = Authorize(http, "volume:get_transfer");
        var row = await Service(http).FindVisibleTransferAsync(ctx, id);
        return Json.Reply(new JsonObject { ["transfer"] = TransferDetail(row, http.BaseUrl(), http.VolumeVersion()) });
    }

    private static async Task<IResult> DeleteTransferAsync(HttpContext http, Microversion min, string id)
    {
        RequireVersion(http, min);
        var ctx = Authorize(http, "volume:delete_transfer");
        await Service(http).DeleteTransferAsync(ctx, id);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> AcceptTransferAsync(HttpContext http, Microversion min, string id)
    {
        RequireVersion(http, min);
        var ctx = Authorize(http, "volume:accept_transfer");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "accept");
        var authKey = Json.OptionalString(body, "auth_key") ?? throw ApiException.BadRequest("Invalid input for field/attribute accept. 'auth_key' is a required property");
        if (authKey.Length > 255)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute auth_key: at most 255 characters.");
        }

        var transfer = await Service(http).AcceptTransferAsync(ctx, id, authKey);
        return Json.Reply(new JsonObject { ["transfer"] = TransferSummary(transfer, http.BaseUrl()) }, StatusCodes.Status202Accepted);
    }
}
