using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;

namespace Ember.Server.Tests.Volume;

/// <summary>
/// What the rbd backend does in the cluster, checked with Ceph's own <c>rbd</c>/<c>ceph</c> CLIs as client.admin:
/// Cinder's image features, clones, delete rules and capacity; and start-up against an unreachable cluster.
/// </summary>
public sealed class RbdBackendTests(RbdEmberFixture fixture) : IClassFixture<RbdEmberFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private CephCluster Ceph => fixture.Ceph!;

    private async Task<ApiClient> ClientAsync() => new(await fixture.ClientAsync());

    private static async Task<string> CreateAvailableAsync(ApiClient api, JsonObject volume)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = volume }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static async Task<string> CreateSnapshotAsync(ApiClient api, string volumeId)
    {
        var snap = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots", new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volumeId } }, HttpStatusCode.Accepted);
        var id = snap["snapshot"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{id}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static async Task DeleteAsync(ApiClient api, string kind, string id)
    {
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/{kind}/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/{kind}/{id}", s_wait);
    }

    private async Task<JsonNode> InfoAsync(string image) => JsonNode.Parse(await Ceph.RbdAsync("info", "--format", "json", $"{Ceph.Pool}/{image}"))!;

    private async Task<string[]> FeaturesAsync(string image) => [.. (await InfoAsync(image))["features"]!.AsArray().Select(f => f!.GetValue<string>())];

    private async Task<string[]> ImagesAsync() =>
        (await Ceph.RbdAsync("ls", Ceph.Pool)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private Task QemuIoAsync(string image, string command) =>
        Cli.RunAsync("qemu-io", ["-f", "raw", "-c", command, $"rbd:{Ceph.Pool}/{image}:conf={Ceph.AdminConfPath}"]).ContinueWith(t =>
        {
            var result = t.Result.EnsureSuccess();
            Assert.DoesNotContain("Pattern verification failed", result.StdOut, StringComparison.Ordinal);
        }, TaskScheduler.Default);

    [Fact]
    public async Task A_multiattach_volume_and_its_copies_have_no_exclusive_lock_object_map_or_fast_diff()
    {
        using var api = await ClientAsync();
        var plain = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        var shared = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["volume_type"] = "multiattach" });
        var sharedCopy = await CreateAvailableAsync(api, new JsonObject { ["source_volid"] = shared });
        var snapshot = await CreateSnapshotAsync(api, shared);
        var sharedFromSnapshot = await CreateAvailableAsync(api, new JsonObject { ["snapshot_id"] = snapshot, ["volume_type"] = "multiattach" });

        Assert.Contains("exclusive-lock", await FeaturesAsync("volume-" + plain));
        foreach (var id in new[] { shared, sharedCopy, sharedFromSnapshot })
        {
            var features = await FeaturesAsync("volume-" + id);
            Assert.Contains("layering", features);
            Assert.DoesNotContain("exclusive-lock", features);
            Assert.DoesNotContain("object-map", features);
            Assert.DoesNotContain("fast-diff", features);
        }

        foreach (var id in new[] { sharedFromSnapshot, sharedCopy, plain })
        {
            await DeleteAsync(api, "volumes", id);
        }

        await DeleteAsync(api, "snapshots", snapshot);
        await DeleteAsync(api, "volumes", shared);
    }

    [Fact]
    public async Task A_volume_from_a_snapshot_is_a_clone_that_keeps_the_snapshot_busy_until_it_goes()
    {
        using var api = await ClientAsync();
        var source = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        await QemuIoAsync("volume-" + source, "write -P 0x5a 4M 1M");
        var snapshot = await CreateSnapshotAsync(api, source);
        await QemuIoAsync("volume-" + source, "write -P 0x11 4M 1M"); // after the snapshot: the clone must not see it
        var clone = await CreateAvailableAsync(api, new JsonObject { ["snapshot_id"] = snapshot, ["size"] = 2 });

        var snap = $"{Ceph.Pool}/volume-{source}@snapshot-{snapshot}";
        Assert.Contains($"{Ceph.Pool}/volume-{clone}", await Ceph.RbdAsync("children", snap), StringComparison.Ordinal);
        var info = await InfoAsync("volume-" + clone);
        Assert.Equal($"volume-{source}", info["parent"]!["image"]!.GetValue<string>());
        Assert.Equal(2L << 30, info["size"]!.GetValue<long>());
        await QemuIoAsync("volume-" + clone, "read -P 0x5a 4M 1M");

        // Cinder's SnapshotIsBusy: the snapshot goes back to available and stays in the cluster.
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapshot}", expect: HttpStatusCode.Accepted);
        await api.WaitForAsync($"/volume/v3/snapshots/{snapshot}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        Assert.Contains($"snapshot-{snapshot}", await Ceph.RbdAsync("snap", "ls", $"{Ceph.Pool}/volume-{source}"), StringComparison.Ordinal);
        var messages = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: "volume 3.3"))["messages"]!.AsArray();
        var busy = messages.Single(m => m!["resource_uuid"]?.GetValue<string>() == snapshot)!;
        Assert.Equal("VOLUME_VOLUME_SNAPSHOT_010_015", busy["event_id"]!.GetValue<string>());
        Assert.Equal("delete snapshot:Snapshot is busy.", busy["user_message"]!.GetValue<string>());

        await DeleteAsync(api, "volumes", clone);
        await DeleteAsync(api, "snapshots", snapshot);
        Assert.DoesNotContain($"snapshot-{snapshot}", await Ceph.RbdAsync("snap", "ls", $"{Ceph.Pool}/volume-{source}"), StringComparison.Ordinal);
        await DeleteAsync(api, "volumes", source);
        Assert.DoesNotContain($"volume-{source}", await ImagesAsync());
    }

    [Fact]
    public async Task A_volume_with_clones_of_it_is_kept_as_deleted_and_goes_with_its_last_clone()
    {
        using var api = await ClientAsync();
        var source = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        await QemuIoAsync("volume-" + source, "write -P 0x77 0 64k");
        var copy = await CreateAvailableAsync(api, new JsonObject { ["source_volid"] = source });
        Assert.Equal($"volume-{copy}.clone_snap", (await InfoAsync("volume-" + copy))["parent"]!["snapshot"]!.GetValue<string>());
        await QemuIoAsync("volume-" + copy, "read -P 0x77 0 64k");

        await DeleteAsync(api, "volumes", source);
        var images = await ImagesAsync();
        Assert.DoesNotContain($"volume-{source}", images);
        Assert.Contains($"volume-{source}.deleted", images);
        await QemuIoAsync("volume-" + copy, "read -P 0x77 0 64k");

        await DeleteAsync(api, "volumes", copy);
        images = await ImagesAsync();
        Assert.DoesNotContain($"volume-{source}.deleted", images);
        Assert.DoesNotContain($"volume-{copy}", images);
    }

    [Fact]
    public async Task Clone_chains_deeper_than_the_limit_are_flattened()
    {
        using var api = await ClientAsync();
        var chain = new List<string> { await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 }) };
        for (var i = 0; i < 6; i++)
        {
            chain.Add(await CreateAvailableAsync(api, new JsonObject { ["source_volid"] = chain[^1] }));
        }

        // Depths 0..4 behind volumes 1..5 keep their parents; volume 6's source is 5 deep (rbd_max_clone_depth 5).
        Assert.NotNull((await InfoAsync("volume-" + chain[5]))["parent"]);
        Assert.Null((await InfoAsync("volume-" + chain[6]))["parent"]);

        chain.Reverse();
        foreach (var id in chain)
        {
            await DeleteAsync(api, "volumes", id);
        }

        Assert.DoesNotContain(await ImagesAsync(), i => chain.Any(id => i.Contains(id, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_volume_from_a_qcow2_image_holds_its_bytes_and_a_multiattach_one_has_no_exclusive_lock()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ember-rbd-image-{Guid.NewGuid():N}.qcow2");
        try
        {
            (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", file, "16M"])).EnsureSuccess();
            (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5c 1M 512k", file])).EnsureSuccess();
            using var api = await ClientAsync();
            var image = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
                new JsonObject { ["name"] = "rbd-source", ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
            using var admin = await fixture.ClientAsync();
            using var data = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            data.Headers.ContentType = new("application/octet-stream");
            Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsync($"/image/v2/images/{image}/file", data)).StatusCode);

            var volume = await CreateAvailableAsync(api, new JsonObject { ["imageRef"] = image, ["size"] = 1, ["volume_type"] = "multiattach" });
            Assert.Equal(1L << 30, (await InfoAsync("volume-" + volume))["size"]!.GetValue<long>());
            Assert.DoesNotContain("exclusive-lock", await FeaturesAsync("volume-" + volume));
            await QemuIoAsync("volume-" + volume, "read -P 0x5c 1M 512k");
            await QemuIoAsync("volume-" + volume, "read -P 0 0 1M");
            await DeleteAsync(api, "volumes", volume);
            await api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{image}", expect: HttpStatusCode.NoContent);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_volume_from_a_raw_image_in_the_images_pool_is_a_clone_which_keeps_the_image_from_being_deleted()
    {
        var bytes = new byte[6 << 20];
        Random.Shared.NextBytes(bytes);
        using var api = await ClientAsync();
        var image = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "rbd-raw", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using var admin = await fixture.ClientAsync();
        using var data = new ByteArrayContent(bytes);
        data.Headers.ContentType = new("application/octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsync($"/image/v2/images/{image}/file", data)).StatusCode);
        var snaps = JsonNode.Parse(await Ceph.RbdAsync("snap", "ls", "--format", "json", $"{EmberFixture.ImagesPool}/{image}"))!.AsArray();
        Assert.Equal("snap", snaps.Single()!["name"]!.GetValue<string>());
        Assert.Equal("true", JsonNode.Parse(await Ceph.RbdAsync("info", "--format", "json", $"{EmberFixture.ImagesPool}/{image}@snap"))!["protected"]!.ToString());

        var volume = await CreateAvailableAsync(api, new JsonObject { ["imageRef"] = image, ["size"] = 2, ["volume_type"] = "multiattach" });
        var info = await InfoAsync("volume-" + volume);
        Assert.Equal($"{EmberFixture.ImagesPool}/{image}@snap",
            $"{info["parent"]!["pool"]}/{info["parent"]!["image"]}@{info["parent"]!["snapshot"]}");
        Assert.Equal(2L << 30, info["size"]!.GetValue<long>());
        Assert.DoesNotContain("exclusive-lock", await FeaturesAsync("volume-" + volume));
        Assert.Contains($"{Ceph.Pool}/volume-{volume}", await Ceph.RbdAsync("children", $"{EmberFixture.ImagesPool}/{image}@snap"), StringComparison.Ordinal);
        var head = Path.Combine(Path.GetTempPath(), $"ember-rbd-clone-{Guid.NewGuid():N}");
        try
        {
            await Ceph.RbdAsync("export", $"{Ceph.Pool}/volume-{volume}", head);
            await using var exported = File.OpenRead(head);
            var start = new byte[bytes.Length];
            await exported.ReadExactlyAsync(start);
            Assert.Equal(bytes, start);
        }
        finally
        {
            File.Delete(head);
        }

        // Glance's rule on Ceph: data that volumes are cloned from is in use and stays.
        var (status, _, body) = await api.TrySendAsync(HttpMethod.Delete, $"/image/v2/images/{image}");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("could not be deleted because it is in use", body, StringComparison.Ordinal);
        Assert.Equal("active", (await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{image}"))["status"]!.GetValue<string>());
        // What a user sees with Debian's clients: both fail; glance prints Glance's reason (openstack only "Conflict").
        var openstack = await fixture.RunClientAsync("openstack", "ember", "image", "delete", image);
        Assert.NotEqual(0, openstack.ExitCode);
        Assert.Contains("409", openstack.StdErr, StringComparison.Ordinal);
        var glance = await Cli.RunAsync("glance", ["image-delete", image], fixture.OpenRc());
        Assert.NotEqual(0, glance.ExitCode);
        Assert.Contains("in use", glance.StdOut + glance.StdErr, StringComparison.Ordinal);

        await DeleteAsync(api, "volumes", volume);
        await api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{image}", expect: HttpStatusCode.NoContent);
        Assert.DoesNotContain(image, await Ceph.RbdAsync("ls", EmberFixture.ImagesPool), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_pools_reports_the_rbd_pool_with_its_free_space_to_admins_only()
    {
        using var api = await ClientAsync();
        var pools = await api.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools?detail=true");
        var pool = pools["pools"]!.AsArray().Single()!;
        Assert.EndsWith($"@rbd#{Ceph.Pool}", pool["name"]!.GetValue<string>(), StringComparison.Ordinal);
        var capabilities = pool["capabilities"]!;
        Assert.Equal("ceph", capabilities["storage_protocol"]!.GetValue<string>());
        Assert.Equal("up", capabilities["backend_state"]!.GetValue<string>());
        Assert.True(capabilities["multiattach"]!.GetValue<bool>());

        var df = JsonNode.Parse(await Ceph.CephAsync("df", "--format", "json"))!;
        var stats = df["pools"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == Ceph.Pool)!["stats"]!;
        var free = stats["max_avail"]!.GetValue<long>() / (double)(1L << 30);
        Assert.InRange(capabilities["free_capacity_gb"]!.GetValue<double>(), free - 0.05, free + 0.05);
        Assert.True(capabilities["total_capacity_gb"]!.GetValue<double>() >= capabilities["free_capacity_gb"]!.GetValue<double>());

        var plain = await api.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools");
        Assert.Null(plain["pools"]![0]!["capabilities"]);

        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var (status, _, _) = await demo.TrySendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools");
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Start_up_against_unreachable_monitors_fails_with_a_clear_message()
    {
        var dir = Directory.CreateTempSubdirectory("ember-rbd-unreachable-").FullName;
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop(); // a port nothing listens on
            var conf = Path.Combine(dir, "ceph.conf");
            await File.WriteAllTextAsync(conf, (await File.ReadAllTextAsync(Ceph.ConfPath))
                .Replace($"v2:{Ceph.Address}:{Ceph.MonV2Port}", $"v2:127.0.0.1:{port}", StringComparison.Ordinal)
                .Replace($"v1:{Ceph.Address}:{Ceph.MonV1Port}", $"v1:127.0.0.1:{port}", StringComparison.Ordinal));
            var options = new EmberOptions
            {
                DataDir = Path.Combine(dir, "data"),
                Listen = "127.0.0.1:0",
                Identity = { AdminPassword = EmberFixture.AdminPassword, DemoPassword = EmberFixture.DemoPassword },
                Volume = { Backend = "rbd", Rbd = { ConfPath = conf, KeyringPath = Ceph.KeyringPath, Pool = Ceph.Pool, ConnectTimeoutSeconds = 2 } },
            };

            var error = await Assert.ThrowsAsync<ConfigurationException>(() => EmberHost.StartAsync(options));
            Assert.Contains("Volume:Rbd: cannot use the Ceph cluster", error.Message, StringComparison.Ordinal);
            Assert.Contains("client.ember", error.Message, StringComparison.Ordinal);
            Assert.Contains("unreachable within 2 s", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Rbd_settings_are_checked_before_start()
    {
        var options = new EmberOptions { Volume = { Backend = "rbd", Rbd = { ConfPath = "/nonexistent/ceph.conf" } } };
        var error = Assert.Throws<ConfigurationException>(() => EmberConfiguration.Validate(options));
        Assert.Contains("Volume:Rbd", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConfPath", error.Message, StringComparison.Ordinal);

        options.Volume.Backend = "lvm";
        Assert.Contains("Backend must be 'file' or 'rbd'", Assert.Throws<ConfigurationException>(() => EmberConfiguration.Validate(options)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_rbd_connection_info_reads_back_into_its_case()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        var attachment = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
        {
            ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString(), ["connector"] = new JsonObject { ["host"] = "h1" } },
        }, apiVersion: "volume 3.54");
        var info = attachment["attachment"]!["connection_info"]!.AsObject();
        Assert.Equal("rbd", info["driver_volume_type"]!.GetValue<string>());
        Assert.Equal($"{Ceph.Pool}/volume-{id}", info["name"]!.GetValue<string>());
        Assert.Equal(Ceph.Address, info["hosts"]![0]!.GetValue<string>());
        Assert.Equal(CephCluster.User, info["auth_username"]!.GetValue<string>());
        Assert.True(info["auth_enabled"]!.GetValue<bool>());
        Assert.DoesNotContain("key", info.ToJsonString().Replace("keyring", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);

        var connection = Assert.IsType<RbdConnection>(VolumeJson.ConnectionFrom(info));
        Assert.Equal((Ceph.Pool, "volume-" + id, CephCluster.User, false), (connection.Pool, connection.Image, connection.AuthUser, connection.ReadOnly));
        Assert.Equal(Ceph.Monitors, connection.Monitors);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{attachment["attachment"]!["id"]}", apiVersion: "volume 3.54");
        await DeleteAsync(api, "volumes", id);
    }
}
