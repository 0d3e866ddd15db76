using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Services and endpoints (keystone/catalog: /v3/services, /v3/endpoints): the catalog of every token is built from them.
public static partial class IdentityApi
{
    private static readonly string[] s_interfaces = ["public", "internal", "admin"];

    private static void MapCatalog(RouteGroupBuilder v3)
    {
        v3.MapGet("/services", async (HttpContext http, CatalogStore catalog) =>
        {
            Authorize(http, "identity:list_services");
            var query = http.Request.Query;
            var services = (await catalog.ListServicesAsync()).Where(s => ServiceCatalog.IsShown(http, s)
                && IdentityFilter.Text(query, "type", s.Type) && IdentityFilter.Text(query, "name", s.Name));
            return Json.Reply(new JsonObject
            {
                ["services"] = new JsonArray([.. services.Select(s => (JsonNode)ServiceJson(http, s))]),
                ["links"] = Links(http, "/services"),
            });
        });
        v3.MapGet("/services/{id}", async (HttpContext http, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:get_service");
            var service = await catalog.GetServiceAsync(id);
            return ServiceCatalog.IsShown(http, service)
                ? Json.Reply(new JsonObject { ["service"] = ServiceJson(http, service) })
                : throw ApiException.NotFound($"Could not find service: {id}.");
        });
        v3.MapPost("/services", async (HttpContext http, CatalogStore catalog) =>
        {
            Authorize(http, "identity:create_service");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "service");
            var service = new ServiceRow(Ids.NewHexId(), BoundedText(body, "type", 255, required: true)!, BoundedText(body, "name", 255),
                BoundedText(body, "description", 4096), StrictBoolean(body, "enabled") ?? true);
            await catalog.CreateServiceAsync(service);
            return Json.Reply(new JsonObject { ["service"] = ServiceJson(http, service) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/services/{id}", [HttpMethods.Patch], async (HttpContext http, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:update_service");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "service");
            var service = await catalog.GetServiceAsync(id);
            service = service with
            {
                Type = body.ContainsKey("type") ? BoundedText(body, "type", 255, required: true)! : service.Type,
                Name = body.ContainsKey("name") ? BoundedText(body, "name", 255) : service.Name,
                Description = body.ContainsKey("description") ? BoundedText(body, "description", 4096) : service.Description,
                Enabled = StrictBoolean(body, "enabled") ?? service.Enabled,
            };
            await catalog.UpdateServiceAsync(service);
            return Json.Reply(new JsonObject { ["service"] = ServiceJson(http, service) });
        });
        v3.MapDelete("/services/{id}", async (HttpContext http, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:delete_service");
            await catalog.DeleteServiceAsync(id);
            return Results.NoContent();
        });

        v3.MapGet("/endpoints", async (HttpContext http, CatalogStore catalog) =>
        {
            Authorize(http, "identity:list_endpoints");
            var query = http.Request.Query;
            var shown = (await catalog.ListServicesAsync()).Where(s => ServiceCatalog.IsShown(http, s)).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
            var endpoints = (await catalog.ListEndpointsAsync()).Where(e => shown.Contains(e.ServiceId)
                && IdentityFilter.Text(query, "service_id", e.ServiceId) && IdentityFilter.Text(query, "interface", e.Interface)
                && IdentityFilter.Text(query, "region_id", e.RegionId) && IdentityFilter.Text(query, "region", e.RegionId));
            return Json.Reply(new JsonObject
            {
                ["endpoints"] = new JsonArray([.. endpoints.Select(e => (JsonNode)EndpointJson(http, e))]),
                ["links"] = Links(http, "/endpoints"),
            });
        });
        v3.MapGet("/endpoints/{id}", async (HttpContext http, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:get_endpoint");
            return Json.Reply(new JsonObject { ["endpoint"] = EndpointJson(http, await catalog.GetEndpointAsync(id)) });
        });
        v3.MapPost("/endpoints", async (HttpContext http, CatalogStore catalog, RegionStore regions) =>
        {
            Authorize(http, "identity:create_endpoint");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "endpoint");
            var endpoint = new EndpointRow(Ids.NewHexId(), BoundedText(body, "service_id", 64, required: true)!, Interface(body),
                EndpointRegion(body), BoundedText(body, "url", 1024, required: true)!, StrictBoolean(body, "enabled") ?? true);
            await CreateLegacyRegionAsync(regions, body, endpoint.RegionId);
            await CheckEndpointPartsAsync(catalog, regions, endpoint);
            await catalog.CreateEndpointAsync(endpoint);
            return Json.Reply(new JsonObject { ["endpoint"] = EndpointJson(http, endpoint) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/endpoints/{id}", [HttpMethods.Patch], async (HttpContext http, CatalogStore catalog, RegionStore regions, string id) =>
        {
            Authorize(http, "identity:update_endpoint");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "endpoint");
            var endpoint = await catalog.GetEndpointAsync(id);
            endpoint = endpoint with
            {
                ServiceId = body.ContainsKey("service_id") ? BoundedText(body, "service_id", 64, required: true)! : endpoint.ServiceId,
                Interface = body.ContainsKey("interface") ? Interface(body) : endpoint.Interface,
                RegionId = body.ContainsKey("region_id") || body.ContainsKey("region") ? EndpointRegion(body) : endpoint.RegionId,
                Url = body.ContainsKey("url") ? BoundedText(body, "url", 1024, required: true)! : endpoint.Url,
                Enabled = StrictBoolean(body, "enabled") ?? endpoint.Enabled,
            };
            await CreateLegacyRegionAsync(regions, body, endpoint.RegionId);
            await CheckEndpointPartsAsync(catalog, regions, endpoint);
            await catalog.UpdateEndpointAsync(endpoint);
            return Json.Reply(new JsonObject { ["endpoint"] = EndpointJson(http, endpoint) });
        });
        v3.MapDelete("/endpoints/{id}", async (HttpContext http, CatalogStore catalog, string id) =>
        {
            Authorize(http, "identity:delete_endpoint");
            await catalog.DeleteEndpointAsync(id);
            return Results.NoContent();
        });
    }

