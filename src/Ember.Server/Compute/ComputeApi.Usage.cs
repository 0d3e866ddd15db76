using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py): the hours each project's servers ran in
// a window, and what they held meanwhile. A server counts from launched_at (its first boot) to terminated_at (its
// delete, kept in terminated_servers), clipped to the window; one that never launched counts nothing.
public static partial class ComputeApi
{
    /// <summary>2.40: the usage lists page with limit and marker (a server id) and link to the next page.</summary>
    private const int UsagePagingVersion = 40;

    /// <summary>The formats Nova's _parse_datetime accepts for start and end.</summary>
    private static readonly string[] s_usageTimeFormats = ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFF"];

    private static void MapUsage(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-simple-tenant-usage", async (HttpContext http, ServerUsageStore store) =>
        {
            // Nova's router has no empty tenant id: GET /os-simple-tenant-usage/ is a 404, not the list.
            if (http.Request.Path.Value?.EndsWith('/') == true)
            {
                throw ApiException.NotFound("The resource could not be found.");
            }

            Authorize(http, "os_compute_api:os-simple-tenant-usage:list");
            var (start, stop, detailed) = UsageWindow(http);
            var (limit, marker) = UsagePage(http);
            var servers = await store.ActiveInWindowAsync(start, stop, null, marker, limit) ?? throw ApiException.BadRequest($"Marker {marker} could not be found.");
            var body = new JsonObject { ["tenant_usages"] = new JsonArray([.. TenantUsages(servers, start, stop, detailed).Select(u => (JsonNode)u)]) };
            if (UsageLinks(http, servers) is { } next)
            {
                body["tenant_usages_links"] = next;
            }

            return Json.Reply(body);
        });
        v21.MapGet("/os-simple-tenant-usage/{projectId}", async (HttpContext http, ServerUsageStore store, string projectId) =>
        {
            var context = Authorize(http, "os_compute_api:os-simple-tenant-usage:show");
            if (projectId != context.ProjectId && !context.IsCloudAdmin)
            {
                throw ApiException.Forbidden("Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed.");
            }

            var (start, stop, _) = UsageWindow(http);
            var (limit, marker) = UsagePage(http);
            var servers = await store.ActiveInWindowAsync(start, stop, projectId, marker, limit) ?? throw ApiException.BadRequest($"Marker {marker} could not be found.");
            var usage = TenantUsages(servers, start, stop, detailed: true).SingleOrDefault() ?? new JsonObject();
            var body = new JsonObject { ["tenant_usage"] = usage };
            if (UsageLinks(http, servers) is { } next)
            {
                body["tenant_usage_links"] = next;
            }

            return Json.Reply(body);
        });
    }

    /// <summary>start and end (now when absent; the end no later than now), and detailed=1. Nova's 400s for a bad time or an empty window.</summary>
    private static (DateTime Start, DateTime Stop, bool Detailed) UsageWindow(HttpContext http)
    {
        var query = http.Request.Query;
        var now = Ids.Now();
        var start = UsageTime(query["start"], now);
        var stop = UsageTime(query["end"], now);
        if (start >= stop)
        {
            throw ApiException.BadRequest("Invalid start time. The start time cannot occur after the end time.");
        }

        return (start, stop > now ? now : stop, query["detailed"].ToString() == "1");
    }

    private static DateTime UsageTime(string? text, DateTime now) =>
        string.IsNullOrEmpty(text)
            ? now
            : DateTime.TryParseExact(text, s_usageTimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
                ? DateTime.SpecifyKind(time, DateTimeKind.Utc)
                : throw ApiException.BadRequest("Invalid datetime string: Datetime is in invalid format");

    /// <summary>Nova's osapi_max_limit unless a smaller limit is asked for; limit and marker only from 2.40.</summary>
    private static (int Limit, string? Marker) UsagePage(HttpContext http)
    {
        if (!ComputeVersion.Of(http).AtLeast(UsagePagingVersion))
        {
            return (MaxListLimit, null);
        }

        var query = http.Request.Query;
        return (Math.Min(QueryParams.Limit(query) ?? MaxListLimit, MaxListLimit), NonEmpty(query["marker"]));
    }

    /// <summary>The next link of a full page, marked with its last server (2.40).</summary>
    private static JsonArray? UsageLinks(HttpContext http, IReadOnlyList<ServerUsageRow> servers)
    {
        if (!ComputeVersion.Of(http).AtLeast(UsagePagingVersion))
        {
            return null;
        }

        var (limit, _) = UsagePage(http);
        return QueryParams.NextLink(http, new Page<ServerUsageRow>(servers, false), s => s.Id, limit);
    }

    /// <summary>Nova's _tenant_usages_for_period: one summary per project in the order of the servers, with their usages when detailed.</summary>
    private static IEnumerable<JsonObject> TenantUsages(IReadOnlyList<ServerUsageRow> servers, DateTime start, DateTime stop, bool detailed)
    {
        var now = Ids.Now();
        var summaries = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var order = new List<JsonObject>();
        foreach (var server in servers)
        {
            var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson) ?? new FlavorRow();
            var hours = UsageHours(server, start, stop);
            var launched = Ids.AsUtc(server.LaunchedAt);
            var ended = server.TerminatedAt is { } t ? Ids.AsUtc(t) : (DateTime?)null;
            var localGb = flavor.Disk + flavor.Ephemeral;
            if (!summaries.TryGetValue(server.ProjectId, out var summary))
            {
                summary = new JsonObject
                {
                    ["tenant_id"] = server.ProjectId,
                    ["total_local_gb_usage"] = 0.0,
                    ["total_vcpus_usage"] = 0.0,
                    ["total_memory_mb_usage"] = 0.0,
                    ["total_hours"] = 0.0,
                    ["start"] = Ids.CinderTime(start),
                    ["stop"] = Ids.CinderTime(stop),
                };
                if (detailed)
                {
                    summary["server_usages"] = new JsonArray();
                }

                summaries[server.ProjectId] = summary;
                order.Add(summary);
            }

            Add(summary, "total_local_gb_usage", localGb * hours);
            Add(summary, "total_vcpus_usage", flavor.Vcpus * hours);
            Add(summary, "total_memory_mb_usage", flavor.Ram * hours);
            Add(summary, "total_hours", hours);
            if (detailed)
            {
                summary["server_usages"]!.AsArray().Add(new JsonObject
                {
                    ["instance_id"] = server.Id,
                    ["name"] = server.Name,
                    ["tenant_id"] = server.ProjectId,
                    ["hours"] = hours,
                    ["flavor"] = flavor.Name,
                    ["memory_mb"] = flavor.Ram,
                    ["local_gb"] = localGb,
                    ["vcpus"] = flavor.Vcpus,
                    ["started_at"] = Ids.CinderTime(launched),
                    ["ended_at"] = ended is { } e ? Ids.CinderTime(e) : null,
                    ["state"] = ended is null ? server.VmState : "terminated",
                    ["uptime"] = (long)((ended ?? now) - launched).TotalSeconds,
                });
            }
        }

        return order;

        static void Add(JsonObject summary, string key, double value) => summary[key] = summary[key]!.GetValue<double>() + value;
    }

    /// <summary>Nova's _hours_for: the hours between launch and termination (or the window's end) that fall inside the window.</summary>
    private static double UsageHours(ServerUsageRow server, DateTime start, DateTime stop)
    {
        var launched = Ids.AsUtc(server.LaunchedAt);
        var ended = server.TerminatedAt is { } t ? Ids.AsUtc(t) : (DateTime?)null;
        if ((ended is { } e && e < start) || launched > stop)
        {
            return 0;
        }

        var from = launched > start ? launched : start;
        var to = ended is { } end && end < stop ? end : stop;
        return (to - from).TotalHours;
    }
}
