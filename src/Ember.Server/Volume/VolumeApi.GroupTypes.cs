using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Group types and group specs (cinder/api/v3/group_types.py, group_specs.py), from 3.11. Anyone lists and shows the public
// ones, as Cinder checks no policy there; admins manage them and alone see group_specs in a type's body.
public static partial class VolumeApi
{
    private const int MaxGroupSpecs = 64;

    private const int MaxGroupSpecText = 255;

    private static void MapGroupTypes(RouteGroupBuilder v3)
    {
        v3.MapGet("/group_types", (Delegate)(ListGroupTypesAsync));
        v3.MapPost("/group_types", (Delegate)(CreateGroupTypeAsync));
        v3.MapGet("/group_types/{id}", (Delegate)(ShowGroupTypeAsync));
        v3.MapPut("/group_types/{id}", (Delegate)(UpdateGroupTypeAsync));
        v3.MapDelete("/group_types/{id}", (Delegate)(DeleteGroupTypeAsync));
        v3.MapGet("/group_types/{id}/group_specs", (Delegate)(ListGroupSpecsAsync));
        v3.MapPost("/group_types/{id}/group_specs", (Delegate)(SetGroupSpecsAsync));
        v3.MapGet("/group_types/{id}/group_specs/{key}", (Delegate)(ShowGroupSpecAsync));
        v3.MapPut("/group_types/{id}/group_specs/{key}", (Delegate)(SetGroupSpecAsync));
        v3.MapDelete("/group_types/{id}/group_specs/{key}", (Delegate)(DeleteGroupSpecAsync));
    }

    private static RequestContext GroupTypeContext(HttpContext http, string? action)
    {
        RequireVersion(http, VolumeVersions.GroupTypes);
        return action is null ? http.RequireProjectContext() : Authorize(http, action);
    }

    private static JsonObject GroupTypeBody(HttpContext http, RequestContext ctx, GroupTypeRow type)
    {
        var o = new JsonObject
        {
            ["id"] = type.Id,
            ["name"] = type.Name,
            ["description"] = type.Description,
            ["is_public"] = type.IsPublic,
        };
        if (http.Allows(ctx, "group:access_group_types_specs"))
        {
            o["group_specs"] = Json.ToJson(VolumeService.MapOf(type.GroupSpecs));
        }

        return o;
    }

    private static async Task<IResult> ListGroupTypesAsync(HttpContext http)
    {
        var ctx = GroupTypeContext(http, null);
        var types = await Service(http).ListGroupTypesAsync(ctx, GroupTypeVisibility(http.Request), PageRequestOf(http.Request));
        return Json.Reply(new JsonObject { ["group_types"] = new JsonArray([.. types.Select(t => (JsonNode)GroupTypeBody(http, ctx, t))]) });
    }

    /// <summary>The is_public filter as Cinder reads it: absent is public only, "none" is both, else a boolean.</summary>
    private static bool? GroupTypeVisibility(HttpRequest request)
    {
        if (request.Query["is_public"].FirstOrDefault() is not { } text)
        {
            return true;
        }

        return text.Equals("none", StringComparison.OrdinalIgnoreCase)
            ? null
            : Json.ParseBoolean(text) ?? throw ApiException.BadRequest($"Invalid is_public filter [{Truncate(text)}]");
    }

    private static async Task<IResult> ShowGroupTypeAsync(HttpContext http, string id)
    {
        var ctx = GroupTypeContext(http, null);
        if (id == "default")
        {
            // Cinder's default group type is its default_group_type option, unset unless configured; Ember has none.
            throw ApiException.NotFound("Default group type can not be found.");
        }

        return Json.Reply(new JsonObject { ["group_type"] = GroupTypeBody(http, ctx, await Service(http).FindGroupTypeAsync(ctx, id)) });
    }

