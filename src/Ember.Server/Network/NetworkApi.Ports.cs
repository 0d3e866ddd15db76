using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Ports, with port-security, allowed-address-pairs and binding (binding:* writable by admins only).
public static partial class NetworkApi
{
    private static readonly HashSet<string> s_portFields = new(StringComparer.Ordinal)
    {
        "name", "description", "network_id", "tenant_id", "project_id", "admin_state_up", "mac_address", "fixed_ips", "device_owner", "device_id",
        "security_groups", "port_security_enabled", "allowed_address_pairs", "binding:host_id", "binding:vnic_type", "binding:profile",
    };

    private static void MapPorts(RouteGroupBuilder v2)
    {
        v2.MapGet("/ports", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_port");
            // network_id and device_id narrow the read in SQL; every filter is applied again on the rendered ports.
            var ports = await Service(http).ListPortsAsync(ctx, SingleQuery(http, "network_id"), SingleQuery(http, "device_id"), http.RequestAborted);
            return ReplyList(http, "ports", ports.Select(p => NetworkJson.Port(p, ctx)));
        });
        v2.MapGet("/ports/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_port");
            return Reply(http, "port", NetworkJson.Port(await Service(http).GetPortAsync(ctx, id, http.RequestAborted), ctx));
        });
        v2.MapPost("/ports", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_port");
            return await CreateAsync(http, "port", "ports", s_portFields, body => CreatePortAsync(http, ctx, body),
                id => Service(http).DeletePortAsync(ctx, id, CancellationToken.None));
        });
        v2.MapPut("/ports/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_port");
            var body = await ReadResourceAsync(http, "port", s_portFields);
            if (body.ContainsKey("network_id") || body.ContainsKey("tenant_id") || body.ContainsKey("project_id"))
            {
                throw NetworkErrors.BadRequest("Cannot update read-only attribute network_id");
            }

            CheckPortAttributes(http, ctx, body, "update_port");
            var update = new PortUpdate(OptionalText(body, "name"), OptionalText(body, "description"), Json.OptionalBoolean(body, "admin_state_up"),
                Json.OptionalString(body, "mac_address"), FixedIps(body), OptionalText(body, "device_owner"), OptionalText(body, "device_id"),
                StringList(body, "security_groups"), Json.OptionalBoolean(body, "port_security_enabled"), AddressPairs(body), OptionalText(body, "binding:host_id"));
            return Reply(http, "port", NetworkJson.Port(await Service(http).UpdatePortAsync(ctx, id, update, http.RequestAborted), ctx));
        });
        v2.MapDelete("/ports/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_port");
            await Service(http).DeletePortAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
    }

    private static async Task<JsonObject> CreatePortAsync(HttpContext http, RequestContext ctx, JsonObject body)
    {
        CheckPortAttributes(http, ctx, body, "create_port");
        var request = new PortCreate(
            Json.OptionalString(body, "network_id") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'network_id' not specified"),
            ProjectOf(body), Text(body, "name"), Text(body, "description"), Json.OptionalBoolean(body, "admin_state_up"), Json.OptionalString(body, "mac_address"),
            FixedIps(body), Text(body, "device_owner"), Text(body, "device_id"), StringList(body, "security_groups"),
            Json.OptionalBoolean(body, "port_security_enabled"), AddressPairs(body), OptionalText(body, "binding:host_id"));
        return NetworkJson.Port(await Service(http).CreatePortAsync(ctx, request, http.RequestAborted), ctx);
    }

    private static string? SingleQuery(HttpContext http, string key) => http.Request.Query[key] is { Count: 1 } values ? values[0] : null;

    /// <summary>binding:* is for admins; so is a network:* device owner (the network's own ports); vnic_type is normal only.</summary>
    private static void CheckPortAttributes(HttpContext http, RequestContext ctx, JsonObject body, string action)
    {
        AuthorizeAttribute(http, ctx, $"{action}:binding:host_id", body.ContainsKey("binding:host_id"));
        AuthorizeAttribute(http, ctx, $"{action}:binding:profile", body.ContainsKey("binding:profile"));
        AuthorizeAttribute(http, ctx, $"{action}:device_owner", Json.OptionalString(body, "device_owner")?.StartsWith("network:", StringComparison.Ordinal) == true);
        if (Json.OptionalString(body, "binding:vnic_type") is { } vnic && vnic != "normal")
        {
            throw NetworkErrors.InvalidAttribute("binding:vnic_type", $"'{Limits.Text(vnic, "binding:vnic_type")}' is not supported; only normal");
        }
    }

    private static List<IpRequest>? FixedIps(JsonObject body) => ObjectList(body, "fixed_ips",
        o => new IpRequest(Json.OptionalString(o, "subnet_id"), Json.OptionalString(o, "ip_address")), NetworkService.MaxFixedIps);

    private static List<AddressPairText>? AddressPairs(JsonObject body) => ObjectList(body, "allowed_address_pairs",
        o => new AddressPairText(Json.OptionalString(o, "ip_address") ?? throw NetworkErrors.InvalidAttribute("allowed_address_pairs", "each pair needs an ip_address"),
            Json.OptionalString(o, "mac_address") ?? ""), NetworkService.MaxAddressPairs + 1);
}
