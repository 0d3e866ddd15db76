using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Network;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// Nova's security group proxy (os-security-groups, os-security-group-rules, up to 2.35): the network service's groups in
// Nova's nova-network shapes. python-openstackclient 6.0 finds the group of `server add|remove security group` here.
public static partial class ComputeApi
{
    /// <summary>Nova stopped proxying the network APIs at 2.36 (MAX_PROXY_API_SUPPORT_VERSION).</summary>
    private const int LastProxyVersion = 35;

    private static void MapSecurityGroupProxy(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-security-groups", async (HttpContext http, NetworkService networks) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:get");
            var query = http.Request.Query;
            var allTenants = context.IsCloudAdmin && query.ContainsKey("all_tenants") && (Json.ParseBoolean(query["all_tenants"]) ?? true);
            var groups = (await networks.ListGroupsAsync(context, http.RequestAborted)).Where(g => allTenants || g.Group.ProjectId == context.ProjectId);
            return Json.Reply(new JsonObject { ["security_groups"] = new JsonArray([.. groups.Select(g => (JsonNode)NovaSecurityGroup(g))]) });
        });
        v21.MapGet("/os-security-groups/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:show");
            return Json.Reply(new JsonObject { ["security_group"] = NovaSecurityGroup(await ProxiedGroupAsync(networks, context, id, http.RequestAborted)) });
        });
        v21.MapPost("/os-security-groups", async (HttpContext http, NetworkService networks) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:create");
            var (name, description) = await GroupBodyAsync(http);
            var group = await networks.CreateGroupAsync(context, null, name, description, http.RequestAborted);
            return Json.Reply(new JsonObject { ["security_group"] = NovaSecurityGroup(group) });
        });
        v21.MapPut("/os-security-groups/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:update");
            var group = await ProxiedGroupAsync(networks, context, id, http.RequestAborted);
            var (name, description) = await GroupBodyAsync(http);
            var updated = await networks.UpdateGroupAsync(context, group.Group.Id, name, description, http.RequestAborted);
            return Json.Reply(new JsonObject { ["security_group"] = NovaSecurityGroup(updated) });
        });
        v21.MapDelete("/os-security-groups/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:delete");
            var group = await ProxiedGroupAsync(networks, context, id, http.RequestAborted);
            await networks.DeleteGroupAsync(context, group.Group.Id, http.RequestAborted);
            return Results.Accepted();
        });

        v21.MapPost("/os-security-group-rules", async (HttpContext http, NetworkService networks) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:rule:create");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "security_group_rule");
            var parent = await ProxiedGroupAsync(networks, context, Json.RequiredString(body, "parent_group_id"), http.RequestAborted);
            var rule = await networks.CreateRuleAsync(context, NovaRule(body, parent.Group.Id), http.RequestAborted);
            var refreshed = await networks.GetGroupAsync(context, parent.Group.Id, http.RequestAborted);
            return Json.Reply(new JsonObject { ["security_group_rule"] = NovaSecurityGroupRule(rule, refreshed) });
        });
        v21.MapDelete("/os-security-group-rules/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-security-groups:rule:delete");
            try
            {
                await networks.DeleteRuleAsync(context, id, http.RequestAborted);
            }
            catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
            {
                throw ApiException.NotFound($"Rule ({id}) not found");
            }

            return Results.Accepted();
        });
    }

    private static RequestContext AuthorizeProxy(HttpContext http, string action) =>
        ComputeVersion.Of(http).AtLeast(LastProxyVersion + 1) ? throw ApiException.NotFound("The resource could not be found.") : Authorize(http, action);

    /// <summary>A group of the caller's project by id, else by its one name (Nova's Neutron driver looks up both): 404 or 409 as Nova.</summary>
    private static async Task<SecurityGroupView> ProxiedGroupAsync(NetworkService networks, RequestContext context, string nameOrId, CancellationToken cancellationToken)
    {
        var matches = (await networks.ListGroupsAsync(context, cancellationToken))
            .Where(g => (g.Group.ProjectId == context.ProjectId || context.IsCloudAdmin) && (g.Group.Id == nameOrId || g.Group.Name == nameOrId))
            .ToList();
        return matches.FirstOrDefault(g => g.Group.Id == nameOrId) ?? matches.Where(g => g.Group.ProjectId == context.ProjectId).ToList() switch
        {
            [var one] => one,
            [] => throw ApiException.NotFound($"Security group {nameOrId} not found."),
            _ => throw ApiException.Conflict($"Multiple security_group matches found for name '{nameOrId}', use an ID to be more specific."),
        };
    }

    /// <summary>Nova's security_group body: a name and a description, strings of at most 255 characters.</summary>
    private static async Task<(string Name, string Description)> GroupBodyAsync(HttpContext http)
    {
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "security_group");
        var name = Limits.Text(Json.OptionalString(body, "name"), "name") ?? throw ApiException.BadRequest("Security group name is required");
        var description = Limits.Text(Json.OptionalString(body, "description"), "description")
            ?? throw ApiException.BadRequest("Security group description is required");
        return string.IsNullOrWhiteSpace(name) ? throw ApiException.BadRequest("Security group name cannot be empty") : (name, description);
    }

    /// <summary>
    /// A nova-network rule as the network service's ingress rule: ip_protocol tcp, udp or icmp (or none), from_port and
    /// to_port (-1 for any ICMP type or code), and either a CIDR or a source group of the project.
    /// </summary>
    private static RuleCreate NovaRule(JsonObject body, string parentId)
    {
        var protocol = Json.OptionalString(body, "ip_protocol")?.ToLowerInvariant();
        if (protocol is not (null or "tcp" or "udp" or "icmp"))
        {
            throw ApiException.BadRequest($"Invalid IP protocol {protocol}.");
        }

        var from = NovaPort(body, "from_port");
        var to = NovaPort(body, "to_port");
        if (protocol is "tcp" or "udp" && (from is null || to is null || from < 1 || to > 65535 || from > to))
        {
            throw ApiException.BadRequest($"Invalid port range {from}:{to}. Valid TCP ports should be between 1-65535");
        }

        var cidr = Json.OptionalString(body, "cidr");
        var group = Json.OptionalString(body, "group_id");
        if (cidr is not null && group is not null)
        {
            throw ApiException.BadRequest("Invalid input received: cidr and group_id are exclusive.");
        }

        var ethertype = "IPv4";
        if (cidr is not null)
        {
            ethertype = IPNetwork.TryParse(cidr, out var network)
                ? network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4"
                : throw ApiException.BadRequest($"Invalid cidr {cidr}.");
        }

        // ICMP's -1 is "any type" / "any code": Neutron leaves the range out.
        var icmp = protocol == "icmp";
        return new RuleCreate(parentId, null, "ingress", ethertype, protocol, icmp && from == -1 ? null : from, icmp && (to == -1 || from == -1) ? null : to,
            group is null ? cidr ?? "0.0.0.0/0" : null, group, "");
    }

    private static int? NovaPort(JsonObject body, string key) => body[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out int n) => n,
        JsonValue v when v.TryGetValue(out string? s) && int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
        _ => throw ApiException.BadRequest($"Invalid input for field/attribute {key}."),
    };
}
