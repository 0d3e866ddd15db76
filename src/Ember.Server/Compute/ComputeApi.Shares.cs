using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// 2.97's share attachments (Nova's os-server-shares: Manila file shares given to the guest over virtiofs). Ember has
// no shared file system service and its guests no virtiofs, so a server never has a share: the list is empty, a share
// is Nova's 404, and an attach gets Nova's answer for a compute that cannot share after its state check.
public static partial class ComputeApi
{
    private const int SharesVersion = 97;

    private static void MapShares(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/shares", async (HttpContext http, ComputeStore store, string id) =>
        {
            RequireVersion(http, SharesVersion);
            var context = Authorize(http, "os_compute_api:os-server-shares:index");
            await FindServerAsync(store, context, id);
            return Json.Reply(new JsonObject { ["shares"] = new JsonArray() });
        });
        v21.MapGet("/servers/{id}/shares/{shareId}", async (HttpContext http, ComputeStore store, string id, string shareId) =>
        {
            RequireVersion(http, SharesVersion);
            var context = Authorize(http, "os_compute_api:os-server-shares:show");
            await FindServerAsync(store, context, id);
            throw ShareNotFound(shareId);
        });
        v21.MapPost("/servers/{id}/shares", async (HttpContext http, ComputeStore store, string id) =>
        {
            RequireVersion(http, SharesVersion);
            var context = Authorize(http, "os_compute_api:os-server-shares:create");
            var server = await FindServerAsync(store, context, id);
            var share = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "share");
            if (Json.OptionalString(share, "share_id") is not { } shareId || !Ids.IsUuid(shareId))
            {
                throw ApiException.BadRequest("Invalid input for field/attribute share_id. It must be a share's uuid.");
            }

            // Nova attaches shares to a stopped server only.
            if (server.VmState != VmStates.Stopped)
            {
                throw ComputeService.InvalidState(server, "create share");
            }

            throw ApiException.Conflict("Feature not supported because either compute or instance are not configured correctly.");
        });
        v21.MapDelete("/servers/{id}/shares/{shareId}", async (HttpContext http, ComputeStore store, string id, string shareId) =>
        {
            RequireVersion(http, SharesVersion);
            var context = Authorize(http, "os_compute_api:os-server-shares:delete");
            var server = await FindServerAsync(store, context, id);
            if (server.VmState is not (VmStates.Stopped or VmStates.Error))
            {
                throw ComputeService.InvalidState(server, "delete share");
            }

            throw ShareNotFound(shareId);
        });
    }

    private static ApiException ShareNotFound(string shareId) => ApiException.NotFound($"Share {Limits.Text(shareId, "share_id")} could not be found.");
}
