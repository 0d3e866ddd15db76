using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// What the block storage service says about itself: its API extensions (cinder/api/contrib), its availability zone,
// its services (os-services) and hosts (os-hosts), and its backend's capabilities. Ember runs Cinder's scheduler and
// volume service in one process, on one backend.
public static partial class VolumeApi
{
    /// <summary>The one availability zone of Ember's volumes, as Cinder's default storage_availability_zone.</summary>
    public const string AvailabilityZone = "nova";

    /// <summary>Cinder's extensions (alias, name) that Ember serves, as Cinder's extension manager lists them.</summary>
    private static readonly (string Alias, string Name, string Description)[] s_extensions =
    [
        ("capabilities", "Capabilities", "Capabilities support."),
        ("encryption", "VolumeTypeEncryption", "Encryption support for volume types."),
        ("os-admin-actions", "AdminActions", "Enable admin actions."),
        ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
        ("os-extended-services", "ExtendedServices", "Extended services support."),
        ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
        ("os-hosts", "Hosts", "Admin-only host administration."),
        ("os-quota-class-sets", "Quota_classes", "Quota classes management support."),
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
        ("qos-specs", "Qos_specs_manage", "QoS specs support."),
        ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
    ];

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
        v3.MapGet("/os-services", (Delegate)(ListServicesAsync));
        v3.MapPut("/os-services/{action}", (Delegate)(UpdateServiceAsync));
        v3.MapGet("/os-hosts", (Delegate)(ListHostsAsync));
        v3.MapGet("/os-hosts/{host}", (Delegate)(ShowHostAsync));
        v3.MapGet("/capabilities/{host}", (Delegate)(ShowCapabilitiesAsync));
    }

    /// <summary>
    /// GET /os-services: the scheduler on this host and the volume service of its backend ("host@backend", Cinder's
    /// naming), both up while the process answers, with the state an admin set. host= matches a host with or without
    /// its "@backend" as Cinder's does.
    /// </summary>
    private static async Task<IResult> ListServicesAsync(HttpContext http)
    {
        Authorize(http, "volume_extension:services:index");
        var version = http.VolumeVersion();
        var service = Service(http);
        var now = Ids.CinderTime(Ids.Now());
        var services = new JsonArray();
        foreach (var (binary, serviceHost) in service.ServiceNames)
        {
            if (http.Request.Query["binary"].FirstOrDefault() is { Length: > 0 } wantedBinary && wantedBinary != binary)
            {
                continue;
            }

            if (http.Request.Query["host"].FirstOrDefault() is { Length: > 0 } wantedHost && wantedHost != serviceHost && wantedHost != service.SchedulerHost)
            {
                continue;
            }

            var state = await service.ServiceStateAsync(binary, serviceHost);
            var shown = new JsonObject
            {
                ["binary"] = binary,
                ["host"] = serviceHost,
                ["zone"] = AvailabilityZone,
                ["status"] = state.Disabled ? "disabled" : "enabled",
                ["state"] = "up",
                ["updated_at"] = now,
                ["disabled_reason"] = state.DisabledReason,
            };
            if (binary == VolumeService.VolumeBinary)
            {
                shown["replication_status"] = "disabled";
                shown["active_backend_id"] = null;
                shown["frozen"] = state.Frozen;
            }

            if (version >= s_clusterVersion)
            {
                shown["cluster"] = null;
            }

            if (version >= s_backendStateVersion && binary == VolumeService.VolumeBinary)
            {
                shown["backend_state"] = "up";
            }

            services.Add(shown);
        }

        return Json.Reply(new JsonObject { ["services"] = services });
    }

    /// <summary>
    /// PUT /os-services/{action} (cinder/api/contrib/services.py): enable, disable and disable-log-reason of a service
    /// named by host and binary, freeze and thaw of a volume host.
    /// </summary>
    private static async Task<IResult> UpdateServiceAsync(HttpContext http, string action)
    {
        var freezing = action is "freeze" or "thaw";
        Authorize(http, freezing ? $"volume:{action}_host" : "volume_extension:services:update");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (freezing)
        {
            await Service(http).SetFrozenAsync(RequiredServiceField(body, "host"), action == "freeze");
            return Results.Ok();
        }

        var disabled = action switch
        {
            "enable" => false,
            "disable" or "disable-log-reason" => true,
            _ => throw ApiException.BadRequest("Invalid input received: Unknown action"),
        };
        var host = RequiredServiceField(body, "host");
        var given = Json.OptionalString(body, "service") ?? "";
        var binaryGiven = Json.OptionalString(body, "binary") ?? "";
        var binary = binaryGiven.Length > 0 ? binaryGiven : given.Length > 0 ? given : throw ApiException.BadRequest("Missing required element 'binary' in request body.");
        Optional<string?> reason = action == "enable" ? new(null) : default;
        if (action == "disable-log-reason")
        {
            reason = new(Json.OptionalString(body, "disabled_reason")?.Trim() is { Length: > 0 and <= 255 } text
                ? text
                : throw ApiException.BadRequest("Invalid input received: Disabled reason contains invalid characters or is too long"));
        }

        var state = await Service(http).SetServiceDisabledAsync(host, binary, disabled, reason);
        var reply = new JsonObject
        {
            ["disabled"] = state.Disabled,
            ["status"] = state.Disabled ? "disabled" : "enabled",
            ["host"] = host,
            ["service"] = given,
            ["binary"] = binaryGiven,
        };
        if (reason.IsGiven)
        {
            reply["disabled_reason"] = reason.Value;
        }

        return Json.Reply(reply);
    }

    private static string RequiredServiceField(JsonObject body, string key) =>
        Json.OptionalString(body, key) is { Length: > 0 and <= 255 } value ? value : throw ApiException.BadRequest($"Missing required element '{key}' in request body.");

    /// <summary>GET /os-hosts (cinder/api/contrib/hosts.py): one entry per service, named by its host.</summary>
    private static async Task<IResult> ListHostsAsync(HttpContext http)
    {
        Authorize(http, "volume_extension:hosts");
        var service = Service(http);
        var hosts = new JsonArray();
        if (http.Request.Query["zone"].FirstOrDefault() is not { Length: > 0 } zone || zone == AvailabilityZone)
        {
            foreach (var (binary, host) in service.ServiceNames)
            {
                var state = await service.ServiceStateAsync(binary, host);
                hosts.Add(new JsonObject
                {
                    ["host_name"] = host,
                    ["service"] = binary,
                    ["zone"] = AvailabilityZone,
                    ["service-status"] = "available",
                    ["service-state"] = state.Disabled ? "disabled" : "enabled",
                    ["last-update"] = Ids.CinderTime(state.Disabled ? state.UpdatedAt : Ids.Now()),
                });
            }
        }

        return Json.Reply(new JsonObject { ["hosts"] = hosts });
    }

    /// <summary>
    /// GET /os-hosts/{host}: what an enabled volume host keeps, in total and per project, the numbers as strings as
    /// Cinder gives them; any other host (the scheduler's, a disabled volume service) is Cinder's 404.
    /// </summary>
    private static async Task<IResult> ShowHostAsync(HttpContext http, string host)
    {
        Authorize(http, "volume_extension:hosts");
        var service = Service(http);
        if (host != service.VolumeServiceHost || (await service.ServiceStateAsync(VolumeService.VolumeBinary, host)).Disabled)
        {
            throw ApiException.NotFound($"Host {host} could not be found.");
        }

        var usage = await service.HostUsageAsync();
        var resources = new JsonArray(HostResource(host, "(total)", usage.Sum(u => u.VolumeCount), usage.Sum(u => u.VolumeGigabytes),
            usage.Sum(u => u.SnapshotCount), usage.Sum(u => u.SnapshotGigabytes)));
        foreach (var u in usage)
        {
            resources.Add(HostResource(host, u.ProjectId, u.VolumeCount, u.VolumeGigabytes, u.SnapshotCount, u.SnapshotGigabytes));
        }

        return Json.Reply(new JsonObject { ["host"] = resources });
    }

    private static JsonObject HostResource(string host, string project, long volumes, long volumeGb, long snapshots, long snapshotGb) => new()
    {
        ["resource"] = new JsonObject
        {
            ["host"] = host,
            ["project"] = project,
            ["volume_count"] = volumes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["total_volume_gb"] = volumeGb.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["snapshot_count"] = snapshots.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["total_snapshot_gb"] = snapshotGb.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
    };

    /// <summary>
    /// GET /capabilities/{host} (cinder/api/contrib/capabilities.py): the volume backend's stats as its driver reports
    /// them, and the standard properties a type may set. The host is the volume service's (host@backend), with or
    /// without its pool, or this host alone.
    /// </summary>
    private static Task<IResult> ShowCapabilitiesAsync(HttpContext http, string host)
    {
        Authorize(http, "volume_extension:capabilities");
        var service = Service(http);
        if (host != service.VolumeServiceHost && host != service.Backend.HostName && host != service.SchedulerHost)
        {
            throw ApiException.NotFound($"Can't find service: {host}");
        }

        var description = service.Backend.Description;
        var properties = new JsonObject();
        foreach (var (key, title, text) in s_standardCapabilities)
        {
            properties[key] = new JsonObject { ["title"] = title, ["description"] = text, ["type"] = "boolean" };
        }

        return Task.FromResult(Json.Reply(new JsonObject
        {
            ["namespace"] = $"OS::Storage::Capabilities::{VolumeService.VolumeBinary}",
            ["vendor_name"] = description.VendorName,
            ["volume_backend_name"] = description.BackendName,
            ["pool_name"] = null,
            ["driver_version"] = description.DriverVersion,
            ["storage_protocol"] = description.StorageProtocol,
            ["display_name"] = null,
            ["description"] = null,
            ["visibility"] = null,
            ["replication_targets"] = new JsonArray(),
            ["properties"] = properties,
        }));
    }

    /// <summary>The properties every Cinder driver reports (VolumeDriver._init_standard_capabilities).</summary>
    private static readonly (string Key, string Title, string Description)[] s_standardCapabilities =
    [
        ("thin_provisioning", "Thin Provisioning", "Sets thin provisioning."),
        ("compression", "Compression", "Enables compression."),
        ("qos", "QoS", "Enables QoS."),
        ("replication_enabled", "Replication", "Enables replication."),
    ];

    /// <summary>3.7: services name their cluster (Ember has none).</summary>
    private static readonly Microversion s_clusterVersion = new(3, 7);

    /// <summary>3.49: volume services show their backend's state.</summary>
    private static readonly Microversion s_backendStateVersion = new(3, 49);
}
