using System.Globalization;
using System.Text;
using System.Text.Json;
using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>
/// The volume detail, written straight to a <see cref="Utf8JsonWriter"/>: a page of 100 volumes is the hottest body of
/// the API, and a JsonObject tree per item cost more than reading the rows. Create, show and list all write it here.
/// </summary>
public static partial class VolumeJson
{
    /// <summary>What shapes a volume's detail besides the volume itself: the caller, the microversion, the host.</summary>
    public sealed record DetailView(RequestContext Ctx, Microversion Version, string BaseUrl, string HostName, bool WithExtensions);

    /// <summary>The summary view of a list without /detail.</summary>
    public static void WriteSummary(Utf8JsonWriter w, VolumeRow v, string baseUrl)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, v.Id);
        w.WritePropertyName("links"u8);
        WriteLinks(w, baseUrl, v.ProjectId, "volumes", v.Id);
        w.WriteString("name"u8, v.Name);
        w.WriteEndObject();
    }

    /// <summary>
    /// The detail view. <see cref="DetailView.WithExtensions"/> adds what Cinder's extension controllers add to show and
    /// detail (tenant, host, migration attributes, volume_image_metadata); the create reply has none of them.
    /// </summary>
    public static void WriteDetail(Utf8JsonWriter w, VolumeRow v, string typeName, IEnumerable<AttachmentRow> attachments, DetailView view)
    {
        var (ctx, version) = (view.Ctx, view.Version);
        w.WriteStartObject();
        w.WriteString("id"u8, v.Id);
        w.WriteString("status"u8, DisplayStatus(v.Status));
        w.WriteNumber("size"u8, v.Size);
        w.WriteString("availability_zone"u8, v.AvailabilityZone);
        WriteTime(w, "created_at"u8, v.CreatedAt);
        WriteTime(w, "updated_at"u8, v.UpdatedAt);
        w.WriteString("name"u8, v.Name);
        w.WriteString("description"u8, v.Description);
        w.WriteString("volume_type"u8, typeName);
        w.WriteString("snapshot_id"u8, v.SnapshotId);
        w.WriteString("source_volid"u8, v.SourceVolid);
        w.WritePropertyName("metadata"u8);
        WriteMetadata(w, v);
        w.WritePropertyName("links"u8);
        WriteLinks(w, view.BaseUrl, v.ProjectId, "volumes", v.Id);
        w.WriteString("user_id"u8, v.UserId);
        w.WriteString("bootable"u8, v.Bootable ? "true"u8 : "false"u8);
        w.WriteBoolean("encrypted"u8, false);
        w.WriteString("replication_status"u8, "disabled"u8);
        w.WriteNull("consistencygroup_id"u8);
        w.WriteBoolean("multiattach"u8, v.Multiattach);
        w.WritePropertyName("attachments"u8);
        WriteAttachments(w, v, attachments, ctx);
        if (ctx.IsCloudAdmin)
        {
            w.WriteNull("migration_status"u8);
        }

        if (version >= VolumeVersions.GroupId)
        {
            w.WriteNull("group_id"u8);
        }

        if (version >= VolumeVersions.ProviderId && ctx.IsCloudAdmin)
        {
            w.WriteNull("provider_id"u8);
        }

        if (version >= VolumeVersions.ClusterName && ctx.IsCloudAdmin)
        {
            w.WriteNull("cluster_name"u8);
        }

        if (version >= VolumeVersions.VolumeTypeId)
        {
            w.WriteString("volume_type_id"u8, v.VolumeTypeId);
        }

        // 3.64's encryption_key_id is shown only for an encrypted volume, and Ember has none.
        if (version >= VolumeVersions.ConsumesQuota)
        {
            w.WriteBoolean("consumes_quota"u8, true);
        }

        if (version >= VolumeVersions.SharedTargets)
        {
            // Below 3.69 Cinder shows a null shared_targets as true; the NBD export is per attachment, so false.
            w.WriteBoolean("shared_targets"u8, false);
            w.WriteString("service_uuid"u8, ServiceUuid);
        }

        if (view.WithExtensions)
        {
            w.WriteString("os-vol-tenant-attr:tenant_id"u8, v.ProjectId);
            if (ctx.IsCloudAdmin)
            {
                w.WriteString("os-vol-host-attr:host"u8, view.HostName);
                w.WriteNull("os-vol-mig-status-attr:migstat"u8);
                w.WriteNull("os-vol-mig-status-attr:name_id"u8);
            }

            if (v.ImageMetadata is not null)
            {
                w.WritePropertyName("volume_image_metadata"u8);
                WriteStringMap(w, v.ImageMetadata, overrideKey: default, overrideValue: null);
            }
        }

        w.WriteEndObject();
    }

    /// <summary>The self and bookmark links of an item.</summary>
    public static void WriteLinks(Utf8JsonWriter w, string baseUrl, string projectId, string kind, string id)
    {
        w.WriteStartArray();
        w.WriteStartObject();
        w.WriteString("href"u8, $"{baseUrl}/volume/v3/{projectId}/{kind}/{id}");
        w.WriteString("rel"u8, "self"u8);
        w.WriteEndObject();
        w.WriteStartObject();
        w.WriteString("href"u8, $"{baseUrl}/volume/{projectId}/{kind}/{id}");
        w.WriteString("rel"u8, "bookmark"u8);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    /// <summary>Cinder's time format (<see cref="Ids.CinderTime"/>) formatted in place.</summary>
    private static void WriteTime(Utf8JsonWriter w, ReadOnlySpan<byte> name, DateTime t)
    {
        Span<byte> text = stackalloc byte[32];
        if (!Ids.AsUtc(t).TryFormat(text, out var length, "yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("A Cinder time longer than its format.");
        }

        w.WriteString(name, text[..length]);
    }

    /// <summary>
    /// The user's metadata plus the admin metadata Cinder makes visible to everyone (add_visible_admin_metadata):
    /// "readonly" as "True"/"False" once os-update_readonly_flag has set it.
    /// </summary>
    private static void WriteMetadata(Utf8JsonWriter w, VolumeRow v) =>
        WriteStringMap(w, v.Metadata, v.ReadonlyShown ? "readonly"u8 : default, v.ReadonlyShown ? (v.Readonly ? "True" : "False") : null);

    /// <summary>
    /// A stored JSON object of strings (as <see cref="VolumeService.JsonOf"/> writes it) copied without a dictionary;
    /// <paramref name="overrideKey"/>, when given, takes <paramref name="overrideValue"/> in its place or at the end,
    /// as setting it in the dictionary would.
    /// </summary>
    private static void WriteStringMap(Utf8JsonWriter w, string? json, ReadOnlySpan<byte> overrideKey, string? overrideValue)
    {
        w.WriteStartObject();
        var overridden = overrideValue is null;
        if (!string.IsNullOrEmpty(json))
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                ReadOnlySpan<byte> key = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
                reader.Read();
                if (!overridden && key.SequenceEqual(overrideKey))
                {
                    w.WriteString(key, overrideValue);
                    overridden = true;
                }
                else if (reader.ValueIsEscaped)
                {
                    w.WriteString(key, reader.GetString());
                }
                else
                {
                    w.WriteString(key, reader.ValueSpan);
                }
            }
        }

        if (!overridden)
        {
            w.WriteString(overrideKey, overrideValue);
        }

        w.WriteEndObject();
    }

    /// <summary>_get_attachments: only attached ones; "id" is the volume id; host_name for admins only.</summary>
    private static void WriteAttachments(Utf8JsonWriter w, VolumeRow v, IEnumerable<AttachmentRow> attachments, RequestContext ctx)
    {
        w.WriteStartArray();
        foreach (var a in attachments)
        {
            if (a.AttachStatus != "attached")
            {
                continue;
            }

            w.WriteStartObject();
            w.WriteString("id"u8, v.Id);
            w.WriteString("attachment_id"u8, a.Id);
            w.WriteString("volume_id"u8, v.Id);
            w.WriteString("server_id"u8, a.InstanceUuid);
            w.WriteString("host_name"u8, ctx.IsCloudAdmin ? a.AttachedHost : null);
            w.WriteString("device"u8, a.Mountpoint);
            if (a.AttachTime is { } t)
            {
                WriteTime(w, "attached_at"u8, t);
            }
            else
            {
                w.WriteNull("attached_at"u8);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
