using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

public static partial class VolumeApi
{
    private static void MapVolumes(RouteGroupBuilder v3)
    {
        v3.MapPost("/volumes", (Delegate)(CreateVolumeAsync));
        v3.MapGet("/volumes", (Delegate)((HttpContext http) => ListVolumesAsync(http, detail: false)));
        v3.MapGet("/volumes/detail", (Delegate)((HttpContext http) => ListVolumesAsync(http, detail: true)));
        v3.MapGet("/volumes/summary", (Delegate)(VolumeSummaryAsync));
        v3.MapGet("/volumes/{id}", (Delegate)(ShowVolumeAsync));
        v3.MapPut("/volumes/{id}", (Delegate)(UpdateVolumeAsync));
        v3.MapDelete("/volumes/{id}", (Delegate)(DeleteVolumeAsync));
        v3.MapGet("/volumes/{id}/metadata", (Delegate)(GetMetadataAsync));
        v3.MapPost("/volumes/{id}/metadata", (HttpContext http, string id) => SetMetadataAsync(http, id, replace: false));
        v3.MapPut("/volumes/{id}/metadata", (HttpContext http, string id) => SetMetadataAsync(http, id, replace: true));
        v3.MapGet("/volumes/{id}/metadata/{key}", (Delegate)(GetMetadataItemAsync));
        v3.MapPut("/volumes/{id}/metadata/{key}", (Delegate)(SetMetadataItemAsync));
        v3.MapDelete("/volumes/{id}/metadata/{key}", (Delegate)(DeleteMetadataItemAsync));
        v3.MapPost("/volumes/{id}/action", (Delegate)(VolumeActionAsync));
    }

