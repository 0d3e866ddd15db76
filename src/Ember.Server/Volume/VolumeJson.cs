using System.Text.Json.Nodes;
using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>Cinder's view builders: which keys appear for which caller at which microversion.</summary>
public static partial class VolumeJson
{
    /// <summary>_get_volume_status: the managing states show as their public counterparts.</summary>
    public static string DisplayStatus(string status) => status switch
    {
        "managing" => "creating",
        "error_managing" => "error",
        "error_managing_deleting" => "deleting",
        _ => status,
    };

    public static JsonArray Links(string baseUrl, string projectId, string kind, string id) =>
    [
        new JsonObject { ["href"] = $"{baseUrl}/volume/v3/{projectId}/{kind}/{id}", ["rel"] = "self" },
        new JsonObject { ["href"] = $"{baseUrl}/volume/{projectId}/{kind}/{id}", ["rel"] = "bookmark" },
    ];

    /// <summary>The id of this host's volume service, stable across restarts.</summary>
    public static string ServiceUuid { get; } = new Guid(System.Security.Cryptography.SHA256.HashData("ember-volume-service"u8)[..16]).ToString("D");

    public static JsonObject AttachmentSummary(AttachmentRow a) => new()
    {
        ["id"] = a.Id,
        ["status"] = a.AttachStatus,
        ["instance"] = a.InstanceUuid,
        ["volume_id"] = a.VolumeId,
    };

    /// <summary>An attachment with its connection_info; without <paramref name="withExportName"/> the export name is left out.</summary>
    public static JsonObject AttachmentDetail(AttachmentRow a, VolumeConnection? connection, bool withExportName)
    {
        var o = AttachmentSummary(a);
        o["attached_at"] = a.AttachTime is { } t ? Ids.CinderTime(t) : "";
        o["detached_at"] = a.DetachTime is { } d ? Ids.CinderTime(d) : "";
        o["attach_mode"] = a.AttachMode;
        var info = connection is null ? new JsonObject() : FlatConnection(connection, a);
        if (!withExportName)
        {
            info.Remove("export_name");
        }

        o["connection_info"] = info;
        return o;
    }

    /// <summary>The "data" of a connection (nested under driver_volume_type in os-initialize_connection).</summary>
    public static JsonObject ConnectionData(VolumeConnection c, string volumeId)
    {
        var o = new JsonObject();
        switch (c)
        {
            case NbdUnixConnection unix:
                o["export_name"] = unix.ExportName;
                o["unix_socket"] = unix.SocketPath;
                break;
            case NbdTcpConnection tcp:
                o["export_name"] = tcp.ExportName;
                o["host"] = tcp.Host;
                o["port"] = tcp.Port;
                o["tls"] = tcp.Tls;
                break;
            case RbdConnection rbd:
                // Cinder's rbd initialize_connection: the key is never here; each compute host holds it (Nova: a libvirt secret).
                var monitors = rbd.Monitors.Select(SplitHostPort).ToList();
                o["name"] = $"{rbd.Pool}/{rbd.Image}";
                o["hosts"] = new JsonArray([.. monitors.Select(m => (JsonNode)m.Host)]);
                o["ports"] = new JsonArray([.. monitors.Select(m => (JsonNode)m.Port)]);
                o["cluster_name"] = "ceph";
                o["auth_enabled"] = true;
                o["auth_username"] = rbd.AuthUser;
                o["secret_type"] = "ceph";
                break;
            default:
                throw new NotSupportedException($"No connection_info shape for {c.GetType().Name}.");
        }

        o["volume_id"] = volumeId;
        o["multiattach"] = c.Multiattach;
        o["access_mode"] = c.ReadOnly ? "ro" : "rw";
        o["encrypted"] = false;
        o["discard"] = true;
        return o;
    }

    /// <summary>The nested form of os-initialize_connection: {driver_volume_type, data}.</summary>
    public static JsonObject NestedConnection(VolumeConnection c, string volumeId) => new()
    {
        ["driver_volume_type"] = c.DriverVolumeType,
        ["data"] = ConnectionData(c, volumeId),
    };

