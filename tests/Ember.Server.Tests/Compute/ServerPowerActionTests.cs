using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// pause/unpause, suspend/resume, lock, createImage and rebuild on real guests, through Debian's openstack client, with QEMU's own
/// run state checked over QMP and every step in the server's action log with its host event.
/// </summary>
public class ServerPowerActionTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Pause_suspend_and_lock_a_running_guest_with_the_openstack_client()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "pausable", ["imageRef"] = image, ["flavorRef"] = "1" },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        await api.ExecInGuestAsync(server, "true"); // the guest agent answers: the guest is up

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);

        (await OpenStackAsync("server", "pause", server)).EnsureSuccess();
        var paused = await api.WaitForAsync(path, s => Status(s) == "PAUSED", s_wait);
        Assert.Equal(3, paused["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("paused", await QemuStatusAsync(server));
        // Nova's state machine: a paused server cannot be suspended or paused again.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["suspend"] = null });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'suspend' instance {server} while it is in vm_state paused", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        (await OpenStackAsync("server", "unpause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.Equal("running", await QemuStatusAsync(server));
        Assert.Equal("up", await api.ExecInGuestAsync(server, "echo up"));

        (await OpenStackAsync("server", "suspend", server)).EnsureSuccess();
        var suspended = await api.WaitForAsync(path, s => Status(s) == "SUSPENDED", s_wait);
        Assert.Equal(4, suspended["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("paused", await QemuStatusAsync(server));
        (await OpenStackAsync("server", "resume", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.Equal("still", await api.ExecInGuestAsync(server, "echo still"));

        // A lock with a reason (2.73); the admin may still act on the server (members are refused: ServerActionApiTests).
        (await OpenStackAsync("server", "lock", "--reason", "backup", server)).EnsureSuccess();
        var locked = (await OpenStackAsync("server", "show", server, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("backup", locked["locked_reason"]!.GetValue<string>());
        (await OpenStackAsync("server", "pause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "PAUSED", s_wait);
        (await OpenStackAsync("server", "unpause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        (await OpenStackAsync("server", "unlock", server)).EnsureSuccess();

        // The action log, newest first, each step with its host event and result.
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["unlock", "unpause", "pause", "lock", "resume", "suspend", "unpause", "pause", "create"],
            events.Select(e => e!["Action"]!.GetValue<string>()));
        var pauseRequest = events[7]!["Request ID"]!.GetValue<string>();
        var pause = (await api.SendAsync(HttpMethod.Get, $"{path}/os-instance-actions/{pauseRequest}", apiVersion: "compute 2.62"))["instanceAction"]!;
        var pauseEvent = Assert.Single(pause["events"]!.AsArray())!;
        Assert.Equal("compute_pause_instance", pauseEvent["event"]!.GetValue<string>());
        Assert.Equal("Success", pauseEvent["result"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(pauseEvent["host"]!.GetValue<string>()));

        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
    }

    [Fact]
    public async Task A_snapshot_of_a_running_guest_boots_a_new_server_with_the_guests_disk()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var server = await BootAsync(api, "snapped", image);
        var path = $"/compute/v2.1/servers/{server}";
        // The root file system is an initramfs: the marker goes to the root disk itself, past the image's own blocks.
        const string Marker = "ember-snapshot-marker";
        await api.ExecInGuestAsync(server, $"echo {Marker} | dd of=/dev/vda bs=1M seek=512 conv=sync,fsync 2>/dev/null");

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);
        var created = (await OpenStackAsync("server", "image", "create", "--name", "snap-of-running", "--wait", server, "-f", "json")).EnsureSuccess().Json();
        var snapshot = created["id"]!.GetValue<string>();
        var shown = await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{snapshot}");
        Assert.Equal("active", shown["status"]!.GetValue<string>());
        Assert.Equal("snapshot", shown["image_type"]!.GetValue<string>());
        Assert.Equal(server, shown["instance_uuid"]!.GetValue<string>());
        Assert.Equal(image, shown["base_image_ref"]!.GetValue<string>());

        // The guest was let go again after the copy.
        var after = await api.WaitForAsync(path, s => s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
        Assert.Equal("ACTIVE", Status(after));
        Assert.Equal("running", await QemuStatusAsync(server));
        Assert.Equal("still", await api.ExecInGuestAsync(server, "echo still"));
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["createImage", "create"], events.Select(e => e!["Action"]!.GetValue<string>()));
        var snapshotRequest = events[0]!["Request ID"]!.GetValue<string>();
        var action = (await api.SendAsync(HttpMethod.Get, $"{path}/os-instance-actions/{snapshotRequest}", apiVersion: "compute 2.62"))["instanceAction"]!;
        var snapshotEvent = Assert.Single(action["events"]!.AsArray())!;
        Assert.Equal("compute_snapshot_instance", snapshotEvent["event"]!.GetValue<string>());
        Assert.Equal("Success", snapshotEvent["result"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);

        // A new server from the snapshot reads what the first one wrote.
        var copy = await BootAsync(api, "from-snapshot", snapshot);
        var copyPath = $"/compute/v2.1/servers/{copy}";
        Assert.Equal(Marker, await api.ExecInGuestAsync(copy, $"dd if=/dev/vda bs=1M skip=512 count=1 2>/dev/null | head -c {Marker.Length}"));
        await api.SendAsync(HttpMethod.Delete, copyPath, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(copyPath, s_wait);
        await api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{snapshot}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_rebuild_gives_a_fresh_root_disk_and_keeps_the_attached_volume()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var server = await BootAsync(api, "rebuilt", image);
        var path = $"/compute/v2.1/servers/{server}";
        var volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject
        {
            ["volume"] = new JsonObject { ["name"] = "kept", ["size"] = 1 },
        }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        await api.SendAsync(HttpMethod.Post, $"{path}/os-volume_attachments",
            new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = volume } }, apiVersion: ApiClient.Compute260);
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "in-use", s_wait);

        // The marker goes to the root disk itself (the root file system is an initramfs), and one to the volume.
        const string Marker = "ember-rebuild-marker";
        await api.ExecInGuestAsync(server, $"echo {Marker} | dd of=/dev/vda bs=1M seek=512 conv=sync,fsync 2>/dev/null");
        await api.ExecInGuestAsync(server, $"for i in $(seq 50); do [ -b /dev/vdb ] && break; sleep 0.2; done; echo {Marker} | dd of=/dev/vdb bs=1M conv=sync,fsync 2>/dev/null");
        string ReadMarker(string device) => $"dd if={device} bs=1M count=1 {(device == "/dev/vda" ? "skip=512" : "")} 2>/dev/null | head -c {Marker.Length}";
        Assert.Equal(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vda")));

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);
        (await OpenStackAsync("server", "rebuild", "--image", image, "--wait", server)).EnsureSuccess();
        var after = await api.WaitForAsync(path, s => Status(s) == "ACTIVE" && s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
        Assert.Equal(image, after["server"]!["image"]!["id"]!.GetValue<string>());
        Assert.Equal(volume, after["server"]!["os-extended-volumes:volumes_attached"]![0]!["id"]!.GetValue<string>());
        // The guest agent answers on the new disk; the root disk's marker is gone, the volume's is still there.
        Assert.Equal("still", await api.ExecInGuestAsync(server, "echo still"));
        Assert.NotEqual(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vda")));
        Assert.Equal(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vdb")));
        var shownVolume = await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("in-use", shownVolume["volume"]!["status"]!.GetValue<string>());

        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["rebuild", "attach_volume", "create"], events.Select(e => e!["Action"]!.GetValue<string>()));
        var rebuildRequest = events[0]!["Request ID"]!.GetValue<string>();
        var action = (await api.SendAsync(HttpMethod.Get, $"{path}/os-instance-actions/{rebuildRequest}", apiVersion: "compute 2.62"))["instanceAction"]!;
        var rebuildEvent = Assert.Single(action["events"]!.AsArray())!;
        Assert.Equal("compute_rebuild_instance", rebuildEvent["event"]!.GetValue<string>());
        Assert.Equal("Success", rebuildEvent["result"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_resize_with_the_openstack_client_boots_the_guest_with_the_new_flavor_and_confirms()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var current = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/flavors/1"))["flavor"]!;
        var flavor = "resize-" + Guid.NewGuid().ToString("N")[..8];
        await api.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors", new JsonObject
        {
            ["flavor"] = new JsonObject { ["name"] = flavor, ["id"] = flavor, ["ram"] = current["ram"]!.GetValue<int>() + 128, ["vcpus"] = 2, ["disk"] = 2 },
        });
        var server = await BootAsync(api, "resized", image);
        var path = $"/compute/v2.1/servers/{server}";
        Assert.Equal("1", await api.ExecInGuestAsync(server, "nproc"));

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);
        (await OpenStackAsync("server", "resize", "--flavor", flavor, "--wait", server)).EnsureSuccess();
        var resized = await api.WaitForAsync(path, s => Status(s) == "VERIFY_RESIZE", s_wait);
        Assert.Equal(flavor, resized["server"]!["flavor"]!["id"]!.GetValue<string>());
        await api.ExecInGuestAsync(server, "true");
        Assert.Equal("2", await api.ExecInGuestAsync(server, "nproc"));
        Assert.Equal((2L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), await api.ExecInGuestAsync(server, "blockdev --getsize64 /dev/vda"));

        (await OpenStackAsync("server", "resize", "confirm", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.Equal("still", await api.ExecInGuestAsync(server, "echo still"));
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["confirmResize", "resize", "create"], events.Select(e => e!["Action"]!.GetValue<string>()));
        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
    }

    [Fact]
    public async Task Shelve_unshelve_rescue_and_unrescue_a_running_guest_with_the_openstack_client_keep_its_root_disk()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var server = await BootAsync(api, "shelved", image);
        var path = $"/compute/v2.1/servers/{server}";
        // The root file system is an initramfs: the marker goes to the root disk itself, past the image's own blocks.
        const string Marker = "ember-shelve-marker";
        await api.ExecInGuestAsync(server, $"echo {Marker} | dd of=/dev/vda bs=1M seek=512 conv=sync,fsync 2>/dev/null");
        string ReadMarker(string device) => $"dd if={device} bs=1M skip=512 count=1 2>/dev/null | head -c {Marker.Length}";

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);
        (await OpenStackAsync("server", "shelve", "--wait", server)).EnsureSuccess();
        var shelved = await api.WaitForAsync(path, s => Status(s) == "SHELVED_OFFLOADED" && s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
        Assert.Null(shelved["server"]!["OS-EXT-SRV-ATTR:host"]);
        Assert.Null(ember.Host.Services.GetRequiredService<VirtHost>().Find(server));
        var snapshot = Assert.Single((await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=shelved-shelved"))["images"]!.AsArray())!["id"]!.GetValue<string>();

        (await OpenStackAsync("server", "unshelve", "--wait", server)).EnsureSuccess();
        var unshelved = await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.False(string.IsNullOrEmpty(unshelved["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>()));
        Assert.Equal(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vda")));
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{snapshot}")).Status);

        // Rescue: the guest runs from a fresh disk of the image, its own root disk (with the marker) second.
        (await OpenStackAsync("server", "rescue", "--image", image, "--password", "Rescue-Pw-1", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "RESCUE" && s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
        await api.ExecInGuestAsync(server, "true");
        Assert.Equal(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vdb")));
        Assert.NotEqual(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vda")));

        (await OpenStackAsync("server", "unrescue", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE" && s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
        await api.ExecInGuestAsync(server, "true");
        Assert.Equal(Marker, await api.ExecInGuestAsync(server, ReadMarker("/dev/vda")));
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["unrescue", "rescue", "unshelve", "shelve", "create"], events.Select(e => e!["Action"]!.GetValue<string>()));
        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
    }

    /// <summary>A server of flavor 1 (1 GiB root disk) from <paramref name="image"/>, ACTIVE with its guest agent answering.</summary>
    private static async Task<string> BootAsync(ApiClient api, string name, string image)
    {
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = "1" },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/compute/v2.1/servers/{server}", s => Status(s) == "ACTIVE", s_wait);
        await api.ExecInGuestAsync(server, "true");
        return server;
    }

    private async Task<string> QemuStatusAsync(string server)
    {
        var machine = ember.Host.Services.GetRequiredService<VirtHost>().Find(server) ?? throw new InvalidOperationException("QEMU is not running");
        return await machine.QueryStatusAsync(CancellationToken.None);
    }

    private static string Status(JsonNode server) => server["server"]!["status"]!.GetValue<string>();
}
