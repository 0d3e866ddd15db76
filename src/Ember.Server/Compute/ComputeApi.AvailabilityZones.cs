using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-availability-zone (nova/api/openstack/compute/availability_zone.py): the zones of the registered services. A
// compute host's zone is its aggregate's availability_zone, else Nova's default "nova" (kept in the service row, see
// AggregateStore); the controller's services are in the internal zone, which only the admin's detail shows.
public static partial class ComputeApi
{
    /// <summary>Nova's internal_service_availability_zone: where the services that run no servers are.</summary>
    private const string InternalZone = "internal";

    private static void MapAvailabilityZones(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-availability-zone", async (HttpContext http, ComputeServiceStore store) =>
        {
            Authorize(http, "os_compute_api:os-availability-zone:list");
            var (available, unavailable) = Zones(await store.ListAsync());
            return Json.Reply(new JsonObject
            {
                ["availabilityZoneInfo"] = new JsonArray([
                    .. available.Where(z => z != InternalZone).Select(z => ZoneJson(z, true, null)),
                    .. unavailable.Where(z => z != InternalZone).Select(z => ZoneJson(z, false, null)),
                ]),
            });
        });
        v21.MapGet("/os-availability-zone/detail", async (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry) =>
        {
            Authorize(http, "os_compute_api:os-availability-zone:detail");
            var services = await store.ListAsync();
            var (available, unavailable) = Zones(services);
            return Json.Reply(new JsonObject
            {
                ["availabilityZoneInfo"] = new JsonArray([
                    .. available.Select(z => ZoneJson(z, true, ZoneHosts(services.Where(s => s.Zone == z && !s.Disabled), registry))),
                    .. unavailable.Select(z => ZoneJson(z, false, null)),
                ]),
            });
        });
    }

    /// <summary>Nova's get_availability_zones: a zone with an enabled service is available; one whose services are all disabled is not.</summary>
    private static (List<string> Available, List<string> Unavailable) Zones(IReadOnlyList<ServiceRow> services)
    {
        var available = services.Where(s => !s.Disabled).Select(s => s.Zone).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var unavailable = services.Where(s => s.Disabled).Select(s => s.Zone).Except(available, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return (available, unavailable);
    }

    private static JsonNode ZoneJson(string zone, bool available, JsonObject? hosts) => new JsonObject
    {
        ["zoneName"] = zone,
        ["zoneState"] = new JsonObject { ["available"] = available },
        ["hosts"] = hosts,
    };

    /// <summary>Each host of a zone with its enabled services: up or not (available), enabled (active), last report.</summary>
    private static JsonObject ZoneHosts(IEnumerable<ServiceRow> services, ComputeServiceRegistry registry)
    {
        var hosts = new JsonObject();
        foreach (var byHost in services.GroupBy(s => s.Host, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var binaries = new JsonObject();
            foreach (var service in byHost)
            {
                binaries[service.BinaryName] = new JsonObject
                {
                    ["available"] = registry.IsUp(service),
                    ["active"] = !service.Disabled,
                    ["updated_at"] = Ids.CinderTime(service.UpdatedAt),
                };
            }

            hosts[byHost.Key] = binaries;
        }

        return hosts;
    }
}
