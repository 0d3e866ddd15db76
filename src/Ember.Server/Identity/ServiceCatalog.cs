using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>
/// The service catalog of tokens and /v3/auth/catalog, built from the services and endpoints tables
/// (<see cref="CatalogStore"/>): enabled services with their enabled endpoints, URLs resolved for the request.
/// </summary>
public static class ServiceCatalog
{
    public static readonly string[] Interfaces = ["public", "internal", "admin"];

    /// <summary>
    /// What a new install's catalog holds (type, name, path); block storage is listed under its official type and the
    /// alias old clients ask for. The path is relative to the request's base URL.
    /// </summary>
    public static readonly (string Type, string Name, string Path)[] Seed =
    [
        ("identity", "keystone", "/identity"),
        ("image", "glance", "/image"),
        ("compute", "nova", "/compute/v2.1"),
        ("block-storage", "cinder", "/volume/v3/$(project_id)s"),
        ("volumev3", "cinderv3", "/volume/v3/$(project_id)s"),
        ("network", "neutron", "/network"),
    ];

    public const string Region = "RegionOne";

    /// <summary>Keystone's URL templates for the token's project.</summary>
    private static readonly string[] s_projectTemplates = ["$(project_id)s", "%(project_id)s", "$(tenant_id)s", "%(tenant_id)s"];

    /// <summary>The seeded network service is shown only when Network:Enabled (the service answers only then).</summary>
    public static bool IsShown(HttpContext http, ServiceRow service) =>
        service.Id != StableId("network") || http.RequestServices.GetRequiredService<IOptions<Network.NetworkOptions>>().Value.Enabled;

    /// <summary>
    /// The catalog for a request: endpoints whose URL needs a project are left out without one, as are services left with
    /// none; a project with endpoint filter associations (OS-EP-FILTER) sees only its endpoints.
    /// </summary>
    public static async Task<JsonArray> BuildAsync(HttpContext http, string? projectId)
    {
        var store = http.RequestServices.GetRequiredService<CatalogStore>();
        var all = projectId is null ? null : await http.RequestServices.GetRequiredService<EndpointFilterStore>().EndpointsOfProjectAsync(projectId);
        var endpoints = (all ?? await store.ListEndpointsAsync()).Where(e => e.Enabled).ToLookup(e => e.ServiceId);
        var catalog = new JsonArray();
        foreach (var service in (await store.ListServicesAsync()).Where(s => s.Enabled && IsShown(http, s)))
        {
            var list = new JsonArray();
            foreach (var endpoint in endpoints[service.Id])
            {
                if (ResolveUrl(http, endpoint.Url, projectId) is not { } url)
                {
                    continue;
                }

                list.Add(new JsonObject
                {
                    ["id"] = endpoint.Id,
                    ["interface"] = endpoint.Interface,
                    ["region"] = endpoint.RegionId,
                    ["region_id"] = endpoint.RegionId,
                    ["url"] = url,
                });
            }

            if (list.Count > 0)
            {
                catalog.Add(new JsonObject { ["id"] = service.Id, ["type"] = service.Type, ["name"] = service.Name ?? "", ["endpoints"] = list });
            }
        }

        return catalog;
    }

    /// <summary>
    /// An endpoint's URL for a request: a path ("/...") joined to the request's base URL, the project templates filled
    /// in, or null when the URL needs a project and there is none. With <paramref name="keepTemplates"/> the templates
    /// stay, as /v3/endpoints shows them.
    /// </summary>
    public static string? ResolveUrl(HttpContext http, string url, string? projectId, bool keepTemplates = false)
    {
        var full = url.StartsWith('/') ? http.BaseUrl().TrimEnd('/') + url : url;
        if (keepTemplates)
        {
            return full;
        }

        foreach (var template in s_projectTemplates)
        {
            if (full.Contains(template, StringComparison.Ordinal))
            {
                if (projectId is null)
                {
                    return null;
                }

                full = full.Replace(template, projectId, StringComparison.Ordinal);
            }
        }

        return full;
    }

    /// <summary>Ids that stay the same across restarts and hosts, derived from the service type.</summary>
    public static string StableId(string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("ember-catalog/" + key)))[..32];
}
