using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-server-password: the password a guest encrypted with the server's key pair and posted to the metadata service
// (cloud-init's and cloudbase-init's set-password), for `nova get-password` to decrypt; the owner may clear it.
public static partial class ComputeApi
{
    private static void MapServerPassword(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/os-server-password", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-password:show");
            var server = await FindServerAsync(store, context, id);
            return Json.Reply(new JsonObject { ["password"] = await store.ServerPasswordAsync(server.Id) });
        });
        v21.MapDelete("/servers/{id}/os-server-password", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-password:clear");
            var server = await FindServerAsync(store, context, id);
            await store.ClearServerPasswordAsync(server.Id);
            return Results.NoContent();
        });
    }
}
