using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Volume;

/// <summary>
/// Crash recovery: rows left in a transient status (as a kill -9 leaves them, set here through the store of a
/// stopped host) move on when the next host starts on the same data directory, and every one can be deleted.
/// </summary>
public sealed class VolumeRecoveryTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly RestartableDataDir _data = new("recovery");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _data.Dispose();
        return Task.CompletedTask;
    }

    private Task<EmberHost> StartAsync() => _data.StartAsync();

    private static Task<ApiClient> ClientAsync(EmberHost host) => RestartableDataDir.AdminClientAsync(host);

    private static async Task<string> VolumeAsync(ApiClient api, string name)
    {
        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = name } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static async Task<string> SnapshotAsync(ApiClient api, string volume)
    {
        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volume } }, HttpStatusCode.Accepted))["snapshot"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{id}", s => s["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static async Task<string> StatusAsync(ApiClient api, string kind, string id) =>
        (await api.SendAsync(HttpMethod.Get, $"/volume/v3/{kind}s/{id}"))[kind]!["status"]!.GetValue<string>();

    [Fact]
    public async Task Snapshots_and_volumes_caught_by_a_crash_move_on_at_start_and_can_be_deleted()
    {
        string snapped, creatingSnapshot, creating, downloading, deleting, deletingSnapshotVolume, deletingSnapshot, extending, reserved, detaching, uploading;
        string deletingFile, plugged, pluggedAttachment, server;
        await using (var first = await StartAsync())
        {
            using var api = await ClientAsync(first);
            var store = first.Services.GetRequiredService<VolumeStore>();
            snapped = await VolumeAsync(api, "snapped");
            creatingSnapshot = await SnapshotAsync(api, snapped);
            creating = await VolumeAsync(api, "creating");
            downloading = await VolumeAsync(api, "downloading");
            deleting = await VolumeAsync(api, "deleting");
            deletingSnapshotVolume = await VolumeAsync(api, "with-deleting-snapshot");
            deletingSnapshot = await SnapshotAsync(api, deletingSnapshotVolume);
            extending = await VolumeAsync(api, "extending");
            reserved = await VolumeAsync(api, "reserved");
            detaching = await VolumeAsync(api, "detaching");
            uploading = await VolumeAsync(api, "uploading");

            // Legacy actions leave real rows behind: an os-reserve without os-attach, an os-attach then os-begin_detaching.
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{reserved}/action", new JsonObject { ["os-reserve"] = new JsonObject() }, HttpStatusCode.Accepted);
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{detaching}/action",
                new JsonObject { ["os-attach"] = new JsonObject { ["instance_uuid"] = Guid.NewGuid().ToString(), ["mountpoint"] = "/dev/vdb" } }, HttpStatusCode.Accepted);
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{detaching}/action", new JsonObject { ["os-begin_detaching"] = new JsonObject() }, HttpStatusCode.Accepted);

            // A stopped server whose hot-plug was cut off after the export: its mapping names an attachment still attaching.
            plugged = await VolumeAsync(api, "plugged");
            server = Guid.NewGuid().ToString();
            pluggedAttachment = (await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
            {
                ["attachment"] = new JsonObject { ["volume_uuid"] = plugged, ["instance_uuid"] = server, ["connector"] = new JsonObject { ["host"] = "h" } },
            }, apiVersion: "volume 3.44"))["attachment"]!["id"]!.GetValue<string>();
            var project = (await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
            await first.Services.GetRequiredService<ComputeStore>().InsertServerAsync(new ServerRow
            {
                Id = server,
                Name = "half-plugged",
                ProjectId = project,
                UserId = "u",
                FlavorId = "1",
                VmState = VmStates.Stopped,
                PowerState = PowerStates.Shutdown,
                // A server of this host: the compute host recovers and deletes only its own rows.
                Host = first.Services.GetRequiredService<ComputeHostManager>().Name,
                CreatedAt = DateTime.UtcNow,
                UpdatedAt = DateTime.UtcNow,
            }, [new BdmRow { Id = Guid.NewGuid().ToString(), ServerId = server, VolumeId = plugged, AttachmentId = pluggedAttachment, DeviceName = "vdb", CreatedAt = DateTime.UtcNow }]);

            // What a kill -9 in the middle of the work leaves in the database.
            Assert.True(await store.TransitionSnapshotAsync(creatingSnapshot, ["available"], "creating"));
            Assert.True(await store.TransitionSnapshotAsync(deletingSnapshot, ["available"], "deleting"));
            Assert.True(await store.TransitionAsync(creating, ["available"], "creating"));
            Assert.True(await store.TransitionAsync(downloading, ["available"], "downloading"));
            Assert.True(await store.TransitionAsync(deleting, ["available"], "deleting"));
            Assert.True(await store.TransitionAsync(extending, ["available"], "extending"));
            Assert.True(await store.TransitionAsync(uploading, ["available"], "uploading"));
            deletingFile = first.Services.GetRequiredService<FileBackend>().ExportPath(deleting);
            Assert.True(File.Exists(deletingFile));
        }

        await using var second = await StartAsync();
        using var again = await ClientAsync(second);

        // Cinder's init_host: creating and downloading -> error, snapshots creating -> error, interrupted deletes resume.
        Assert.Equal("error", await StatusAsync(again, "snapshot", creatingSnapshot));
        Assert.Equal("error", await StatusAsync(again, "volume", creating));
        Assert.Equal("error", await StatusAsync(again, "volume", downloading));
        Assert.Equal("error_extending", await StatusAsync(again, "volume", extending));
        // Each one tells its project why, in a user message.
        var messages = (await again.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: "volume 3.3"))["messages"]!.AsArray();
        foreach (var (resource, eventId) in new[]
        {
            (creatingSnapshot, "VOLUME_VOLUME_SNAPSHOT_009_013"), (creating, "VOLUME_VOLUME_008_012"), (downloading, "VOLUME_VOLUME_005_012"),
            (extending, "VOLUME_VOLUME_007_010"), (uploading, "VOLUME_VOLUME_003_004"),
        })
        {
            var message = messages.Single(m => m!["resource_uuid"]!.GetValue<string>() == resource)!;
            Assert.Equal(eventId, message["event_id"]!.GetValue<string>());
            Assert.EndsWith(" " + FailureReasons.Interrupted, message["user_message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        await again.WaitGoneAsync($"/volume/v3/volumes/{deleting}", s_wait);
        Assert.False(File.Exists(deletingFile), "the resumed delete left the volume file");
        await again.WaitGoneAsync($"/volume/v3/snapshots/{deletingSnapshot}", s_wait);

        // Attach states are derived again from the attachments that exist.
        Assert.Equal("available", await StatusAsync(again, "volume", reserved));
        Assert.Equal("available", await StatusAsync(again, "volume", uploading));
        Assert.Equal("in-use", await StatusAsync(again, "volume", detaching));

        // The half-plugged attachment is completed for its server; deleting the server releases it.
        Assert.Equal("attached", (await again.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{pluggedAttachment}", apiVersion: "volume 3.44"))["attachment"]!["status"]!.GetValue<string>());
        Assert.Equal("in-use", await StatusAsync(again, "volume", plugged));
        await again.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await again.WaitGoneAsync($"/compute/v2.1/servers/{server}", s_wait);
        await again.WaitForAsync($"/volume/v3/volumes/{plugged}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);

        // Nothing stays stuck: the snapshot, then its volume, and every other one can be deleted by their owner.
        await again.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{creatingSnapshot}", expect: HttpStatusCode.Accepted);
        await again.WaitGoneAsync($"/volume/v3/snapshots/{creatingSnapshot}", s_wait);
        await again.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{detaching}/action", new JsonObject { ["os-detach"] = new JsonObject() }, HttpStatusCode.Accepted);
        foreach (var volume in new[] { snapped, creating, downloading, extending, deletingSnapshotVolume, reserved, detaching, plugged })
        {
            await again.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
        }

        foreach (var volume in new[] { snapped, creating, downloading, extending, deletingSnapshotVolume, reserved, detaching, plugged })
        {
            await again.WaitGoneAsync($"/volume/v3/volumes/{volume}", s_wait);
        }
    }

    [Fact]
    public async Task Backups_caught_by_a_crash_move_on_as_cinders_backup_manager_moves_them()
    {
        string source, target, creatingBackup, restoringBackup, deletingBackup;
        string deletingManifest;
        await using (var first = await StartAsync())
        {
            using var api = await ClientAsync(first);
            var store = first.Services.GetRequiredService<VolumeStore>();
            source = await VolumeAsync(api, "backed-up");
            target = await VolumeAsync(api, "restore-target");
            var ids = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/backups", new JsonObject { ["backup"] = new JsonObject { ["volume_id"] = source } },
                    HttpStatusCode.Accepted))["backup"]!["id"]!.GetValue<string>();
                await api.WaitForAsync($"/volume/v3/backups/{id}", b => b["backup"]!["status"]!.GetValue<string>() == "available", s_wait);
                ids.Add(id);
            }

            (creatingBackup, restoringBackup, deletingBackup) = (ids[0], ids[1], ids[2]);
            var deleting = await store.FindBackupAsync(deletingBackup);
            deletingManifest = Path.Combine(first.Services.GetRequiredService<BackupChunkStore>().Root, deleting!.Container, $"backup-{deletingBackup}.manifest");
            Assert.True(File.Exists(deletingManifest));

            // What a kill -9 in the middle of the work leaves: a backup still being made (its volume backing-up), a
            // restore (its volume restoring-backup), a delete.
            Assert.True(await store.ResetBackupStatusAsync(creatingBackup, "creating"));
            Assert.True(await store.TransitionAsync(source, ["available"], "backing-up"));
            Assert.Equal(RestoreStart.Begun, await store.BeginRestoreAsync(restoringBackup, target, 1));
            Assert.True(await store.BeginDeleteBackupAsync(deleting, ["available"]));
        }

        await using var second = await StartAsync();
        using var again = await ClientAsync(second);
        var failed = (await again.SendAsync(HttpMethod.Get, $"/volume/v3/backups/{creatingBackup}"))["backup"]!;
        Assert.Equal("error", failed["status"]!.GetValue<string>());
        Assert.Equal(FailureReasons.Interrupted, failed["fail_reason"]!.GetValue<string>());
        Assert.Equal("available", await StatusAsync(again, "volume", source));
        Assert.Equal("available", await StatusAsync(again, "backup", restoringBackup));
        Assert.Equal("error_restoring", await StatusAsync(again, "volume", target));
        await again.WaitGoneAsync($"/volume/v3/backups/{deletingBackup}", s_wait);
        Assert.False(File.Exists(deletingManifest), "the resumed delete left the backup's files");

        // Nothing stays stuck.
        foreach (var backup in new[] { creatingBackup, restoringBackup })
        {
            await again.SendAsync(HttpMethod.Delete, $"/volume/v3/backups/{backup}", expect: HttpStatusCode.Accepted);
            await again.WaitGoneAsync($"/volume/v3/backups/{backup}", s_wait);
        }

        foreach (var volume in new[] { source, target })
        {
            await again.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
            await again.WaitGoneAsync($"/volume/v3/volumes/{volume}", s_wait);
        }
    }
}
