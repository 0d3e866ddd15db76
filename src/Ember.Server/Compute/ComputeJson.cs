using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

/// <summary>Nova's views of flavors, servers and volume attachments, field by field per microversion.</summary>
internal static class ComputeJson
{
    public static JsonArray Links(HttpContext http, string collection, string id) => new(
        new JsonObject { ["rel"] = "self", ["href"] = $"{http.BaseUrl()}/compute/v2.1/{collection}/{id}" },
        new JsonObject { ["rel"] = "bookmark", ["href"] = $"{http.BaseUrl()}/compute/{collection}/{id}" });

    public static Dictionary<string, string> ExtraSpecs(FlavorRow flavor) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(flavor.ExtraSpecs) ?? [];

    public static JsonObject Flavor(HttpContext http, FlavorRow flavor, Microversion version)
    {
        var json = new JsonObject
        {
            ["id"] = flavor.Id,
            ["name"] = flavor.Name,
            ["ram"] = flavor.Ram,
            ["disk"] = flavor.Disk,
            ["vcpus"] = flavor.Vcpus,
            ["OS-FLV-EXT-DATA:ephemeral"] = flavor.Ephemeral,
            ["OS-FLV-DISABLED:disabled"] = false,
            // Nova shows a zero swap as "" before 2.75.
            ["swap"] = flavor.Swap == 0 && !version.AtLeast(75) ? "" : flavor.Swap,
            ["rxtx_factor"] = flavor.RxtxFactor,
            ["os-flavor-access:is_public"] = flavor.IsPublic,
            ["links"] = Links(http, "flavors", flavor.Id),
        };
        if (version.AtLeast(55))
        {
            json["description"] = flavor.Description;
        }

        if (version.AtLeast(61))
        {
            json["extra_specs"] = Json.ToJson(ExtraSpecs(flavor));
        }

        return json;
    }

    public static string Status(ServerRow server) => Status(server.VmState, server.TaskState);

    public static string Status(string vmState, string? taskState) => (vmState, taskState) switch
    {
        (VmStates.Building, _) => "BUILD",
        (VmStates.Active, "reboot_started" or "rebooting") => "REBOOT",
        (VmStates.Active, "reboot_started_hard" or "rebooting_hard") => "HARD_REBOOT",
        (VmStates.Active or VmStates.Stopped, "resize_prep" or "resize_migrating" or "resize_migrated" or "resize_finish") => "RESIZE",
        (VmStates.Resized, "resize_reverting") => "REVERT_RESIZE",
        (VmStates.Resized, _) => "VERIFY_RESIZE",
        (VmStates.Active, _) => "ACTIVE",
        (VmStates.Stopped, _) => "SHUTOFF",
        (VmStates.Paused, _) => "PAUSED",
        (VmStates.Suspended, _) => "SUSPENDED",
        (VmStates.Shelved, _) => "SHELVED",
        (VmStates.ShelvedOffloaded, _) => "SHELVED_OFFLOADED",
        (VmStates.Rescued, _) => "RESCUE",
        (VmStates.Error, _) => "ERROR",
        (VmStates.Deleted, _) => "DELETED",
        _ => "UNKNOWN",
    };

