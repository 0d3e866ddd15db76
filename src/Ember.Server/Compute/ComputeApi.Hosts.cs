using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-hosts (nova/api/openstack/compute/hosts.py, deprecated and gone from 2.43) and os-instance_usage_audit_log
// (instance_usage_audit_log.py), admin only, as Nova answers them from the service registry and the servers.
public static partial class ComputeApi
{
    /// <summary>2.43: os-hosts is gone (os-services and os-hypervisors replace it).</summary>
    private const int NoHostsVersion = 43;

    /// <summary>The formats Nova's audit log show parses its timestamp with.</summary>
    private static readonly string[] s_auditTimeFormats = ["yyyy-MM-dd HH:mm:ss.FFFFFF", "yyyy-MM-dd HH:mm:ss"];

    private static void MapHostsAndAuditLog(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-hosts", async (HttpContext http, ComputeServiceStore services) =>
        {
            RequireBelow(http, NoHostsVersion);
            Authorize(http, "os_compute_api:os-hosts:list");
            // Nova's services by topic (compute, scheduler, conductor); an empty zone means every zone.
            var zone = NonEmpty(http.Request.Query["zone"]);
            var hosts = (await services.ListAsync()).Where(s => zone is null || s.Zone == zone).Select(s => (JsonNode)new JsonObject
            {
                ["host_name"] = s.Host,
                ["service"] = s.BinaryName.StartsWith("nova-", StringComparison.Ordinal) ? s.BinaryName["nova-".Length..] : s.BinaryName,
                ["zone"] = s.Zone,
            });
            return Json.Reply(new JsonObject { ["hosts"] = new JsonArray([.. hosts]) });
        });
        v21.MapGet("/os-hosts/{host}", async (HttpContext http, ComputeServiceStore services, ComputeServiceRegistry registry, HostInventory inventory,
            ComputeStore store, string host) =>
        {
            RequireBelow(http, NoHostsVersion);
            Authorize(http, "os_compute_api:os-hosts:show");
            var node = await ComputeHostAsync(services, host);
            var hypervisor = (await HypervisorsAsync(services, registry, inventory, [node], withServers: false)).Single();
            var placed = (await store.ListServersOnHostAsync(host)).Where(s => s.VmState != VmStates.Deleted)
                .Select(s => (s.ProjectId, Flavor: JsonSerializer.Deserialize<FlavorRow>(s.FlavorJson) ?? new FlavorRow())).ToList();
            JsonNode Resource(string project, long cpu, long memoryMb, long diskGb) => new JsonObject
            {
                ["resource"] = new JsonObject { ["host"] = host, ["project"] = project, ["cpu"] = cpu, ["memory_mb"] = memoryMb, ["disk_gb"] = diskGb },
            };
            JsonNode Sum(string project, IEnumerable<FlavorRow> flavors) =>
                Resource(project, flavors.Sum(f => (long)f.Vcpus), flavors.Sum(f => (long)f.Ram), flavors.Sum(f => (long)f.Disk + f.Ephemeral));
            var resources = new JsonArray(
                Resource("(total)", node.Vcpus, node.MemoryMb, node.LocalGb),
                Resource("(used_now)", hypervisor.VcpusUsed, hypervisor.MemoryMbUsed, hypervisor.LocalGbUsed),
                Sum("(used_max)", placed.Select(p => p.Flavor)));
            foreach (var project in placed.GroupBy(p => p.ProjectId, StringComparer.Ordinal))
            {
                resources.Add(Sum(project.Key, project.Select(p => p.Flavor)));
            }

            return Json.Reply(new JsonObject { ["host"] = resources });
        });
        v21.MapPut("/os-hosts/{host}", UpdateHostAsync);
        foreach (var action in new[] { "startup", "shutdown", "reboot" })
        {
            v21.MapGet($"/os-hosts/{{host}}/{action}", async (HttpContext http, ComputeServiceStore services, string host) =>
            {
                RequireBelow(http, NoHostsVersion);
                Authorize(http, $"os_compute_api:os-hosts:{(action == "startup" ? "start" : action)}");
                await ComputeHostAsync(services, host);
                // Nova's libvirt driver powers no host on or off either.
                throw new ApiException(ErrorKind.NotImplemented, "The requested functionality is not supported.");
            });
        }

