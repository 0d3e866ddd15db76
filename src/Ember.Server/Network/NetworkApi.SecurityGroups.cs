using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Security groups and rules (neutron/extensions/securitygroup.py).
public static partial class NetworkApi
{
    private static readonly HashSet<string> s_groupFields = new(StringComparer.Ordinal) { "name", "description", "tenant_id", "project_id", "stateful" };

    private static readonly HashSet<string> s_ruleFields = new(StringComparer.Ordinal)
    {
        "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id",
        "description", "tenant_id", "project_id",
    };

    private static void MapSecurityGroups(RouteGroupBuilder v2)
    {
        v2.MapGet("/security-groups", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_security_group");
            return ReplyList(http, "security_groups", (await Service(http).ListGroupsAsync(ctx, http.RequestAborted)).Select(NetworkJson.SecurityGroup));
        });
        v2.MapGet("/security-groups/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_security_group");
            return Reply(http, "security_group", NetworkJson.SecurityGroup(await Service(http).GetGroupAsync(ctx, id, http.RequestAborted)));
        });
        v2.MapPost("/security-groups", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_security_group");
            var body = await ReadResourceAsync(http, "security_group", s_groupFields);
            if (Json.OptionalBoolean(body, "stateful") == false)
            {
                throw NetworkErrors.InvalidInput("Stateless security groups are not supported by this cloud");
            }

            var created = await Service(http).CreateGroupAsync(ctx, ProjectOf(body), Text(body, "name"), Text(body, "description"), http.RequestAborted);
            return Reply(http, "security_group", NetworkJson.SecurityGroup(created), StatusCodes.Status201Created);
        });
        v2.MapPut("/security-groups/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "update_security_group");
            var body = await ReadResourceAsync(http, "security_group", s_groupFields);
            var updated = await Service(http).UpdateGroupAsync(ctx, id, OptionalText(body, "name"), OptionalText(body, "description"), http.RequestAborted);
            return Reply(http, "security_group", NetworkJson.SecurityGroup(updated));
        });
        v2.MapDelete("/security-groups/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_security_group");
            await Service(http).DeleteGroupAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });

        v2.MapGet("/security-group-rules", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "get_security_group_rule");
            return ReplyList(http, "security_group_rules", (await Service(http).ListRulesAsync(ctx, http.RequestAborted)).Select(NetworkJson.Rule));
        });
        v2.MapGet("/security-group-rules/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "get_security_group_rule");
            return Reply(http, "security_group_rule", NetworkJson.Rule(await Service(http).GetRuleAsync(ctx, id, http.RequestAborted)));
        });
        v2.MapPost("/security-group-rules", async (HttpContext http) =>
        {
            var ctx = Authorize(http, "create_security_group_rule");
            var body = await ReadResourceAsync(http, "security_group_rule", s_ruleFields);
            var request = new RuleCreate(
                Json.OptionalString(body, "security_group_id") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'security_group_id' not specified"),
                ProjectOf(body),
                Json.OptionalString(body, "direction") ?? throw NetworkErrors.BadRequest("Failed to parse request. Required attribute 'direction' not specified"),
                Json.OptionalString(body, "ethertype"), ProtocolNumber(body) ?? Json.OptionalString(body, "protocol"),
                Port(body, "port_range_min"), Port(body, "port_range_max"), Json.OptionalString(body, "remote_ip_prefix"), Json.OptionalString(body, "remote_group_id"),
                Text(body, "description"));
            return Reply(http, "security_group_rule", NetworkJson.Rule(await Service(http).CreateRuleAsync(ctx, request, http.RequestAborted)), StatusCodes.Status201Created);
        });
        v2.MapDelete("/security-group-rules/{id}", async (HttpContext http, string id) =>
        {
            var ctx = Authorize(http, "delete_security_group_rule");
            await Service(http).DeleteRuleAsync(ctx, id, http.RequestAborted);
            return Results.NoContent();
        });
    }

    /// <summary>A protocol given as a JSON number (6) rather than a string ("6").</summary>
    private static string? ProtocolNumber(System.Text.Json.Nodes.JsonObject body) =>
        body["protocol"] is System.Text.Json.Nodes.JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? Json.OptionalInteger(body, "protocol")?.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : null;

    private static int? Port(System.Text.Json.Nodes.JsonObject body, string key) => Json.OptionalInteger(body, key) switch
    {
        null => null,
        >= -1 and <= 65535 and var port => (int)port,
        var bad => throw new ApiException(ErrorKind.BadRequest, $"Invalid value for port {bad}") { Type = "SecurityGroupInvalidPortValue" },
    };
}
