using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-quota-sets, os-quota-class-sets and /limits (nova/api/openstack/compute/quota_sets.py, quota_classes.py, limits.py).
public static partial class ComputeApi
{
    /// <summary>2.36 drops the network proxies from quotas and limits; 2.57 drops injected files.</summary>
    private static readonly Microversion s_noNetworkQuotas = new(2, 36);
    private static readonly Microversion s_noInjectedFiles = new(2, 57);
    private static readonly Microversion s_noImageMetaLimit = new(2, 39);

    private static void MapQuotas(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-quota-sets/{projectId}", (HttpContext http, ComputeQuotas quotas, string projectId) => ShowQuotaSetAsync(http, quotas, projectId, detail: false));
        v21.MapGet("/os-quota-sets/{projectId}/detail", (HttpContext http, ComputeQuotas quotas, string projectId) => ShowQuotaSetAsync(http, quotas, projectId, detail: true));
        v21.MapGet("/os-quota-sets/{projectId}/defaults", async (HttpContext http, ComputeQuotas quotas, string projectId) =>
        {
            Authorize(http, "os_compute_api:os-quota-sets:defaults");
            var set = QuotaJson(http, await quotas.DefaultsAsync(), null);
            set["id"] = projectId;
            return Json.Reply(new JsonObject { ["quota_set"] = set });
        });
        v21.MapPut("/os-quota-sets/{projectId}", UpdateQuotaSetAsync);
        v21.MapDelete("/os-quota-sets/{projectId}", async (HttpContext http, ComputeQuotas quotas, string projectId) =>
        {
            Authorize(http, "os_compute_api:os-quota-sets:delete");
            await quotas.DeleteAsync(projectId);
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        v21.MapGet("/os-quota-class-sets/{name}", async (HttpContext http, ComputeQuotas quotas, string name) =>
        {
            Authorize(http, "os_compute_api:os-quota-class-sets:show");
            var set = QuotaJson(http, await quotas.DefaultsAsync(), null);
            set["id"] = name;
            return Json.Reply(new JsonObject { ["quota_class_set"] = set });
        });
        v21.MapPut("/os-quota-class-sets/{name}", async (HttpContext http, ComputeQuotas quotas, string name) =>
        {
            Authorize(http, "os_compute_api:os-quota-class-sets:update");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "quota_class_set");
            var (limits, _) = ParseQuotaSet(http, body);
            // Nova keeps only the "default" class in use; a limit set on any other name changes nothing that is read.
            if (name == "default")
            {
                await quotas.SetDefaultsAsync(limits);
            }

            return Json.Reply(new JsonObject { ["quota_class_set"] = QuotaJson(http, await quotas.DefaultsAsync(), null) });
        });
        v21.MapGet("/limits", LimitsAsync);
    }

    /// <summary>A project's own reader may see its quotas; another project's are for admins.</summary>
    private static RequestContext AuthorizeQuotaRead(HttpContext http, string projectId)
    {
        var context = Authorize(http, "os_compute_api:os-quota-sets:show");
        return projectId == context.ProjectId || context.IsCloudAdmin
            ? context
            : throw ApiException.Forbidden("Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.");
    }

    private static async Task<IResult> ShowQuotaSetAsync(HttpContext http, ComputeQuotas quotas, string projectId, bool detail)
    {
        var context = AuthorizeQuotaRead(http, projectId);
        if (detail)
        {
            http.Enforce(context, "os_compute_api:os-quota-sets:detail");
        }

        var limits = await quotas.LimitsOfAsync(projectId);
        var usage = detail ? await quotas.UsageOfAsync(projectId, context.UserId) : null;
        var set = QuotaJson(http, limits, usage);
        set["id"] = projectId;
        return Json.Reply(new JsonObject { ["quota_set"] = set });
    }

    private static async Task<IResult> UpdateQuotaSetAsync(HttpContext http, ComputeQuotas quotas, string projectId)
    {
        var context = Authorize(http, "os_compute_api:os-quota-sets:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "quota_set");
        var (limits, force) = ParseQuotaSet(http, body);
        if (!force)
        {
            var usage = await quotas.UsageOfAsync(projectId, context.UserId);
            foreach (var (resource, limit) in limits)
            {
                if (limit >= 0 && usage.TryGetValue(resource, out var used) && used > limit)
                {
                    throw ApiException.BadRequest($"Quota limit {limit} for {resource} must be greater than or equal to already used and reserved {used}.");
                }
            }
        }

        await quotas.SetAsync(projectId, limits);
        return Json.Reply(new JsonObject { ["quota_set"] = QuotaJson(http, await quotas.LimitsOfAsync(projectId), null) });
    }

    /// <summary>The limits of a quota set body: each an integer from -1 (unlimited), only the resources of the request's version, and "force".</summary>
    private static (Dictionary<string, int> Limits, bool Force) ParseQuotaSet(HttpContext http, JsonObject body)
    {
        var shown = ShownQuotaResources(http);
        var limits = new Dictionary<string, int>(StringComparer.Ordinal);
        var force = false;
        foreach (var (key, _) in body)
        {
            if (key == "force")
            {
                force = Json.OptionalBoolean(body, key) ?? false;
                continue;
            }

            if (!shown.Contains(key))
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute quota_set. Additional properties are not allowed ('{key}' was unexpected)");
            }

            var value = Json.OptionalInteger(body, key);
            limits[key] = value is >= -1 and <= int.MaxValue
                ? (int)value
                : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Value: {body[key]?.ToJsonString()}. It must be an integer from -1 to {int.MaxValue}.");
        }

        return (limits, force);
    }

    private static HashSet<string> ShownQuotaResources(HttpContext http)
    {
        var version = ComputeVersion.Of(http);
        var keys = new HashSet<string>(ComputeQuotas.Defaults.Keys, StringComparer.Ordinal);
        keys.UnionWith(version < s_noInjectedFiles ? ComputeQuotas.Below257.Keys : []);
        keys.UnionWith(version < s_noNetworkQuotas ? ComputeQuotas.Below236.Keys : []);
        return keys;
    }

    /// <summary>A quota set as the request's version shows it; with usage, each resource is Nova's {in_use, limit, reserved}.</summary>
    private static JsonObject QuotaJson(HttpContext http, IReadOnlyDictionary<string, int> limits, IReadOnlyDictionary<string, int>? usage)
    {
        var set = new JsonObject();
        foreach (var key in ShownQuotaResources(http).Order(StringComparer.Ordinal))
        {
            set[key] = usage is null
                ? limits[key]
                : new JsonObject { ["in_use"] = usage.GetValueOrDefault(key), ["limit"] = limits[key], ["reserved"] = 0 };
        }

        return set;
    }

    /// <summary>GET /limits: the project's absolute limits and usage (an admin may name another project with tenant_id); no rate limits.</summary>
    private static async Task<IResult> LimitsAsync(HttpContext http, ComputeQuotas quotas)
    {
        var context = Authorize(http, "os_compute_api:limits");
        var projectId = context.ProjectId!;
        if (http.Request.Query["tenant_id"].FirstOrDefault() is { Length: > 0 } other && other != projectId)
        {
            http.Enforce(context, "os_compute_api:limits:other_project");
            projectId = other;
        }

        var limits = await quotas.LimitsOfAsync(projectId);
        var usage = await quotas.UsageOfAsync(projectId, context.UserId);
        var version = ComputeVersion.Of(http);
        var absolute = new JsonObject
        {
            ["maxTotalInstances"] = limits["instances"],
            ["maxTotalCores"] = limits["cores"],
            ["maxTotalRAMSize"] = limits["ram"],
            ["maxTotalKeypairs"] = limits["key_pairs"],
            ["maxServerMeta"] = limits["metadata_items"],
            ["maxServerGroups"] = limits["server_groups"],
            ["maxServerGroupMembers"] = limits["server_group_members"],
            ["totalInstancesUsed"] = usage["instances"],
            ["totalCoresUsed"] = usage["cores"],
            ["totalRAMUsed"] = usage["ram"],
            ["totalServerGroupsUsed"] = usage["server_groups"],
        };
        if (version < s_noImageMetaLimit)
        {
            absolute["maxImageMeta"] = limits["metadata_items"];
        }

        if (version < s_noInjectedFiles)
        {
            absolute["maxPersonality"] = limits["injected_files"];
            absolute["maxPersonalitySize"] = limits["injected_file_content_bytes"];
        }

        if (version < s_noNetworkQuotas)
        {
            absolute["maxTotalFloatingIps"] = limits["floating_ips"];
            absolute["maxSecurityGroups"] = limits["security_groups"];
            absolute["maxSecurityGroupRules"] = limits["security_group_rules"];
            absolute["totalFloatingIpsUsed"] = 0;
            absolute["totalSecurityGroupsUsed"] = 0;
        }

        return Json.Reply(new JsonObject { ["limits"] = new JsonObject { ["rate"] = new JsonArray(), ["absolute"] = absolute } });
    }
}
