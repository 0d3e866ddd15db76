using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Volume;

// POST /volumes/{id}/action: one key names the action, as in cinder/api/contrib/volume_actions.py and admin_actions.py.
public static partial class VolumeApi
{
    private static async Task<IResult> VolumeActionAsync(HttpContext http, string id)
    {
        var ctx = http.RequireProjectContext();
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body.Count != 1)
        {
            throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        }

        var (action, node) = body.First();
        var args = node as JsonObject ?? new JsonObject();
        var service = Service(http);
        var accepted = Results.StatusCode(StatusCodes.Status202Accepted);
        switch (action)
        {
            case "os-extend":
                {
                    http.Enforce(ctx, "volume:extend");
                    var newSize = Json.OptionalInteger(args, "new_size") ?? throw ApiException.BadRequest("Invalid input for field/attribute new_size. Value: None.");
                    if (newSize is < 1 or > int.MaxValue)
                    {
                        throw ApiException.BadRequest($"Invalid input for field/attribute new_size. Value: {newSize}. {newSize} is less than the minimum of 1");
                    }

                    await service.ExtendAsync(ctx, id, (int)newSize, http.VolumeVersion());
                    return accepted;
                }

            case "os-reset_status":
                {
                    http.Enforce(ctx, "volume_extension:volume_admin_actions:reset_status");
                    var status = Json.OptionalString(args, "status");
                    var attachStatus = Json.OptionalString(args, "attach_status");
                    if (status is null && attachStatus is null && Json.OptionalString(args, "migration_status") is null)
                    {
                        throw ApiException.BadRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.");
                    }

                    await service.ResetStatusAsync(ctx, id, status, attachStatus);
                    return accepted;
                }

            case "os-retype":
                {
                    http.Enforce(ctx, "volume:retype");
                    var newType = Json.OptionalString(args, "new_type") is { Length: > 0 and <= 255 } type
                        ? type
                        : throw ApiException.BadRequest("Invalid input for field/attribute new_type. 'new_type' is a required property");
                    var policy = Json.OptionalString(args, "migration_policy") ?? "never";
                    if (policy is not ("never" or "on-demand"))
                    {
                        throw ApiException.BadRequest($"Invalid input received: migration_policy must be 'on-demand' or 'never', passed: {policy}");
                    }

                    await service.RetypeAsync(ctx, id, newType);
                    return accepted;
                }

            case "os-force_delete":
                http.Enforce(ctx, "volume_extension:volume_admin_actions:force_delete");
                await service.DeleteVolumeAsync(ctx, id, cascade: false, force: true);
                return accepted;

            case "os-set_bootable":
                {
                    http.Enforce(ctx, "volume_extension:volume_actions:set_bootable");
                    var bootable = Json.OptionalBoolean(args, "bootable") ?? throw ApiException.BadRequest("Must specify bootable in request.");
                    await service.SetBootableAsync(ctx, id, bootable);
                    return Results.Ok();
                }

            case "os-update_readonly_flag":
                {
                    http.Enforce(ctx, "volume_extension:volume_actions:update_readonly_flag");
                    var flag = Json.OptionalBoolean(args, "readonly") ?? throw ApiException.BadRequest("Must specify readonly in request.");
                    await service.SetReadonlyAsync(ctx, id, flag);
                    return accepted;
                }

            case "os-reimage":
                {
                    RequireVersion(http, VolumeVersions.Reimage);
                    http.Enforce(ctx, "volume:reimage");
                    var imageId = Json.OptionalString(args, "image_id") is { Length: > 0 and <= 255 } given
                        ? given
                        : throw ApiException.BadRequest("Invalid input for field/attribute image_id. 'image_id' is a required property");
                    var reserved = Json.OptionalBoolean(args, "reimage_reserved") ?? false;
                    if (reserved)
                    {
                        http.Enforce(ctx, "volume:reimage_reserved");
                    }

                    await service.ReimageAsync(ctx, id, imageId, reserved);
                    return accepted;
                }

            case "os-volume_upload_image":
                {
                    http.Enforce(ctx, "volume_extension:volume_actions:upload_image");
                    var request = UploadRequestOf(http, args);
                    if (request.Visibility == "public")
                    {
                        http.Enforce(ctx, "volume_extension:volume_actions:upload_public");
                    }

                    return Json.Reply(new JsonObject { ["os-volume_upload_image"] = await service.UploadToImageAsync(ctx, id, request) }, StatusCodes.Status202Accepted);
                }

            case "os-set_image_metadata":
                {
                    http.Enforce(ctx, "volume_extension:volume_image_metadata:set");
                    var given = Json.OptionalStringMap(args, "metadata") ?? throw ApiException.BadRequest("Malformed request body");
                    var metadata = await service.ChangeImageMetadataAsync(ctx, id, current =>
                    {
                        foreach (var (k, v) in Limits.CinderMetadata(given))
                        {
                            current[k] = v;
                        }

                        return Limits.CinderMetadata(current);
                    });
                    return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(metadata) });
                }

            case "os-unset_image_metadata":
                {
                    http.Enforce(ctx, "volume_extension:volume_image_metadata:remove");
                    var key = Json.OptionalString(args, "key") is { Length: > 0 and <= 255 } k
                        ? k
                        : throw ApiException.BadRequest("Invalid input for field/attribute key. 'key' is a required property of 1 to 255 characters");
                    await service.ChangeImageMetadataAsync(ctx, id, current => current.Remove(key)
                        ? current
                        : throw ApiException.NotFound($"Glance metadata for volume {id} cannot be found."));
                    return Results.Ok();
                }

            case "os-show_image_metadata":
                {
                    http.Enforce(ctx, "volume_extension:volume_image_metadata:show");
                    var volume = await service.FindVisibleAsync(ctx, id);
                    return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(VolumeService.MapOf(volume.ImageMetadata ?? "{}")) });
                }

            case "os-reserve":
                http.Enforce(ctx, "volume_extension:volume_actions:reserve");
                await service.LegacyReserveAsync(ctx, id);
                return accepted;

            case "os-unreserve":
                http.Enforce(ctx, "volume_extension:volume_actions:unreserve");
                await service.LegacyUnreserveAsync(ctx, id);
                return accepted;

            case "os-begin_detaching":
                http.Enforce(ctx, "volume_extension:volume_actions:begin_detaching");
                await service.BeginDetachingAsync(ctx, id);
                return accepted;

            case "os-roll_detaching":
                http.Enforce(ctx, "volume_extension:volume_actions:roll_detaching");
                await service.RollDetachingAsync(ctx, id);
                return accepted;

            case "os-attach":
                {
                    http.Enforce(ctx, "volume_extension:volume_actions:attach");
                    var instance = Json.OptionalString(args, "instance_uuid");
                    var host = Json.OptionalString(args, "host_name");
                    if (instance is null && host is null)
                    {
                        throw ApiException.BadRequest("Invalid request to attach volume to an invalid target");
                    }

                    var mode = Json.OptionalString(args, "mode");
                    if (mode is not (null or "rw" or "ro"))
                    {
                        throw ApiException.BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'");
                    }

                    await service.LegacyAttachAsync(ctx, id, instance, host, Json.OptionalString(args, "mountpoint"), mode);
                    return accepted;
                }

            case "os-detach":
                http.Enforce(ctx, "volume_extension:volume_actions:detach");
                await service.LegacyDetachAsync(ctx, id, Json.OptionalString(args, "attachment_id"));
                return accepted;

            case "os-force_detach":
                {
                    http.Enforce(ctx, "volume_extension:volume_admin_actions:force_detach");
                    await service.LegacyDetachAsync(ctx, id, Json.OptionalString(args, "attachment_id"));
                    return accepted;
                }

            case "os-initialize_connection":
                {
                    http.Enforce(ctx, "volume_extension:volume_actions:initialize_connection");
                    if (args["connector"] is not JsonObject connector)
                    {
                        throw ApiException.BadRequest("Must specify 'connector'");
                    }

                    return Json.Reply(await service.LegacyInitializeConnectionAsync(ctx, id, Json.OptionalString(connector, "host")));
                }

            case "os-terminate_connection":
                http.Enforce(ctx, "volume_extension:volume_actions:terminate_connection");
                if (args["connector"] is not JsonObject)
                {
                    throw ApiException.BadRequest("Must specify 'connector'");
                }

                await service.LegacyTerminateConnectionAsync(ctx, id);
                return accepted;

            default:
                throw ApiException.BadRequest($"There is no such action: {action}");
        }
    }

    /// <summary>The body of os-volume_upload_image, checked as Cinder's schema does; visibility and protected from 3.1.</summary>
    private static VolumeService.UploadRequest UploadRequestOf(HttpContext http, JsonObject args)
    {
        var name = Json.OptionalString(args, "image_name") is { Length: > 0 and <= 255 } given
            ? given
            : throw ApiException.BadRequest("Invalid input for field/attribute image_name. 'image_name' is a required property of 1 to 255 characters");
        var diskFormat = Json.OptionalString(args, "disk_format") ?? "raw";
        if (!VolumeService.UploadDiskFormats.Contains(diskFormat))
        {
            throw ApiException.BadRequest($"Invalid disk-format '{diskFormat}' is specified. Allowed disk-formats are {string.Join(", ", VolumeService.UploadDiskFormats)}.");
        }

        var containerFormat = Json.OptionalString(args, "container_format") ?? "bare";
        if (containerFormat is not ("bare" or "ovf" or "ova" or "docker" or "compressed"))
        {
            throw ApiException.BadRequest($"Invalid container-format '{containerFormat}' is specified.");
        }

        var withFlags = http.VolumeVersion() >= VolumeVersions.UploadImageParams;
        var visibility = withFlags ? Json.OptionalString(args, "visibility") ?? "private" : "private";
        if (visibility is not ("private" or "public" or "shared" or "community"))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute visibility. Value: {visibility}.");
        }

        return new VolumeService.UploadRequest(name, diskFormat, containerFormat, visibility,
            withFlags && (Json.OptionalBoolean(args, "protected") ?? false), Json.OptionalBoolean(args, "force") ?? false);
    }
}
