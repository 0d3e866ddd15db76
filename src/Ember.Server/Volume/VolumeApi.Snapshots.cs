using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Snapshots (cinder/api/v3/snapshots.py) and quotas/limits (contrib/quotas.py, v3/limits.py).
public static partial class VolumeApi
{
    private static void MapSnapshots(RouteGroupBuilder v3)
    {
        v3.MapPost("/snapshots", (Delegate)(CreateSnapshotAsync));
        v3.MapGet("/snapshots", (Delegate)((HttpContext http) => ListSnapshotsAsync(http, detail: false)));
        v3.MapGet("/snapshots/detail", (Delegate)((HttpContext http) => ListSnapshotsAsync(http, detail: true)));
        v3.MapGet("/snapshots/{id}", (Delegate)(ShowSnapshotAsync));
        v3.MapPut("/snapshots/{id}", (Delegate)(UpdateSnapshotAsync));
        v3.MapDelete("/snapshots/{id}", (Delegate)(DeleteSnapshotAsync));
        v3.MapGet("/snapshots/{id}/metadata", (Delegate)(GetSnapshotMetadataAsync));
        v3.MapPost("/snapshots/{id}/metadata", (HttpContext http, string id) => SetSnapshotMetadataAsync(http, id, replace: false));
        v3.MapPut("/snapshots/{id}/metadata", (HttpContext http, string id) => SetSnapshotMetadataAsync(http, id, replace: true));
        v3.MapPost("/snapshots/{id}/action", (Delegate)(SnapshotActionAsync));
        v3.MapGet("/snapshots/{id}/metadata/{key}", (Delegate)(GetSnapshotMetadataItemAsync));
        v3.MapPut("/snapshots/{id}/metadata/{key}", (Delegate)(SetSnapshotMetadataItemAsync));
        v3.MapDelete("/snapshots/{id}/metadata/{key}", (Delegate)(DeleteSnapshotMetadataItemAsync));
    }

    private static void MapQuotas(RouteGroupBuilder v3)
    {
        v3.MapGet("/os-quota-sets/{target}", (Delegate)(ShowQuotasAsync));
        v3.MapGet("/os-quota-sets/{target}/defaults", async (HttpContext http, string target) =>
        {
            Authorize(http, "volume_extension:quotas:show");
            return Json.Reply(new JsonObject { ["quota_set"] = QuotaSet(await Service(http).DefaultLimitsAsync(), null, target) });
        });
        v3.MapGet("/os-quota-class-sets/{className}", async (HttpContext http, string className) =>
        {
            Authorize(http, "volume_extension:quota_classes");
            return Json.Reply(new JsonObject { ["quota_class_set"] = QuotaSet(await Service(http).ClassLimitsAsync(QuotaClassName(className)), null, className) });
        });
        v3.MapPut("/os-quota-class-sets/{className}", (Delegate)(UpdateQuotaClassAsync));
        v3.MapPut("/os-quota-sets/{target}", (Delegate)(UpdateQuotasAsync));
        v3.MapDelete("/os-quota-sets/{target}", async (HttpContext http, string target) =>
        {
            Authorize(http, "volume_extension:quotas:delete");
            await Service(http).DeleteQuotasAsync(target);
            return Results.Ok();
        });
        v3.MapGet("/limits", (Delegate)(LimitsAsync));
    }

    private static async Task<IResult> CreateSnapshotAsync(HttpContext http)
    {
        var ctx = Authorize(http, "volume:create_snapshot");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "snapshot");
        // Cinder's schema requires the key but allows null (uuid_allow_null): a null volume is then not found.
        var volumeId = body.ContainsKey("volume_id")
            ? Json.OptionalString(body, "volume_id") ?? throw ApiException.NotFound("Volume None could not be found.")
            : throw ApiException.BadRequest("'volume_id' is a required property");
        // From 3.66 an in-use volume may be snapshotted without force; force=true is then ignored and force=false refused.
        var given = Json.OptionalBoolean(body, "force");
        if (http.VolumeVersion() >= VolumeVersions.SnapshotInUse && given == false)
        {
            throw ApiException.BadRequest("Since microversion 3.66 the 'force' flag is invalid for this request. For backward compatibility, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.");
        }

