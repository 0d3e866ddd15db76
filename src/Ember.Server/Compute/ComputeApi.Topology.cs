using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// Microversion routes that answer for something Ember does not do: a guest NUMA topology (2.78) and caching images
// on an aggregate's hosts ahead of boots (2.81). They give what Nova gives when there is nothing to do.
public static partial class ComputeApi
{
    private static void MapTopologyAndImageCache(RouteGroupBuilder v21)
    {
        // 2.78: Ember pins no guest to host NUMA cells (no hw:numa_* extra specs), so every server has Nova's
        // answer for an instance without numa_topology.
        v21.MapGet("/servers/{id}/topology", async (HttpContext http, ComputeStore store, string id) =>
        {
            RequireVersion(http, 78);
            var context = Authorize(http, "compute:server:topology:index");
            await FindServerAsync(store, context, id);
            return Json.Reply(new JsonObject { ["nodes"] = new JsonArray(), ["pagesize_kb"] = null });
        });
        // 2.81: Nova asks the aggregate's hosts to fetch the images ahead of boots. Ember's hosts fetch an image at
        // its first boot and keep it in their cache, so an existing aggregate is accepted with nothing to do.
        v21.MapPost("/os-aggregates/{id}/images", async Task<IResult> (HttpContext http, AggregateStore aggregates, string id) =>
        {
            RequireVersion(http, 81);
            Authorize(http, "compute:aggregates:images");
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            if (body["cache"] is not JsonArray { Count: > 0 } cache
                || cache.Any(i => i is not JsonObject image || Json.OptionalString(image, "id") is not { } imageId || !Ids.IsUuid(imageId)))
            {
                throw ApiException.BadRequest("Invalid input for field/attribute cache. It must be a non-empty list of {\"id\": image uuid}.");
            }

            return !long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
                ? throw ApiException.BadRequest($"Invalid input for field/attribute id. Value: {id}. It must be an integer.")
                : await aggregates.FindAsync(number) is null
                    ? throw ApiException.NotFound($"Aggregate {id} could not be found.")
                    : Results.Accepted();
        });
    }

    /// <summary>A route a microversion removes is Nova's plain 404 from it.</summary>
    private static void RequireBelow(HttpContext http, int minor)
    {
        if (ComputeVersion.Of(http).AtLeast(minor))
        {
            throw ApiException.NotFound("The resource could not be found.");
        }
    }

    /// <summary>A route a microversion adds is Nova's plain 404 below it.</summary>
    private static void RequireVersion(HttpContext http, int minor)
    {
        if (!ComputeVersion.Of(http).AtLeast(minor))
        {
            throw ApiException.NotFound("The resource could not be found.");
        }
    }
}
