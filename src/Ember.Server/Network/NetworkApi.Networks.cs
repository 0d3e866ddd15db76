using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Networks (neutron/api/v2 networks, with external-net, net-mtu, port-security, provider read-only).
public static partial class NetworkApi
{
    private static readonly HashSet<string> s_networkFields = new(StringComparer.Ordinal)
    {
        "name", "description", "admin_state_up", "shared", "router:external", "mtu", "port_security_enabled", "tenant_id", "project_id",
        "availability_zone_hints", "provider:network_type", "provider:physical_network", "provider:segmentation_id",
    };

    private static void MapNetworks(RouteGroupBuilder v2)
    {
        v2.MapGet("/networks", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_network");
            return ReplyList(http, "networks", (await Service(http).ListNetworksAsync(ctx, http.RequestAborted)).Select(n => NetworkJson.Network(n, ctx)));
        });
        v2.MapGet("/networks/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_network");
            return Reply(http, "network", NetworkJson.Network(await Service(http).GetNetworkAsync(ctx, id, http.RequestAborted), ctx));
        });
        v2.MapPost("/networks", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_network");
            return await CreateAsync(http, "network", "networks", s_networkFields, body => CreateNetworkAsync(http, ctx, body),
                id => Service(http).DeleteNetworkAsync(ctx, id, CancellationToken.None));
        });
        v2.MapPut("/networks/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_network");
            var body = await ReadResourceAsync(http, "network", s_networkFields);
            var shared = Json.OptionalBoolean(body, "shared");
            var external = Json.OptionalBoolean(body, "router:external");
            AuthorizeAttribute(http, ctx, "update_network:shared", shared is not null);
            AuthorizeAttribute(http, ctx, "update_network:router:external", external is not null);
            var update = new NetworkUpdate(OptionalText(body, "name"), OptionalText(body, "description"), Json.OptionalBoolean(body, "admin_state_up"),
                shared, external, Mtu(body), Json.OptionalBoolean(body, "port_security_enabled"));
            return Reply(http, "network", NetworkJson.Network(await Service(http).UpdateNetworkAsync(ctx, id, update, http.RequestAborted), ctx));
        });
        v2.MapDelete("/networks/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_network");
            await Service(http).DeleteNetworkAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
    }

    private static async Task<JsonObject> CreateNetworkAsync(HttpContext http, RequestContext ctx, JsonObject body)
    {
        var shared = Json.OptionalBoolean(body, "shared");
        var external = Json.OptionalBoolean(body, "router:external");
        AuthorizeAttribute(http, ctx, "create_network:shared", shared == true);
        AuthorizeAttribute(http, ctx, "create_network:router:external", external == true);
        AuthorizeAttribute(http, ctx, "create_network:provider:network_type", body.ContainsKey("provider:network_type"));
        if (Json.OptionalString(body, "provider:network_type") is { } type && type != "vxlan")
        {
            throw NetworkErrors.InvalidInput($"Network type {Limits.Text(type, "provider:network_type")} is not supported; only vxlan");
        }

        var request = new NetworkCreate(ProjectOf(body), Text(body, "name"), Text(body, "description"), Json.OptionalBoolean(body, "admin_state_up"),
            shared, external, Mtu(body), Json.OptionalBoolean(body, "port_security_enabled"));
        return NetworkJson.Network(await Service(http).CreateNetworkAsync(ctx, request, http.RequestAborted), ctx);
    }

    /// <summary>project_id or tenant_id of a create body (they must agree when both are given).</summary>
    private static string? ProjectOf(JsonObject body)
    {
        var project = Json.OptionalString(body, "project_id");
        var tenant = Json.OptionalString(body, "tenant_id");
        return project is not null && tenant is not null && project != tenant
            ? throw NetworkErrors.BadRequest("'project_id' and 'tenant_id' do not match")
            : project ?? tenant;
    }

    private static int? Mtu(JsonObject body) => Json.OptionalInteger(body, "mtu") switch
    {
        null => null,
        >= 68 and <= 9000 and var mtu => (int)mtu,
        var bad => throw NetworkErrors.InvalidAttribute("mtu", $"'{bad}' is not in range 68 through 9000"),
    };
}
