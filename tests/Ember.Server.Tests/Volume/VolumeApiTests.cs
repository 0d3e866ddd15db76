using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>The Cinder v3 subset on SQLite.</summary>
public sealed class VolumeApiTests(EmberFixture fixture) : VolumeApiCases(fixture), IClassFixture<EmberFixture>;

/// <summary>The Cinder v3 subset on PostgreSQL.</summary>
public sealed class PostgresVolumeApiTests(PostgresEmberFixture fixture) : VolumeApiCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>The Cinder v3 subset with volumes on Ceph RBD (one cluster for the class).</summary>
public sealed class RbdVolumeApiTests(RbdEmberFixture fixture) : VolumeApiCases(fixture), IClassFixture<RbdEmberFixture>;

/// <summary>The Cinder v3 subset over raw HTTP against a real host: status codes, bodies, the attachment state machine.</summary>
public abstract class VolumeApiCases(EmberFixture fixture)
{
    private const string V354 = "volume 3.54";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private async Task<ApiClient> ClientAsync(string user = "admin") => new(await fixture.ClientAsync(user));

    private static async Task<string> CreateAvailableAsync(ApiClient api, JsonObject volume)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = volume }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static JsonObject Connector(string host) => new() { ["host"] = host, ["ip"] = "127.0.0.1", ["platform"] = "x86_64", ["os_type"] = "linux", ["multipath"] = false, ["mountpoint"] = "/dev/vdb" };

    [Fact]
    public async Task Discovery_lists_v3_with_microversions_and_negotiates_the_header()
    {
        using var api = await ClientAsync();
        var root = await api.SendAsync(HttpMethod.Get, "/volume", expect: HttpStatusCode.MultipleChoices);
        var v3 = root["versions"]![0]!;
        Assert.Equal("3.70", v3["version"]!.GetValue<string>());
        Assert.Equal("3.0", v3["min_version"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Get, "/volume/v3/");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/volume/v3/types");
        request.Headers.Add("OpenStack-API-Version", "volume latest");
        using var response = await api.Http.SendAsync(request);
        Assert.Equal("volume 3.70", response.Headers.GetValues("OpenStack-API-Version").Single());
        Assert.Contains("OpenStack-API-Version", response.Headers.Vary);

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Get, "/volume/v3/volumes", apiVersion: "volume 3.99");
        Assert.Equal(HttpStatusCode.NotAcceptable, status);
        Assert.Equal(406, json!["computeFault"]!["code"]!.GetValue<int>());

        // Attachments exist from 3.27 only.
        var (old, _, _) = await api.TrySendAsync(HttpMethod.Get, "/volume/v3/attachments", apiVersion: "volume 3.26");
        Assert.Equal(HttpStatusCode.NotFound, old);
    }

    [Fact]
    public async Task Volume_lifecycle_create_show_extend_delete_with_thin_data_of_exact_size()
    {
        using var api = await ClientAsync();
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "life", ["metadata"] = new JsonObject { ["k"] = "v" } } }, HttpStatusCode.Accepted);
        var volume = created["volume"]!.AsObject();
        Assert.DoesNotContain(volume, kv => kv.Key.StartsWith("os-vol-", StringComparison.Ordinal));
        Assert.Equal("__DEFAULT__", volume["volume_type"]!.GetValue<string>());
        var id = volume["id"]!.GetValue<string>();
        var shown = await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        Assert.Equal("false", shown["volume"]!["bootable"]!.GetValue<string>());
        Assert.NotNull(shown["volume"]!["os-vol-tenant-attr:tenant_id"]);
        Assert.Equal("v", shown["volume"]!["metadata"]!["k"]!.GetValue<string>());

        Assert.Equal(1L << 30, await fixture.VolumeSizeAsync(id));
        var allocated = await fixture.AllocatedBytesAsync(id);
        Assert.True(allocated < 1 << 20, $"the new volume should be thin: {allocated} bytes allocated");

        var listed = await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail?name=life&with_count=true", apiVersion: "volume 3.45");
        Assert.Equal(1, listed["count"]!.GetValue<int>());

        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } }, HttpStatusCode.Accepted);
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["size"]!.GetValue<int>() == 2 && j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        Assert.Equal(2L << 30, await fixture.VolumeSizeAsync(id));

        var (badExtend, badBody, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, badExtend);
        Assert.Equal(400, badBody!["badRequest"]!["code"]!.GetValue<int>());

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
        Assert.Null(await fixture.VolumeSizeAsync(id));
    }

    [Fact]
    public async Task Multiattach_volume_takes_two_attachments_and_detaches_back_to_available()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["volume_type"] = "multiattach" });
        var servers = new[] { Guid.NewGuid().ToString(), Guid.NewGuid().ToString() };
        var attachments = new List<string>();
        foreach (var server in servers)
        {
            var a = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments", new JsonObject
            {
                ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = server, ["connector"] = Connector("host-" + server[..4]), ["mode"] = "rw" },
            }, apiVersion: V354);
            Assert.Equal("attaching", a["attachment"]!["status"]!.GetValue<string>());
            var connection = a["attachment"]!["connection_info"]!;
            Assert.Equal(fixture.DriverVolumeType(), connection["driver_volume_type"]!.GetValue<string>());
            Assert.True(connection["multiattach"]!.GetValue<bool>());

            // The connection is real: QEMU's own client (NBD, or rbd as client.ember) sees a 1 GiB disk.
            var info = await Cli.RunAsync("qemu-img", ["info", "--output=json", fixture.TargetOf(connection)]);
            Assert.Equal(1L << 30, info.EnsureSuccess().Json()["virtual-size"]!.GetValue<long>());

            var attachmentId = a["attachment"]!["id"]!.GetValue<string>();
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/attachments/{attachmentId}/action", new JsonObject { ["os-complete"] = new JsonObject() },
                HttpStatusCode.NoContent, V354);
            attachments.Add(attachmentId);
        }

        var shown = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!;
        Assert.Equal("in-use", shown["status"]!.GetValue<string>());
        var entries = shown["attachments"]!.AsArray();
        Assert.Equal(2, entries.Count);
        Assert.Equal(servers.Order(), entries.Select(e => e!["server_id"]!.GetValue<string>()).Order());
        Assert.All(entries, e => Assert.Equal(id, e!["id"]!.GetValue<string>()));

        // The list reads every volume's flag in one query; each connection still says multiattach.
        var listed = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/detail?volume_id={id}", apiVersion: V354))["attachments"]!.AsArray();
        Assert.Equal(2, listed.Count);
        Assert.All(listed, a => Assert.True(a!["connection_info"]!["multiattach"]!.GetValue<bool>()));

        var detail = await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{attachments[0]}", apiVersion: V354);
        var target = fixture.TargetOf(detail["attachment"]!["connection_info"]!);
        var rest = await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{attachments[0]}", apiVersion: V354);
        Assert.Single(rest["attachments"]!.AsArray());
        Assert.Equal("in-use", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["status"]!.GetValue<string>());
        if (!fixture.OnCeph)
        {
            // The NBD export goes with its attachment. RBD has nothing to revoke (the cephx user is the backend's), as in Cinder.
            Assert.NotEqual(0, (await Cli.RunAsync("qemu-img", ["info", target])).ExitCode);
        }

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{attachments[1]}", apiVersion: V354);
        var after = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!;
        Assert.Equal("available", after["status"]!.GetValue<string>());
        Assert.Empty(after["attachments"]!.AsArray());
    }

    [Fact]
    public async Task Openstack_image_create_from_a_volume_uploads_its_bytes_as_a_qcow2_image()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["name"] = "to-upload" });
        var write = (await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", "write -P 0x6e 3M 256k", fixture.VolumeTarget(id)])).EnsureSuccess();
        Assert.Contains("wrote", write.StdOut, StringComparison.Ordinal);

        var bad = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action",
            new JsonObject { ["os-volume_upload_image"] = new JsonObject { ["image_name"] = "bad", ["disk_format"] = "ami" } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.StartsWith("Invalid disk-format 'ami'", bad.Json!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var created = (await fixture.RunClientAsync("openstack", "ember", "image", "create", "--volume", id, "--disk-format", "qcow2",
            "from-volume", "-f", "json")).EnsureSuccess().Json();
        var imageId = created["image_id"]!.GetValue<string>();
        var image = await api.WaitForAsync($"/image/v2/images/{imageId}", j => j["status"]!.GetValue<string>() == "active", s_wait);
        Assert.Equal("qcow2", image["disk_format"]!.GetValue<string>());
        Assert.Equal(1L << 30, image["virtual_size"]!.GetValue<long>());
        Assert.Equal(1, image["min_disk"]!.GetValue<int>());
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);

        var saved = Path.Combine(Path.GetTempPath(), $"ember-upload-{Guid.NewGuid():N}.qcow2");
        try
        {
            (await fixture.RunClientAsync("openstack", "ember", "image", "save", "--file", saved, imageId)).EnsureSuccess();
            foreach (var check in new[] { "read -P 0x6e 3M 256k", "read -P 0 0 3M" })
            {
                var read = (await Cli.RunAsync("qemu-io", ["-r", "-f", "qcow2", "-c", check, saved])).EnsureSuccess();
                Assert.DoesNotContain("Pattern verification failed", read.StdOut, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(saved);
        }

        await api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{imageId}", expect: HttpStatusCode.NoContent);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
    }

    [Fact]
    public async Task Second_reserve_of_a_normal_volume_is_cinders_400()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString() } }, apiVersion: V354);
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString() } }, V354);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Invalid volume: Volume {id} status must be available or downloading to reserve, but the current status is reserved.",
            json!["badRequest"]!["message"]!.GetValue<string>());

        // mode is a 3.54 field: below it the schema refuses it.
        var (old, _, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["mode"] = "ro" } }, "volume 3.44");
        Assert.Equal(HttpStatusCode.BadRequest, old);
    }

    [Fact]
    public async Task Fifty_concurrent_reserves_on_a_normal_volume_let_exactly_one_win()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        var tasks = Enumerable.Range(0, 50).Select(_ => api.TrySendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString() } }, V354));
        var results = await Task.WhenAll(tasks);
        Assert.Equal(1, results.Count(r => r.Status == HttpStatusCode.OK));
        Assert.Equal(49, results.Count(r => r.Status == HttpStatusCode.BadRequest));

        var rows = await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments?volume_id={id}", apiVersion: V354);
        Assert.Single(rows["attachments"]!.AsArray());
        Assert.Equal("reserved", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Legacy_multiattach_flag_and_the_ember_attachment_cap()
    {
        using var api = await ClientAsync();
        // The 2015 client body: multiattach true without a multiattach type.
        var legacy = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["multiattach"] = true, ["availability_zone"] = null, ["imageRef"] = null });
        Assert.True((await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{legacy}"))["volume"]!["multiattach"]!.GetValue<bool>());

        var typeName = "capped-" + Guid.NewGuid().ToString("N")[..6];
        await api.SendAsync(HttpMethod.Post, "/volume/v3/types", new JsonObject
        {
            ["volume_type"] = new JsonObject { ["name"] = typeName, ["extra_specs"] = new JsonObject { ["multiattach"] = "<is> True", ["ember:max_attachments"] = "2" } },
        });
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["volume_type"] = typeName });
        for (var i = 0; i < 2; i++)
        {
            var a = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments",
                new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString(), ["connector"] = Connector("h" + i) } }, apiVersion: V354);
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/attachments/{a["attachment"]!["id"]}/action", new JsonObject { ["os-complete"] = new JsonObject() }, HttpStatusCode.NoContent, V354);
        }

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString() } }, V354);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("ember:max_attachments=2", json!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var (badSpec, _, _) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/types",
            new JsonObject { ["volume_type"] = new JsonObject { ["name"] = typeName + "x", ["extra_specs"] = new JsonObject { ["ember:max_attachments"] = "many" } } });
        Assert.Equal(HttpStatusCode.BadRequest, badSpec);
    }

    [Fact]
    public async Task Projects_are_isolated_and_types_are_admin_managed()
    {
        using var admin = await ClientAsync();
        using var demo = await ClientAsync("demo");
        var id = await CreateAvailableAsync(admin, new JsonObject { ["size"] = 1 });
        var (status, json, _) = await demo.TrySendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal($"Volume {id} could not be found.", json!["itemNotFound"]!["message"]!.GetValue<string>());
        var (deleteStatus, _, _) = await demo.TrySendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}");
        Assert.Equal(HttpStatusCode.NotFound, deleteStatus);
        var list = await demo.SendAsync(HttpMethod.Get, "/volume/v3/volumes?all_tenants=1");
        Assert.DoesNotContain(list["volumes"]!.AsArray(), v => v!["id"]!.GetValue<string>() == id);

        var (typeStatus, typeJson, _) = await demo.TrySendAsync(HttpMethod.Post, "/volume/v3/types", new JsonObject { ["volume_type"] = new JsonObject { ["name"] = "nope" } });
        Assert.Equal(HttpStatusCode.Forbidden, typeStatus);
        Assert.Equal(403, typeJson!["forbidden"]!["code"]!.GetValue<int>());
        var (resetStatus, _, _) = await demo.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "error" } });
        Assert.Equal(HttpStatusCode.Forbidden, resetStatus);
    }

    [Fact]
    public async Task Quota_exceeded_is_413_overLimit()
    {
        using var admin = await ClientAsync();
        using var demo = await ClientAsync("demo");
        var project = (await demo.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail")).AsObject();
        Assert.NotNull(project);
        var demoProject = await DemoProjectIdAsync(admin);
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{demoProject}", new JsonObject { ["quota_set"] = new JsonObject { ["gigabytes"] = 3 } });
        var (status, json, _) = await demo.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 4 } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.StartsWith("VolumeSizeExceedsAvailableQuota", json!["overLimit"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var quota = await demo.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{demoProject}?usage=true");
        Assert.Equal(3, quota["quota_set"]!["gigabytes"]!["limit"]!.GetValue<int>());
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/os-quota-sets/{demoProject}");
    }

    [Fact]
    public async Task Sixteen_parallel_creates_over_the_volume_quota_let_exactly_the_quota_succeed()
    {
        // A project of its own, so the quota cannot meet another test's volumes.
        using var admin = await ClientAsync();
        using var own = await fixture.NewProjectClientAsync("quota-race");
        var (scoped, project) = (own.Api, own.ProjectId);
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{project}",
            new JsonObject { ["quota_set"] = new JsonObject { ["volumes"] = 5, ["gigabytes"] = 1000 } });

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => scoped.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = $"race-{i}" } })));
        Assert.True(results.Count(r => r.Status == HttpStatusCode.Accepted) == 5,
            string.Join(", ", results.GroupBy(r => r.Status).Select(g => $"{(int)g.Key} x{g.Count()}")));
        Assert.Equal(11, results.Count(r => r.Status == HttpStatusCode.RequestEntityTooLarge));
        var listed = await scoped.SendAsync(HttpMethod.Get, "/volume/v3/volumes");
        Assert.Equal(5, listed["volumes"]!.AsArray().Count);
        var usage = await scoped.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{project}?usage=true");
        Assert.Equal(5, usage["quota_set"]!["volumes"]!["in_use"]!.GetValue<int>());
    }

    private static async Task<string> DemoProjectIdAsync(ApiClient admin)
    {
        var projects = await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=demo");
        return projects["projects"]![0]!["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task Snapshot_keeps_data_written_through_the_connection_and_a_volume_from_it_has_the_same_bytes()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        var a = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments",
            new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString(), ["connector"] = Connector("writer") } }, apiVersion: V354);
        var target = fixture.TargetOf(a["attachment"]!["connection_info"]!);
        (await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", "write -P 0xab 1M 64k", target])).EnsureSuccess();
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{a["attachment"]!["id"]}", apiVersion: V354);

        var snap = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots", new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = id, ["name"] = "s1" } }, HttpStatusCode.Accepted);
        var snapId = snap["snapshot"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{snapId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);

        var (deleteStatus, _, _) = await api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}");
        Assert.Equal(HttpStatusCode.BadRequest, deleteStatus);

        var copy = await CreateAvailableAsync(api, new JsonObject { ["snapshot_id"] = snapId });
        var read = await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", "read -P 0xab 1M 64k", fixture.VolumeTarget(copy)]);
        Assert.Contains("read 65536/65536", read.EnsureSuccess().StdOut, StringComparison.Ordinal);
        if (fixture.OnCeph)
        {
            // Cinder's rbd rule: the copy is a clone of the snapshot, which is busy (and stays available) until the copy goes.
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapId}", expect: HttpStatusCode.Accepted);
            await api.WaitForAsync($"/volume/v3/snapshots/{snapId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{copy}", expect: HttpStatusCode.Accepted);
            await api.WaitGoneAsync($"/volume/v3/volumes/{copy}", s_wait);
        }

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapId}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/snapshots/{snapId}", s_wait);
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
    }

    [Fact]
    public async Task Get_pools_shows_the_backend_pool_and_its_real_free_space()
    {
        using var api = await ClientAsync();
        var pool = (await api.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools?detail=true"))["pools"]!.AsArray().Single()!;
        Assert.EndsWith(fixture.OnCeph ? $"@rbd#{fixture.Ceph!.Pool}" : "@file#file", pool["name"]!.GetValue<string>(), StringComparison.Ordinal);
        var capabilities = pool["capabilities"]!;
        Assert.Equal(fixture.OnCeph ? "ceph" : "nbd", capabilities["storage_protocol"]!.GetValue<string>());
        var free = capabilities["free_capacity_gb"]!.GetValue<double>();
        Assert.True(free > 0 && capabilities["total_capacity_gb"]!.GetValue<double>() >= free, capabilities.ToJsonString());
        if (!fixture.OnCeph)
        {
            // The filesystem of DATA/volumes, read now (other tests write to it too: within a GiB).
            var drive = new DriveInfo(Path.Combine(fixture.DataDir, "volumes"));
            Assert.InRange(free, drive.AvailableFreeSpace / (double)(1L << 30) - 1, drive.AvailableFreeSpace / (double)(1L << 30) + 1);
        }

        // Allocated and provisioned: the sizes of the volumes in the pool (those of a failed create aside), as the
        // volume list shows them; a new 3 GiB volume adds 3. Tests of this class run one at a time, so the sum holds.
        async Task<long> ListedGigabytesAsync() =>
            (await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail?all_tenants=1"))["volumes"]!.AsArray()
                .Where(v => v!["status"]!.GetValue<string>() != "error").Sum(v => v!["size"]!.GetValue<long>());
        Assert.Equal(await ListedGigabytesAsync(), capabilities["allocated_capacity_gb"]!.GetValue<long>());
        Assert.Equal(capabilities["allocated_capacity_gb"]!.GetValue<long>(), capabilities["provisioned_capacity_gb"]!.GetValue<long>());
        Assert.Equal("20.0", capabilities["max_over_subscription_ratio"]!.GetValue<string>());
        Assert.Equal(0, capabilities["reserved_percentage"]!.GetValue<int>());
        Assert.True(capabilities["thin_provisioning_support"]!.GetValue<bool>());
        var before = capabilities["allocated_capacity_gb"]!.GetValue<long>();
        var added = await CreateAvailableAsync(api, new JsonObject { ["size"] = 3 });
        var after = (await api.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools?detail=true"))["pools"]![0]!["capabilities"]!;
        Assert.Equal(before + 3, after["allocated_capacity_gb"]!.GetValue<long>());
        Assert.Equal(before + 3, after["provisioned_capacity_gb"]!.GetValue<long>());
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{added}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{added}", s_wait);

        // As an admin reads it with Debian's cinderclient (openstackclient 6.0 has no pool command).
        var shown = (await Cli.RunAsync("cinder", ["get-pools", "--detail"], fixture.OpenRc())).EnsureSuccess().StdOut;
        Assert.Contains($"| name ", shown, StringComparison.Ordinal);
        Assert.Contains(pool["name"]!.GetValue<string>(), shown, StringComparison.Ordinal);
        Assert.Contains($"| {capabilities["storage_protocol"]!.GetValue<string>()} ", shown, StringComparison.Ordinal);
        Assert.Matches(@"\| allocated_capacity_gb\s+\| \d+\s+\|", shown);
    }

    [Fact]
    public async Task Legacy_actions_reserve_attach_initialize_begin_and_roll_detaching()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1 });
        async Task<string> StatusAsync() => (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["status"]!.GetValue<string>();
        Task ActAsync(string action, JsonObject args, HttpStatusCode expect = HttpStatusCode.Accepted) =>
            api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { [action] = args }, expect);

        await ActAsync("os-reserve", new JsonObject());
        Assert.Equal("attaching", await StatusAsync());
        var init = await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-initialize_connection"] = new JsonObject { ["connector"] = Connector("legacy") } });
        Assert.Equal(fixture.DriverVolumeType(), init["connection_info"]!["driver_volume_type"]!.GetValue<string>());
        Assert.NotNull(init["connection_info"]!["data"]![fixture.OnCeph ? "name" : "export_name"]);
        await ActAsync("os-attach", new JsonObject { ["instance_uuid"] = Guid.NewGuid().ToString(), ["mountpoint"] = "/dev/vdc" });
        Assert.Equal("in-use", await StatusAsync());
        await ActAsync("os-begin_detaching", new JsonObject());
        Assert.Equal("detaching", await StatusAsync());
        await ActAsync("os-roll_detaching", new JsonObject());
        Assert.Equal("in-use", await StatusAsync());
        await ActAsync("os-detach", new JsonObject());
        await ActAsync("os-terminate_connection", new JsonObject { ["connector"] = Connector("legacy") });
        Assert.Equal("available", await StatusAsync());
    }

    [Fact]
    public async Task Metadata_post_merges_put_replaces_for_volumes_and_snapshots()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["metadata"] = new JsonObject { ["a"] = "1" } });

        var merged = await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["b"] = "2" } });
        Assert.Equal(["a", "b"], merged["metadata"]!.AsObject().Select(p => p.Key).Order());
        var replaced = await api.SendAsync(HttpMethod.Put, $"/volume/v3/volumes/{id}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["c"] = "3" } });
        Assert.Equal(["c"], replaced["metadata"]!.AsObject().Select(p => p.Key));
        Assert.Equal("3", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}/metadata/c"))["meta"]!["c"]!.GetValue<string>());
        var (bad, _, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["n"] = 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, bad);

        var snapshot = (await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = id, ["metadata"] = new JsonObject { ["s"] = "1" } } }, HttpStatusCode.Accepted))["snapshot"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{snapshot}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        var snapMerged = await api.SendAsync(HttpMethod.Post, $"/volume/v3/snapshots/{snapshot}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["t"] = "2" } });
        Assert.Equal(["s", "t"], snapMerged["metadata"]!.AsObject().Select(p => p.Key).Order());
        var snapReplaced = await api.SendAsync(HttpMethod.Put, $"/volume/v3/snapshots/{snapshot}/metadata", new JsonObject { ["metadata"] = new JsonObject() });
        Assert.Empty(snapReplaced["metadata"]!.AsObject());
    }

    [Fact]
    public async Task Concurrent_metadata_keys_and_renames_are_all_kept()
    {
        using var api = await ClientAsync();
        var id = await CreateAvailableAsync(api, new JsonObject { ["size"] = 1, ["name"] = "before" });

        // 24 keys set at once, one request each, while the volume is renamed: every key and the new name survive.
        var keys = Enumerable.Range(0, 24).Select(i => $"k{i:00}").ToList();
        var writes = keys.Select(k => api.SendAsync(HttpMethod.Put, $"/volume/v3/volumes/{id}/metadata/{k}",
            new JsonObject { ["meta"] = new JsonObject { [k] = "v" } })).ToList();
        writes.Add(api.SendAsync(HttpMethod.Put, $"/volume/v3/volumes/{id}", new JsonObject { ["volume"] = new JsonObject { ["name"] = "after" } }));
        await Task.WhenAll(writes);

        var volume = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!;
        Assert.Equal("after", volume["name"]!.GetValue<string>());
        Assert.Equal(keys, volume["metadata"]!.AsObject().Select(p => p.Key).Order());

        // The class shares one project's volume quota.
        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
    }
}