        v21.MapGet("/os-instance_usage_audit_log", async (HttpContext http, ComputeServiceStore services) =>
        {
            Authorize(http, "os_compute_api:os-instance-usage-audit-log:list");
            return Json.Reply(new JsonObject { ["instance_usage_audit_logs"] = await AuditLogAsync(services, Ids.Now()) });
        });
        v21.MapGet("/os-instance_usage_audit_log/{before}", async (HttpContext http, ComputeServiceStore services, string before) =>
        {
            Authorize(http, "os_compute_api:os-instance-usage-audit-log:show");
            var time = DateTime.TryParseExact(before, s_auditTimeFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed)
                ? parsed
                : throw ApiException.BadRequest($"Invalid timestamp for date {before}");
            return Json.Reply(new JsonObject { ["instance_usage_audit_log"] = await AuditLogAsync(services, time) });
        });
    }

    /// <summary>PUT /os-hosts/{host}: status enables or disables its nova-compute service; maintenance mode is not supported (501, as with libvirt).</summary>
    private static async Task<IResult> UpdateHostAsync(HttpContext http, ComputeServiceStore services, ComputeServiceRegistry registry, string host)
    {
        RequireBelow(http, NoHostsVersion);
        Authorize(http, "os_compute_api:os-hosts:update");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        RejectExtraKeys(body, "status", "maintenance_mode");
        var status = Json.OptionalString(body, "status");
        var maintenance = Json.OptionalString(body, "maintenance_mode");
        foreach (var (field, value) in new[] { ("status", status), ("maintenance_mode", maintenance) })
        {
            if (value is not (null or "enable" or "disable"))
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute {field}. Value: {value}. '{value}' is not one of ['enable', 'disable']");
            }
        }

        if (status is null && maintenance is null)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute body. Value: {}. {} does not have enough properties");
        }

        var node = await ComputeHostAsync(services, host);
        if (maintenance is not null)
        {
            throw new ApiException(ErrorKind.NotImplemented, "The requested functionality is not supported.");
        }

        await services.SetDisabledAsync(node.Id, status == "disable", null, registry.Now());
        return Json.Reply(new JsonObject { ["host"] = host, ["status"] = status == "disable" ? "disabled" : "enabled" });
    }

    private static async Task<ServiceRow> ComputeHostAsync(ComputeServiceStore services, string host) =>
        await services.FindAsync(host, ComputeServiceStore.ComputeBinary) ?? throw ApiException.NotFound($"Compute host {host} could not be found.");

    /// <summary>
    /// Nova's _get_audit_task_logs for the last month completed before <paramref name="before"/>. Ember runs no
    /// instance usage audit (Nova's instance_usage_audit, off by default), so every compute host is one that has not run it.
    /// </summary>
    private static async Task<JsonObject> AuditLogAsync(ComputeServiceStore services, DateTime before)
    {
        var end = new DateTime(before.Year, before.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var begin = end.AddMonths(-1);
        var hosts = (await services.ListAsync(binary: ComputeServiceStore.ComputeBinary)).Select(s => s.Host).Distinct(StringComparer.Ordinal).ToList();
        return new JsonObject
        {
            ["period_beginning"] = begin.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["period_ending"] = end.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["num_hosts"] = hosts.Count,
            ["num_hosts_done"] = 0,
            ["num_hosts_running"] = 0,
            ["num_hosts_not_run"] = hosts.Count,
            ["hosts_not_run"] = new JsonArray([.. hosts.Select(h => (JsonNode)h)]),
            ["total_instances"] = 0,
            ["total_errors"] = 0,
            ["overall_status"] = hosts.Count == 0 ? "ALL hosts done. 0 errors." : $"0 of {hosts.Count} hosts done. 0 errors.",
            ["log"] = new JsonObject(),
        };
    }
}