    /// <summary>
    /// Nova's hostId is sha224(project id + host), so tenants can tell co-located servers apart. .NET has no
    /// SHA-224, so this is SHA-256 cut to the same 224 bits: same length and purpose, different digits.
    /// </summary>
    public static string HostId(ServerRow server) => server.Host.Length == 0
        ? ""
        : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(server.ProjectId + server.Host))[..28]);

    /// <summary>Nova's addresses: network name to its fixed IPs, each with version, and type and the port's MAC when
    /// <paramref name="extended"/> (Nova's update and rebuild views before 2.75 leave those two out).</summary>
    private static JsonObject Addresses(IReadOnlyList<Network.ServerAddress> addresses, bool extended)
    {
        var json = new JsonObject();
        foreach (var group in addresses.GroupBy(a => a.NetworkName, StringComparer.Ordinal))
        {
            json[group.Key] = new JsonArray([.. group.Select(a => (JsonNode)(extended
                ? new JsonObject { ["version"] = 4, ["addr"] = a.Address, ["OS-EXT-IPS:type"] = "fixed", ["OS-EXT-IPS-MAC:mac_addr"] = a.MacAddress }
                : new JsonObject { ["version"] = 4, ["addr"] = a.Address }))]);
        }

        return json;
    }

    /// <summary>What a server view shows beyond the row: tags (2.26), its server group (2.71), and whether it is the update view.</summary>
    /// <param name="SecurityGroups">The names of the groups on the server's ports; none (no ports) leaves the key out, as in Nova.</param>
    public sealed record ServerExtras(IReadOnlyList<string> Tags, string? GroupId, bool UpdateView = false, IReadOnlyList<string>? SecurityGroups = null)
    {
        public static ServerExtras None { get; } = new([], null);
    }

    /// <param name="hostStatus">The server's host_status (2.16), or null when the caller may not see it.</param>
    /// <param name="addresses">The server's fixed addresses (ports of the network service), in port order.</param>
    public static JsonObject Server(HttpContext http, RequestContext ctx, ServerRow server, IReadOnlyList<BdmRow> bdms,
        Microversion version, IReadOnlyList<Network.ServerAddress> addresses, string? imageName = null, string? hostStatus = null,
        ServerExtras? extras = null)
    {
        extras ??= ServerExtras.None;
        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var json = new JsonObject
        {
            ["id"] = server.Id,
            ["name"] = server.Name,
            ["status"] = Status(server),
            ["tenant_id"] = server.ProjectId,
            ["user_id"] = server.UserId,
            ["metadata"] = Json.ToJson(JsonSerializer.Deserialize<Dictionary<string, string>>(server.Metadata) ?? []),
            ["hostId"] = HostId(server),
            ["image"] = server.ImageId is null
                ? ""
                : Image(http, server, version),
            ["flavor"] = version.AtLeast(47)
                ? new JsonObject
                {
                    ["vcpus"] = flavor.Vcpus,
                    ["ram"] = flavor.Ram,
                    ["disk"] = flavor.Disk,
                    ["ephemeral"] = flavor.Ephemeral,
                    ["swap"] = flavor.Swap,
                    ["original_name"] = flavor.Name,
                    ["extra_specs"] = Json.ToJson(ExtraSpecs(flavor)),
                }
                : new JsonObject
                {
                    ["id"] = flavor.Id,
                    ["links"] = new JsonArray(new JsonObject { ["rel"] = "bookmark", ["href"] = $"{http.BaseUrl()}/compute/flavors/{flavor.Id}" }),
                },
            ["created"] = Ids.ZuluSeconds(server.CreatedAt),
            ["updated"] = Ids.ZuluSeconds(server.UpdatedAt),
            ["addresses"] = Addresses(addresses, extended: !extras.UpdateView),
            ["accessIPv4"] = server.AccessIpV4 ?? "",
            ["accessIPv6"] = server.AccessIpV6 ?? "",
            ["links"] = Links(http, "servers", server.Id),
            ["OS-DCF:diskConfig"] = "MANUAL",
        };
        // Nova shows progress only in the statuses that make some.
        if (json["status"]!.GetValue<string>() is "ACTIVE" or "BUILD")
        {
            json["progress"] = 0;
        }

        // Nova's update view (below 2.75) leaves out the extended attributes.
        if (!extras.UpdateView)
        {
            Extended(json, ctx, server, bdms, version, extras.SecurityGroups ?? []);
        }

        ExtendedCommon(json, server, version, hostStatus, extras);
        return json;
    }

    /// <summary>The server's image: its id and link, and from 2.98 the standard properties it had at boot or rebuild.</summary>
    private static JsonObject Image(HttpContext http, ServerRow server, Microversion version)
    {
        var image = new JsonObject
        {
            ["id"] = server.ImageId,
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "bookmark", ["href"] = $"{http.BaseUrl()}/compute/images/{server.ImageId}" }),
        };
        if (version.AtLeast(98))
        {
            image["properties"] = ServerRequestSpec.ImageProperties(server.ImageProperties);
        }

        return image;
    }

    private static void Extended(JsonObject json, RequestContext ctx, ServerRow server, IReadOnlyList<BdmRow> bdms, Microversion version, IReadOnlyList<string> securityGroups)
    {
        json["OS-EXT-AZ:availability_zone"] = server.AvailabilityZone ?? "";
        if (version.AtLeast(96))
        {
            // The zone the create (or an unshelve) asked for: the server stays in it when it moves; null when none was asked.
            json["pinned_availability_zone"] = server.PinnedAvailabilityZone;
        }

        json["config_drive"] = server.ConfigDrive;
        json["key_name"] = server.KeyName;
        json["OS-SRV-USG:launched_at"] = server.LaunchedAt is { } launched ? Ids.CinderTime(launched) : null;
        json["OS-SRV-USG:terminated_at"] = null;
        json["OS-EXT-STS:task_state"] = server.TaskState;
        json["OS-EXT-STS:vm_state"] = server.VmState;
        json["OS-EXT-STS:power_state"] = server.PowerState;
        json["os-extended-volumes:volumes_attached"] = new JsonArray([.. bdms.Select(b => (JsonNode)VolumeAttached(b, version))]);

        if (securityGroups.Count > 0)
        {
            json["security_groups"] = new JsonArray([.. securityGroups.Select(name => (JsonNode)new JsonObject { ["name"] = name })]);
        }

        if (ctx.IsCloudAdmin)
        {
            // A server that was never placed has no host: null, as in Nova.
            var host = server.Host.Length > 0 ? server.Host : null;
            json["OS-EXT-SRV-ATTR:host"] = host;
            json["OS-EXT-SRV-ATTR:instance_name"] = server.InstanceName;
            json["OS-EXT-SRV-ATTR:hypervisor_hostname"] = host;
            if (version.AtLeast(3))
            {
                json["OS-EXT-SRV-ATTR:reservation_id"] = server.ReservationId ?? "r-" + server.Id[..8];
                json["OS-EXT-SRV-ATTR:launch_index"] = server.LaunchIndex;
                json["OS-EXT-SRV-ATTR:hostname"] = Hostname(server);
                json["OS-EXT-SRV-ATTR:kernel_id"] = "";
                json["OS-EXT-SRV-ATTR:ramdisk_id"] = "";
                json["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda";
                json["OS-EXT-SRV-ATTR:user_data"] = server.UserData;
            }
        }
        else if (version.AtLeast(90))
        {
            // 2.90 shows the hostname to everyone, as the server's owner may now set it.
            json["OS-EXT-SRV-ATTR:hostname"] = Hostname(server);
        }
    }

    public static string Hostname(ServerRow server) => server.Hostname ?? Metadata.InstanceMetadata.DefaultHostname(server.Name, server.Id);

    /// <summary>The fields of every view (show, list detail and update) by microversion.</summary>
    private static void ExtendedCommon(JsonObject json, ServerRow server, Microversion version, string? hostStatus, ServerExtras extras)
    {
        if (version.AtLeast(9))
        {
            json["locked"] = server.Locked;
        }

        if (version.AtLeast(73))
        {
            json["locked_reason"] = server.LockedReason;
        }

        if (version.AtLeast(100))
        {
            json["scheduler_hints"] = ServerRequestSpec.Hints(server.SchedulerHints);
        }

        if (version.AtLeast(16) && hostStatus is not null)
        {
            json["host_status"] = hostStatus;
        }

        if (version.AtLeast(19))
        {
            json["description"] = server.Description;
        }

        if (version.AtLeast(26))
        {
            json["tags"] = new JsonArray([.. extras.Tags.Select(t => (JsonNode)t)]);
        }

        if (version.AtLeast(63))
        {
            json["trusted_image_certificates"] = null;
        }

        if (version.AtLeast(71))
        {
            json["server_groups"] = extras.GroupId is { } group ? new JsonArray(group) : new JsonArray();
        }

        if (server.FaultJson is not null && server.VmState == VmStates.Error)
        {
            json["fault"] = JsonNode.Parse(server.FaultJson);
        }
    }

    private static JsonObject VolumeAttached(BdmRow bdm, Microversion version)
    {
        var json = new JsonObject { ["id"] = bdm.VolumeId };
        if (version.AtLeast(3))
        {
            json["delete_on_termination"] = bdm.DeleteOnTermination;
        }

        return json;
    }

    /// <summary>
    /// One volumeAttachment: id is the volume id before 2.89, which drops it for the Cinder attachment_id and the
    /// mapping's bdm_uuid; delete_on_termination from 2.79.
    /// </summary>
    public static JsonObject VolumeAttachment(BdmRow bdm, Microversion version)
    {
        var json = new JsonObject();
        if (!version.AtLeast(89))
        {
            json["id"] = bdm.VolumeId;
        }

        json["serverId"] = bdm.ServerId;
        json["volumeId"] = bdm.VolumeId;
        json["device"] = "/dev/" + bdm.DeviceName;
        if (version.AtLeast(70))
        {
            json["tag"] = bdm.Tag;
        }

        if (version.AtLeast(79))
        {
            json["delete_on_termination"] = bdm.DeleteOnTermination;
        }

        if (version.AtLeast(89))
        {
            json["attachment_id"] = bdm.AttachmentId;
            json["bdm_uuid"] = bdm.Id;
        }

        return json;
    }
}
