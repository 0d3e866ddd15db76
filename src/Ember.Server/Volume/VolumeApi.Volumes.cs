using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

public static partial class VolumeApi
{
    private static readonly string[] s_sortKeys = ["created_at", "updated_at", "id", "name", "size", "status"];

    private static void MapVolumes(RouteGroupBuilder v3)
    {
        v3.MapPost("/volumes", (Delegate)(CreateVolumeAsync));
        v3.MapGet("/volumes", (Delegate)((HttpContext http) => ListVolumesAsync(http, detail: false)));
        v3.MapGet("/volumes/detail", (Delegate)((HttpContext http) => ListVolumesAsync(http, detail: true)));
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
        if (size is null && body["snapshot_id"] is null && body["source_volid"] is null && body["imageRef"] is null)
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
            AvailabilityZone = Json.OptionalString(body, "availability_zone"),
            Metadata = Json.OptionalStringMap(body, "metadata") is { } given ? Limits.CinderMetadata(given) : null,
            // The legacy flag (removed from Cinder in 2023.2) is still honoured: 2015 clients send it.
            Multiattach = Json.OptionalBoolean(body, "multiattach"),
        };
        var service = Service(http);
        var row = await service.CreateVolumeAsync(ctx, request);
        var type = await service.Store.FindTypeAsync(row.VolumeTypeId);
        return Json.Reply(new JsonObject
        {
            ["volume"] = VolumeJson.Detail(row, type?.Name ?? "", [], ctx, http.VolumeVersion(), http.BaseUrl(), service.Backend.HostName, withExtensions: false),
        }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListVolumesAsync(HttpContext http, bool detail)
    {
        var ctx = Authorize(http, "volume:get_all");
        var service = Service(http);
        var query = http.Request.Query;
        var allTenants = ctx.IsCloudAdmin && IsTrue(http.Request, "all_tenants");
        var projectFilter = allTenants ? query["project_id"].FirstOrDefault() : ctx.ProjectId;
        IEnumerable<VolumeRow> rows = await service.Store.ListVolumesAsync(projectFilter);
        if (query.TryGetValue("name", out var name))
        {
            rows = rows.Where(v => v.Name == name.ToString());
        }

        if (query.TryGetValue("status", out var status))
        {
            rows = rows.Where(v => VolumeJson.DisplayStatus(v.Status) == status.ToString());
        }

        if (query.TryGetValue("bootable", out var bootable) && Json.ParseBoolean(bootable) is { } wantBootable)
        {
            rows = rows.Where(v => v.Bootable == wantBootable);
        }

        if (query.TryGetValue("metadata", out var metadataText))
        {
            var wanted = ParseMetadataFilter(metadataText.ToString());
            rows = rows.Where(v =>
            {
                var have = VolumeService.MapOf(v.Metadata);
                return wanted.All(kv => have.TryGetValue(kv.Key, out var value) && value == kv.Value);
            });
        }

        var sorted = Sort(rows, query["sort"].FirstOrDefault(), query["sort_key"].FirstOrDefault(), query["sort_dir"].FirstOrDefault());
        var (page, next) = Paginate(http, sorted, v => v.Id, http.Request.Path);
        var reply = new JsonArray();
        var types = (await service.Store.ListTypesAsync()).ToDictionary(t => t.Id, t => t.Name, StringComparer.Ordinal);
        var attachments = detail ? await service.Store.AttachmentsOfAsync([.. page.Select(v => v.Id)]) : null;
        foreach (var v in page)
        {
            reply.Add(detail
                ? VolumeJson.Detail(v, types.GetValueOrDefault(v.VolumeTypeId, ""), attachments![v.Id], ctx, http.VolumeVersion(), http.BaseUrl(), service.Backend.HostName, withExtensions: true)
                : VolumeJson.Summary(v, http.BaseUrl()));
        }

        var body = new JsonObject { ["volumes"] = reply };
        if (next is not null)
        {
            body["volumes_links"] = next;
        }

        if (http.VolumeVersion() >= VolumeVersions.VolumeListCount && IsTrue(http.Request, "with_count"))
        {
            body["count"] = sorted.Count;
        }

        return Json.Reply(body);
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

    /// <summary>sort=key:dir,key2 or sort_key/sort_dir; default created_at desc, like Cinder.</summary>
    private static List<VolumeRow> Sort(IEnumerable<VolumeRow> rows, string? sort, string? sortKey, string? sortDir)
    {
        var keys = new List<(string Key, bool Desc)>();
        if (!string.IsNullOrEmpty(sort))
        {
            foreach (var part in sort.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var bits = part.Split(':');
                keys.Add((bits[0], bits.Length < 2 || bits[1] != "asc"));
            }
        }
        else if (!string.IsNullOrEmpty(sortKey))
        {
            keys.Add((sortKey, sortDir != "asc"));
        }

        foreach (var (key, _) in keys)
        {
            if (!s_sortKeys.Contains(key))
            {
                throw ApiException.BadRequest($"Invalid input received: Invalid sort key {key}");
            }
        }

        keys.Add(("created_at", true));
        keys.Add(("id", true));
        IOrderedEnumerable<VolumeRow>? ordered = null;
        foreach (var (key, desc) in keys)
        {
            Func<VolumeRow, IComparable> selector = key switch
            {
                "updated_at" => v => v.UpdatedAt,
                "id" => v => v.Id,
                "name" => v => v.Name ?? "",
                "size" => v => v.Size,
                "status" => v => v.Status,
                _ => v => v.CreatedAt,
            };
            ordered = ordered is null
                ? desc ? rows.OrderByDescending(selector) : rows.OrderBy(selector)
                : desc ? ordered.ThenByDescending(selector) : ordered.ThenBy(selector);
        }

        return [.. ordered!];
    }

    private static async Task<IResult> ShowVolumeAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:get");
        var service = Service(http);
        var volume = await service.FindVisibleAsync(ctx, id);
        return Json.Reply(new JsonObject { ["volume"] = await DetailAsync(http, service, ctx, volume, withExtensions: true) });
    }

    private static async Task<JsonObject> DetailAsync(HttpContext http, VolumeService service, RequestContext ctx, VolumeRow volume, bool withExtensions)
    {
        var type = await service.Store.FindTypeAsync(volume.VolumeTypeId);
        var attachments = await service.Store.ListAttachmentsAsync(volume.Id);
        return VolumeJson.Detail(volume, type?.Name ?? "", attachments, ctx, http.VolumeVersion(), http.BaseUrl(), service.Backend.HostName, withExtensions);
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
        return Json.Reply(new JsonObject { ["volume"] = await DetailAsync(http, service, ctx, updated, withExtensions: false) });
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
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var meta = Json.OptionalStringMap(body, "meta") ?? throw ApiException.BadRequest("Malformed request body");
        if (meta.Count != 1 || !meta.ContainsKey(key))
        {
            throw ApiException.BadRequest(meta.Count > 1 ? "Request body contains too many items." : "Request body and URI mismatch");
        }

        await Service(http).ChangeMetadataAsync(ctx, id, metadata =>
        {
            metadata[key] = meta[key];
            return Limits.CinderMetadata(metadata);
        });
        return Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = meta[key] } });
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
