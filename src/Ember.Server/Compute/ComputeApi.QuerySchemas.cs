using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

/// <summary>
/// Microversion 2.75's strictness (Nova's api-consistency-cleanup): the query schemas of these calls get
/// additionalProperties false, so an unknown query parameter is a 400 from 2.75 and ignored below. The server list has
/// its own table (<see cref="ServerListFilter"/>). Request bodies were strict before 2.75 already (Nova's body schemas
/// have been additionalProperties false since 2.1); PUT /servers/{id} is checked here the same way.
/// </summary>
public static partial class ComputeApi
{
    // Before the table below: static fields are initialized in the order they are written.
    private static readonly string[] s_flavorQuery = ["limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir"];

    /// <summary>The query parameters Nova's schema knows, per route (method and pattern under /compute/v2.1).</summary>
    private static readonly Dictionary<(string Method, string Route), string[]> s_queryParametersV275 = new()
    {
        [("GET", "/flavors")] = s_flavorQuery,
        [("GET", "/flavors/detail")] = s_flavorQuery,
        [("GET", "/os-keypairs")] = ["user_id", "limit", "marker"],
        [("GET", "/os-keypairs/{name}")] = ["user_id"],
        [("DELETE", "/os-keypairs/{name}")] = ["user_id"],
        [("GET", "/limits")] = ["tenant_id"],
        [("GET", "/os-quota-sets/{projectId}")] = ["user_id"],
        [("GET", "/os-quota-sets/{projectId}/detail")] = ["user_id"],
        [("PUT", "/os-quota-sets/{projectId}")] = ["user_id"],
        [("DELETE", "/os-quota-sets/{projectId}")] = ["user_id"],
        [("GET", "/os-server-groups")] = ["all_projects", "limit", "offset"],
        [("GET", "/os-services")] = ["host", "binary"],
        [("GET", "/servers/{id}/os-volume_attachments")] = ["limit", "offset"],
    };

    /// <summary>2.75: 400 for a query parameter the route's schema does not know (the v2.1 group's filter calls it for every route).</summary>
    private static void RefuseUnknownQuery(HttpContext http)
    {
        if (http.Request.Query.Count == 0 || !ComputeVersion.Of(http).AtLeast(75)
            || http.GetEndpoint() is not RouteEndpoint { RoutePattern.RawText: { } pattern })
        {
            return;
        }

        const string prefix = "/compute/v2.1";
        var route = pattern.StartsWith(prefix, StringComparison.Ordinal) ? pattern[prefix.Length..] : pattern;
        if (s_queryParametersV275.TryGetValue((http.Request.Method, route), out var known)
            && http.Request.Query.Keys.FirstOrDefault(k => !known.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for query parameters {unknown}. Additional properties are not allowed ('{unknown}' was unexpected)");
        }
    }

    /// <summary>
    /// Nova's update schema: {"server": {name, OS-DCF:diskConfig, accessIPv4, accessIPv6, description (2.19), hostname
    /// (2.90)}} and nothing else, on every version.
    /// </summary>
    private static void RefuseUnknownUpdateFields(JsonObject root, Microversion version)
    {
        if (root.Select(p => p.Key).FirstOrDefault(k => k != "server") is { } outer)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute server. Additional properties are not allowed ('{outer}' was unexpected)");
        }

        string[] allowed =
        [
            "name", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6",
            .. version.AtLeast(19) ? ["description"] : Array.Empty<string>(),
            .. version.AtLeast(HostnameVersion) ? ["hostname"] : Array.Empty<string>(),
        ];
        if (root["server"] is JsonObject server && server.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute server. Additional properties are not allowed ('{unknown}' was unexpected)");
        }
    }
}
