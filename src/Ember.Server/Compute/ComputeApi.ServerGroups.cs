using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    /// <summary>Nova's osapi_max_limit: a list never answers more than this many items.</summary>
    private const int MaxListLimit = 1000;

    private static void MapServerGroups(RouteGroupBuilder v21)
    {
        v21.MapPost("/os-server-groups", async (HttpContext http, ServerGroupService groups) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-groups:create");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "server_group");
            var (name, policy) = ParseServerGroup(body, ComputeVersion.Of(http));
            var group = await groups.CreateAsync(context, name, policy);
            return Json.Reply(new JsonObject { ["server_group"] = ServerGroupView(http, group, []) });
        });
        v21.MapGet("/os-server-groups", async (HttpContext http, ServerGroupService groups) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-groups:index");
            var query = http.Request.Query;
            // Nova looks only at whether all_projects is there, not at its value.
            var list = await groups.ListAsync(context, query.ContainsKey("all_projects"),
                Math.Min(QueryParams.Limit(query) ?? MaxListLimit, MaxListLimit), QueryParams.Offset(query));
            var members = await groups.MembersAsync([.. list.Select(g => g.Id)]);
            return Json.Reply(new JsonObject { ["server_groups"] = new JsonArray([.. list.Select(g => (JsonNode)ServerGroupView(http, g, members[g.Id]))]) });
        });
        v21.MapGet("/os-server-groups/{id}", async (HttpContext http, ServerGroupService groups, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-groups:show");
            var group = await groups.GetAsync(context, id);
            var members = await groups.MembersAsync([group.Id]);
            return Json.Reply(new JsonObject { ["server_group"] = ServerGroupView(http, group, members[group.Id]) });
        });
        v21.MapDelete("/os-server-groups/{id}", async (HttpContext http, ServerGroupService groups, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-groups:delete");
            await groups.DeleteAsync(context, id);
            return Results.NoContent();
        });
    }

    /// <summary>
    /// id, name, policies (a list of one), members, an always empty metadata, from 2.13 project_id and user_id; from
    /// 2.64 policy and rules in place of policies and metadata.
    /// </summary>
    private static JsonObject ServerGroupView(HttpContext http, ServerGroupRow group, IEnumerable<string> members)
    {
        var json = new JsonObject
        {
            ["id"] = group.Id,
            ["name"] = group.Name,
            ["members"] = new JsonArray([.. members.Select(m => (JsonNode)m)]),
        };
        if (ComputeVersion.Of(http).AtLeast(64))
        {
            json["policy"] = group.Policy;
            json["rules"] = new JsonObject();
        }
        else
        {
            json["policies"] = new JsonArray(group.Policy);
            json["metadata"] = new JsonObject();
        }

        if (ComputeVersion.Of(http).AtLeast(13))
        {
            json["project_id"] = group.ProjectId;
            json["user_id"] = group.UserId;
        }

        return json;
    }

    /// <summary>Nova's create schema below 2.64: name, and policies as a list of exactly one known policy; nothing else.</summary>
    private static (string Name, string Policy) ParseServerGroup(JsonObject body, Microversion version)
    {
        // From 2.64: policy (a string) and rules instead of the list.
        string[] keys = version.AtLeast(64) ? ["name", "policy", "rules"] : ["name", "policies"];
        if (body.Select(p => p.Key).FirstOrDefault(k => !keys.Contains(k)) is { } extra)
        {
            throw ApiException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        }

        foreach (var required in keys[..2])
        {
            if (!body.ContainsKey(required))
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute server_group. Value: {{...}}. '{required}' is a required property");
            }
        }

        var name = body["name"] is JsonValue nameValue && nameValue.TryGetValue(out string? text) ? text : null;
        if (name is null || name.Length is 0 or > 255)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute name. Value: {body["name"]?.ToJsonString() ?? "None"}. It must be a string of 1 to 255 characters.");
        }

        if (name.Trim().Length != name.Length)
        {
            throw ApiException.BadRequest("An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
        }

        if (version.AtLeast(64))
        {
            return (name, ServerGroupPolicy264(body));
        }

        if (body["policies"] is not JsonArray policies)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute policies. Value: {body["policies"]?.ToJsonString() ?? "None"}. It is not of type 'array'");
        }

        if (policies.Count != 1)
        {
            var list = PythonList(policies.Select(p => p?.ToString() ?? "None"));
            throw ApiException.BadRequest($"Invalid input for field/attribute policies. Value: {list}. {list} is {(policies.Count == 0 ? "too short" : "too long")}");
        }

        var allowed = ServerGroupPolicies.Allowed(version);
        var policy = policies[0] is JsonValue value && value.TryGetValue(out string? p) ? p : policies[0]?.ToJsonString() ?? "None";
        return allowed.Contains(policy)
            ? (name, policy)
            : throw ApiException.BadRequest($"Invalid input for field/attribute 0. Value: {policy}. '{policy}' is not one of {PythonList(allowed)}");
    }

    /// <summary>
    /// 2.64's policy and rules: max_server_per_host only with anti-affinity, and (Ember keeps no rules) only 1, which is
    /// what anti-affinity means without it.
    /// </summary>
    private static string ServerGroupPolicy264(JsonObject body)
    {
        string[] allowed = ["anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity"];
        var policy = body["policy"] is JsonValue value && value.TryGetValue(out string? p) ? p : body["policy"]?.ToJsonString() ?? "None";
        if (!allowed.Contains(policy))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute policy. Value: {policy}. '{policy}' is not one of {PythonList(allowed)}");
        }

        if (body["rules"] is null)
        {
            return policy;
        }

        if (body["rules"] is not JsonObject rules || rules.Any(r => r.Key != "max_server_per_host"))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute rules. Only 'max_server_per_host' is allowed.");
        }

        if (rules.Count > 0 && policy != "anti-affinity")
        {
            throw ApiException.BadRequest("Only anti-affinity policy supports rules.");
        }

        var max = Json.OptionalInteger(rules, "max_server_per_host");
        return max is null or 1
            ? policy
            : throw ApiException.BadRequest("Ember's anti-affinity keeps one member per host: max_server_per_host other than 1 is not supported.");
    }

    /// <summary>
    /// The "group" of a server create's scheduler hints (<c>os:scheduler_hints</c>, beside "server" in the body, or its
    /// old name <c>OS-SCH-HNT:scheduler_hints</c>), which must be a UUID as in Nova's schema; null when there is none.
    /// </summary>
    private static string? GroupHint(JsonObject root)
    {
        var hints = root["os:scheduler_hints"] ?? root["OS-SCH-HNT:scheduler_hints"];
        if (hints is null)
        {
            return null;
        }

        if (hints is not JsonObject hintObject)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute os:scheduler_hints. Value: {hints.ToJsonString()}. It is not of type 'object'");
        }

        if (hintObject["group"] is not { } group)
        {
            return null;
        }

        var id = group is JsonValue value && value.TryGetValue(out string? text) ? text : group.ToJsonString();
        return Guid.TryParse(id, out _)
            ? id
            : throw ApiException.BadRequest($"Invalid input for field/attribute group. Value: {id}. '{id}' is not a 'uuid'");
    }

    /// <summary>A list of strings as Python prints it, which Nova's validation messages quote.</summary>
    private static string PythonList(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => $"'{i}'")) + "]";
}
