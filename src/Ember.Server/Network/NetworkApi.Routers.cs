using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Routers (router, ext-gw-mode) and floating IPs (neutron/extensions/l3.py).
public static partial class NetworkApi
{
    private static readonly HashSet<string> s_routerFields = new(StringComparer.Ordinal)
    {
        "name", "description", "admin_state_up", "external_gateway_info", "tenant_id", "project_id", "availability_zone_hints",
    };

    private static readonly HashSet<string> s_floatingIpFields = new(StringComparer.Ordinal)
    {
        "floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address", "description", "tenant_id", "project_id",
    };

    private static void MapRouters(RouteGroupBuilder v2)
    {
        v2.MapGet("/routers", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_router");
            return ReplyList(http, "routers", (await Service(http).ListRoutersAsync(ctx, http.RequestAborted)).Select(NetworkJson.Router));
        });
        v2.MapGet("/routers/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_router");
            return Reply(http, "router", NetworkJson.Router(await Service(http).GetRouterAsync(ctx, id, http.RequestAborted)));
        });
        v2.MapPost("/routers", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_router");
            var body = await ReadResourceAsync(http, "router", s_routerFields);
            var request = new RouterCreate(ProjectOf(body), Text(body, "name"), Text(body, "description"), Json.OptionalBoolean(body, "admin_state_up"),
                Gateway(http, ctx, body, "create_router"));
            return Reply(http, "router", NetworkJson.Router(await Service(http).CreateRouterAsync(ctx, request, http.RequestAborted)), StatusCodes.Status201Created);
        });
        v2.MapPut("/routers/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_router");
            var body = await ReadResourceAsync(http, "router", s_routerFields);
            if (body.ContainsKey("tenant_id") || body.ContainsKey("project_id"))
            {
                throw NetworkErrors.BadRequest("Cannot update read-only attribute project_id");
            }

            var update = new RouterUpdate(OptionalText(body, "name"), OptionalText(body, "description"), Json.OptionalBoolean(body, "admin_state_up"),
                body.ContainsKey("external_gateway_info"), Gateway(http, ctx, body, "update_router"));
            return Reply(http, "router", NetworkJson.Router(await Service(http).UpdateRouterAsync(ctx, id, update, http.RequestAborted)));
        });
        v2.MapDelete("/routers/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_router");
            await Service(http).DeleteRouterAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
        v2.MapPut("/routers/{id}/add_router_interface", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "add_router_interface");
            var (subnetId, portId) = await InterfaceBodyAsync(http);
            return Json.Reply(NetworkJson.RouterInterface(await Service(http).AddRouterInterfaceAsync(ctx, id, subnetId, portId, http.RequestAborted)));
        });
        v2.MapPut("/routers/{id}/remove_router_interface", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "remove_router_interface");
            var (subnetId, portId) = await InterfaceBodyAsync(http);
            return Json.Reply(NetworkJson.RouterInterface(await Service(http).RemoveRouterInterfaceAsync(ctx, id, subnetId, portId, http.RequestAborted)));
        });

        v2.MapGet("/floatingips", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_floatingip");
            return ReplyList(http, "floatingips", (await Service(http).ListFloatingIpsAsync(ctx, http.RequestAborted)).Select(NetworkJson.FloatingIp));
        });
        v2.MapGet("/floatingips/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_floatingip");
            return Reply(http, "floatingip", NetworkJson.FloatingIp(await Service(http).GetFloatingIpAsync(ctx, id, http.RequestAborted)));
        });
        v2.MapPost("/floatingips", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_floatingip");
            var body = await ReadResourceAsync(http, "floatingip", s_floatingIpFields);
            AuthorizeAttribute(http, ctx, "create_floatingip:floating_ip_address", body["floating_ip_address"] is not null);
            var request = new FloatingIpCreate(ProjectOf(body),
                Json.OptionalString(body, "floating_network_id") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'floating_network_id' not specified"),
                Json.OptionalString(body, "floating_ip_address"), Json.OptionalString(body, "subnet_id"), Json.OptionalString(body, "port_id"),
                Json.OptionalString(body, "fixed_ip_address"), Text(body, "description"));
            return Reply(http, "floatingip", NetworkJson.FloatingIp(await Service(http).CreateFloatingIpAsync(ctx, request, http.RequestAborted)), StatusCodes.Status201Created);
        });
        v2.MapPut("/floatingips/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_floatingip");
            var body = await ReadResourceAsync(http, "floatingip", s_floatingIpFields);
            foreach (var readOnly in new[] { "floating_network_id", "floating_ip_address", "subnet_id", "tenant_id", "project_id" })
            {
                if (body.ContainsKey(readOnly))
                {
                    throw NetworkErrors.BadRequest($"Cannot update read-only attribute {readOnly}");
                }
            }

            var updated = await Service(http).UpdateFloatingIpAsync(ctx, id, body.ContainsKey("port_id"), Json.OptionalString(body, "port_id"),
                Json.OptionalString(body, "fixed_ip_address"), OptionalText(body, "description"), http.RequestAborted);
            return Reply(http, "floatingip", NetworkJson.FloatingIp(updated));
        });
        v2.MapDelete("/floatingips/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_floatingip");
            await Service(http).DeleteFloatingIpAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
    }

    /// <summary>external_gateway_info: absent or null/{} (no gateway) gives null; enable_snat and external_fixed_ips need their own rules.</summary>
    private static GatewayInfo? Gateway(HttpContext http, RequestContext ctx, JsonObject body, string action)
    {
        if (body["external_gateway_info"] is not JsonObject info || info.Count == 0)
        {
            return body["external_gateway_info"] is null or JsonObject
                ? null
                : throw NetworkErrors.InvalidAttribute("external_gateway_info", "expected an object");
        }

        var unknown = info.Select(p => p.Key).Where(k => k is not ("network_id" or "enable_snat" or "external_fixed_ips")).ToList();
        if (unknown.Count > 0)
        {
            throw NetworkErrors.InvalidAttribute("external_gateway_info", $"unexpected keys '{Limits.Text(string.Join(", ", unknown), "keys")}'");
        }

        AuthorizeAttribute(http, ctx, $"{action}:external_gateway_info:enable_snat", info.ContainsKey("enable_snat"));
        AuthorizeAttribute(http, ctx, $"{action}:external_gateway_info:external_fixed_ips", info.ContainsKey("external_fixed_ips"));
        return new GatewayInfo(
            Json.OptionalString(info, "network_id") ?? throw NetworkErrors.InvalidAttribute("external_gateway_info", "network_id is required"),
            Json.OptionalBoolean(info, "enable_snat"),
            ObjectList(info, "external_fixed_ips", o => new IpRequest(Json.OptionalString(o, "subnet_id"), Json.OptionalString(o, "ip_address")), 4));
    }

    /// <summary>The body of add/remove_router_interface: {"subnet_id": ...} or {"port_id": ...}, not both.</summary>
    private static async Task<(string? SubnetId, string? PortId)> InterfaceBodyAsync(HttpContext http)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var unknown = body.Select(p => p.Key).Where(k => k is not ("subnet_id" or "port_id")).ToList();
        if (unknown.Count > 0)
        {
            throw NetworkErrors.BadRequest($"Unrecognized attribute(s) '{Limits.Text(string.Join(", ", unknown), "attributes")}'");
        }

        var subnetId = Json.OptionalString(body, "subnet_id");
        var portId = Json.OptionalString(body, "port_id");
        return subnetId is not null && portId is not null
            ? throw NetworkErrors.BadRouterRequest("Cannot specify both subnet-id and port-id")
            : (subnetId, portId);
    }
}
