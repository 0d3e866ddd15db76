using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// QoS specs (cinder/api/contrib/qos_specs_manage.py): admin only. Associate and disassociate are GETs, as in Cinder.
public static partial class VolumeApi
{
    /// <summary>Bounds of a QoS specs' keys: as many as anyone sets, each key and value as long as Cinder's columns.</summary>
    private const int MaxQosKeys = 64;

    private const int MaxQosText = 255;

    private static void MapQosSpecs(RouteGroupBuilder v3)
    {
        v3.MapGet("/qos-specs", (Delegate)(ListQosSpecsAsync));
        v3.MapPost("/qos-specs", (Delegate)(CreateQosSpecsAsync));
        v3.MapGet("/qos-specs/{id}", (Delegate)(ShowQosSpecsAsync));
        v3.MapPut("/qos-specs/{id}", (Delegate)(SetQosKeysAsync));
        v3.MapDelete("/qos-specs/{id}", (Delegate)(DeleteQosSpecsAsync));
        v3.MapPut("/qos-specs/{id}/delete_keys", (Delegate)(UnsetQosKeysAsync));
        v3.MapGet("/qos-specs/{id}/associations", (Delegate)(QosAssociationsAsync));
        v3.MapGet("/qos-specs/{id}/associate", (Delegate)(AssociateQosAsync));
        v3.MapGet("/qos-specs/{id}/disassociate", (Delegate)(DisassociateQosAsync));
        v3.MapGet("/qos-specs/{id}/disassociate_all", (Delegate)(DisassociateAllQosAsync));
    }

    private static JsonObject QosSpecsBody(QosSpecsRow q) => new()
    {
        ["specs"] = Json.ToJson(VolumeService.MapOf(q.Specs)),
        ["consumer"] = q.Consumer,
        ["name"] = q.Name,
        ["id"] = q.Id,
    };

    private static JsonObject QosSpecsDetail(HttpContext http, RequestContext ctx, QosSpecsRow q) => new()
    {
        ["qos_specs"] = QosSpecsBody(q),
        ["links"] = VolumeJson.Links(http.BaseUrl(), ctx.ProjectId ?? "", "qos-specs", q.Id),
    };

    private static async Task<IResult> ListQosSpecsAsync(HttpContext http)
    {
        Authorize(http, "volume_extension:qos_specs_manage:get_all");
        var list = new JsonArray();
        foreach (var q in await Service(http).ListQosSpecsAsync())
        {
            list.Add(QosSpecsBody(q));
        }

        return Json.Reply(new JsonObject { ["qos_specs"] = list });
    }

    private static async Task<IResult> ShowQosSpecsAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:qos_specs_manage:get");
        return Json.Reply(QosSpecsDetail(http, ctx, await Service(http).FindQosSpecsAsync(id)));
    }

    private static async Task<IResult> CreateQosSpecsAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume_extension:qos_specs_manage:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "qos_specs");
        var specs = QosKeysOf(body);
        var name = specs.Remove("name", out var given) ? given.Trim() : "";
        if (name.Length == 0)
        {
            throw ApiException.BadRequest("Please specify a name for QoS specs.");
        }

        return Json.Reply(QosSpecsDetail(http, ctx, await Service(http).CreateQosSpecsAsync(name, specs)));
    }

    /// <summary>PUT /qos-specs/{id}: sets keys and answers them as given, as Cinder does.</summary>
    private static async Task<IResult> SetQosKeysAsync(HttpContext http, string id)
    {
        Authorize(http, "volume_extension:qos_specs_manage:update");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var specs = QosKeysOf(Json.RequiredObject(body, "qos_specs"));
        await Service(http).UpdateQosSpecsAsync(id, specs);
        return Json.Reply(new JsonObject { ["qos_specs"] = Json.ToJson(specs) });
    }

    private static async Task<IResult> UnsetQosKeysAsync(HttpContext http, string id)
    {
        Authorize(http, "volume_extension:qos_specs_manage:delete");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body["keys"] is not JsonArray { Count: > 0 and <= MaxQosKeys } array)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute keys: a list of key names is required.");
        }

        var keys = new List<string>();
        foreach (var item in array)
        {
            keys.Add(item is JsonValue v && v.TryGetValue(out string? key) && key is { Length: > 0 and <= MaxQosText }
                ? key
                : throw ApiException.BadRequest("Invalid input for field/attribute keys: each key is a string of 1 to 255 characters."));
        }

        await Service(http).DeleteQosKeysAsync(id, keys.Distinct(StringComparer.Ordinal).ToList());
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> DeleteQosSpecsAsync(HttpContext http, string id)
    {
        Authorize(http, "volume_extension:qos_specs_manage:delete");
        var force = false;
        if (http.Request.Query["force"].FirstOrDefault() is { } text)
        {
            force = Json.ParseBoolean(text) ?? throw ApiException.BadRequest($"Invalid value '{text}' for force.");
        }

        await Service(http).DeleteQosSpecsAsync(id, force);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> QosAssociationsAsync(HttpContext http, string id)
    {
        Authorize(http, "volume_extension:qos_specs_manage:get_all");
        var list = new JsonArray();
        foreach (var type in await Service(http).QosAssociationsAsync(id))
        {
            list.Add(new JsonObject { ["association_type"] = "volume_type", ["name"] = type.Name, ["id"] = type.Id });
        }

        return Json.Reply(new JsonObject { ["qos_associations"] = list });
    }

    private static async Task<IResult> AssociateQosAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:qos_specs_manage:update");
        await Service(http).AssociateQosSpecsAsync(ctx, id, RequiredTypeId(http));
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> DisassociateQosAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:qos_specs_manage:update");
        await Service(http).DisassociateQosSpecsAsync(ctx, id, RequiredTypeId(http));
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> DisassociateAllQosAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:qos_specs_manage:update");
        await Service(http).DisassociateQosSpecsAsync(ctx, id, typeId: null);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static string RequiredTypeId(HttpContext http) =>
        http.Request.Query["vol_type_id"].FirstOrDefault() is { Length: > 0 and <= MaxQosText } typeId
            ? typeId
            : throw ApiException.BadRequest("Volume Type id must not be None.");

    /// <summary>The keys of a qos_specs body: strings of at most 255 characters, at most <see cref="MaxQosKeys"/> of them.</summary>
    private static Dictionary<string, string> QosKeysOf(JsonObject body)
    {
        if (body.Count > MaxQosKeys + 2)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute qos_specs: at most {MaxQosKeys} keys.");
        }

        var specs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node) in body)
        {
            if (key.Length is 0 or > MaxQosText || node is not JsonValue v || !v.TryGetValue(out string? value) || value.Length > MaxQosText)
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute qos_specs: '{Truncate(key)}' must be a string of at most 255 characters.");
            }

            specs[key] = value;
        }

        return specs;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