        var force = given == true || http.VolumeVersion() >= VolumeVersions.SnapshotInUse;
        var row = await Service(http).CreateSnapshotAsync(ctx, volumeId,
            Limits.Text(Json.OptionalString(body, "name") ?? Json.OptionalString(body, "display_name"), "name"),
            Limits.Text(Json.OptionalString(body, "description") ?? Json.OptionalString(body, "display_description"), "description"),
            Json.OptionalStringMap(body, "metadata") is { } metadata ? Limits.CinderMetadata(metadata) : null, force);
        return Json.Reply(new JsonObject { ["snapshot"] = VolumeJson.Snapshot(row, false, http.VolumeVersion()) }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListSnapshotsAsync(HttpContext http, bool detail)
    {
        var ctx = Authorize(http, "volume:get_all_snapshots");
        var query = http.Request.Query;
        var filter = new SnapshotFilter
        {
            ProjectId = query["project_id"].FirstOrDefault(),
            VolumeId = query["volume_id"].FirstOrDefault(),
            Name = query.TryGetValue("name", out var name) ? name.ToString() : null,
            Status = query.TryGetValue("status", out var status) ? status.ToString() : null,
        };
        var page = await Service(http).ListSnapshotsAsync(ctx, IsTrue(http.Request, "all_tenants"), filter, PageRequestOf(http.Request));
        var list = new JsonArray();
        foreach (var row in page.Items)
        {
            list.Add(VolumeJson.Snapshot(row, detail, http.VolumeVersion()));
        }

        var body = new JsonObject { ["snapshots"] = list };
        if (QueryParams.NextLink(http, page, s => s.Id, QueryParams.Limit(http.Request.Query)) is { } next)
        {
            body["snapshots_links"] = next;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowSnapshotAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:get_snapshot");
        var row = await Service(http).FindVisibleSnapshotAsync(ctx, id);
        return Json.Reply(new JsonObject { ["snapshot"] = VolumeJson.Snapshot(row, true, http.VolumeVersion()) });
    }

    private static async Task<IResult> UpdateSnapshotAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:update_snapshot");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "snapshot");
        var updated = await Service(http).UpdateSnapshotAsync(ctx, id, TextField(body, "name", "display_name"),
            TextField(body, "description", "display_description"));
        return Json.Reply(new JsonObject { ["snapshot"] = VolumeJson.Snapshot(updated, false, http.VolumeVersion()) });
    }

    private static async Task<IResult> DeleteSnapshotAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:delete_snapshot");
        await Service(http).DeleteSnapshotAsync(ctx, id, force: false);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetSnapshotMetadataAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume:get_snapshot_metadata");
        var row = await Service(http).FindVisibleSnapshotAsync(ctx, id);
        return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(VolumeService.MapOf(row.Metadata)) });
    }

    private static async Task<IResult> SetSnapshotMetadataAsync(HttpContext http, string id, bool replace)
    {
        var ctx = Authorize(http, "volume:update_snapshot_metadata");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var metadata = await Service(http).ChangeSnapshotMetadataAsync(ctx, id, current => MergeMetadata(current, body, replace));
        return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(metadata) });
    }

    /// <summary>
    /// POST /snapshots/{id}/action: the admin actions os-reset_status and os-force_delete (admin_actions.py) and
    /// os-update_snapshot_status (snapshot_actions.py), each a 202.
    /// </summary>
    private static async Task<IResult> SnapshotActionAsync(HttpContext http, string id)
    {
        var ctx = http.RequireProjectContext();
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, node) = body.Count == 1 ? body.First() : throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        var args = node as JsonObject ?? new JsonObject();
        switch (action)
        {
            case "os-reset_status":
                http.Enforce(ctx, "volume_extension:snapshot_admin_actions:reset_status");
                await Service(http).ResetSnapshotStatusAsync(ctx, id, Json.OptionalString(args, "status") ?? throw ApiException.BadRequest("Must specify 'status'"));
                break;
            case "os-force_delete":
                http.Enforce(ctx, "volume_extension:snapshot_admin_actions:force_delete");
                await Service(http).DeleteSnapshotAsync(ctx, id, force: true);
                break;
            case "os-update_snapshot_status":
                {
                    http.Enforce(ctx, "snapshot_extension:snapshot_actions:update_snapshot_status");
                    var status = Json.OptionalString(args, "status") ?? throw ApiException.BadRequest("'status' must be specified.");
                    var progress = Json.OptionalString(args, "progress");
                    if (progress is { Length: > 255 })
                    {
                        throw ApiException.BadRequest("Invalid input for field/attribute progress: at most 255 characters.");
                    }

                    await Service(http).UpdateSnapshotStatusAsync(ctx, id, status, progress);
                    break;
                }

            default:
                throw ApiException.BadRequest($"There is no such action: {action}");
        }

        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> GetSnapshotMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:get_snapshot_metadata");
        var row = await Service(http).FindVisibleSnapshotAsync(ctx, id);
        return VolumeService.MapOf(row.Metadata).TryGetValue(key, out var value)
            ? Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = value } })
            : throw ApiException.NotFound("Metadata item was not found");
    }

    private static async Task<IResult> SetSnapshotMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:update_snapshot_metadata");
        var meta = OneMetadataItem(await Json.ReadObjectAsync(http.Request, http.RequestAborted), key);
        await Service(http).ChangeSnapshotMetadataAsync(ctx, id, metadata =>
        {
            metadata[key] = meta;
            return Limits.CinderMetadata(metadata);
        });
        return Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = meta } });
    }

    private static async Task<IResult> DeleteSnapshotMetadataItemAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume:delete_snapshot_metadata");
        await Service(http).ChangeSnapshotMetadataAsync(ctx, id, metadata => metadata.Remove(key)
            ? metadata
            : throw ApiException.NotFound("Metadata item was not found"));
        return Results.Ok();
    }

    private static JsonObject QuotaSet(QuotaLimits limits, QuotaUsage? usage, string? id)
    {
        var o = new JsonObject();
        if (id is not null)
        {
            o["id"] = id;
        }

        foreach (var resource in QuotaLimits.Resources)
        {
            if (usage is null)
            {
                o[resource] = limits[resource];
                continue;
            }

            var inUse = resource switch
            {
                "volumes" => usage.Volumes,
                "snapshots" => usage.Snapshots,
                "gigabytes" => usage.Gigabytes,
                "backups" => usage.Backups,
                "backup_gigabytes" => usage.BackupGigabytes,
                _ => 0,
            };
            o[resource] = new JsonObject { ["limit"] = limits[resource], ["in_use"] = inUse, ["reserved"] = 0, ["allocated"] = 0 };
        }

        return o;
    }

    private static async Task<IResult> ShowQuotasAsync(HttpContext http, string target)
    {
        var ctx = Authorize(http, "volume_extension:quotas:show");
        var (limits, usage) = await Service(http).QuotaOfAsync(ctx, target, IsTrue(http.Request, "usage"));
        return Json.Reply(new JsonObject { ["quota_set"] = QuotaSet(limits, usage, target) });
    }

    private static async Task<IResult> UpdateQuotasAsync(HttpContext http, string target)
    {
        Authorize(http, "volume_extension:quotas:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "quota_set");
        var limits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, _) in body)
        {
            if (key is "id" or "tenant_id")
            {
                continue;
            }

            if (!QuotaLimits.Resources.Contains(key))
            {
                throw ApiException.BadRequest($"Bad key(s) in quota set: {key}");
            }

            var value = Json.OptionalInteger(body, key) ?? throw ApiException.BadRequest($"Invalid input for field/attribute {key}.");
            if (value < -1 || value > int.MaxValue)
            {
                throw ApiException.BadRequest($"Invalid input received: Quota limit {value} for {key} must be -1 or greater.");
            }

            limits[key] = (int)value;
        }

        return Json.Reply(new JsonObject { ["quota_set"] = QuotaSet(await Service(http).SetQuotasAsync(target, limits), null, null) });
    }

    /// <summary>
    /// PUT /os-quota-class-sets/{class} (cinder/api/contrib/quota_classes.py): the resources given, each -1 or more; keys
    /// Cinder does not know are ignored as Cinder does, but per-volume-type ones are refused, since Ember has no quotas per type.
    /// </summary>
    private static async Task<IResult> UpdateQuotaClassAsync(HttpContext http, string className)
    {
        Authorize(http, "volume_extension:quota_classes");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "quota_class_set");
        var limits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, _) in body)
        {
            if (key.StartsWith("volumes_", StringComparison.Ordinal) || key.StartsWith("snapshots_", StringComparison.Ordinal) || key.StartsWith("gigabytes_", StringComparison.Ordinal))
            {
                throw ApiException.BadRequest($"Invalid input received: {key}: Ember has no quotas per volume type.");
            }

            if (!QuotaLimits.Resources.Contains(key))
            {
                continue;
            }

            var value = Json.OptionalInteger(body, key) ?? throw ApiException.BadRequest($"Invalid input for field/attribute {key}.");
            if (value < -1 || value > int.MaxValue)
            {
                throw ApiException.BadRequest($"Invalid input received: Quota limit {value} for {key} must be -1 or greater.");
            }

            limits[key] = (int)value;
        }

        return Json.Reply(new JsonObject { ["quota_class_set"] = QuotaSet(await Service(http).SetClassLimitsAsync(QuotaClassName(className), limits), null, null) });
    }

    private static string QuotaClassName(string className) =>
        className.Length is > 0 and <= 255 ? className : throw ApiException.BadRequest("Invalid input received: a quota class name has 1 to 255 characters.");

    private static async Task<IResult> LimitsAsync(HttpContext http)
    {
        var ctx = Authorize(http, "limits_extension:used_limits");
        var (limits, usage) = await Service(http).OwnLimitsAsync(ctx);
        return Json.Reply(new JsonObject
        {
            ["limits"] = new JsonObject
            {
                ["rate"] = new JsonArray(),
                ["absolute"] = new JsonObject
                {
                    ["maxTotalVolumes"] = limits.Volumes,
                    ["maxTotalSnapshots"] = limits.Snapshots,
                    ["maxTotalVolumeGigabytes"] = limits.Gigabytes,
                    ["maxTotalBackups"] = limits.Backups,
                    ["maxTotalBackupGigabytes"] = limits.BackupGigabytes,
                    ["totalVolumesUsed"] = usage.Volumes,
                    ["totalSnapshotsUsed"] = usage.Snapshots,
                    ["totalGigabytesUsed"] = usage.Gigabytes,
                    ["totalBackupsUsed"] = usage.Backups,
                    ["totalBackupGigabytesUsed"] = usage.BackupGigabytes,
                },
            },
        });
    }
}
