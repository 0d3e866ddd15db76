using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Volume types and extra specs (cinder/api/v3/types.py, contrib/types_manage.py, types_extra_specs.py).
public static partial class VolumeApi
{
    private static void MapTypes(RouteGroupBuilder v3)
    {
        v3.MapGet("/types", (Delegate)(ListTypesAsync));
        v3.MapGet("/types/{id}", (Delegate)(ShowTypeAsync));
        v3.MapPost("/types", (Delegate)(CreateTypeAsync));
        v3.MapPut("/types/{id}", (Delegate)(UpdateTypeAsync));
        v3.MapDelete("/types/{id}", (Delegate)(DeleteTypeAsync));
        v3.MapGet("/types/{id}/extra_specs", (Delegate)(GetExtraSpecsAsync));
        v3.MapPost("/types/{id}/extra_specs", (Delegate)(SetExtraSpecsAsync));
        v3.MapGet("/types/{id}/extra_specs/{key}", (Delegate)(GetExtraSpecAsync));
        v3.MapPut("/types/{id}/extra_specs/{key}", (Delegate)(SetExtraSpecAsync));
        v3.MapDelete("/types/{id}/extra_specs/{key}", (Delegate)(DeleteExtraSpecAsync));
        v3.MapGet("/types/{id}/os-volume-type-access", (Delegate)(ListTypeAccessAsync));
        v3.MapPost("/types/{id}/action", (Delegate)(TypeActionAsync));
    }

    private static async Task<IResult> ListTypeAccessAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_access:get_all_for_type");
        var (typeId, projects) = await Service(http).ListTypeAccessAsync(ctx, id);
        return Json.Reply(new JsonObject
        {
            ["volume_type_access"] = new JsonArray([.. projects.Select(p => (JsonNode)new JsonObject { ["volume_type_id"] = typeId, ["project_id"] = p })]),
        });
    }

    /// <summary>POST /types/{id}/action: addProjectAccess or removeProjectAccess {"project": id} (cinder/api/contrib/volume_type_access.py).</summary>
    private static async Task<IResult> TypeActionAsync(HttpContext http, string id)
    {
        var ctx = http.RequireProjectContext();
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, node) = body.Count == 1 ? body.First() : throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        if (action is not ("addProjectAccess" or "removeProjectAccess"))
        {
            throw ApiException.BadRequest($"There is no such action: {action}");
        }

        http.Enforce(ctx, $"volume_extension:volume_type_access:{action}");
        var project = node is JsonObject args && Json.OptionalString(args, "project") is { Length: > 0 and <= 64 } given
            ? given
            : throw ApiException.BadRequest("Missing required element 'project' in request body (an id of at most 64 characters).");
        if (action == "addProjectAccess")
        {
            await Service(http).AddTypeAccessAsync(ctx, id, project);
        }
        else
        {
            await Service(http).RemoveTypeAccessAsync(ctx, id, project);
        }

        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListTypesAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume_extension:type_get_all");
        var list = new JsonArray();
        foreach (var type in await Service(http).ListTypesAsync(ctx))
        {
            list.Add(VolumeJson.Type(type, ctx));
        }

        return Json.Reply(new JsonObject { ["volume_types"] = list });
    }

    private static async Task<IResult> ShowTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:type_get");
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.Type(await Service(http).FindVisibleTypeAsync(ctx, id), ctx) });
    }

    private static async Task<IResult> CreateTypeAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume_extension:types_manage");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume_type");
        var name = Json.OptionalString(body, "name")?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 255)
        {
            throw ApiException.BadRequest("Volume type name can not be empty.");
        }

        var row = await Service(http).CreateTypeAsync(name, Json.OptionalString(body, "description"),
            Json.OptionalBoolean(body, "os-volume-type-access:is_public") ?? Json.OptionalBoolean(body, "is_public") ?? true,
            Json.OptionalStringMap(body, "extra_specs") ?? new Dictionary<string, string>(StringComparer.Ordinal));
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.CreatedType(row, ctx) });
    }

    private static async Task<IResult> UpdateTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_manage");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume_type");
        Optional<string> name = default;
        if (body.ContainsKey("name"))
        {
            name = new(Json.OptionalString(body, "name")?.Trim() is { Length: > 0 } given ? given : throw ApiException.BadRequest("Volume type name can not be empty."));
        }

        var description = body.ContainsKey("description") ? new Optional<string?>(Json.OptionalString(body, "description")) : default;
        var updated = await Service(http).UpdateTypeAsync(ctx, id, name, description, Json.OptionalBoolean(body, "is_public"));
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.UpdatedType(updated, ctx) });
    }

    private static async Task<IResult> DeleteTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_manage");
        await Service(http).DeleteTypeAsync(ctx, id);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetExtraSpecsAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:index");
        var type = await Service(http).FindVisibleTypeAsync(ctx, id);
        return Json.Reply(new JsonObject { ["extra_specs"] = VolumeJson.Type(type, ctx)["extra_specs"]!.DeepClone() });
    }

    private static async Task<IResult> SetExtraSpecsAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:create");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var given = Json.OptionalStringMap(body, "extra_specs") ?? throw ApiException.BadRequest("Missing or invalid 'extra_specs' in request body.");
        await Service(http).SetExtraSpecsAsync(ctx, id, given);
        return Json.Reply(new JsonObject { ["extra_specs"] = Json.ToJson(given) });
    }

    private static async Task<IResult> GetExtraSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:show");
        var type = await Service(http).FindVisibleTypeAsync(ctx, id);
        return VolumeService.SpecsOf(type).TryGetValue(key, out var value)
            ? Json.Reply(new JsonObject { [key] = value })
            : throw ApiException.NotFound($"Volume Type {type.Id} has no extra specs with key {key}.");
    }

    private static async Task<IResult> SetExtraSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:update");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body.Count != 1 || Json.OptionalString(body, key) is not { } value)
        {
            throw ApiException.BadRequest("Request body and URI mismatch");
        }

        await Service(http).SetExtraSpecsAsync(ctx, id, new Dictionary<string, string> { [key] = value });
        return Json.Reply(new JsonObject { [key] = value });
    }

    private static async Task<IResult> DeleteExtraSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:delete");
        await Service(http).DeleteExtraSpecAsync(ctx, id, key);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