    private static async Task<IResult> CreateGroupTypeAsync(HttpContext http)
    {
        var ctx = GroupTypeContext(http, "group:group_types:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "group_type");
        var name = GroupTypeName(body) ?? throw ApiException.BadRequest("Group type name can not be empty.");
        var row = await Service(http).CreateGroupTypeAsync(name, GroupTypeDescription(body), Json.OptionalBoolean(body, "is_public") ?? true,
            GroupSpecsOf(body, "group_specs") ?? new Dictionary<string, string>(StringComparer.Ordinal));
        return Json.Reply(new JsonObject { ["group_type"] = GroupTypeBody(http, ctx, row) }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> UpdateGroupTypeAsync(HttpContext http, string id)
    {
        var ctx = GroupTypeContext(http, "group:group_types:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "group_type");
        if (!body.ContainsKey("name") && !body.ContainsKey("description") && !body.ContainsKey("is_public"))
        {
            throw ApiException.BadRequest("Specify group type name, description or a combination thereof.");
        }

        var name = body.ContainsKey("name") ? GroupTypeName(body) ?? throw ApiException.BadRequest("Group type name can not be empty.") : null;
        var description = body.ContainsKey("description") ? new Optional<string?>(GroupTypeDescription(body)) : default;
        var updated = await Service(http).UpdateGroupTypeAsync(ctx, id, name, description, Json.OptionalBoolean(body, "is_public"));
        return Json.Reply(new JsonObject { ["group_type"] = GroupTypeBody(http, ctx, updated) });
    }

    private static async Task<IResult> DeleteGroupTypeAsync(HttpContext http, string id)
    {
        var ctx = GroupTypeContext(http, "group:group_types:delete");
        await Service(http).DeleteGroupTypeAsync(ctx, id);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListGroupSpecsAsync(HttpContext http, string id)
    {
        var ctx = GroupTypeContext(http, "group:group_types_specs:get_all");
        var type = await Service(http).FindGroupTypeAsync(ctx, id);
        return Json.Reply(new JsonObject { ["group_specs"] = Json.ToJson(VolumeService.MapOf(type.GroupSpecs)) });
    }

    private static async Task<IResult> SetGroupSpecsAsync(HttpContext http, string id)
    {
        var ctx = GroupTypeContext(http, "group:group_types_specs:create");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var given = GroupSpecsOf(body, "group_specs") ?? throw ApiException.BadRequest("Missing required element 'group_specs' in request body.");
        await Service(http).SetGroupSpecsAsync(ctx, id, given);
        return Json.Reply(new JsonObject { ["group_specs"] = Json.ToJson(given) }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ShowGroupSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = GroupTypeContext(http, "group:group_types_specs:get");
        var type = await Service(http).FindGroupTypeAsync(ctx, id);
        return VolumeService.MapOf(type.GroupSpecs).TryGetValue(key, out var value)
            ? Json.Reply(new JsonObject { [key] = value })
            : throw VolumeService.GroupSpecNotFound(type.Id, key);
    }

    private static async Task<IResult> SetGroupSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = GroupTypeContext(http, "group:group_types_specs:update");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body.Count > 1)
        {
            throw ApiException.BadRequest("Request body contains too many items.");
        }

        var specs = GroupSpecsOf(new JsonObject { ["group_specs"] = body.DeepClone() }, "group_specs")!;
        if (!specs.TryGetValue(key, out var value))
        {
            throw ApiException.BadRequest("Request body and URI mismatch");
        }

        await Service(http).SetGroupSpecsAsync(ctx, id, specs);
        return Json.Reply(new JsonObject { [key] = value });
    }

    private static async Task<IResult> DeleteGroupSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = GroupTypeContext(http, "group:group_types_specs:delete");
        await Service(http).DeleteGroupSpecAsync(ctx, id, key);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>The trimmed name, null when absent or blank; longer than 255 characters is a 400.</summary>
    private static string? GroupTypeName(JsonObject body) => Json.OptionalString(body, "name")?.Trim() switch
    {
        null or "" => null,
        { Length: > MaxGroupSpecText } => throw ApiException.BadRequest("Invalid input for field/attribute name: at most 255 characters."),
        var name => name,
    };

    private static string? GroupTypeDescription(JsonObject body) => Json.OptionalString(body, "description") is { Length: > MaxGroupSpecText }
        ? throw ApiException.BadRequest("Invalid input for field/attribute description: at most 255 characters.")
        : Json.OptionalString(body, "description");

    /// <summary>Group specs: at most <see cref="MaxGroupSpecs"/> string keys of 1 to 255 characters with values of at most 255.</summary>
    private static Dictionary<string, string>? GroupSpecsOf(JsonObject body, string field)
    {
        var specs = Json.OptionalStringMap(body, field);
        if (specs is null)
        {
            return null;
        }

        if (specs.Count > MaxGroupSpecs || specs.Any(kv => kv.Key.Length is 0 or > MaxGroupSpecText || kv.Value.Length > MaxGroupSpecText))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {field}: at most {MaxGroupSpecs} keys of 1 to 255 characters, values of at most 255.");
        }

        return specs;
    }
}
