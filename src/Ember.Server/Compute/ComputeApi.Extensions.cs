using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

// GET /extensions (deprecated in Nova, still read by Tempest and old tools): Nova 2.1's fixed catalog of extension
// entries, cut to those Ember serves. An entry that needs a route of its own is listed only when that route is mapped,
// so the list follows the routes as they are added; the others are fields or actions of the base API Ember always has.
public static partial class ComputeApi
{
    /// <summary>One of Nova's extension entries; <see cref="Route"/> is the route under /compute/v2.1 it needs, or null.</summary>
    private sealed record NovaExtension(string Alias, string Name, string Description, string? Route = null);

    private const string ServerAction = "/servers/{id}/action";

    /// <summary>Nova's entries (its aliases, names and words), in its alphabetical order by alias.</summary>
    private static readonly NovaExtension[] s_extensions =
    [
        new("OS-DCF", "DiskConfig", "Disk Management Extension."),
        new("OS-EXT-AZ", "ExtendedAvailabilityZone", "Extended Availability Zone support."),
        new("OS-EXT-IMG-SIZE", "ImageSize", "Adds image size to image listings.", "/images/detail"),
        new("OS-EXT-IPS", "ExtendedIps", "Adds type parameter to the ip list."),
        new("OS-EXT-IPS-MAC", "ExtendedIpsMac", "Adds mac address parameter to the ip list."),
        new("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Extended Server Attributes support."),
        new("OS-EXT-STS", "ExtendedStatus", "Extended Status support."),
        new("OS-FLV-DISABLED", "FlavorDisabled", "Support to show the disabled status of a flavor."),
        new("OS-FLV-EXT-DATA", "FlavorExtraData", "Provide additional data for flavors."),
        new("OS-SCH-HNT", "SchedulerHints", "Pass arbitrary key/value pairs to the scheduler."),
        new("OS-SRV-USG", "ServerUsage", "Adds launched_at and terminated_at on Servers."),
        new("os-access-ips", "AccessIPs", "Access IPs support."),
        new("os-admin-actions", "AdminActions", "Enable admin-only server actions\n\n    Actions include: resetNetwork, injectNetworkInfo, os-resetState\n    ", ServerAction),
        new("os-admin-password", "AdminPassword", "Admin password management support.", ServerAction),
        new("os-aggregates", "Aggregates", "Admin-only aggregate administration.", "/os-aggregates"),
        new("os-attach-interfaces", "AttachInterfaces", "Attach interface support.", "/servers/{id}/os-interface"),
        new("os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create Server API.\n       2. Add availability zones describing.\n    ",
            "/os-availability-zone"),
        new("os-block-device-mapping", "BlockDeviceMapping", "Block device mapping boot support."),
        new("os-block-device-mapping-v2-boot", "BlockDeviceMappingV2Boot", "Allow boot with the new BDM data format."),
        new("os-config-drive", "ConfigDrive", "Config Drive Extension."),
        new("os-console-output", "ConsoleOutput", "Console log output support, with tailing ability.", ServerAction),
        new("os-consoles", "Consoles", "Interactive Console support.", "/servers/{id}/remote-consoles"),
        new("os-create-backup", "CreateBackup", "Create a backup of a server.", ServerAction),
        new("os-deferred-delete", "DeferredDelete", "Instance deferred delete.", ServerAction),
        new("os-evacuate", "Evacuate", "Enables server evacuation.", ServerAction),
        new("os-extended-evacuate-find-host", "ExtendedEvacuateFindHost", "Enables server evacuation without target host. Scheduler will select one to target.",
            ServerAction),
        new("os-extended-hypervisors", "ExtendedHypervisors", "Extended hypervisors support.", "/os-hypervisors"),
        new("os-extended-quotas", "ExtendedQuotas", "Adds ability for admins to delete quota and optionally force the update Quota command.",
            "/os-quota-sets/{projectId}"),
        new("os-extended-rescue-with-image", "ExtendedRescueWithImage", "Allow the user to specify the image to use for rescue.", ServerAction),
        new("os-extended-services", "ExtendedServices", "Extended services support.", "/os-services"),
        new("os-extended-services-delete", "ExtendedServicesDelete", "Extended services deletion support.", "/os-services/{id}"),
        new("os-extended-status", "ExtendedStatus", "Extended Status support."),
        new("os-extended-volumes", "ExtendedVolumes", "Extended Volumes support."),
        new("os-flavor-access", "FlavorAccess", "Flavor access support.", "/flavors/{id}/os-flavor-access"),
        new("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support.", "/flavors/{id}/os-extra_specs"),
        new("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
        new("os-flavor-rxtx", "FlavorRxtx", "Support to show the rxtx status of a flavor."),
        new("os-flavor-swap", "FlavorSwap", "Support to show the swap status of a flavor."),
        new("os-hosts", "Hosts", "Admin-only host administration.", "/os-hosts"),
        new("os-hypervisor-status", "HypervisorStatus", "Show hypervisor status.", "/os-hypervisors"),
        new("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration.", "/os-hypervisors"),
        new("os-instance-actions", "InstanceActions", "View a log of actions and events taken on an instance.", "/servers/{id}/os-instance-actions"),
        new("os-instance_usage_audit_log", "OSInstanceUsageAuditLog", "Admin-only Task Log Monitoring.", "/os-instance_usage_audit_log"),
        new("os-keypairs", "Keypairs", "Keypair Support.", "/os-keypairs"),
        new("os-lock-server", "LockServer", "Enable lock/unlock server actions.", ServerAction),
        new("os-migrations", "Migrations", "Provide data on migrations.", "/os-migrations"),
        new("os-multiple-create", "MultipleCreate", "Allow multiple create in the Create Server v2.1 API."),
        new("os-pause-server", "PauseServer", "Enable pause/unpause server actions.", ServerAction),
        new("os-personality", "Personality", "Personality support."),
        new("os-quota-class-sets", "QuotaClasses", "Quota classes management support.", "/os-quota-class-sets/{name}"),
        new("os-quota-sets", "Quotas", "Quotas management support.", "/os-quota-sets/{projectId}"),
        new("os-rescue", "Rescue", "Instance rescue mode.", ServerAction),
        new("os-security-groups", "SecurityGroups", "Security group support.", "/os-security-groups"),
        new("os-server-diagnostics", "ServerDiagnostics", "Allow Admins to view server diagnostics through server action.", "/servers/{id}/diagnostics"),
        new("os-server-external-events", "ServerExternalEvents", "Server External Event Triggers.", "/os-server-external-events"),
        new("os-server-group-quotas", "ServerGroupQuotas", "Adds quota support to server groups.", "/os-server-groups"),
        new("os-server-groups", "ServerGroups", "Server group support.", "/os-server-groups"),
        new("os-server-password", "ServerPassword", "Server password support.", "/servers/{id}/os-server-password"),
        new("os-server-start-stop", "ServerStartStop", "Start/Stop instance compute API support.", ServerAction),
        new("os-services", "Services", "Services support.", "/os-services"),
        new("os-shelve", "Shelve", "Instance shelve mode.", ServerAction),
        new("os-simple-tenant-usage", "SimpleTenantUsage", "Simple tenant usage extension.", "/os-simple-tenant-usage"),
        new("os-suspend-server", "SuspendServer", "Enable suspend/resume server actions.", ServerAction),
        new("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used.", "/limits"),
        new("os-used-limits-for-admin", "UsedLimitsForAdmin", "Provide data to admin on limited resources used by other tenants.", "/limits"),
        new("os-user-data", "UserData", "Add user_data to the Create Server API."),
        new("os-volume-attachment-update", "VolumeAttachmentUpdate", "Support for updating a volume attachment.", "/servers/{id}/os-volume_attachments/{volumeId}"),
        new("os-volumes", "Volumes", "Volumes support.", "/os-volumes"),
    ];

    private static void MapExtensions(RouteGroupBuilder v21)
    {
        v21.MapGet("/extensions", (HttpContext http) =>
        {
            Authorize(http, "os_compute_api:extensions");
            return Json.Reply(new JsonObject { ["extensions"] = new JsonArray([.. ServedExtensions(http).Select(e => (JsonNode)ExtensionJson(e))]) });
        });
        v21.MapGet("/extensions/{alias}", (HttpContext http, string alias) =>
        {
            Authorize(http, "os_compute_api:extensions");
            var extension = ServedExtensions(http).FirstOrDefault(e => e.Alias == alias)
                ?? throw ApiException.NotFound("The resource could not be found.");
            return Json.Reply(new JsonObject { ["extension"] = ExtensionJson(extension) });
        });
    }

    /// <summary>The entries whose route (if they need one) this process maps under /compute/v2.1.</summary>
    private static IEnumerable<NovaExtension> ServedExtensions(HttpContext http)
    {
        var mapped = http.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText)
            .Where(t => t is not null && t.StartsWith("/compute/v2.1/", StringComparison.Ordinal))
            .Select(t => t!["/compute/v2.1".Length..])
            .ToHashSet(StringComparer.Ordinal);
        return s_extensions.Where(e => e.Route is null || mapped.Contains(e.Route));
    }

    private static JsonObject ExtensionJson(NovaExtension e) => new()
    {
        ["alias"] = e.Alias,
        ["description"] = e.Description,
        ["links"] = new JsonArray(),
        ["name"] = e.Name,
        ["namespace"] = "http://docs.openstack.org/compute/ext/fake_xml",
        ["updated"] = "2014-12-03T00:00:00Z",
    };
}
