using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    private static void MapFlavors(RouteGroupBuilder v21)
    {
        v21.MapGet("/flavors", (HttpContext http, ComputeStore store) => ListFlavorsAsync(http, store, detail: false));
        v21.MapGet("/flavors/detail", (HttpContext http, ComputeStore store) => ListFlavorsAsync(http, store, detail: true));
        v21.MapGet("/flavors/{id}", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:flavors:show");
            var flavor = await FindVisibleFlavorAsync(store, context, id);
            return Json.Reply(new JsonObject { ["flavor"] = ComputeJson.Flavor(http, flavor, ComputeVersion.Of(http)) });
        });
        v21.MapPost("/flavors", CreateFlavorAsync);
        v21.MapPut("/flavors/{id}", UpdateFlavorAsync);
        v21.MapDelete("/flavors/{id}", async (HttpContext http, ComputeStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-flavor-manage:delete");
            return await store.DeleteFlavorAsync(id) ? Results.Accepted() : throw ApiException.NotFound($"Flavor {id} could not be found.");
        });
        v21.MapGet("/flavors/{id}/os-extra_specs", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-flavor-extra-specs:index");
            var flavor = await FindVisibleFlavorAsync(store, context, id);
            return Json.Reply(new JsonObject { ["extra_specs"] = Json.ToJson(ComputeJson.ExtraSpecs(flavor)) });
        });
        v21.MapPost("/flavors/{id}/os-extra_specs", async (HttpContext http, ComputeStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-flavor-extra-specs:create");
            var flavor = await FindFlavorAsync(store, id);
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            var added = Json.OptionalStringMap(body, "extra_specs") ?? throw ApiException.BadRequest("Missing 'extra_specs' in request body.");
            var validate = ComputeVersion.Of(http).AtLeast(86);
            var specs = ComputeJson.ExtraSpecs(flavor);
            foreach (var (key, value) in added)
            {
                if (validate)
                {
                    FlavorExtraSpecs.Validate(key, value);
                }

                specs[key] = value;
            }

            await store.UpdateFlavorAsync(flavor with { ExtraSpecs = JsonSerializer.Serialize(specs) });
            return Json.Reply(new JsonObject { ["extra_specs"] = Json.ToJson(added) });
        });
        v21.MapGet("/flavors/{id}/os-extra_specs/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            var context = Authorize(http, "os_compute_api:os-flavor-extra-specs:show");
            var specs = ComputeJson.ExtraSpecs(await FindVisibleFlavorAsync(store, context, id));
            return specs.TryGetValue(key, out var value)
                ? Json.Reply(new JsonObject { [key] = value })
                : throw ApiException.NotFound($"Flavor {id} has no extra specs with key {key}.");
        });
        v21.MapPut("/flavors/{id}/os-extra_specs/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            Authorize(http, "os_compute_api:os-flavor-extra-specs:update");
            var flavor = await FindFlavorAsync(store, id);
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            if (body.Count != 1 || Json.OptionalString(body, key) is not { } value)
            {
                throw ApiException.BadRequest("Request body and URI mismatch");
            }

            if (ComputeVersion.Of(http).AtLeast(86))
            {
                FlavorExtraSpecs.Validate(key, value);
            }

            var specs = ComputeJson.ExtraSpecs(flavor);
            specs[key] = value;
            await store.UpdateFlavorAsync(flavor with { ExtraSpecs = JsonSerializer.Serialize(specs) });
            return Json.Reply(new JsonObject { [key] = value });
        });
        v21.MapDelete("/flavors/{id}/os-extra_specs/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            Authorize(http, "os_compute_api:os-flavor-extra-specs:delete");
            var flavor = await FindFlavorAsync(store, id);
            var specs = ComputeJson.ExtraSpecs(flavor);
            if (!specs.Remove(key))
            {
                throw ApiException.NotFound($"Flavor {id} has no extra specs with key {key}.");
            }

            await store.UpdateFlavorAsync(flavor with { ExtraSpecs = JsonSerializer.Serialize(specs) });
            return Results.Ok();
        });
        MapFlavorAccess(v21);
    }

    private static async Task<FlavorRow> FindFlavorAsync(ComputeStore store, string id) =>
        await store.FindFlavorAsync(id) is { } flavor && flavor.Id == id ? flavor : throw FlavorNotFound(id);

    /// <summary>A private flavor is a 404 for projects not on its access list, as if it did not exist.</summary>
    private static async Task<FlavorRow> FindVisibleFlavorAsync(ComputeStore store, RequestContext context, string id)
    {
        var flavor = await FindFlavorAsync(store, id);
        return await store.CanUseFlavorAsync(flavor, context) ? flavor : throw FlavorNotFound(id);
    }

    private static ApiException FlavorNotFound(string id) => ApiException.NotFound($"Flavor {id} could not be found.");

    private static async Task<IResult> ListFlavorsAsync(HttpContext http, ComputeStore store, bool detail)
    {
        var context = Authorize(http, "os_compute_api:flavors:index");
        var version = ComputeVersion.Of(http);
        var query = http.Request.Query;
        // Nova: only admins choose with is_public (absent: public, "none": all, false: private only); everyone
        // else gets the public flavors and the private ones their project was given.
        var isPublic = context.IsCloudAdmin ? IsPublicFilter(query["is_public"]) : true;
        var given = isPublic == true && context.ProjectId is not null ? await store.FlavorsOfProjectAsync(context.ProjectId) : null;
        IEnumerable<FlavorRow> flavors = (await store.ListFlavorsAsync())
            .Where(f => isPublic is null || f.IsPublic == isPublic || isPublic == true && given?.Contains(f.Id) == true);
        if (int.TryParse(query["minRam"], out var minRam))
        {
            flavors = flavors.Where(f => f.Ram >= minRam);
        }

        if (int.TryParse(query["minDisk"], out var minDisk))
        {
            flavors = flavors.Where(f => f.Disk >= minDisk);
        }

        // Nova sorts by flavorid by default; numeric ids sort as numbers.
        var sorted = flavors.OrderBy(f => int.TryParse(f.Id, out var n) ? n : int.MaxValue).ThenBy(f => f.Id, StringComparer.Ordinal).ToList();
        if (query["marker"] is { Count: > 0 } marker)
        {
            var index = sorted.FindIndex(f => f.Id == marker.ToString());
            sorted = index < 0 ? throw ApiException.BadRequest($"marker [{marker}] not found") : sorted.Skip(index + 1).ToList();
        }

        if (QueryParams.Limit(query) is { } limit)
        {
            sorted = sorted.Take(limit).ToList();
        }

        var list = new JsonArray();
        foreach (var flavor in sorted)
        {
            list.Add(detail ? ComputeJson.Flavor(http, flavor, version) : FlavorSummary(http, flavor, version));
        }

        return Json.Reply(new JsonObject { ["flavors"] = list });
    }

    private static bool? IsPublicFilter(Microsoft.Extensions.Primitives.StringValues value)
    {
        if (value.Count == 0)
        {
            return true;
        }

        var text = value.ToString();
        return string.Equals(text, "none", StringComparison.OrdinalIgnoreCase)
            ? null
            : Json.ParseBoolean(text) ?? throw ApiException.BadRequest($"Invalid is_public filter [{text}]");
    }

    /// <summary>An entry of GET /flavors: id, name, links, and the description from 2.55.</summary>
    private static JsonObject FlavorSummary(HttpContext http, FlavorRow flavor, Microversion version)
    {
        var json = new JsonObject { ["id"] = flavor.Id, ["name"] = flavor.Name, ["links"] = ComputeJson.Links(http, "flavors", flavor.Id) };
        if (version.AtLeast(55))
        {
            json["description"] = flavor.Description;
        }

        return json;
    }

    /// <summary>POST /flavors (admin): id null or "auto" means a generated UUID, as novaclient's flavor-create sends.</summary>
    private static async Task<IResult> CreateFlavorAsync(HttpContext http, ComputeStore store)
    {
        Authorize(http, "os_compute_api:os-flavor-manage:create");
        var version = ComputeVersion.Of(http);
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "flavor");
        var name = Json.OptionalString(body, "name")?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 255)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute name. Value: None. It must be a non-empty string of at most 255 characters.");
        }

        var requestedId = body["id"] is JsonValue idValue && idValue.TryGetValue(out long numericId) ? numericId.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : Json.OptionalString(body, "id");
        var id = requestedId is null or "auto" ? Ids.NewUuid() : requestedId;
        var flavor = new FlavorRow
        {
            Id = id,
            Name = name,
            Ram = Positive(Json.OptionalInteger(body, "ram"), "ram", minimum: 1),
            Vcpus = Positive(Json.OptionalInteger(body, "vcpus"), "vcpus", minimum: 1),
            Disk = Positive(Json.OptionalInteger(body, "disk"), "disk", minimum: 0),
            Ephemeral = Positive(Json.OptionalInteger(body, "OS-FLV-EXT-DATA:ephemeral") ?? 0, "OS-FLV-EXT-DATA:ephemeral", minimum: 0),
            Swap = Positive(SwapOf(body), "swap", minimum: 0),
            RxtxFactor = body["rxtx_factor"] is JsonValue r && r.TryGetValue(out double factor) ? factor : 1.0,
            IsPublic = Json.OptionalBoolean(body, "os-flavor-access:is_public") ?? true,
            Description = version.AtLeast(55) ? Limits.Text(Json.OptionalString(body, "description"), "description") : null,
            CreatedAt = Ids.Now(),
        };
        await store.InsertFlavorAsync(flavor);
        return Json.Reply(new JsonObject { ["flavor"] = ComputeJson.Flavor(http, flavor, version) });
    }

    /// <summary>PUT /flavors/{id} (2.55, admin): the description is all a flavor lets change, as in Nova.</summary>
    private static async Task<IResult> UpdateFlavorAsync(HttpContext http, ComputeStore store, string id)
    {
        var version = ComputeVersion.Of(http);
        if (!version.AtLeast(55))
        {
            // Nova's update exists from 2.55 only: below it the route is not there.
            throw ApiException.NotFound("The resource could not be found.");
        }

        Authorize(http, "os_compute_api:os-flavor-manage:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "flavor");
        if (!body.ContainsKey("description"))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute flavor. Value: {}. 'description' is a required property");
        }

        if (body.Select(p => p.Key).FirstOrDefault(k => k != "description") is { } unexpected)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute flavor. Additional properties are not allowed ('{unexpected}' was unexpected)");
        }

        var description = Limits.Text(Json.OptionalString(body, "description"), "description");
        var flavor = await store.UpdateFlavorDescriptionAsync(id, description) ?? throw ApiException.NotFound($"Flavor {id} could not be found.");
        return Json.Reply(new JsonObject { ["flavor"] = ComputeJson.Flavor(http, flavor, version) });
    }

    private static long? SwapOf(JsonObject body) =>
        body["swap"] is JsonValue v && v.TryGetValue(out string? text) && text == "" ? 0 : Json.OptionalInteger(body, "swap") ?? 0;

    private static int Positive(long? value, string field, int minimum) =>
        value is { } v && v >= minimum && v <= int.MaxValue
            ? (int)v
            : throw ApiException.BadRequest($"Invalid input for field/attribute {field}. Value: {value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "None"}. It must be an integer of at least {minimum}.");
}
