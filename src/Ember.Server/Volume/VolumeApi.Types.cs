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
    }

    private static async Task<IResult> ListTypesAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume_extension:type_get_all");
        var list = new JsonArray();
        foreach (var type in await Service(http).Store.ListTypesAsync())
        {
            if (type.IsPublic || ctx.IsCloudAdmin)
            {
                list.Add(VolumeJson.Type(type, ctx));
            }
        }

        return Json.Reply(new JsonObject { ["volume_types"] = list });
    }

    private static async Task<VolumeTypeRow> FindTypeForAsync(HttpContext http, RequestContext ctx, string id)
    {
        var service = Service(http);
        if (id == "default")
        {
            return await service.DefaultTypeAsync();
        }

        var type = await service.Store.FindTypeAsync(id);
        return type is not null && (type.IsPublic || ctx.IsCloudAdmin) ? type : throw ApiException.NotFound($"Volume type {id} could not be found.");
    }

    private static async Task<IResult> ShowTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:type_get");
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.Type(await FindTypeForAsync(http, ctx, id), ctx) });
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

        var specs = Json.OptionalStringMap(body, "extra_specs") ?? new Dictionary<string, string>(StringComparer.Ordinal);
        ValidateSpecs(specs);
        var now = Ids.Now();
        var row = new VolumeTypeRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Description = Json.OptionalString(body, "description"),
            IsPublic = Json.OptionalBoolean(body, "os-volume-type-access:is_public") ?? Json.OptionalBoolean(body, "is_public") ?? true,
            ExtraSpecs = VolumeService.JsonOf(specs),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await Service(http).Store.InsertTypeAsync(row);
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.Type(row, ctx) });
    }

    private static async Task<IResult> UpdateTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_manage");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume_type");
        var type = await FindTypeForAsync(http, ctx, id);
        var name = body.ContainsKey("name") ? Json.OptionalString(body, "name")?.Trim() : type.Name;
        if (string.IsNullOrEmpty(name))
        {
            throw ApiException.BadRequest("Volume type name can not be empty.");
        }

        if (type.Name == VolumeService.DefaultTypeName && name != type.Name)
        {
            throw ApiException.BadRequest("The name of the default volume type __DEFAULT__ cannot be changed.");
        }

        var updated = type with
        {
            Name = name,
            Description = body.ContainsKey("description") ? Json.OptionalString(body, "description") : type.Description,
            IsPublic = Json.OptionalBoolean(body, "is_public") ?? type.IsPublic,
        };
        await Service(http).Store.UpdateTypeAsync(updated);
        return Json.Reply(new JsonObject { ["volume_type"] = VolumeJson.Type(updated, ctx) });
    }

    private static async Task<IResult> DeleteTypeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_manage");
        var type = await FindTypeForAsync(http, ctx, id);
        if (type.Name == VolumeService.DefaultTypeName)
        {
            throw ApiException.BadRequest("Default volume type can not be deleted.");
        }

        if (!await Service(http).Store.DeleteTypeAsync(type.Id))
        {
            throw ApiException.BadRequest("Target volume type is still in use.");
        }

        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>The Ember extension spec must be a positive integer; a typo would otherwise silently mean "no cap".</summary>
    private static void ValidateSpecs(IReadOnlyDictionary<string, string> specs)
    {
        if (specs.TryGetValue(VolumeService.MaxAttachmentsSpec, out var max) && !(int.TryParse(max, out var n) && n > 0))
        {
            throw ApiException.BadRequest($"Invalid input received: {VolumeService.MaxAttachmentsSpec} must be a positive integer, got '{max}'.");
        }
    }

    private static async Task<IResult> GetExtraSpecsAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:index");
        var type = await FindTypeForAsync(http, ctx, id);
        return Json.Reply(new JsonObject { ["extra_specs"] = VolumeJson.Type(type, ctx)["extra_specs"]!.DeepClone() });
    }

    private static async Task<IResult> SetExtraSpecsAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:create");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var given = Json.OptionalStringMap(body, "extra_specs") ?? throw ApiException.BadRequest("Missing or invalid 'extra_specs' in request body.");
        ValidateSpecs(given);
        var type = await FindTypeForAsync(http, ctx, id);
        var specs = VolumeService.SpecsOf(type);
        foreach (var (k, v) in given)
        {
            specs[k] = v;
        }

        await Service(http).Store.UpdateTypeAsync(type with { ExtraSpecs = VolumeService.JsonOf(specs) });
        return Json.Reply(new JsonObject { ["extra_specs"] = Json.ToJson(given) });
    }

    private static async Task<IResult> GetExtraSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:show");
        var type = await FindTypeForAsync(http, ctx, id);
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

        ValidateSpecs(new Dictionary<string, string> { [key] = value });
        var type = await FindTypeForAsync(http, ctx, id);
        var specs = VolumeService.SpecsOf(type);
        specs[key] = value;
        await Service(http).Store.UpdateTypeAsync(type with { ExtraSpecs = VolumeService.JsonOf(specs) });
        return Json.Reply(new JsonObject { [key] = value });
    }

    private static async Task<IResult> DeleteExtraSpecAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:types_extra_specs:delete");
        var type = await FindTypeForAsync(http, ctx, id);
        var specs = VolumeService.SpecsOf(type);
        if (!specs.Remove(key))
        {
            throw ApiException.NotFound($"Volume Type {type.Id} has no extra specs with key {key}.");
        }

        await Service(http).Store.UpdateTypeAsync(type with { ExtraSpecs = VolumeService.JsonOf(specs) });
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
