using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Regions (keystone/catalog: /v3/regions): create (POST with a generated id, or PUT with the caller's), list with the
// parent_region_id filter, show, update by PATCH, delete with the child regions.
public static partial class IdentityApi
{
    private static void MapRegions(RouteGroupBuilder v3)
    {
        v3.MapGet("/regions", async (HttpContext http, RegionStore regions) =>
        {
            Authorize(http, "identity:list_regions");
            var query = http.Request.Query;
            var rows = (await regions.ListAsync()).Where(r => IdentityFilter.Text(query, "parent_region_id", r.ParentRegionId));
            return Json.Reply(new JsonObject
            {
                ["regions"] = new JsonArray([.. rows.Select(r => (JsonNode)RegionJson(http, r))]),
                ["links"] = Links(http, "/regions"),
            });
        });
        v3.MapGet("/regions/{id}", async (HttpContext http, RegionStore regions, string id) =>
        {
            Authorize(http, "identity:get_region");
            return Json.Reply(new JsonObject { ["region"] = RegionJson(http, await regions.GetAsync(id)) });
        });
        v3.MapPost("/regions", async (HttpContext http, RegionStore regions) =>
        {
            Authorize(http, "identity:create_region");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "region");
            var id = Json.OptionalString(body, "id") is { Length: > 0 } given ? RegionId(given) : Ids.NewHexId();
            return await CreateRegionAsync(http, regions, id, body);
        });
        v3.MapPut("/regions/{id}", async (HttpContext http, RegionStore regions, string id) =>
        {
            Authorize(http, "identity:create_region");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "region");
            if (Json.OptionalString(body, "id") is { } other && other != id)
            {
                throw ApiException.BadRequest("The region id in the body does not match the one in the URL.");
            }

            return await CreateRegionAsync(http, regions, RegionId(id), body);
        });
        v3.MapMethods("/regions/{id}", [HttpMethods.Patch], async (HttpContext http, RegionStore regions, string id) =>
        {
            Authorize(http, "identity:update_region");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "region");
            if (body.ContainsKey("id"))
            {
                throw ApiException.BadRequest("The region id cannot be changed.");
            }

            var region = await regions.GetAsync(id);
            region = region with
            {
                Description = body.ContainsKey("description") ? RegionDescription(body) : region.Description,
                ParentRegionId = body.ContainsKey("parent_region_id") ? ParentRegion(body) : region.ParentRegionId,
            };
            return Json.Reply(new JsonObject { ["region"] = RegionJson(http, await regions.UpdateAsync(region)) });
        });
        v3.MapDelete("/regions/{id}", async (HttpContext http, RegionStore regions, string id) =>
        {
            Authorize(http, "identity:delete_region");
            await regions.DeleteAsync(id);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> CreateRegionAsync(HttpContext http, RegionStore regions, string id, JsonObject body)
    {
        var region = await regions.CreateAsync(new RegionRow(id, RegionDescription(body) ?? "", ParentRegion(body)));
        http.Response.Headers.Location = $"{http.BaseUrl()}/identity/v3/regions/{id}";
        return Json.Reply(new JsonObject { ["region"] = RegionJson(http, region) }, StatusCodes.Status201Created);
    }

    private static string RegionId(string id) => id.Length <= RegionStore.MaxIdLength
        ? id
        : throw ApiException.BadRequest($"Invalid input for field 'id': it must be at most {RegionStore.MaxIdLength} characters.");

    private static string? RegionDescription(JsonObject body) => Json.OptionalString(body, "description") is { Length: > 4096 }
        ? throw ApiException.BadRequest("Invalid input for field 'description': it must be at most 4096 characters.")
        : Json.OptionalString(body, "description");

    private static string? ParentRegion(JsonObject body) => Json.OptionalString(body, "parent_region_id") is { } parent ? RegionId(parent) : null;

    private static JsonObject RegionJson(HttpContext http, RegionRow region) => new()
    {
        ["id"] = region.Id,
        ["description"] = region.Description ?? "",
        ["parent_region_id"] = region.ParentRegionId,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/regions/{region.Id}" },
    };
}
