using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Cinder's list paging, sorting and filters on SQLite.</summary>
public sealed class VolumeListTests(EmberFixture fixture) : VolumeListCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Cinder's list paging, sorting and filters on PostgreSQL.</summary>
public sealed class PostgresVolumeListTests(PostgresEmberFixture fixture) : VolumeListCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// GET /volumes, /snapshots and /attachments filter, sort and page in SQL: a marker walk visits every row exactly
/// once in each sort order, even where many rows share the sort key. Each test lists a project of its own.
/// </summary>
public abstract class VolumeListCases(EmberFixture fixture)
{
    private const string V354 = "volume 3.54";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private static readonly string[] s_volumeSortKeys = ["created_at", "updated_at", "id", "name", "size", "status"];

    [Fact]
    public async Task Volume_walks_by_marker_visit_every_row_once_in_every_sort_order()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var own = await fixture.NewProjectClientAsync("volume-list");
        // Names and sizes repeat, so most rows tie on the sort key and the order rests on the tie-breaks.
        var ids = await CreateVolumesAsync(own.Api, ["b", "a", "b", "a", "c", "a", "b"], [1, 2, 1, 1, 2, 1, 1]);

        // The admin lists the project through all_tenants and project_id: exactly its seven volumes.
        var scope = $"all_tenants=1&project_id={own.ProjectId}";
        var orders = s_volumeSortKeys.SelectMany(k => new[] { $"sort={k}:asc", $"sort={k}:desc" })
            .Concat(["sort=name", "sort_key=name&sort_dir=asc", "sort=name:asc,size:desc", "sort=size:asc,name:asc", ""]);
        foreach (var order in orders)
        {
            var all = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/detail?{scope}&{order}"))["volumes"]!.AsArray();
            Assert.Equal(ids.Order(), all.Select(IdOf).Order());
            AssertSorted(all, order);
            var walked = await admin.WalkPagesAsync($"/volume/v3/volumes/detail?{scope}&{order}&limit=3", "volumes");
            Assert.Equal(all.Select(IdOf), walked);
        }

        // The project's own member sees the same seven without all_tenants; the admin without it sees none of them.
        var owned = await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes");
        Assert.Equal(ids.Order(), owned["volumes"]!.AsArray().Select(IdOf).Order());
        var adminOwn = await admin.SendAsync(HttpMethod.Get, "/volume/v3/volumes");
        Assert.DoesNotContain(adminOwn["volumes"]!.AsArray(), v => ids.Contains(IdOf(v)));
        var everyone = await admin.SendAsync(HttpMethod.Get, "/volume/v3/volumes?all_tenants=1");
        Assert.Subset(everyone["volumes"]!.AsArray().Select(IdOf).ToHashSet(), ids.ToHashSet());

