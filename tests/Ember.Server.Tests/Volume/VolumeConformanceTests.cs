using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Volume;

/// <summary>Runs <see cref="VolumeConformanceCases"/> on SQLite.</summary>
public sealed class VolumeConformanceTests(EmberFixture fixture) : VolumeConformanceCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="VolumeConformanceCases"/> on PostgreSQL.</summary>
public sealed class PostgresVolumeConformanceTests(PostgresEmberFixture fixture) : VolumeConformanceCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>The volume API's answers where Tempest's schemas and tests found Ember different from Cinder (issue 18).</summary>
public abstract class VolumeConformanceCases(EmberFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static async Task<string> CreateAvailableAsync(ApiClient api, JsonObject volume)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = volume }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static List<string> Keys(JsonNode node) => [.. node.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Type_bodies_have_the_keys_of_tempests_schemas()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var name = "conf-" + Guid.NewGuid().ToString("N")[..8];
        var created = (await admin.SendAsync(HttpMethod.Post, "/volume/v3/types",
            new JsonObject { ["volume_type"] = new JsonObject { ["name"] = name, ["extra_specs"] = new JsonObject { ["k"] = "v" } } }))["volume_type"]!;
        // create: no qos_specs_id (Tempest's create_volume_type has additionalProperties false without it).
        Assert.Equal(["description", "extra_specs", "id", "is_public", "name", "os-volume-type-access:is_public"], Keys(created));
        var id = created["id"]!.GetValue<string>();

        // update: neither qos_specs_id nor the type-access key.
        var updated = (await admin.SendAsync(HttpMethod.Put, $"/volume/v3/types/{id}",
            new JsonObject { ["volume_type"] = new JsonObject { ["description"] = "d" } }))["volume_type"]!;
        Assert.Equal(["description", "extra_specs", "id", "is_public", "name"], Keys(updated));

        // show and list: an admin sees qos_specs_id, as Cinder's view shows it.
        var shown = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{id}"))["volume_type"]!;
        Assert.Equal(["description", "extra_specs", "id", "is_public", "name", "os-volume-type-access:is_public", "qos_specs_id"], Keys(shown));
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/types/{id}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Readonly_flag_shows_in_the_volume_metadata_as_true_or_false()
    {
        using var own = await fixture.NewProjectClientAsync("readonly");
        var id = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1, ["metadata"] = new JsonObject { ["k"] = "v" } });
        var before = (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["metadata"]!;
        Assert.Equal(["k"], Keys(before));

        foreach (var flag in new[] { true, false })
        {
            await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action",
                new JsonObject { ["os-update_readonly_flag"] = new JsonObject { ["readonly"] = flag } }, HttpStatusCode.Accepted);
            var metadata = (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["metadata"]!;
            Assert.Equal(flag ? "True" : "False", metadata["readonly"]!.GetValue<string>());
            Assert.Equal("v", metadata["k"]!.GetValue<string>());
            var listed = (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail"))["volumes"]!.AsArray().Single(v => v!["id"]!.GetValue<string>() == id)!;
            Assert.Equal(flag ? "True" : "False", listed["metadata"]!["readonly"]!.GetValue<string>());
        }

        // The user's own metadata API does not show the admin key, as in Cinder.
        Assert.Equal(["k"], Keys((await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}/metadata"))["metadata"]!));
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Volume_summary_counts_sizes_and_metadata_from_312_and_336()
    {
        using var own = await fixture.NewProjectClientAsync("summary");
        var a = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1, ["metadata"] = new JsonObject { ["tier"] = "gold" } });
        var b = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 2, ["metadata"] = new JsonObject { ["tier"] = "silver", ["x"] = "1" } });
        var c = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 3, ["metadata"] = new JsonObject { ["tier"] = "gold" } });

        await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/summary", apiVersion: "volume 3.11", expect: HttpStatusCode.NotFound);
        var plain = (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/summary", apiVersion: "volume 3.12"))["volume-summary"]!;
        Assert.Equal(["total_count", "total_size"], Keys(plain));
        Assert.Equal(3, plain["total_count"]!.GetValue<int>());
        Assert.Equal(6, plain["total_size"]!.GetValue<int>());

        var withMetadata = (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/summary", apiVersion: "volume 3.36"))["volume-summary"]!;
        Assert.Equal(["gold", "silver"], withMetadata["metadata"]!["tier"]!.AsArray().Select(v => v!.GetValue<string>()).Order());
        Assert.Equal(["1"], withMetadata["metadata"]!["x"]!.AsArray().Select(v => v!.GetValue<string>()));

        var filtered = (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/summary?metadata={'tier':'gold'}", apiVersion: "volume 3.36"))["volume-summary"]!;
        Assert.Equal(2, filtered["total_count"]!.GetValue<int>());
        Assert.Equal(4, filtered["total_size"]!.GetValue<int>());

        foreach (var id in new[] { a, b, c })
        {
            await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        }
    }

    [Fact]
    public async Task Full_pages_link_to_the_next_as_tempests_pagination_test_walks_them()
    {
        using var own = await fixture.NewProjectClientAsync("pages");
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add(await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 }));
        }

        foreach (var list in new[] { "/volume/v3/volumes", "/volume/v3/volumes/detail" })
        {
            // Tempest's _test_pagination: limit 1, every page but the empty last one links on.
            var path = $"{list}?limit=1";
            var seen = new List<string>();
            var pages = 0;
            while (path is not null)
            {
                Assert.True(++pages < 10);
                var body = await own.Api.SendAsync(HttpMethod.Get, path);
                var items = body["volumes"]!.AsArray();
                seen.AddRange(items.Select(v => v!["id"]!.GetValue<string>()));
                var next = body["volumes_links"]?.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]?.GetValue<string>();
                Assert.Equal(items.Count == 1, next is not null);
                if (next is not null)
                {
                    Assert.StartsWith(fixture.BaseUrl + list + "?", next, StringComparison.Ordinal);
                }

                path = next is null ? null : new Uri(next).PathAndQuery;
            }

            Assert.Equal(5, pages);
            Assert.Equal(ids.Order(), seen.Order());
        }

        foreach (var id in ids)
        {
            await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        }
    }

    [Fact]
    public async Task Volume_views_carry_the_fields_of_361_363_and_365()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var id = await CreateAvailableAsync(admin, new JsonObject { ["size"] = 1 });
        var old = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}", apiVersion: "volume 3.54"))["volume"]!.AsObject();
        Assert.False(old.ContainsKey("volume_type_id") || old.ContainsKey("consumes_quota") || old.ContainsKey("cluster_name"));

        var shown = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}", apiVersion: "volume 3.70"))["volume"]!.AsObject();
        var type = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/types/default"))["volume_type"]!;
        Assert.Equal(type["id"]!.GetValue<string>(), shown["volume_type_id"]!.GetValue<string>());
        Assert.True(shown["consumes_quota"]!.GetValue<bool>());
        Assert.True(shown.ContainsKey("cluster_name"));
        Assert.False(shown.ContainsKey("encryption_key_id"));

        using var member = await fixture.NewProjectClientAsync("fields");
        var own = await CreateAvailableAsync(member.Api, new JsonObject { ["size"] = 1 });
        Assert.False((await member.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{own}", apiVersion: "volume 3.70"))["volume"]!.AsObject().ContainsKey("cluster_name"));
        Assert.Empty((await member.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?consumes_quota=false", apiVersion: "volume 3.65"))["volumes"]!.AsArray());
        Assert.Single((await member.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?consumes_quota=true", apiVersion: "volume 3.65"))["volumes"]!.AsArray());

        await member.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{own}", expect: HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Time_comparison_filters_of_360_pick_volumes_by_created_at()
    {
        using var own = await fixture.NewProjectClientAsync("times");
        var first = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });
        var between = (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{first}"))["volume"]!["created_at"]!.GetValue<string>();
        await Task.Delay(20);
        var second = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });

        async Task<List<string>> ListAsync(string filter, string version = "volume 3.60") =>
            [.. (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?" + filter, apiVersion: version))["volumes"]!.AsArray().Select(v => v!["id"]!.GetValue<string>())];

        Assert.Equal([second], await ListAsync($"created_at=gt:{between}"));
        Assert.Equal([first], await ListAsync($"created_at=lte:{between}"));
        Assert.Empty(await ListAsync($"created_at=gt:{between},lt:{between}"));
        Assert.Equal(2, (await ListAsync("updated_at=gte:2000-01-01T00:00:00")).Count);
        // Below 3.60 the filter is not Cinder's, so it filters nothing here.
        Assert.Equal(2, (await ListAsync($"created_at=gt:{between}", "volume 3.59")).Count);

        var (status, _, text) = await own.Api.TrySendAsync(HttpMethod.Get, "/volume/v3/volumes?created_at=bigger:2000-01-01", apiVersion: "volume 3.60");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Invalid bigger operator", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Get, "/volume/v3/volumes?created_at=gt:yesterday", apiVersion: "volume 3.60")).Status);

        foreach (var id in new[] { first, second })
        {
            await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        }
    }

    [Fact]
    public async Task A_projects_default_type_of_362_is_used_by_creates_without_a_type()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var own = await fixture.NewProjectClientAsync("default-type");
        var name = "dt-" + Guid.NewGuid().ToString("N")[..8];
        var typeId = (await admin.SendAsync(HttpMethod.Post, "/volume/v3/types", new JsonObject { ["volume_type"] = new JsonObject { ["name"] = name } }))["volume_type"]!["id"]!.GetValue<string>();

        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/default-types/{own.ProjectId}",
            new JsonObject { ["default_type"] = new JsonObject { ["volume_type"] = name } }, HttpStatusCode.NotFound, apiVersion: "volume 3.61");
        var set = await admin.SendAsync(HttpMethod.Put, $"/volume/v3/default-types/{own.ProjectId}",
            new JsonObject { ["default_type"] = new JsonObject { ["volume_type"] = name } }, apiVersion: "volume 3.62");
        Assert.Equal(typeId, set["default_type"]!["volume_type_id"]!.GetValue<string>());
        Assert.Equal(own.ProjectId, set["default_type"]!["project_id"]!.GetValue<string>());

        // The project's member sees its own default, not the list of all; admins see both.
        Assert.Equal(typeId, (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/default-types/{own.ProjectId}", apiVersion: "volume 3.62"))["default_type"]!["volume_type_id"]!.GetValue<string>());
        await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/default-types", expect: HttpStatusCode.Forbidden, apiVersion: "volume 3.62");
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, "/volume/v3/default-types", apiVersion: "volume 3.62"))["default_types"]!.AsArray(),
            d => d!["project_id"]!.GetValue<string>() == own.ProjectId);

        var id = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });
        Assert.Equal(name, (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["volume_type"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/types/{typeId}", expect: HttpStatusCode.BadRequest);

        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/default-types/{own.ProjectId}", expect: HttpStatusCode.NoContent, apiVersion: "volume 3.62");
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/default-types/{own.ProjectId}", expect: HttpStatusCode.NotFound, apiVersion: "volume 3.62");
        var other = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });
        Assert.Equal("__DEFAULT__", (await own.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{other}"))["volume"]!["volume_type"]!.GetValue<string>());

        foreach (var v in new[] { id, other })
        {
            await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{v}", expect: HttpStatusCode.Accepted);
            await own.Api.WaitGoneAsync($"/volume/v3/volumes/{v}", s_wait);
        }

        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/types/{typeId}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Snapshots_from_366_refuse_force_false_and_need_no_force_on_an_in_use_volume()
    {
        using var own = await fixture.NewProjectClientAsync("snap-force");
        var id = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });
        JsonObject Body(bool? force)
        {
            var snapshot = new JsonObject { ["volume_id"] = id };
            if (force is { } f)
            {
                snapshot["force"] = f;
            }

            return new JsonObject { ["snapshot"] = snapshot };
        }

        var (refused, _, text) = await own.Api.TrySendAsync(HttpMethod.Post, "/volume/v3/snapshots", Body(false), apiVersion: "volume 3.66");
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("3.66", text, StringComparison.Ordinal);
        var snapshot = (await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots", Body(false), HttpStatusCode.Accepted, apiVersion: "volume 3.65"))["snapshot"]!;
        Assert.True(snapshot["consumes_quota"]!.GetValue<bool>());
        var snapshotId = snapshot["id"]!.GetValue<string>();
        await own.Api.WaitForAsync($"/volume/v3/snapshots/{snapshotId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapshotId}", expect: HttpStatusCode.Accepted);
        await own.Api.WaitGoneAsync($"/volume/v3/snapshots/{snapshotId}", s_wait);

        // An in-use volume: force was needed below 3.66, and is not from it.
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action",
            new JsonObject { ["os-attach"] = new JsonObject { ["instance_uuid"] = Guid.NewGuid().ToString(), ["mountpoint"] = "/dev/vdb" } }, HttpStatusCode.Accepted);
        await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots", Body(null), HttpStatusCode.BadRequest, apiVersion: "volume 3.65");
        var inUse = (await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots", Body(null), HttpStatusCode.Accepted, apiVersion: "volume 3.66"))["snapshot"]!["id"]!.GetValue<string>();
        await own.Api.WaitForAsync($"/volume/v3/snapshots/{inUse}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{inUse}", expect: HttpStatusCode.Accepted);
        await own.Api.WaitGoneAsync($"/volume/v3/snapshots/{inUse}", s_wait);
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-detach"] = new JsonObject() }, HttpStatusCode.Accepted);
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Reimage_of_368_writes_the_image_over_the_volume()
    {
        using var own = await fixture.NewProjectClientAsync("reimage");
        var id = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });

        var image = (await own.Api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "reimage", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var data = new byte[64 * 1024];
        Random.Shared.NextBytes(data);
        using (var content = new ByteArrayContent(data))
        {
            content.Headers.ContentType = new("application/octet-stream");
            using var put = await own.Api.Http.PutAsync($"/image/v2/images/{image}/file", content);
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        var action = new JsonObject { ["os-reimage"] = new JsonObject { ["image_id"] = image } };
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", action, HttpStatusCode.NotFound, apiVersion: "volume 3.67");
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", action.DeepClone(), HttpStatusCode.Accepted, apiVersion: "volume 3.68");
        var done = (await own.Api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() is "available" or "error", s_wait))["volume"]!;
        Assert.Equal("available", done["status"]!.GetValue<string>());
        Assert.Equal("true", done["bootable"]!.GetValue<string>());
        Assert.Equal(image, done["volume_image_metadata"]!["image_id"]!.GetValue<string>());
        var path = fixture.Host.Services.GetRequiredService<FileBackend>().ExportPath(id);
        Assert.Equal(1L << 30, new FileInfo(path).Length);
        var head = new byte[data.Length];
        await using (var file = File.OpenRead(path))
        {
            await file.ReadExactlyAsync(head);
        }

        Assert.Equal(data, head);

        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action",
            new JsonObject { ["os-reimage"] = new JsonObject { ["image_id"] = Guid.NewGuid().ToString() } }, HttpStatusCode.NotFound, apiVersion: "volume 3.68");

        // A volume with snapshots is refused: they hold its old data.
        var snapshot = (await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = id } }, HttpStatusCode.Accepted))["snapshot"]!["id"]!.GetValue<string>();
        await own.Api.WaitForAsync($"/volume/v3/snapshots/{snapshot}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", action.DeepClone(), HttpStatusCode.BadRequest, apiVersion: "volume 3.68");
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapshot}", expect: HttpStatusCode.Accepted);
        await own.Api.WaitGoneAsync($"/volume/v3/snapshots/{snapshot}", s_wait);
        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
        await own.Api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{image}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Snapshots_sort_by_display_name_and_a_null_volume_id_is_not_found()
    {
        using var own = await fixture.NewProjectClientAsync("snapsort");
        var id = await CreateAvailableAsync(own.Api, new JsonObject { ["size"] = 1 });
        var snapshots = new List<string>();
        foreach (var name in new[] { "b", "a" })
        {
            var created = await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
                new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = id, ["name"] = name } }, HttpStatusCode.Accepted);
            snapshots.Add(created["snapshot"]!["id"]!.GetValue<string>());
            await own.Api.WaitForAsync($"/volume/v3/snapshots/{snapshots[^1]}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        }

        // Tempest's snapshot list tests sort by Cinder's column name display_name (test_snapshot_list_param_sort_name_*).
        var sorted = await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/snapshots?sort_key=display_name&sort_dir=asc");
        Assert.Equal(["a", "b"], sorted["snapshots"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
        var volumes = await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?sort=display_name:desc");
        Assert.Single(volumes["volumes"]!.AsArray());

        // Cinder's schema requires volume_id but allows null, which is then no volume: 404; a missing key stays a 400.
        await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = null, ["name"] = "x" } }, HttpStatusCode.NotFound);
        await own.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["name"] = "x" } }, HttpStatusCode.BadRequest);

        foreach (var snapshot in snapshots)
        {
            await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapshot}", expect: HttpStatusCode.Accepted);
            await own.Api.WaitGoneAsync($"/volume/v3/snapshots/{snapshot}", s_wait);
        }

        await own.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
    }
}