    /// <summary>The endpoint's service must exist and so must its region (Keystone's 400 and 404).</summary>
    private static async Task CheckEndpointPartsAsync(CatalogStore catalog, RegionStore regions, EndpointRow endpoint)
    {
        if ((await catalog.ListServicesAsync()).All(s => s.Id != endpoint.ServiceId))
        {
            throw ApiException.BadRequest($"Could not find service: {endpoint.ServiceId}.");
        }

        if (endpoint.RegionId is { } region)
        {
            _ = await regions.GetAsync(region);
        }
    }

    /// <summary>
    /// Keystone's backward compatibility: a region named with the old "region" attribute (not region_id) is created when
    /// missing; one named by region_id must exist.
    /// </summary>
    private static async Task CreateLegacyRegionAsync(RegionStore regions, JsonObject body, string? regionId)
    {
        if (regionId is not null && !body.ContainsKey("region_id") && (await regions.ListAsync()).All(r => r.Id != regionId))
        {
            try
            {
                await regions.CreateAsync(new RegionRow(regionId, "", null));
            }
            catch (ApiException)
            {
                // Created by a concurrent request: it exists now, which is all that is needed.
            }
        }
    }

    /// <summary>Keystone's schema: a JSON boolean, not a string that looks like one (400).</summary>
    private static bool? StrictBoolean(JsonObject body, string key) => body[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool flag) => flag,
        _ => throw ApiException.BadRequest($"Invalid input for field '{key}': it is not of type 'boolean'."),
    };

    private static string Interface(JsonObject body)
    {
        var value = Json.OptionalString(body, "interface");
        return value is not null && s_interfaces.Contains(value)
            ? value
            : throw ApiException.BadRequest("Invalid input for field 'interface': it must be one of public, internal, admin.");
    }

    /// <summary>region_id, or the older region attribute openstackclient also sends.</summary>
    private static string? EndpointRegion(JsonObject body) =>
        body.ContainsKey("region_id") ? BoundedText(body, "region_id", RegionStore.MaxIdLength) : BoundedText(body, "region", RegionStore.MaxIdLength);

    /// <summary>A string attribute of at most <paramref name="maxLength"/> characters; null when absent (or a 400 when required).</summary>
    private static string? BoundedText(JsonObject body, string key, int maxLength, bool required = false)
    {
        var value = Json.OptionalString(body, key);
        if (value is null && required || value is { Length: 0 } && required || value?.Length > maxLength)
        {
            throw ApiException.BadRequest($"Invalid input for field '{key}': it must be a{(required ? " non-empty" : "")} string of at most {maxLength} characters.");
        }

        return value;
    }

    private static JsonObject ServiceJson(HttpContext http, ServiceRow s) => new()
    {
        ["id"] = s.Id,
        ["type"] = s.Type,
        ["name"] = s.Name,
        ["description"] = s.Description,
        ["enabled"] = s.Enabled,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/services/{s.Id}" },
    };

    private static JsonObject EndpointJson(HttpContext http, EndpointRow e) => new()
    {
        ["id"] = e.Id,
        ["interface"] = e.Interface,
        ["region"] = e.RegionId,
        ["region_id"] = e.RegionId,
        ["service_id"] = e.ServiceId,
        ["url"] = ServiceCatalog.ResolveUrl(http, e.Url, null, keepTemplates: true),
        ["enabled"] = e.Enabled,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/endpoints/{e.Id}" },
    };
}
