using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Backups (cinder/api/contrib/backups.py, v3/backups.py, contrib/admin_actions.py's backup actions).
public static partial class VolumeApi
{
    private static void MapBackups(RouteGroupBuilder v3)
    {
        v3.MapPost("/backups", (Delegate)(CreateBackupAsync));
        v3.MapGet("/backups", (Delegate)((HttpContext http) => ListBackupsAsync(http, detail: false)));
        v3.MapGet("/backups/detail", (Delegate)((HttpContext http) => ListBackupsAsync(http, detail: true)));
        v3.MapGet("/backups/{id}", (Delegate)(ShowBackupAsync));
        v3.MapPut("/backups/{id}", (Delegate)(UpdateBackupAsync));
        v3.MapDelete("/backups/{id}", (Delegate)(DeleteBackupAsync));
        v3.MapPost("/backups/{id}/restore", (Delegate)(RestoreBackupAsync));
        v3.MapPost("/backups/{id}/action", (Delegate)(BackupActionAsync));
        // Export and import of backup records would hand out (and take in) where the chunks are: not offered.
        v3.MapGet("/backups/{id}/export_record", (HttpContext http, string id) => NotOffered(http, "export"));
        v3.MapPost("/backups/import_record", (HttpContext http) => NotOffered(http, "import"));
    }

    private static IResult NotOffered(HttpContext http, string what)
    {
        Authorize(http, "backup:export-import");
        throw new ApiException(ErrorKind.NotImplemented, $"Backup record {what} is not implemented by Ember's backup store.");
    }

    private static async Task<IResult> CreateBackupAsync(HttpContext http)
    {
        var ctx = Authorize(http, "backup:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "backup");
        var volumeId = Json.OptionalString(body, "volume_id") ?? throw ApiException.BadRequest("Invalid input for field/attribute backup. 'volume_id' is a required property");
        var version = http.VolumeVersion();
        var request = new VolumeService.BackupRequest(volumeId)
        {
            SnapshotId = Json.OptionalString(body, "snapshot_id"),
            Name = Limits.Text(Json.OptionalString(body, "name"), "name"),
            Description = Limits.Text(Json.OptionalString(body, "description"), "description"),
            Container = Json.OptionalString(body, "container"),
            Incremental = Json.OptionalBoolean(body, "incremental") ?? false,
            Force = Json.OptionalBoolean(body, "force") ?? false,
            Metadata = version >= VolumeVersions.BackupMetadata && Json.OptionalStringMap(body, "metadata") is { } metadata ? Limits.CinderMetadata(metadata) : null,
            AvailabilityZone = Limits.Text(Json.OptionalString(body, "availability_zone"), "availability_zone"),
        };
        var row = await Service(http).CreateBackupAsync(ctx, request);
        return Json.Reply(new JsonObject { ["backup"] = VolumeJson.BackupSummary(row, http.BaseUrl(), version) }, StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListBackupsAsync(HttpContext http, bool detail)
    {
        var ctx = Authorize(http, "backup:get_all");
        var query = http.Request.Query;
        var filter = new BackupFilter
        {
            ProjectId = query["project_id"].FirstOrDefault(),
            VolumeId = query["volume_id"].FirstOrDefault(),
            Name = query.TryGetValue("name", out var name) ? name.ToString() : null,
            Status = query.TryGetValue("status", out var status) ? status.ToString() : null,
        };
        var version = http.VolumeVersion();
        var withCount = version >= VolumeVersions.VolumeListCount && IsTrue(http.Request, "with_count");
        var service = Service(http);
        var page = await service.ListBackupsAsync(ctx, IsTrue(http.Request, "all_tenants"), filter, PageRequestOf(http.Request), withCount);
        var dependents = detail ? await service.BackupsWithDependentsAsync([.. page.Items.Select(b => b.Id)]) : new HashSet<string>();
        var showProject = http.Allows(ctx, "backup:backup_project_attribute");
        var list = new JsonArray();
        foreach (var row in page.Items)
        {
            list.Add(detail
                ? VolumeJson.Backup(row, dependents.Contains(row.Id), http.BaseUrl(), version, showProject)
                : VolumeJson.BackupSummary(row, http.BaseUrl(), version));
        }

        var body = new JsonObject { ["backups"] = list };
        if (QueryParams.NextLink(http, page, b => b.Id, QueryParams.Limit(query)) is { } next)
        {
            body["backups_links"] = next;
        }

        if (page.Count is { } count)
        {
            body["count"] = count;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowBackupAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "backup:get");
        var service = Service(http);
        var row = await service.FindVisibleBackupAsync(ctx, id);
        var hasDependents = (await service.BackupsWithDependentsAsync([row.Id])).Count > 0;
        return Json.Reply(new JsonObject
        {
            ["backup"] = VolumeJson.Backup(row, hasDependents, http.BaseUrl(), http.VolumeVersion(), http.Allows(ctx, "backup:backup_project_attribute")),
        });
    }

    /// <summary>3.9: name and description; 3.43: metadata, replaced whole.</summary>
    private static async Task<IResult> UpdateBackupAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.BackupUpdate);
        var ctx = Authorize(http, "backup:update");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "backup");
        var version = http.VolumeVersion();
        var metadata = version >= VolumeVersions.BackupMetadata && Json.OptionalStringMap(body, "metadata") is { } given ? Limits.CinderMetadata(given) : null;
        var updated = await Service(http).UpdateBackupAsync(ctx, id, TextField(body, "name", "display_name"), TextField(body, "description", "display_description"), metadata);
        return Json.Reply(new JsonObject { ["backup"] = VolumeJson.BackupSummary(updated, http.BaseUrl(), version) });
    }

    private static async Task<IResult> DeleteBackupAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "backup:delete");
        await Service(http).DeleteBackupAsync(ctx, id, force: false);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>POST /backups/{id}/restore: into the volume named, or a new one (with the name given).</summary>
    private static async Task<IResult> RestoreBackupAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "backup:restore");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "restore");
        var volume = await Service(http).RestoreBackupAsync(ctx, id, Json.OptionalString(body, "volume_id"), Limits.Text(Json.OptionalString(body, "name"), "name"));
        return Json.Reply(new JsonObject
        {
            ["restore"] = new JsonObject { ["backup_id"] = id, ["volume_id"] = volume.Id, ["volume_name"] = volume.Name ?? "" },
        }, StatusCodes.Status202Accepted);
    }

    /// <summary>POST /backups/{id}/action: the admin actions os-reset_status and os-force_delete, each a 202.</summary>
    private static async Task<IResult> BackupActionAsync(HttpContext http, string id)
    {
        var ctx = http.RequireProjectContext();
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, node) = body.Count == 1 ? body.First() : throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        var args = node as JsonObject ?? new JsonObject();
        switch (action)
        {
            case "os-reset_status":
                http.Enforce(ctx, "volume_extension:backup_admin_actions:reset_status");
                await Service(http).ResetBackupStatusAsync(ctx, id, Json.OptionalString(args, "status") ?? throw ApiException.BadRequest("Must specify 'status'"));
                break;
            case "os-force_delete":
                http.Enforce(ctx, "volume_extension:backup_admin_actions:force_delete");
                await Service(http).DeleteBackupAsync(ctx, id, force: true);
                break;
            default:
                throw ApiException.BadRequest($"There is no such action: {action}");
        }

        return Results.StatusCode(StatusCodes.Status202Accepted);
    }
}
