using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Network;

// Quotas (neutron/extensions/quotasv2.py, quotasv2_detail.py): a project's own reader sees its quotas, admins set them.
public static partial class NetworkApi
{
    private static void MapQuotas(RouteGroupBuilder v2)
    {
        // The projects whose quotas differ from the defaults (admin): each with all its limits and its project_id.
        v2.MapGet("/quotas", async (HttpContext http) =>
        {
            Authorize(http, "get_quota");
            if (!http.RequireProjectContext().IsCloudAdmin)
            {
                throw NetworkErrors.PolicyNotAuthorized("rule:get_quota");
            }

            var quotas = await Service(http).ListQuotaLimitsAsync(http.RequestAborted);
            return ReplyList(http, "quotas", quotas.Select(q =>
            {
                var quota = new JsonObject([.. q.Limits.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))])
                {
                    ["project_id"] = q.ProjectId,
                    ["tenant_id"] = q.ProjectId,
                };
                return quota;
            }));
        });
        v2.MapGet("/quotas/{projectId}", async (HttpContext http, string projectId) =>
        {
            AuthorizeQuotaRead(http, projectId);
            var limits = await Service(http).QuotaLimitsAsync(projectId);
            return Json.Reply(new JsonObject { ["quota"] = new JsonObject([.. limits.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]) });
        });
        v2.MapGet("/quotas/{projectId}/default", (HttpContext http, string projectId) =>
        {
            AuthorizeQuotaRead(http, projectId);
            return Json.Reply(new JsonObject { ["quota"] = new JsonObject([.. NetworkService.DefaultQuotas.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]) });
        });
        // Neutron takes a format suffix on any path; Tempest's quota client asks for details.json.
        v2.MapGet("/quotas/{projectId}/details.json", (HttpContext http, string projectId) => QuotaDetailsAsync(http, projectId));
        v2.MapGet("/quotas/{projectId}/details", (HttpContext http, string projectId) => QuotaDetailsAsync(http, projectId));
        v2.MapPut("/quotas/{projectId}", async (HttpContext http, string projectId) =>
        {
            Authorize(http, "update_quota");
            var body = await ReadResourceAsync(http, "quota", NetworkService.DefaultQuotas.Keys.Append("project_id").Append("tenant_id").ToHashSet(StringComparer.Ordinal));
            var limits = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var resource in NetworkService.DefaultQuotas.Keys.Where(body.ContainsKey))
            {
                limits[resource] = Json.OptionalInteger(body, resource) is >= -1 and <= int.MaxValue and var limit
                    ? (int)limit
                    : throw NetworkErrors.InvalidInput($"'{body[resource]?.ToJsonString()}' is not a valid quota for {resource}: an integer of at least -1 is needed");
            }

            await Service(http).SetQuotaLimitsAsync(projectId, limits);
            var all = await Service(http).QuotaLimitsAsync(projectId);
            return Json.Reply(new JsonObject { ["quota"] = new JsonObject([.. all.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]) });
        });
        v2.MapDelete("/quotas/{projectId}", async (HttpContext http, string projectId) =>
        {
            Authorize(http, "delete_quota");
            await Service(http).ResetQuotaLimitsAsync(projectId, http.RequestAborted);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> QuotaDetailsAsync(HttpContext http, string projectId)
    {
        AuthorizeQuotaRead(http, projectId);
        var limits = await Service(http).QuotaLimitsAsync(projectId);
        var used = await Service(http).QuotaUsageAsync(projectId, http.RequestAborted);
        var quota = new JsonObject();
        foreach (var (resource, limit) in limits)
        {
            quota[resource] = new JsonObject { ["limit"] = limit, ["used"] = used.GetValueOrDefault(resource), ["reserved"] = 0 };
        }

        return Json.Reply(new JsonObject { ["quota"] = quota });
    }

    private static void AuthorizeQuotaRead(HttpContext http, string projectId)
    {
        var ctx = Authorize(http, "get_quota");
        if (projectId != ctx.ProjectId && !ctx.IsCloudAdmin)
        {
            throw NetworkErrors.PolicyNotAuthorized("rule:get_quota");
        }
    }
}
