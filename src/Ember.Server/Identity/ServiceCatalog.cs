using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>The service catalog: every service of this host, under one base URL with path prefixes.</summary>
public static class ServiceCatalog
{
    private static readonly string[] s_interfaces = ["public", "internal", "admin"];

    /// <summary>(type, name, path); block storage is listed under its official type and the alias old clients ask for.</summary>
    private static readonly (string Type, string Name, string Path)[] s_services =
    [
        ("identity", "keystone", "/identity"),
        ("image", "glance", "/image"),
        ("compute", "nova", "/compute/v2.1"),
        ("block-storage", "cinder", "/volume/v3/{project_id}"),
        ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
        ("network", "neutron", "/network"),
    ];

    public const string Region = "RegionOne";

    /// <summary>The catalog for a request: the network service only when Network:Enabled.</summary>
    public static JsonArray Build(HttpContext http, string? projectId) =>
        Build(http.BaseUrl(), projectId, http.RequestServices.GetRequiredService<IOptions<Network.NetworkOptions>>().Value.Enabled);

    public static JsonArray Build(string baseUrl, string? projectId, bool withNetwork = true)
    {
        var catalog = new JsonArray();
        foreach (var (type, name, path) in s_services.Where(s => withNetwork || s.Type != "network"))
        {
            if (path.Contains("{project_id}", StringComparison.Ordinal) && projectId is null)
            {
                continue;
            }

            var url = baseUrl.TrimEnd('/') + path.Replace("{project_id}", projectId, StringComparison.Ordinal);
            var endpoints = new JsonArray();
            foreach (var iface in s_interfaces)
            {
                endpoints.Add(new JsonObject
                {
                    ["id"] = StableId($"{type}/{iface}"),
                    ["interface"] = iface,
                    ["region"] = Region,
                    ["region_id"] = Region,
                    ["url"] = url,
                });
            }

            catalog.Add(new JsonObject
            {
                ["id"] = StableId(type),
                ["type"] = type,
                ["name"] = name,
                ["endpoints"] = endpoints,
            });
        }

        return catalog;
    }

    /// <summary>Ids that stay the same across restarts and hosts, derived from the service type.</summary>
    public static string StableId(string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("ember-catalog/" + key)))[..32];
}
