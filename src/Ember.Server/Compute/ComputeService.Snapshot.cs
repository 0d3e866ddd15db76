using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Image;

namespace Ember.Server.Compute;

// createImage (nova/compute/api.py snapshot and snapshot_volume_backed): a new private image of the server's disks.
public sealed partial class ComputeService
{
    /// <summary>Nova's vm_states createImage is allowed from (both kinds of server).</summary>
    private static readonly string[] s_snapshotStates = [VmStates.Active, VmStates.Stopped, VmStates.Paused, VmStates.Suspended];

    /// <summary>
    /// Base image properties a snapshot does not inherit (Nova's NON_INHERITABLE_IMAGE_PROPERTIES and the default of
    /// non_inheritable_image_properties), and those a volume-backed snapshot writes afresh.
    /// </summary>
    private static readonly string[] s_nonInheritable =
    [
        "cinder_encryption_key_id", "cinder_encryption_key_deletion_policy", "img_signature", "img_signature_hash_method",
        "img_signature_key_type", "img_signature_certificate_uuid", "cache_in_nova", "bittorrent",
        "block_device_mapping", "bdm_v2", "root_device_name",
    ];

    /// <summary>
    /// createImage. Nova checks the host, then the vm_state and task_state (no lock check: a lock guards against changes,
    /// and a snapshot changes nothing). An image-backed server gets a queued image now and task_state
    /// image_snapshot_pending; its host copies and uploads the root disk. A volume-backed one gets a forced snapshot of
    /// each volume and an image of size 0 whose block_device_mapping names them, before this returns. Returns the image id.
    /// </summary>
    public async Task<string> CreateImageAsync(RequestContext ctx, string requestId, ServerRow server, string name,
        IReadOnlyDictionary<string, string> metadata)
    {
        var bdms = await store.ListBdmsAsync(server.Id);
        if (server.ImageId is null || bdms.Any(b => b.BootIndex == 0))
        {
            return await SnapshotVolumeBackedAsync(ctx, requestId, server, bdms, name, metadata);
        }

        return await SnapshotImageBackedAsync(ctx, requestId, server, "createImage",
            await SnapshotImageAsync(ctx, server, name, metadata, volumeBacked: false));
    }

    /// <summary>
    /// createBackup (Nova's backup): a snapshot of an image-backed server marked image_type=backup with its backup_type,
    /// keeping the newest <paramref name="rotation"/> backups of that type. Nova rotates on the host once the upload is
    /// done; Ember rotates here, when the new backup is accepted, so the older ones beyond the count go before the new
    /// one is active. Volume-backed servers are refused, as Nova does.
    /// </summary>
    public async Task<string> CreateBackupAsync(RequestContext ctx, string requestId, ServerRow server, string name, string backupType, int rotation,
        IReadOnlyDictionary<string, string> metadata)
    {
        if (server.ImageId is null || (await store.ListBdmsAsync(server.Id)).Any(b => b.BootIndex == 0))
        {
            throw ApiException.BadRequest("It's not supported to backup volume backed instance.");
        }

        var image = await SnapshotImageAsync(ctx, server, name, metadata, volumeBacked: false);
        var properties = ImageJson.PropertiesOf(image);
        properties["image_type"] = "backup";
        properties["backup_type"] = backupType;
        var id = await SnapshotImageBackedAsync(ctx, requestId, server, "createBackup", image with { Properties = ImageJson.PropertiesText(properties) });

        var older = (await images.ListVisibleAsync(ctx))
            .Where(i => i.Id != id && ImageJson.PropertiesOf(i) is var p
                && p.GetValueOrDefault("instance_uuid") == server.Id && p.GetValueOrDefault("image_type") == "backup"
                && p.GetValueOrDefault("backup_type") == backupType)
            .OrderByDescending(i => i.CreatedAt)
            .Skip(Math.Max(rotation - 1, 0));
        foreach (var stale in older)
        {
            await images.DeleteAsync(ctx, stale.Id);
        }

        return id;
    }

