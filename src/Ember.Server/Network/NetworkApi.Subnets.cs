using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Subnets: IPv4 only; no subnet pools, no IPv6 modes, no service types.
public static partial class NetworkApi
{
    private static readonly HashSet<string> s_subnetFields = new(StringComparer.Ordinal)
    {
        "name", "description", "network_id", "tenant_id", "project_id", "ip_version", "cidr", "gateway_ip", "allocation_pools", "enable_dhcp",
        "dns_nameservers", "host_routes", "service_types", "subnetpool_id", "use_default_subnetpool", "prefixlen", "ipv6_address_mode", "ipv6_ra_mode",
    };

    private static void MapSubnets(RouteGroupBuilder v2)
    {
        v2.MapGet("/subnets", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_subnet");
            return ReplyList(http, "subnets", (await Service(http).ListSubnetsAsync(ctx, http.RequestAborted)).Select(NetworkJson.Subnet));
        });
        v2.MapGet("/subnets/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_subnet");
            return Reply(http, "subnet", NetworkJson.Subnet(await Service(http).GetSubnetAsync(ctx, id, http.RequestAborted)));
        });
        v2.MapPost("/subnets", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_subnet");
            return await CreateAsync(http, "subnet", "subnets", s_subnetFields, body => CreateSubnetAsync(http, ctx, body),
                id => Service(http).DeleteSubnetAsync(ctx, id, CancellationToken.None));
        });
        v2.MapPut("/subnets/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_subnet");
            var body = await ReadResourceAsync(http, "subnet", s_subnetFields);
            foreach (var readOnly in new[] { "network_id", "cidr", "ip_version", "tenant_id", "project_id" })
            {
                if (body.ContainsKey(readOnly))
                {
                    throw NetworkErrors.BadRequest($"Cannot update read-only attribute {readOnly}");
                }
            }

            var update = new SubnetUpdate(OptionalText(body, "name"), OptionalText(body, "description"), body.ContainsKey("gateway_ip"),
                Json.OptionalString(body, "gateway_ip"), Pools(body), Json.OptionalBoolean(body, "enable_dhcp"), StringList(body, "dns_nameservers"), Routes(body));
            return Reply(http, "subnet", NetworkJson.Subnet(await Service(http).UpdateSubnetAsync(ctx, id, update, http.RequestAborted)));
        });
        v2.MapDelete("/subnets/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_subnet");
            await Service(http).DeleteSubnetAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
    }

    private static async Task<JsonObject> CreateSubnetAsync(HttpContext http, RequestContext ctx, JsonObject body)
    {
        RefuseUnsupportedSubnetAttributes(body);
        var request = new SubnetCreate(
            Json.OptionalString(body, "network_id") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'network_id' not specified"),
            ProjectOf(body), Text(body, "name"), Text(body, "description"),
            Json.OptionalString(body, "cidr") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'cidr' not specified"),
            body.ContainsKey("gateway_ip"), Json.OptionalString(body, "gateway_ip"), Pools(body), Json.OptionalBoolean(body, "enable_dhcp"),
            StringList(body, "dns_nameservers"), Routes(body));
        return NetworkJson.Subnet(await Service(http).CreateSubnetAsync(ctx, request, http.RequestAborted));
    }

    private static void RefuseUnsupportedSubnetAttributes(JsonObject body)
    {
        if (Json.OptionalInteger(body, "ip_version") is { } version && version != 4)
        {
            throw NetworkErrors.InvalidInput(version == 6
                ? "IPv6 subnets are not supported by this cloud; only ip_version 4"
                : $"{version} is not a valid IP version; only 4 is supported");
        }

        if (Json.OptionalString(body, "subnetpool_id") is not null || Json.OptionalBoolean(body, "use_default_subnetpool") == true || body["prefixlen"] is not null)
        {
            throw NetworkErrors.InvalidInput("Subnet pools are not supported by this cloud: give a cidr");
        }

        if (Json.OptionalString(body, "ipv6_address_mode") is not null || Json.OptionalString(body, "ipv6_ra_mode") is not null)
        {
            throw NetworkErrors.InvalidInput("IPv6 subnets are not supported by this cloud; only ip_version 4");
        }
    }

    private static List<PoolText>? Pools(JsonObject body) => ObjectList(body, "allocation_pools",
        o => new PoolText(Json.OptionalString(o, "start") ?? throw NetworkErrors.InvalidAttribute("allocation_pools", "each pool needs a start"),
            Json.OptionalString(o, "end") ?? throw NetworkErrors.InvalidAttribute("allocation_pools", "each pool needs an end")));

    private static List<HostRouteText>? Routes(JsonObject body) => ObjectList(body, "host_routes",
        o => new HostRouteText(Json.OptionalString(o, "destination") ?? throw NetworkErrors.InvalidAttribute("host_routes", "each route needs a destination"),
            Json.OptionalString(o, "nexthop") ?? throw NetworkErrors.InvalidAttribute("host_routes", "each route needs a nexthop")));
}