    private static async Task<IResult> CreateVolumeAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume");
        var size = Json.OptionalInteger(body, "size");
        // 3.47: a volume made from a backup; the key is ignored below it, as Cinder's schema does.
        var backupId = http.VolumeVersion() >= VolumeVersions.VolumeFromBackup ? Json.OptionalString(body, "backup_id") : null;
        if (size is null && body["snapshot_id"] is null && body["source_volid"] is null && body["imageRef"] is null && backupId is null)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute size. Value: None. None is not of type 'integer', 'string'");
        }

        if (size is < 1 or > int.MaxValue)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute size. Value: {size}. {size} is less than the minimum of 1");
        }

        var request = new VolumeCreateRequest((int)(size ?? 0))
        {
            Name = Limits.Text(Json.OptionalString(body, "name") ?? Json.OptionalString(body, "display_name"), "name"),
            Description = Limits.Text(Json.OptionalString(body, "description") ?? Json.OptionalString(body, "display_description"), "description"),
            VolumeType = Json.OptionalString(body, "volume_type"),
            ImageRef = Json.OptionalString(body, "imageRef") ?? Json.OptionalString(body, "image_id"),
            SnapshotId = Json.OptionalString(body, "snapshot_id"),
            SourceVolid = Json.OptionalString(body, "source_volid"),
            BackupId = backupId,
            AvailabilityZone = Json.OptionalString(body, "availability_zone"),
            Metadata = Json.OptionalStringMap(body, "metadata") is { } given ? Limits.CinderMetadata(given) : null,
            // The legacy flag (removed from Cinder in 2023.2) is still honoured: 2015 clients send it.
            Multiattach = Json.OptionalBoolean(body, "multiattach"),
        };
        var service = Service(http);
        var row = await service.CreateVolumeAsync(ctx, request);
        return await VolumeReplyAsync(http, service, ctx, row, attachments: [], withExtensions: false, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListVolumesAsync(HttpContext http, bool detail)
    {
        var ctx = Authorize(http, "volume:get_all");
        var service = Service(http);
        var filter = VolumeFilterOf(http);
        var withCount = http.VolumeVersion() >= VolumeVersions.VolumeListCount && IsTrue(http.Request, "with_count");
        var page = await service.ListVolumesAsync(ctx, IsTrue(http.Request, "all_tenants"), filter, PageRequestOf(http.Request), withCount);
        var types = detail ? await service.TypeNamesAsync() : null;
        var attachments = detail ? await service.AttachmentsOfAsync([.. page.Items.Select(v => v.Id)]) : null;
        var baseUrl = http.BaseUrl();
        var view = new VolumeJson.DetailView(ctx, http.VolumeVersion(), baseUrl, service.Backend.HostName, WithExtensions: true);
        var next = QueryParams.NextLink(http, page, v => v.Id, QueryParams.Limit(http.Request.Query));
        return Json.Reply(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("volumes"u8);
            foreach (var v in page.Items)
            {
                if (detail)
                {
                    VolumeJson.WriteDetail(w, v, types!.GetValueOrDefault(v.VolumeTypeId, ""), attachments![v.Id], view);
                }
                else
                {
                    VolumeJson.WriteSummary(w, v, baseUrl);
                }
            }

            w.WriteEndArray();
            if (next is not null)
            {
                w.WritePropertyName("volumes_links"u8);
                next.WriteTo(w);
            }

            if (page.Count is { } count)
            {
                w.WriteNumber("count"u8, count);
            }

            w.WriteEndObject();
        });
    }

    private static VolumeFilter VolumeFilterOf(HttpContext http)
    {
        var query = http.Request.Query;
        var version = http.VolumeVersion();
        return new()
        {
            ProjectId = query["project_id"].FirstOrDefault(),
            Name = query.TryGetValue("name", out var name) ? name.ToString() : null,
            Status = query.TryGetValue("status", out var status) ? status.ToString() : null,
            Bootable = query.TryGetValue("bootable", out var bootable) ? Json.ParseBoolean(bootable) : null,
            Metadata = query.TryGetValue("metadata", out var metadata) ? ParseMetadataFilter(metadata.ToString()) : null,
            Times = version >= VolumeVersions.TimeComparisonFilters ? [.. ParseTimeFilter(query, "created_at"), .. ParseTimeFilter(query, "updated_at")] : [],
            ConsumesQuota = version >= VolumeVersions.ConsumesQuota && query.TryGetValue("consumes_quota", out var consumes) ? Json.ParseBoolean(consumes) : null,
        };
    }

    /// <summary>3.60: <c>created_at=gt:2024-01-01T00:00:00,lte:2024-02-01T00:00:00</c>, each a Cinder operator and an ISO time.</summary>
    private static IEnumerable<TimeComparison> ParseTimeFilter(IQueryCollection query, string column)
    {
        if (!query.TryGetValue(column, out var values))
        {
            yield break;
        }

        foreach (var unit in values.ToString().Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = unit.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                throw ApiException.BadRequest($"Invalid {column} value");
            }

            var op = unit[..colon];
            if (!TimeComparison.Operators.ContainsKey(op))
            {
                throw ApiException.BadRequest($"Invalid {op} operator");
            }

            var text = unit[(colon + 1)..];
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                throw ApiException.BadRequest($"Invalid {text} value");
            }

            yield return new TimeComparison(column, op, DateTime.SpecifyKind(time.UtcDateTime, DateTimeKind.Utc));
        }
    }

    /// <summary>GET /volumes/summary (3.12): count and size of the volumes a list would show; 3.36 adds each metadata key's distinct values.</summary>
    private static async Task<IResult> VolumeSummaryAsync(HttpContext http)
    {
        RequireVersion(http, VolumeVersions.VolumeSummary);
        var ctx = Authorize(http, "volume:get_all");
        var page = await Service(http).ListVolumesAsync(ctx, IsTrue(http.Request, "all_tenants"), VolumeFilterOf(http), PageRequest.All, withCount: false);
        var summary = new JsonObject
        {
            ["total_size"] = page.Items.Sum(v => (long)v.Size),
            ["total_count"] = page.Items.Count,
        };
        if (http.VolumeVersion() >= VolumeVersions.VolumeSummaryMetadata)
        {
            var distinct = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var (key, value) in page.Items.SelectMany(v => VolumeService.MapOf(v.Metadata)))
            {
                var values = distinct.TryGetValue(key, out var seen) ? seen : distinct[key] = [];
                if (!values.Contains(value))
                {
                    values.Add(value);
                }
            }

            summary["metadata"] = new JsonObject(distinct.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray([.. kv.Value.Select(v => (JsonNode)v)]))));
        }

        return Json.Reply(new JsonObject { ["volume-summary"] = summary });
    }

    private static Dictionary<string, string> ParseMetadataFilter(string text)
    {
        try
        {
            // Clients send a Python-ish dict ({'k': 'v'}) or JSON.
            var json = JsonNode.Parse(text.Replace('\'', '"')) as JsonObject ?? throw ApiException.BadRequest("Invalid metadata filter.");
            return json.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "", StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            throw ApiException.BadRequest($"Invalid metadata filter: {text}");
        }
    }

    private static async Task<IResult> ShowVolumeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:get");
        var service = Service(http);
        var volume = await service.FindVisibleAsync(ctx, id);
        return await VolumeReplyAsync(http, service, ctx, volume, attachments: null, withExtensions: true);
    }

    /// <summary>{"volume": detail}; null <paramref name="attachments"/> reads the volume's own.</summary>
    private static async Task<IResult> VolumeReplyAsync(HttpContext http, VolumeService service, RequestContext ctx, VolumeRow volume,
        IEnumerable<AttachmentRow>? attachments, bool withExtensions, int status = StatusCodes.Status200OK)
    {
        var shown = attachments ?? (await service.AttachmentsOfAsync([volume.Id]))[volume.Id];
        var typeName = await service.TypeNameOfAsync(volume);
        var view = new VolumeJson.DetailView(ctx, http.VolumeVersion(), http.BaseUrl(), service.Backend.HostName, withExtensions);
        return Json.Reply(w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("volume"u8);
            VolumeJson.WriteDetail(w, volume, typeName, shown, view);
            w.WriteEndObject();
        }, status);
    }

    private static async Task<IResult> UpdateVolumeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume");
        var service = Service(http);
        var name = TextField(body, "name", "display_name");
        var description = TextField(body, "description", "display_description");
        var metadata = Json.OptionalStringMap(body, "metadata") is { } m ? Limits.CinderMetadata(m) : null;
        var updated = await service.UpdateVolumeAsync(ctx, id, name, description, metadata);
        return await VolumeReplyAsync(http, service, ctx, updated, attachments: null, withExtensions: false);
    }

    private static async Task<IResult> DeleteVolumeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:delete");
        var force = IsTrue(http.Request, "force");
        if (force)
        {
            http.Enforce(ctx, "volume_extension:volume_admin_actions:force_delete");
        }

        await Service(http).DeleteVolumeAsync(ctx, id, IsTrue(http.Request, "cascade"), force);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetMetadataAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:get_volume_metadata");
        var volume = await Service(http).FindVisibleAsync(ctx, id);
        return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(VolumeService.MapOf(volume.Metadata)) });
    }

    private static async Task<IResult> SetMetadataAsync(HttpContext http, string id, bool replace)
    {
        var ctx = Authorize(http, replace ? "volume:update_volume_metadata" : "volume:create_volume_metadata");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var metadata = await Service(http).ChangeMetadataAsync(ctx, id, current => MergeMetadata(current, body, replace));
        return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(metadata) });
    }

    /// <summary>The metadata after a POST (merge) or PUT (replace) body {"metadata":{...}}; shared by volumes and snapshots.</summary>
    private static Dictionary<string, string> MergeMetadata(Dictionary<string, string> current, JsonObject body, bool replace)
    {
        var given = Json.OptionalStringMap(body, "metadata") ?? throw ApiException.BadRequest("Malformed request body");
        var metadata = replace ? new Dictionary<string, string>(StringComparer.Ordinal) : current;
        foreach (var (k, v) in Limits.CinderMetadata(given))
        {
            metadata[k] = v;
        }

        return Limits.CinderMetadata(metadata);
    }

    private static async Task<IResult> GetMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:get_volume_metadata");
        var volume = await Service(http).FindVisibleAsync(ctx, id);
        return VolumeService.MapOf(volume.Metadata).TryGetValue(key, out var value)
            ? Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = value } })
            : throw ApiException.NotFound($"Volume {id} has no metadata with key {key}.");
    }

    private static async Task<IResult> SetMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:update_volume_metadata");
        var meta = OneMetadataItem(await Json.ReadObjectAsync(http.Request, http.RequestAborted), key);
        await Service(http).ChangeMetadataAsync(ctx, id, metadata =>
        {
            metadata[key] = meta;
            return Limits.CinderMetadata(metadata);
        });
        return Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = meta } });
    }

    /// <summary>The value of a PUT .../metadata/{key} body {"meta":{key:value}}; shared by volumes and snapshots.</summary>
    private static string OneMetadataItem(JsonObject body, string key)
    {
        var meta = Json.OptionalStringMap(body, "meta") ?? throw ApiException.BadRequest("Malformed request body");
        return meta.Count == 1 && meta.TryGetValue(key, out var value)
            ? value
            : throw ApiException.BadRequest(meta.Count > 1 ? "Request body contains too many items." : "Request body and URI mismatch");
    }

    private static async Task<IResult> DeleteMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:delete_volume_metadata");
        await Service(http).ChangeMetadataAsync(ctx, id, metadata => metadata.Remove(key)
            ? metadata
            : throw ApiException.NotFound($"Volume {id} has no metadata with key {key}."));
        return Results.Ok();
    }

    /// <summary>A name or description in an update: Cinder's field or its v1 "display_" alias, validated; not given stays.</summary>
    private static Optional<string?> TextField(JsonObject body, string key, string alias)
    {
        var field = body.ContainsKey(key) ? Json.OptionalField(body, key) : Json.OptionalField(body, alias);
        return field.IsGiven ? new(Limits.Text(field.Value, key)) : default;
    }
}