    /// <summary>_connection_create: data merged into the top level, plus driver_volume_type and attachment_id.</summary>
    public static JsonObject FlatConnection(VolumeConnection c, AttachmentRow a)
    {
        var o = ConnectionData(c, a.VolumeId);
        o["driver_volume_type"] = c.DriverVolumeType;
        o["attachment_id"] = a.Id;
        return o;
    }

    /// <summary>A flat connection_info as an attachment reply carries it, read back into its case; null when empty.</summary>
    public static VolumeConnection? ConnectionFrom(JsonObject? info)
    {
        if (info is null || info.Count == 0)
        {
            return null;
        }

        var type = info["driver_volume_type"]?.GetValue<string>();
        var export = info["export_name"]?.GetValue<string>();
        var readOnly = info["access_mode"]?.GetValue<string>() == "ro";
        var multiattach = info["multiattach"]?.GetValue<bool>() ?? false;
        if (type == "rbd")
        {
            return RbdConnectionFrom(info, readOnly, multiattach);
        }

        return (type, export, info["unix_socket"], info["host"]) switch
        {
            ("nbd", not null, JsonValue socket, _) => new NbdUnixConnection(export, socket.GetValue<string>(), readOnly, multiattach),
            ("nbd", not null, _, JsonValue host) => new NbdTcpConnection(export, host.GetValue<string>(), info["port"]?.GetValue<int>() ?? 0,
                info["tls"]?.GetValue<bool>() ?? false, readOnly, multiattach),
            _ => throw new NotSupportedException($"A connection_info this host cannot use (driver_volume_type {type ?? "missing"}, export name {(export is null ? "missing" : "given")})."),
        };
    }

    /// <summary>Cinder's rbd data read back: name "pool/image", hosts and ports paired into monitors.</summary>
    private static RbdConnection RbdConnectionFrom(JsonObject info, bool readOnly, bool multiattach)
    {
        var name = info["name"]?.GetValue<string>() ?? "";
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var user = info["auth_username"]?.GetValue<string>();
        if (slash <= 0 || slash == name.Length - 1 || user is null || info["hosts"] is not JsonArray hosts || info["ports"] is not JsonArray ports
            || hosts.Count == 0 || hosts.Count != ports.Count)
        {
            throw new NotSupportedException("An rbd connection_info without pool/image name, monitors or auth_username.");
        }

        var monitors = hosts.Zip(ports, (h, p) => JoinHostPort(h!.GetValue<string>(), p!.GetValue<string>())).ToList();
        return new RbdConnection(name[..slash], name[(slash + 1)..], monitors, user, readOnly, multiattach);
    }

    /// <summary>"host:port" (an IPv6 host in brackets) into its parts, as Cinder lists them: hosts without brackets, ports as strings.</summary>
    private static (string Host, string Port) SplitHostPort(string monitor)
    {
        var colon = monitor.LastIndexOf(':');
        return colon < 0 ? (monitor, "6789") : (monitor[..colon].Trim('[', ']'), monitor[(colon + 1)..]);
    }

    private static string JoinHostPort(string host, string port) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";

    public static JsonObject Snapshot(SnapshotRow s, bool withExtensions, Microversion version)
    {
        var o = new JsonObject
        {
            ["id"] = s.Id,
            ["created_at"] = Ids.CinderTime(s.CreatedAt),
            ["updated_at"] = Ids.CinderTime(s.UpdatedAt),
            ["name"] = s.Name,
            ["description"] = s.Description,
            ["volume_id"] = s.VolumeId,
            ["status"] = s.Status,
            ["size"] = s.Size,
            ["metadata"] = Json.ToJson(VolumeService.MapOf(s.Metadata)),
        };
        if (version >= new Microversion(3, 14))
        {
            o["group_snapshot_id"] = null;
        }

        if (version >= new Microversion(3, 41))
        {
            o["user_id"] = s.UserId;
        }

        if (version >= VolumeVersions.ConsumesQuota)
        {
            o["consumes_quota"] = true;
        }

        if (withExtensions)
        {
            o["os-extended-snapshot-attributes:progress"] = s.Progress ?? (s.Status == "available" ? "100%" : "0%");
            o["os-extended-snapshot-attributes:project_id"] = s.ProjectId;
        }

        return o;
    }

