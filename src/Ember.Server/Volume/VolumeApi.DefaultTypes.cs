using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Default volume types per project (3.62): PUT/GET/DELETE /default-types/{project_id}, GET /default-types.
public static partial class VolumeApi
{
    private static void MapDefaultTypes(RouteGroupBuilder v3)
    {
        v3.MapPut("/default-types/{projectId}", (Delegate)(SetDefaultTypeAsync));
        v3.MapGet("/default-types/{projectId}", (Delegate)(GetDefaultTypeAsync));
        v3.MapGet("/default-types", (Delegate)(ListDefaultTypesAsync));
        v3.MapDelete("/default-types/{projectId}", (Delegate)(UnsetDefaultTypeAsync));
    }

    private static JsonObject DefaultTypeJson(DefaultTypeRow row) => new() { ["project_id"] = row.ProjectId, ["volume_type_id"] = row.VolumeTypeId };

    private static async Task<IResult> SetDefaultTypeAsync(HttpContext http, string projectId)
    {
        RequireVersion(http, VolumeVersions.DefaultTypes);
        var ctx = Authorize(http, "volume_extension:default_set_or_update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "default_type");
        var type = Json.OptionalString(body, "volume_type") is { Length: > 0 and <= 255 } given
            ? given
            : throw ApiException.BadRequest("Invalid input for field/attribute volume_type. 'volume_type' is a required property");
        if (projectId.Length > 64)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute project_id. It is longer than 64 characters.");
        }

        var row = await Service(http).SetDefaultTypeAsync(ctx, projectId, type);
        return Json.Reply(new JsonObject { ["default_type"] = DefaultTypeJson(row) });
    }

    private static async Task<IResult> GetDefaultTypeAsync(HttpContext http, string projectId)
    {
        RequireVersion(http, VolumeVersions.DefaultTypes);
        var ctx = http.RequireContext();
        // A project's reader may see its own default; other projects' are for admins.
        http.Enforce(ctx, ctx.ProjectId == projectId ? "volume_extension:default_get" : "volume_extension:default_get_all");
        return Json.Reply(new JsonObject { ["default_type"] = DefaultTypeJson(await Service(http).GetDefaultTypeAsync(projectId)) });
    }

    private static async Task<IResult> ListDefaultTypesAsync(HttpContext http)
    {
        RequireVersion(http, VolumeVersions.DefaultTypes);
        Authorize(http, "volume_extension:default_get_all");
        var rows = await Service(http).ListDefaultTypesAsync();
        return Json.Reply(new JsonObject { ["default_types"] = new JsonArray([.. rows.Select(r => (JsonNode)DefaultTypeJson(r))]) });
    }

    private static async Task<IResult> UnsetDefaultTypeAsync(HttpContext http, string projectId)
    {
        RequireVersion(http, VolumeVersions.DefaultTypes);
        Authorize(http, "volume_extension:default_unset");
        await Service(http).UnsetDefaultTypeAsync(projectId);
        return Results.NoContent();
    }
}