    /// <summary>The host's part of a snapshot: a queued image now, task_state image_snapshot_pending, the copy cast to the host.</summary>
    private async Task<string> SnapshotImageBackedAsync(RequestContext ctx, string requestId, ServerRow server, string action, ImageRow newImage)
    {
        var host = await HostOfAsync(server);
        RequireState(server, action, s_snapshotStates);
        var image = await images.CreateAsync(ctx, newImage);
        if (!await store.ClaimTaskAsync(server.Id, s_snapshotStates, "image_snapshot_pending"))
        {
            await images.DiscardAsync(image.Id);
            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = "deleting" }, action, s_snapshotStates);
            throw InvalidState(server with { TaskState = "image_snapshot_pending" }, action);
        }

        await store.StartActionAsync(server.Id, requestId, action, ctx);
        await host.SnapshotAsync(new SnapshotServer(requestId, server.Id, image.Id), CancellationToken.None);
        return image.Id;
    }

    /// <summary>
    /// Nova's snapshot_volume_backed: the image holds no data, only properties; each attached volume gets a forced
    /// snapshot (crash-consistent: Ember has no guest quiesce), listed in the image's block_device_mapping in Nova's
    /// image-mapping form, so that booting the image makes volumes of them.
    /// </summary>
    private async Task<string> SnapshotVolumeBackedAsync(RequestContext ctx, string requestId, ServerRow server, IReadOnlyList<BdmRow> bdms,
        string name, IReadOnlyDictionary<string, string> metadata)
    {
        RequireState(server, "createImage", s_snapshotStates);
        var image = await SnapshotImageAsync(ctx, server, name, metadata, volumeBacked: true);
        await store.StartActionAsync(server.Id, requestId, "createImage", ctx);
        var mapping = new JsonArray();
        foreach (var bdm in bdms.Where(b => b.AttachmentId is not null).OrderBy(b => b.BootIndex is 0 ? 0 : 1).ThenBy(b => b.DeviceName, StringComparer.Ordinal))
        {
            var volume = await volumes.GetAsync(ctx, bdm.VolumeId);
            string snapshotId;
            try
            {
                snapshotId = await volumes.CreateSnapshotForceAsync(ctx, bdm.VolumeId, $"snapshot for {name}", null);
            }
            catch (ApiException ex) when (ex.Kind == ErrorKind.RequestTooLarge)
            {
                // Cinder's 413 for the snapshots quota is Nova's OverQuota here: a 403.
                throw ApiException.Forbidden("Quota exceeded for resources: snapshots");
            }

            mapping.Add(new JsonObject
            {
                ["source_type"] = "snapshot",
                ["destination_type"] = "volume",
                ["snapshot_id"] = snapshotId,
                ["volume_id"] = null,
                ["image_id"] = null,
                ["volume_size"] = volume.Size,
                ["boot_index"] = bdm.BootIndex,
                ["device_name"] = "/dev/" + bdm.DeviceName,
                ["delete_on_termination"] = bdm.DeleteOnTermination,
                ["tag"] = bdm.Tag,
                ["guest_format"] = null,
                ["disk_bus"] = null,
                ["device_type"] = null,
                ["no_device"] = null,
                ["volume_type"] = null,
            });
        }

        var properties = ImageJson.PropertiesOf(image);
        properties["root_device_name"] = "/dev/vda";
        if (mapping.Count > 0)
        {
            // Glance v2 properties are strings: Nova sends the list as JSON text and the flag as Python's str(True).
            properties["block_device_mapping"] = mapping.ToJsonString();
            properties["bdm_v2"] = "True";
        }

        // Nova's force_activate: zero bytes of raw data make the image active.
        var created = await images.CreateAsync(ctx, image with { DiskFormat = "raw", ContainerFormat = "bare", Properties = ImageJson.PropertiesText(properties) });
        try
        {
            await images.UploadAsync(ctx, created.Id, Stream.Null, 0, 0, CancellationToken.None);
        }
        catch
        {
            await images.DiscardAsync(created.Id);
            throw;
        }

        return created.Id;
    }

    /// <summary>
    /// The new image as Nova's _initialize_instance_snapshot_metadata makes it: private, owned by the server's project,
    /// the base image's properties less the non-inheritable ones, min_ram of the base image and min_disk of at least the
    /// flavor's root disk, then instance_uuid, user_id, image_type=snapshot, base_image_ref, and the caller's metadata last.
    /// </summary>
    private async Task<ImageRow> SnapshotImageAsync(RequestContext ctx, ServerRow server, string name, IReadOnlyDictionary<string, string> metadata,
        bool volumeBacked)
    {
        var baseImage = server.ImageId is { Length: > 0 } imageId ? await images.FindVisibleAsync(ctx, imageId) : null;
        var properties = baseImage is null ? [] : ImageJson.PropertiesOf(baseImage);
        foreach (var key in s_nonInheritable)
        {
            properties.Remove(key);
        }

        properties["instance_uuid"] = server.Id;
        properties["user_id"] = ctx.UserId;
        properties["image_type"] = "snapshot";
        if (server.ImageId is { Length: > 0 } baseRef)
        {
            properties["base_image_ref"] = baseRef;
        }

        foreach (var (key, value) in metadata)
        {
            properties[key] = value;
        }

        var flavorDisk = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)?.Disk ?? 0;
        var now = Ids.Now();
        return new ImageRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Status = "queued",
            Visibility = "private",
            DiskFormat = volumeBacked ? null : "qcow2",
            ContainerFormat = volumeBacked ? null : "bare",
            MinDisk = Math.Max(baseImage?.MinDisk ?? 0, flavorDisk),
            MinRam = baseImage?.MinRam ?? 0,
            Owner = server.ProjectId,
            Properties = ImageJson.PropertiesText(properties),
            CreatedAt = now,
            UpdatedAt = now,
        };
    }
}
