using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// What the block storage service says about itself: its API extensions (cinder/api/contrib), its availability zone
// and its services (os-services). Ember runs Cinder's scheduler and volume service in one process, on one backend.
public static partial class VolumeApi
{
    /// <summary>The one availability zone of Ember's volumes, as Cinder's default storage_availability_zone.</summary>
    public const string AvailabilityZone = "nova";

    /// <summary>Cinder's extensions (alias, name) that Ember serves, as Cinder's extension manager lists them.</summary>
    private static readonly (string Alias, string Name, string Description)[] s_extensions =
    [
        ("os-admin-actions", "AdminActions", "Enable admin actions."),
        ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
        ("os-extended-services", "ExtendedServices", "Extended services support."),
        ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
        ("os-quota-sets", "Quotas", "Quota management support."),
        ("os-services", "Services", "Services support."),
        ("os-snapshot-actions", "SnapshotActions", "Enable snapshot manager actions."),
        ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
        ("os-types-manage", "TypesManage", "Types manage support."),
        ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
        ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
        ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
        ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
        ("os-volume-actions", "VolumeActions", "Enable volume actions."),
        ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
        ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
    ];

    private const string SchedulerBinary = "cinder-scheduler";
    private const string VolumeBinary = "cinder-volume";

    private static void MapServiceInfo(RouteGroupBuilder v3)
    {
        v3.MapGet("/extensions", (HttpContext http) =>
        {
            http.RequireProjectContext();
            return Json.Reply(new JsonObject
            {
                ["extensions"] = new JsonArray([.. s_extensions.Select(e => (JsonNode)new JsonObject
                {
                    ["alias"] = e.Alias,
                    ["name"] = e.Name,
                    ["description"] = e.Description,
                    ["namespace"] = $"https://docs.openstack.org/volume/ext/{e.Alias}/api/v1",
                    ["updated"] = "2011-06-29T00:00:00+00:00",
                    ["links"] = new JsonArray(),
                })]),
            });
        });
        v3.MapGet("/os-availability-zone", (HttpContext http) =>
        {
            Authorize(http, "volume_extension:availability_zone_list");
            return Json.Reply(new JsonObject
            {
                ["availabilityZoneInfo"] = new JsonArray(new JsonObject
                {
                    ["zoneName"] = AvailabilityZone,
                    ["zoneState"] = new JsonObject { ["available"] = true },
                }),
            });
        });
        v3.MapGet("/os-services", ListServices);
    }

    /// <summary>
    /// GET /os-services: the scheduler on this host and the volume service of its backend ("host@backend", Cinder's
    /// naming), both up while the process answers. host= matches a host with or without its "@backend" as Cinder's does.
    /// </summary>
    private static IResult ListServices(HttpContext http)
    {
        Authorize(http, "volume_extension:services:index");
        var version = http.VolumeVersion();
        var backendHost = Service(http).Backend.HostName.Split('#')[0];
        var host = backendHost.Split('@')[0];
        var now = Ids.CinderTime(Ids.Now());
        var services = new JsonArray();
        foreach (var (binary, serviceHost) in new[] { (SchedulerBinary, host), (VolumeBinary, backendHost) })
        {
            if (http.Request.Query["binary"].FirstOrDefault() is { Length: > 0 } wantedBinary && wantedBinary != binary)
            {
                continue;
            }

            if (http.Request.Query["host"].FirstOrDefault() is { Length: > 0 } wantedHost && wantedHost != serviceHost && wantedHost != host)
            {
                continue;
            }

            var service = new JsonObject
            {
                ["binary"] = binary,
                ["host"] = serviceHost,
                ["zone"] = AvailabilityZone,
                ["status"] = "enabled",
                ["state"] = "up",
                ["updated_at"] = now,
                ["disabled_reason"] = null,
            };
            if (binary == VolumeBinary)
            {
                service["replication_status"] = "disabled";
                service["active_backend_id"] = null;
                service["frozen"] = false;
            }

            if (version >= s_clusterVersion)
            {
                service["cluster"] = null;
            }

            if (version >= s_backendStateVersion && binary == VolumeBinary)
            {
                service["backend_state"] = "up";
            }

            services.Add(service);
        }

        return Json.Reply(new JsonObject { ["services"] = services });
    }

    /// <summary>3.7: services name their cluster (Ember has none).</summary>
    private static readonly Microversion s_clusterVersion = new(3, 7);

    /// <summary>3.49: volume services show their backend's state.</summary>
    private static readonly Microversion s_backendStateVersion = new(3, 49);
}