    /// <summary>Cinder's backup summary (list, create, update): id, links and name, with metadata from 3.43.</summary>
    public static JsonObject BackupSummary(BackupRow b, string baseUrl, Microversion version)
    {
        var o = new JsonObject { ["id"] = b.Id, ["links"] = Links(baseUrl, b.ProjectId, "backups", b.Id), ["name"] = b.Name };
        if (version >= VolumeVersions.BackupMetadata)
        {
            o["metadata"] = Json.ToJson(VolumeService.MapOf(b.Metadata));
        }

        return o;
    }

    /// <summary>
    /// Cinder's backup detail. The project shows from 3.18 to admins (backup:backup_project_attribute), metadata from
    /// 3.43, user_id from 3.56; parent_id is not in Cinder's view (Tempest's schema allows no other key), nor is 3.64's
    /// encryption_key_id for a backup of a volume that is not encrypted.
    /// </summary>
    public static JsonObject Backup(BackupRow b, bool hasDependents, string baseUrl, Microversion version, bool showProject)
    {
        var o = new JsonObject
        {
            ["id"] = b.Id,
            ["status"] = b.Status,
            ["size"] = b.Size,
            ["object_count"] = b.ObjectCount,
            ["availability_zone"] = b.AvailabilityZone,
            ["container"] = b.Container,
            ["created_at"] = Ids.CinderTime(b.CreatedAt),
            ["updated_at"] = Ids.CinderTime(b.UpdatedAt),
            ["name"] = b.Name,
            ["description"] = b.Description,
            ["fail_reason"] = b.FailReason,
            ["volume_id"] = b.VolumeId,
            ["links"] = Links(baseUrl, b.ProjectId, "backups", b.Id),
            ["is_incremental"] = b.IsIncremental,
            ["has_dependent_backups"] = hasDependents,
            ["snapshot_id"] = b.SnapshotId,
            ["data_timestamp"] = Ids.CinderTime(b.DataTimestamp),
        };
        if (showProject && version >= VolumeVersions.BackupProjectAttribute)
        {
            o["os-backup-project-attr:project_id"] = b.ProjectId;
        }

        if (version >= VolumeVersions.BackupMetadata)
        {
            o["metadata"] = Json.ToJson(VolumeService.MapOf(b.Metadata));
        }

        if (version >= VolumeVersions.BackupUserId)
        {
            o["user_id"] = b.UserId;
        }

        return o;
    }

    /// <summary>Users see only the extra specs Cinder lists as user-visible; admins see all and qos_specs_id.</summary>
    public static JsonObject Type(VolumeTypeRow t, RequestContext ctx)
    {
        var specs = VolumeService.SpecsOf(t);
        if (!ctx.IsCloudAdmin)
        {
            specs = specs.Where(kv => kv.Key is "multiattach" or "replication_enabled" or "RESKEY:availability_zones" or VolumeService.MaxAttachmentsSpec)
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        }

        var o = new JsonObject
        {
            ["id"] = t.Id,
            ["name"] = t.Name,
            ["description"] = t.Description,
            ["is_public"] = t.IsPublic,
            ["extra_specs"] = Json.ToJson(specs),
            ["os-volume-type-access:is_public"] = t.IsPublic,
        };
        if (ctx.IsCloudAdmin)
        {
            o["qos_specs_id"] = t.QosSpecsId;
        }

        return o;
    }

    /// <summary>A type as create answers it: Tempest's create schema allows no qos_specs_id.</summary>
    public static JsonObject CreatedType(VolumeTypeRow t, RequestContext ctx)
    {
        var o = Type(t, ctx);
        o.Remove("qos_specs_id");
        return o;
    }

    /// <summary>A type as update answers it: Cinder's type-access extension does not extend update, and no qos_specs_id.</summary>
    public static JsonObject UpdatedType(VolumeTypeRow t, RequestContext ctx)
    {
        var o = CreatedType(t, ctx);
        o.Remove("os-volume-type-access:is_public");
        return o;
    }
}
