using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-hypervisors (nova/api/openstack/compute/hypervisors.py), admin only: one hypervisor per registered nova-compute
// service, its capacity as the host reported it and its use added up from the servers placed on it. Ids are
// integers before 2.53 and uuids from 2.53, when /search and /servers gave way to query parameters.
public static partial class ComputeApi
{
    /// <summary>2.28: cpu_info is a JSON object instead of a string holding one.</summary>
    private const int CpuInfoObjectVersion = 28;

    /// <summary>2.33: the hypervisor lists page with limit and marker.</summary>
    private const int HypervisorPagingVersion = 33;

    /// <summary>2.88: no capacity fields in the views (placement has them), uptime in them instead, and no statistics or uptime routes.</summary>
    private const int NoCapacityFieldsVersion = 88;

    private static void MapHypervisors(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-hypervisors", (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory) =>
            ListHypervisorsAsync(http, store, registry, inventory, detail: false));
        v21.MapGet("/os-hypervisors/detail", (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory) =>
            ListHypervisorsAsync(http, store, registry, inventory, detail: true));
        v21.MapGet("/os-hypervisors/statistics", async (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory) =>
        {
            RequireBelow(http, NoCapacityFieldsVersion);
            Authorize(http, "os_compute_api:os-hypervisors:statistics");
            var all = (await store.ListComputeNodesAsync(new ComputeNodeQuery()))!.Items;
            return Json.Reply(new JsonObject { ["hypervisor_statistics"] = Statistics(await HypervisorsAsync(store, registry, inventory, all, withServers: false)) });
        });
        v21.MapGet("/os-hypervisors/{id}", async (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, string id) =>
        {
            Authorize(http, "os_compute_api:os-hypervisors:show");
            var version = ComputeVersion.Of(http);
            var withServers = version.AtLeast(UuidIdsVersion) && WithServers(http);
            var hypervisor = await FindHypervisorAsync(store, registry, inventory, version, id, withServers);
            return Json.Reply(new JsonObject { ["hypervisor"] = HypervisorJson(hypervisor, version, detail: true, withServers) });
        });
        // Nova asks the host to run uptime; Ember's hosts put that line in their registry row at each heartbeat. The route
        // is gone from 2.88, where show and detail carry the uptime.
        v21.MapGet("/os-hypervisors/{id}/uptime", async (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, string id) =>
        {
            RequireBelow(http, NoCapacityFieldsVersion);
            Authorize(http, "os_compute_api:os-hypervisors:uptime");
            var version = ComputeVersion.Of(http);
            var hypervisor = await FindHypervisorAsync(store, registry, inventory, version, id, withServers: false);
            if (!hypervisor.Up)
            {
                throw ApiException.BadRequest($"Compute service of {hypervisor.Node.Host} is unavailable at this time.");
            }

            // A host of an Ember before compute-009 reports none: Nova's answer for a driver without it.
            var uptime = hypervisor.Node.Uptime ?? throw new ApiException(ErrorKind.NotImplemented, "The requested functionality is not supported.");
            var json = HypervisorJson(hypervisor, version, detail: false, withServers: false);
            json["uptime"] = uptime;
            return Json.Reply(new JsonObject { ["hypervisor"] = json });
        });
        v21.MapGet("/os-hypervisors/{pattern}/search", (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, string pattern) =>
            SearchHypervisorsAsync(http, store, registry, inventory, pattern, "os_compute_api:os-hypervisors:search", withServers: false));
        v21.MapGet("/os-hypervisors/{pattern}/servers", (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, string pattern) =>
            SearchHypervisorsAsync(http, store, registry, inventory, pattern, "os_compute_api:os-hypervisors:servers", withServers: true));
    }

    /// <summary>
    /// A nova-compute service seen as a hypervisor: whether it is up, what its servers use (<see cref="HostUsage"/>, the
    /// figures the scheduler's capacity filter reads) and which servers they are.
    /// </summary>
    private sealed record Hypervisor(ServiceRow Node, bool Up, HostUsage Used, IReadOnlyList<ServerRow> Servers, HostInventory Inventory)
    {
        public long VcpusUsed => Used.Vcpus;

        /// <summary>Nova's resource tracker counts the host's reserved memory and disk as used, so free = total - used.</summary>
        public long MemoryMbUsed => Inventory.ReservedMemoryMb + Used.MemoryMb;

        public long LocalGbUsed => Inventory.ReservedDiskGb + Used.DiskGb;

        public string Id(Microversion version) => version.AtLeast(UuidIdsVersion) ? Node.NodeId : Node.Serial.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The hypervisors of <paramref name="nodes"/>: their use in one query, their servers in one more when asked for.</summary>
    private static async Task<List<Hypervisor>> HypervisorsAsync(ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory,
        IReadOnlyList<ServiceRow> nodes, bool withServers)
    {
        var hosts = nodes.Select(n => n.Host).ToArray();
        var usage = await store.UsageAsync(hosts);
        var placed = withServers ? (await store.ListPlacedServersAsync(hosts)).ToLookup(s => s.Host, StringComparer.Ordinal) : null;
        return [.. nodes.Select(n => new Hypervisor(n, registry.IsUp(n), usage.GetValueOrDefault(n.Host) ?? HostUsage.None(n.Host),
            placed is null ? [] : [.. placed[n.Host]], inventory))];
    }

    private static async Task<Hypervisor> FindHypervisorAsync(ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, Microversion version,
        string id, bool withServers)
    {
        var byNodeId = version.AtLeast(UuidIdsVersion);
        if (byNodeId && !Ids.IsUuid(id))
        {
            throw ApiException.BadRequest($"Invalid uuid {id}");
        }

        var node = await store.FindComputeNodeAsync(id, byNodeId) ?? throw ApiException.NotFound($"Hypervisor with ID {id} could not be found.");
        return (await HypervisorsAsync(store, registry, inventory, [node], withServers)).Single();
    }

    private static async Task<IResult> ListHypervisorsAsync(HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, bool detail)
    {
        Authorize(http, detail ? "os_compute_api:os-hypervisors:list-detail" : "os_compute_api:os-hypervisors:list");
        var version = ComputeVersion.Of(http);
        var query = http.Request.Query;
        var pattern = version.AtLeast(UuidIdsVersion) ? NonEmpty(query["hypervisor_hostname_pattern"]) : null;
        var withServers = version.AtLeast(UuidIdsVersion) && WithServers(http);
        var paging = version.AtLeast(HypervisorPagingVersion);
        var limit = paging ? QueryParams.Limit(query) : null;
        var marker = paging ? NonEmpty(query["marker"]) : null;
        if (pattern is not null && (limit is not null || marker is not null))
        {
            throw ApiException.BadRequest("Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.");
        }

        var page = await store.ListComputeNodesAsync(new ComputeNodeQuery(marker, version.AtLeast(UuidIdsVersion), limit, pattern))
            ?? throw ApiException.BadRequest($"marker [{marker}] not found");
        if (pattern is not null && page.Items.Count == 0)
        {
            throw NoneMatching(pattern);
        }

        var hypervisors = await HypervisorsAsync(store, registry, inventory, page.Items, withServers);
        var body = new JsonObject
        {
            ["hypervisors"] = new JsonArray([.. hypervisors.Select(h => (JsonNode)HypervisorJson(h, version, detail, withServers))]),
        };
        if (QueryParams.NextLink(http, new Page<Hypervisor>(hypervisors, page.HasMore), h => h.Id(version), limit) is { } next)
        {
            body["hypervisors_links"] = next;
        }

        return Json.Reply(body);
    }

    /// <summary>Before 2.53: /os-hypervisors/{pattern}/search and /servers; from 2.53 they are gone (404), replaced by query parameters.</summary>
    private static async Task<IResult> SearchHypervisorsAsync(HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, HostInventory inventory, string pattern,
        string action, bool withServers)
    {
        Authorize(http, action);
        var version = ComputeVersion.Of(http);
        if (version.AtLeast(UuidIdsVersion))
        {
            throw ApiException.NotFound("The resource could not be found.");
        }

        var nodes = (await store.ListComputeNodesAsync(new ComputeNodeQuery(HostnamePattern: pattern)))!.Items;
        if (nodes.Count == 0)
        {
            throw NoneMatching(pattern);
        }

        var found = await HypervisorsAsync(store, registry, inventory, nodes, withServers);
        return Json.Reply(new JsonObject
        {
            ["hypervisors"] = new JsonArray([.. found.Select(h => (JsonNode)HypervisorJson(h, version, detail: false, withServers))]),
        });
    }

    /// <summary>Nova matches hypervisor_hostname LIKE '%pattern%'; none matching is a 404.</summary>
    private static ApiException NoneMatching(string pattern) => ApiException.NotFound($"No hypervisor matching '{pattern}' could be found.");

    private static bool WithServers(HttpContext http)
    {
        var text = NonEmpty(http.Request.Query["with_servers"]);
        return text is null
            ? false
            : Json.ParseBoolean(text) ?? throw ApiException.BadRequest($"Invalid input for query parameters with_servers. Value: {text}. '{text}' is not a boolean");
    }

    private static JsonObject HypervisorJson(Hypervisor h, Microversion version, bool detail, bool withServers)
    {
        var node = h.Node;
        var json = new JsonObject
        {
            ["id"] = version.AtLeast(UuidIdsVersion) ? node.NodeId : node.Serial,
            ["hypervisor_hostname"] = node.HypervisorHostname,
            ["state"] = h.Up ? "up" : "down",
            ["status"] = node.Disabled ? "disabled" : "enabled",
        };
        if (detail && version.AtLeast(NoCapacityFieldsVersion))
        {
            // Nova gives no uptime of a host that is down.
            json["uptime"] = h.Up ? node.Uptime : null;
        }
        else if (detail)
        {
            json["vcpus"] = node.Vcpus;
            json["memory_mb"] = node.MemoryMb;
            json["local_gb"] = node.LocalGb;
            json["vcpus_used"] = h.VcpusUsed;
            json["memory_mb_used"] = h.MemoryMbUsed;
            json["local_gb_used"] = h.LocalGbUsed;
            json["free_ram_mb"] = node.MemoryMb - h.MemoryMbUsed;
            json["free_disk_gb"] = node.LocalGb - h.LocalGbUsed;
            json["disk_available_least"] = node.DiskAvailableGb;
            json["current_workload"] = h.Used.Workload;
            json["running_vms"] = h.Used.Servers;
            json["cpu_info"] = version.AtLeast(CpuInfoObjectVersion) ? JsonNode.Parse(node.CpuInfo) : node.CpuInfo;
        }

        if (detail)
        {
            json["hypervisor_type"] = node.HypervisorType;
            json["hypervisor_version"] = 0;
            json["host_ip"] = node.HostIp;
            json["service"] = new JsonObject
            {
                ["host"] = node.Host,
                ["id"] = version.AtLeast(UuidIdsVersion) ? node.Id : node.Serial,
                ["disabled_reason"] = node.DisabledReason,
            };
        }

        // From 2.75 with_servers always gives the list, empty when the hypervisor has no server.
        if (withServers && (h.Servers.Count > 0 || version.AtLeast(75)))
        {
            json["servers"] = new JsonArray([.. h.Servers.Select(s => (JsonNode)new JsonObject { ["name"] = s.InstanceName, ["uuid"] = s.Id })]);
        }

        return json;
    }

    /// <summary>Nova's statistics add up the hypervisors whose service is enabled.</summary>
    private static JsonObject Statistics(List<Hypervisor> all)
    {
        var enabled = all.Where(h => !h.Node.Disabled).ToList();
        return new JsonObject
        {
            ["count"] = enabled.Count,
            ["vcpus"] = enabled.Sum(h => h.Node.Vcpus),
            ["memory_mb"] = enabled.Sum(h => h.Node.MemoryMb),
            ["local_gb"] = enabled.Sum(h => h.Node.LocalGb),
            ["vcpus_used"] = enabled.Sum(h => h.VcpusUsed),
            ["memory_mb_used"] = enabled.Sum(h => h.MemoryMbUsed),
            ["local_gb_used"] = enabled.Sum(h => h.LocalGbUsed),
            ["free_ram_mb"] = enabled.Sum(h => h.Node.MemoryMb - h.MemoryMbUsed),
            ["free_disk_gb"] = enabled.Sum(h => h.Node.LocalGb - h.LocalGbUsed),
            ["disk_available_least"] = enabled.Sum(h => h.Node.DiskAvailableGb),
            ["current_workload"] = enabled.Sum(h => h.Used.Workload),
            ["running_vms"] = enabled.Sum(h => h.Used.Servers),
        };
    }
}