        await DeleteVolumesAsync(own.Api, ids);
    }

    [Fact]
    public async Task Volume_filters_count_and_offset_apply_before_the_page()
    {
        using var own = await fixture.NewProjectClientAsync("volume-filter");
        var ids = await CreateVolumesAsync(own.Api, ["a", "b", "a", "b", "a"], [1, 1, 1, 1, 1]);
        // Keys with dots and brackets are plain keys, not JSON paths.
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{ids[0]}/metadata",
            new JsonObject { ["metadata"] = new JsonObject { ["tier"] = "gold", ["a.b[0]"] = "x y" } });
        await own.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{ids[1]}/metadata", new JsonObject { ["metadata"] = new JsonObject { ["tier"] = "gold" } });

        async Task<List<string>> ListAsync(string query) =>
            [.. (await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?" + query))["volumes"]!.AsArray().Select(IdOf)];

        Assert.Equal([ids[0], ids[2], ids[4]], await ListAsync("name=a&sort=created_at:asc"));
        Assert.Equal([ids[0], ids[1]], await ListAsync("metadata={'tier':'gold'}&sort=created_at:asc"));
        Assert.Equal([ids[0]], await ListAsync("metadata=" + Uri.EscapeDataString("{\"tier\":\"gold\",\"a.b[0]\":\"x y\"}")));
        Assert.Empty(await ListAsync("metadata={'tier':'silver'}"));
        Assert.Equal(5, (await ListAsync("status=available&bootable=false")).Count);
        Assert.Empty(await ListAsync("status=creating"));

        // A page of a filtered list: the marker walk stays within the filter, and the count is of all matches.
        var page = await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?name=a&limit=2&with_count=true&sort=created_at:asc", apiVersion: "volume 3.45");
        Assert.Equal(3, page["count"]!.GetValue<int>());
        Assert.Equal([ids[0], ids[2]], page["volumes"]!.AsArray().Select(IdOf));
        Assert.Equal([ids[0], ids[2], ids[4]], await own.Api.WalkPagesAsync("/volume/v3/volumes?name=a&limit=2&sort=created_at:asc", "volumes"));

        // A last page that is exactly full links to an empty page, as in Cinder (Tempest's pagination test counts on it).
        var exact = await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?name=a&limit=3");
        var after = new Uri(exact["volumes_links"]![0]!["href"]!.GetValue<string>()).PathAndQuery;
        Assert.Empty((await own.Api.SendAsync(HttpMethod.Get, after))["volumes"]!.AsArray());
        Assert.Null((await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?name=a&limit=4"))["volumes_links"]);
        Assert.Equal([ids[2], ids[3]], await ListAsync("sort=created_at:asc&offset=2&limit=2"));
        Assert.Equal([ids[3], ids[4]], await ListAsync($"sort=created_at:asc&marker={ids[0]}&offset=2"));

        await DeleteVolumesAsync(own.Api, ids);
    }

    [Fact]
    public async Task Bad_sort_keys_are_400_and_unknown_markers_404_in_every_list()
    {
        using var own = await fixture.NewProjectClientAsync("volume-list-errors");
        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var id = (await CreateVolumesAsync(own.Api, ["x"], [1]))[0];
        var injection = "size;DROP TABLE volumes";
        foreach (var list in new[] { "volumes", "volumes/detail", "snapshots", "snapshots/detail", "attachments", "attachments/detail" })
        {
            var (badKey, json, text) = await own.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/{list}?sort={Uri.EscapeDataString(injection)}:asc", apiVersion: V354);
            Assert.True(badKey == HttpStatusCode.BadRequest, list + ": " + text);
            Assert.Equal($"Invalid input received: Invalid sort key {injection}", json!["badRequest"]!["message"]!.GetValue<string>());
            var (badDir, _, _) = await own.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/{list}?sort_key=id&sort_dir=sideways", apiVersion: V354);
            Assert.Equal(HttpStatusCode.BadRequest, badDir);

            var marker = Guid.NewGuid().ToString();
            var (unknown, notFound, _) = await own.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/{list}?marker={marker}", apiVersion: V354);
            Assert.Equal(HttpStatusCode.NotFound, unknown);
            Assert.Equal($"Marker {marker} could not be found.", notFound!["itemNotFound"]!["message"]!.GetValue<string>());
        }

        // Another project's volume is no marker for demo: its position is not to be learnt.
        var (foreign, _, _) = await demo.TrySendAsync(HttpMethod.Get, $"/volume/v3/volumes?marker={id}");
        Assert.Equal(HttpStatusCode.NotFound, foreign);
        Assert.Empty((await own.Api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?limit=0"))["volumes"]!.AsArray());

        await DeleteVolumesAsync(own.Api, [id]);
    }

    [Fact]
    public async Task Snapshot_and_attachment_walks_visit_every_row_once()
    {
        using var own = await fixture.NewProjectClientAsync("snapshot-list");
        var api = own.Api;
        var ids = await CreateVolumesAsync(api, ["v", "v", "v"], [1, 1, 1]);

        var snapshots = new List<string>();
        foreach (var name in new[] { "s", "t", "s", "s" })
        {
            var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
                new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = ids[0], ["name"] = name } }, HttpStatusCode.Accepted);
            snapshots.Add(created["snapshot"]!["id"]!.GetValue<string>());
        }

        foreach (var id in snapshots)
        {
            await api.WaitForAsync($"/volume/v3/snapshots/{id}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);
        }

        foreach (var order in new[] { "", "sort=name:asc", "sort=name:desc", "sort=size", "sort=id:asc", "sort=created_at:asc" })
        {
            var all = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/snapshots/detail?{order}"))["snapshots"]!.AsArray();
            Assert.Equal(snapshots.Order(), all.Select(IdOf).Order());
            AssertSorted(all, order);
            Assert.Equal(all.Select(IdOf), await api.WalkPagesAsync($"/volume/v3/snapshots/detail?{order}&limit=3", "snapshots"));
        }

        Assert.Equal(3, (await api.SendAsync(HttpMethod.Get, $"/volume/v3/snapshots?name=s&volume_id={ids[0]}"))["snapshots"]!.AsArray().Count);

        // One reservation on each volume.
        var attachments = new List<string>();
        foreach (var id in ids)
        {
            var a = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments",
                new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = id, ["instance_uuid"] = Guid.NewGuid().ToString() } }, apiVersion: V354);
            attachments.Add(a["attachment"]!["id"]!.GetValue<string>());
        }

        foreach (var order in new[] { "", "sort=volume_id:desc", "sort=attach_status:asc", "sort=instance_uuid" })
        {
            var all = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments?{order}", apiVersion: V354))["attachments"]!.AsArray();
            Assert.Equal(attachments.Order(), all.Select(IdOf).Order());
            Assert.Equal(all.Select(IdOf), await api.WalkPagesAsync($"/volume/v3/attachments?{order}&limit=2", "attachments", V354));
        }

        var byVolume = await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments?volume_id={ids[1]}&status=reserved", apiVersion: V354);
        Assert.Equal([attachments[1]], byVolume["attachments"]!.AsArray().Select(IdOf));

        foreach (var id in attachments)
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{id}", apiVersion: V354);
        }

        foreach (var id in snapshots)
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{id}", expect: HttpStatusCode.Accepted);
            await api.WaitGoneAsync($"/volume/v3/snapshots/{id}", s_wait);
        }

        await DeleteVolumesAsync(api, ids);
    }

    private static string IdOf(JsonNode? item) => item!["id"]!.GetValue<string>();

    /// <summary>Creates the volumes one after another (so created_at orders them) and waits until all are available.</summary>
    private static async Task<List<string>> CreateVolumesAsync(ApiClient api, string[] names, int[] sizes)
    {
        var ids = new List<string>();
        for (var i = 0; i < names.Length; i++)
        {
            var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
                new JsonObject { ["volume"] = new JsonObject { ["size"] = sizes[i], ["name"] = names[i] } }, HttpStatusCode.Accepted);
            ids.Add(created["volume"]!["id"]!.GetValue<string>());
        }

        foreach (var id in ids)
        {
            await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        }

        return ids;
    }

    private static async Task DeleteVolumesAsync(ApiClient api, IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
            await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
        }
    }


    /// <summary>The list is in the order of its first sort key (sort=key:dir or sort_key/sort_dir; desc when none is given).</summary>
    private static void AssertSorted(JsonArray items, string order)
    {
        var query = System.Web.HttpUtility.ParseQueryString(order);
        var first = (query["sort"] ?? (query["sort_key"] is { } key ? $"{key}:{query["sort_dir"] ?? "desc"}" : "created_at:desc")).Split(',')[0].Split(':');
        var descending = first.Length < 2 || first[1] == "desc";
        var values = items.Select(i => i![first[0]]!).ToList();
        for (var i = 1; i < values.Count; i++)
        {
            var compared = values[i - 1].GetValueKind() == System.Text.Json.JsonValueKind.Number
                ? values[i - 1].GetValue<int>().CompareTo(values[i].GetValue<int>())
                : string.CompareOrdinal(values[i - 1].GetValue<string>(), values[i].GetValue<string>());
            Assert.True(descending ? compared >= 0 : compared <= 0, $"{order}: {values[i - 1]} then {values[i]}");
        }
    }
}
