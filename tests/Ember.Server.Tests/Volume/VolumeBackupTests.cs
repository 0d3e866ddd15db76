using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Backups and restores on SQLite with file volumes.</summary>
public sealed class VolumeBackupTests(EmberFixture fixture) : VolumeBackupCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Backups and restores on PostgreSQL.</summary>
public sealed class PostgresVolumeBackupTests(PostgresEmberFixture fixture) : VolumeBackupCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>Backups and restores of RBD volumes (the chunks stay files under the data directory).</summary>
public sealed class RbdVolumeBackupTests(RbdEmberFixture fixture) : VolumeBackupCases(fixture), IClassFixture<RbdEmberFixture>;

/// <summary>Cinder's backup API over raw HTTP: the chunk store, incrementals, restores that give the same bytes, the rules.</summary>
public abstract class VolumeBackupCases(EmberFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(120);
    private const long MiB = 1 << 20;

    private async Task<ApiClient> ClientAsync() => new(await fixture.ClientAsync());

    private string BackupRoot => Path.Combine(fixture.DataDir, "backups");

    private static async Task<string> CreateAvailableAsync(ApiClient api, int size, string name)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = size, ["name"] = name } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await WaitVolumeAsync(api, id, "available");
        return id;
    }

    private static Task<JsonNode> WaitVolumeAsync(ApiClient api, string id, string status) =>
        api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == status, s_wait);

    private static Task<JsonNode> WaitBackupAsync(ApiClient api, string id, string status = "available") =>
        api.WaitForAsync($"/volume/v3/backups/{id}", j => j["backup"]!["status"]!.GetValue<string>() is var s && (s == status || s == "error"), s_wait);

    private static async Task<JsonNode> BackupAsync(ApiClient api, JsonObject backup, string? apiVersion = null)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/backups", new JsonObject { ["backup"] = backup }, HttpStatusCode.Accepted, apiVersion);
        var shown = await WaitBackupAsync(api, created["backup"]!["id"]!.GetValue<string>());
        Assert.Equal("available", shown["backup"]!["status"]!.GetValue<string>());
        return shown["backup"]!;
    }

    /// <summary>Writes a byte pattern into the volume's data where the volume lives (its file, or its RBD image).</summary>
    private async Task WritePatternAsync(string volumeId, byte pattern, long offset, long length) =>
        (await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", $"write -P 0x{pattern:x2} {offset} {length}", fixture.VolumeTarget(volumeId)])).EnsureSuccess();

    /// <summary>Whether the bytes at offset are all <paramref name="pattern"/> (qemu-io's read -P fails on any other byte).</summary>
    private async Task<bool> HasPatternAsync(string volumeId, byte pattern, long offset, long length)
    {
        var read = await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", $"read -P 0x{pattern:x2} {offset} {length}", fixture.VolumeTarget(volumeId)]);
        return read.ExitCode == 0 && !read.StdOut.Contains("Pattern verification failed", StringComparison.Ordinal);
    }

    /// <summary>qemu-img compare over the first <paramref name="bytes"/> of two volumes: 0 is identical.</summary>
    private async Task<bool> SameBytesAsync(string a, string b)
    {
        var compare = await Cli.RunAsync("qemu-img", ["compare", "-q", "-f", "raw", "-F", "raw", fixture.VolumeTarget(a), fixture.VolumeTarget(b)]);
        return compare.ExitCode == 0;
    }

    [Fact]
    public async Task Full_and_incremental_backups_restore_the_same_bytes_into_new_and_existing_volumes()
    {
        using var api = await ClientAsync();
        var source = await CreateAvailableAsync(api, 1, "backup-source");
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{source}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["kept"] = "yes" } });
        await WritePatternAsync(source, 0xab, 0, MiB);
        await WritePatternAsync(source, 0xcd, 100 * MiB, MiB);

        var full = await BackupAsync(api, new JsonObject { ["volume_id"] = source, ["name"] = "full" });
        var fullId = full["id"]!.GetValue<string>();
        Assert.False(full["is_incremental"]!.GetValue<bool>());
        Assert.Equal(1, full["size"]!.GetValue<int>());
        Assert.Equal(2, full["object_count"]!.GetValue<int>()); // two 4 MiB chunks hold data; the zeros are stored as nothing
        Assert.Equal($"{fullId[..2]}/{fullId[2..4]}/{fullId}", full["container"]!.GetValue<string>());
        await WaitVolumeAsync(api, source, "available");

        // The chunk store is private: directories 0700, files 0600.
        var container = Path.Combine(BackupRoot, full["container"]!.GetValue<string>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(container));
        var files = Directory.GetFiles(container);
        Assert.Equal(3, files.Length); // two chunks and the manifest
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));

        // After one more write, an incremental stores only the chunk that changed.
        await WritePatternAsync(source, 0xef, 500 * MiB, MiB);
        var incremental = await BackupAsync(api, new JsonObject { ["volume_id"] = source, ["incremental"] = true, ["name"] = "incr" });
        var incrementalId = incremental["id"]!.GetValue<string>();
        Assert.True(incremental["is_incremental"]!.GetValue<bool>());
        Assert.Equal(1, incremental["object_count"]!.GetValue<int>());
        var fullNow = await api.SendAsync(HttpMethod.Get, $"/volume/v3/backups/{fullId}");
        Assert.True(fullNow["backup"]!["has_dependent_backups"]!.GetValue<bool>());
        Assert.False(incremental["has_dependent_backups"]!.GetValue<bool>());

        // The full backup cannot go while the incremental depends on it.
        var (refused, error, _) = await api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/backups/{fullId}");
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("Incremental backups exist for this backup", error!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The incremental restored into a new volume (of the backup's size) gives the source's bytes, all three writes.
        var restore = await api.SendAsync(HttpMethod.Post, $"/volume/v3/backups/{incrementalId}/restore", new JsonObject { ["restore"] = new JsonObject() },
            HttpStatusCode.Accepted);
        Assert.Equal(incrementalId, restore["restore"]!["backup_id"]!.GetValue<string>());
        Assert.Equal($"restore_backup_{incrementalId}", restore["restore"]!["volume_name"]!.GetValue<string>());
        var restored = restore["restore"]!["volume_id"]!.GetValue<string>();
        var restoredVolume = await WaitVolumeAsync(api, restored, "available");
        Assert.Equal(1, restoredVolume["volume"]!["size"]!.GetValue<int>());
        Assert.Equal("yes", restoredVolume["volume"]!["metadata"]!["kept"]!.GetValue<string>()); // the volume's metadata comes back with its data
        await WaitBackupAsync(api, incrementalId);
        Assert.True(await SameBytesAsync(source, restored), "the volume restored from the incremental differs from its source");

        // The full backup restored into an existing, larger volume: its bytes as they were, the junk written there overwritten.
        var existing = await CreateAvailableAsync(api, 2, "restore-target");
        await WritePatternAsync(existing, 0x11, 500 * MiB, MiB);
        await WritePatternAsync(existing, 0x22, 1500 * MiB, MiB);
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/backups/{fullId}/restore", new JsonObject { ["restore"] = new JsonObject { ["volume_id"] = existing } },
            HttpStatusCode.Accepted);
        await WaitVolumeAsync(api, existing, "available");
        await WaitBackupAsync(api, fullId);
        Assert.True(await HasPatternAsync(existing, 0xab, 0, MiB));
        Assert.True(await HasPatternAsync(existing, 0xcd, 100 * MiB, MiB));
        Assert.True(await HasPatternAsync(existing, 0x00, 500 * MiB, MiB), "the full backup predates the write at 500 MiB");
        Assert.True(await HasPatternAsync(existing, 0x22, 1500 * MiB, MiB), "what lies past the backup's size stays");

        // 3.47: a volume created from the incremental.
        var fromBackup = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["backup_id"] = incrementalId, ["name"] = "from-backup" } }, HttpStatusCode.Accepted, "volume 3.47");
        var fromBackupId = fromBackup["volume"]!["id"]!.GetValue<string>();
        await WaitVolumeAsync(api, fromBackupId, "available");
        Assert.True(await SameBytesAsync(source, fromBackupId), "the volume created from the backup differs from its source");

        // Deleting the incremental, then the full one, removes every file.
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/backups/{incrementalId}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/backups/{incrementalId}", s_wait);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/backups/{fullId}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/backups/{fullId}", s_wait);
        Assert.False(Directory.Exists(container));
        foreach (var id in new[] { source, restored, existing, fromBackupId })
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        }
    }

    [Fact]
    public async Task Backup_rules_follow_cinder_incremental_needs_a_full_in_use_needs_force_restore_needs_an_available_volume()
    {
        using var api = await ClientAsync();
        var volume = await CreateAvailableAsync(api, 1, "backup-rules");

        var (noParent, body, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/backups",
            new JsonObject { ["backup"] = new JsonObject { ["volume_id"] = volume, ["incremental"] = true } });
        Assert.Equal(HttpStatusCode.BadRequest, noParent);
        Assert.Equal("Invalid backup: No backups available to do an incremental backup.", body!["badRequest"]!["message"]!.GetValue<string>());

        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "in-use" } }, HttpStatusCode.Accepted);
        var (inUse, inUseBody, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/backups",
            new JsonObject { ["backup"] = new JsonObject { ["volume_id"] = volume } });
        Assert.Equal(HttpStatusCode.BadRequest, inUse);
        Assert.Contains("must use the force flag", inUseBody!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // With force an in-use volume is backed up, and goes back to in-use after.
        var forced = await BackupAsync(api, new JsonObject { ["volume_id"] = volume, ["force"] = true });
        await WaitVolumeAsync(api, volume, "available"); // no attachment holds it: the status its attachments give
        var backupId = forced["id"]!.GetValue<string>();

        // A restore needs an available volume.
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "error" } }, HttpStatusCode.Accepted);
        var (notAvailable, notAvailableBody, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/backups/{backupId}/restore",
            new JsonObject { ["restore"] = new JsonObject { ["volume_id"] = volume } });
        Assert.Equal(HttpStatusCode.BadRequest, notAvailable);
        Assert.Equal("Invalid volume: Volume to be restored to must be available", notAvailableBody!["badRequest"]!["message"]!.GetValue<string>());

        // The admin's os-reset_status takes only available and error; a backup in error is deletable.
        var (badReset, _, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/backups/{backupId}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "creating" } });
        Assert.Equal(HttpStatusCode.BadRequest, badReset);
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/backups/{backupId}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "error" } }, HttpStatusCode.Accepted);
        var errored = await api.SendAsync(HttpMethod.Get, $"/volume/v3/backups/{backupId}");
        Assert.Equal("error", errored["backup"]!["status"]!.GetValue<string>());

        // export_record is not offered: a 501 in Cinder's error format.
        var (notImplemented, notImplementedBody, _) = await api.TrySendAsync(HttpMethod.Get, $"/volume/v3/backups/{backupId}/export_record");
        Assert.Equal(HttpStatusCode.NotImplemented, notImplemented);
        Assert.NotNull(notImplementedBody);

        await api.SendAsync(HttpMethod.Post, $"/volume/v3/backups/{backupId}/action", new JsonObject { ["os-force_delete"] = new JsonObject() },
            HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/backups/{backupId}", s_wait);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_snapshot_is_backed_up_with_its_data_timestamp_and_the_backup_quotas_hold()
    {
        using var admin = await ClientAsync();
        using var project = await fixture.NewProjectClientAsync("backup-quota");
        var api = project.Api;
        var volume = await CreateAvailableAsync(api, 1, "snap-source");
        await WritePatternAsync(volume, 0x5a, 8 * MiB, MiB);
        var snapshot = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volume, ["name"] = "s" } }, HttpStatusCode.Accepted);
        var snapshotId = snapshot["snapshot"]!["id"]!.GetValue<string>();
        var snapshotShown = await api.WaitForAsync($"/volume/v3/snapshots/{snapshotId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        await WritePatternAsync(volume, 0x77, 8 * MiB, MiB); // after the snapshot: not in its backup

        var backup = await BackupAsync(api, new JsonObject { ["volume_id"] = volume, ["snapshot_id"] = snapshotId, ["metadata"] = new JsonObject { ["k"] = "v" } },
            "volume 3.56");
        backup = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/backups/{backup["id"]}", apiVersion: "volume 3.56"))["backup"]!;
        Assert.Equal(snapshotId, backup["snapshot_id"]!.GetValue<string>());
        Assert.Equal(snapshotShown["snapshot"]!["created_at"]!.GetValue<string>(), backup["data_timestamp"]!.GetValue<string>());
        Assert.Equal("v", backup["metadata"]!["k"]!.GetValue<string>());
        Assert.NotNull(backup["user_id"]);
        Assert.Null(backup["os-backup-project-attr:project_id"]); // a member, not an admin
        var backupId = backup["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{snapshotId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);

        var restore = await api.SendAsync(HttpMethod.Post, $"/volume/v3/backups/{backupId}/restore",
            new JsonObject { ["restore"] = new JsonObject { ["name"] = "from-snapshot-backup" } }, HttpStatusCode.Accepted);
        Assert.Equal("from-snapshot-backup", restore["restore"]!["volume_name"]!.GetValue<string>());
        var restored = restore["restore"]!["volume_id"]!.GetValue<string>();
        await WaitVolumeAsync(api, restored, "available");
        Assert.True(await HasPatternAsync(restored, 0x5a, 8 * MiB, MiB), "the backup holds the snapshot's data, not the volume's later write");

        // Quotas: backups and backup_gigabytes count, and the limits shown use them.
        var quota = await api.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{project.ProjectId}?usage=true");
        Assert.Equal(1, quota["quota_set"]!["backups"]!["in_use"]!.GetValue<int>());
        Assert.Equal(1, quota["quota_set"]!["backup_gigabytes"]!["in_use"]!.GetValue<int>());
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{project.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["backups"] = 1 } });
        var (over, overBody, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/backups", new JsonObject { ["backup"] = new JsonObject { ["volume_id"] = volume } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over);
        Assert.Contains("BackupLimitExceeded", overBody!.ToJsonString(), StringComparison.Ordinal);
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{project.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["backups"] = 10, ["backup_gigabytes"] = 1 } });
        var (overGb, overGbBody, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/backups", new JsonObject { ["backup"] = new JsonObject { ["volume_id"] = volume } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, overGb);
        Assert.Contains("VolumeBackupSizeExceedsAvailableQuota", overGbBody!.ToJsonString(), StringComparison.Ordinal);
        var limits = await api.SendAsync(HttpMethod.Get, "/volume/v3/limits");
        Assert.Equal(1, limits["limits"]!["absolute"]!["totalBackupsUsed"]!.GetValue<int>());

        var listed = await api.SendAsync(HttpMethod.Get, "/volume/v3/backups/detail?with_count=true", apiVersion: "volume 3.45");
        Assert.Equal(1, listed["count"]!.GetValue<int>());
        Assert.Equal(backupId, listed["backups"]![0]!["id"]!.GetValue<string>());
        var summary = await api.SendAsync(HttpMethod.Get, "/volume/v3/backups");
        Assert.Equal(["id", "links", "name"], summary["backups"]![0]!.AsObject().Select(kv => kv.Key).Order(StringComparer.Ordinal));
    }
}
