using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Runs <see cref="VolumeGroupApiCases"/> on SQLite.</summary>
public sealed class VolumeGroupApiTests(EmberFixture fixture) : VolumeGroupApiCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="VolumeGroupApiCases"/> on PostgreSQL.</summary>
public sealed class PostgresVolumeGroupApiTests(PostgresEmberFixture fixture) : VolumeGroupApiCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>Cinder's generic volume group APIs (3.11+): group types and their group specs (issue 18).</summary>
public abstract class VolumeGroupApiCases(EmberFixture fixture)
{
    private const string V311 = "volume 3.11";

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static string MessageOf(JsonNode? error) => error!.AsObject().Single().Value!["message"]!.GetValue<string>();

    private static async Task<string> CreateGroupTypeAsync(ApiClient admin, string name, bool isPublic = true) =>
        (await admin.SendAsync(HttpMethod.Post, "/volume/v3/group_types",
            new JsonObject { ["group_type"] = new JsonObject { ["name"] = name, ["is_public"] = isPublic } }, HttpStatusCode.Accepted, V311))
            ["group_type"]!["id"]!.GetValue<string>();

    private static async Task<List<string>> GroupTypeNamesAsync(ApiClient client, string query) =>
        [.. (await client.SendAsync(HttpMethod.Get, "/volume/v3/group_types" + query, apiVersion: V311))["group_types"]!.AsArray()
            .Select(t => t!["name"]!.GetValue<string>())];

    [Fact]
    public async Task Group_types_are_created_listed_updated_and_deleted_with_cinders_rules()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var name = Unique("a-gt");
        var created = (await admin.SendAsync(HttpMethod.Post, "/volume/v3/group_types", new JsonObject
        {
            ["group_type"] = new JsonObject
            {
                ["name"] = name,
                ["description"] = "first",
                ["is_public"] = true,
                ["group_specs"] = new JsonObject { ["consistent_group_snapshot_enabled"] = "<is> False" },
            },
        }, HttpStatusCode.Accepted, V311))["group_type"]!;
        var id = created["id"]!.GetValue<string>();
        Assert.Equal(["description", "group_specs", "id", "is_public", "name"], created.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("<is> False", created["group_specs"]!["consistent_group_snapshot_enabled"]!.GetValue<string>());

        // Below 3.11 the resource does not exist; a taken name is a 409, a blank one a 400.
        var (old, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/volume/v3/group_types", apiVersion: "volume 3.10");
        Assert.Equal(HttpStatusCode.NotFound, old);
        var (taken, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/volume/v3/group_types",
            new JsonObject { ["group_type"] = new JsonObject { ["name"] = name } }, V311);
        Assert.Equal(HttpStatusCode.Conflict, taken);
        var (blank, blankBody, _) = await admin.TrySendAsync(HttpMethod.Post, "/volume/v3/group_types",
            new JsonObject { ["group_type"] = new JsonObject { ["name"] = "  " } }, V311);
        Assert.Equal(HttpStatusCode.BadRequest, blank);
        Assert.Equal("Group type name can not be empty.", MessageOf(blankBody));

        // is_public filters (absent: public only; "None": both), sort orders by name.
        var privateName = Unique("b-gt");
        var privateId = await CreateGroupTypeAsync(admin, privateName, isPublic: false);
        Assert.Contains(name, await GroupTypeNamesAsync(admin, ""));
        Assert.DoesNotContain(privateName, await GroupTypeNamesAsync(admin, ""));
        Assert.Contains(privateName, await GroupTypeNamesAsync(admin, "?is_public=False"));
        Assert.DoesNotContain(name, await GroupTypeNamesAsync(admin, "?is_public=False"));
        var both = await GroupTypeNamesAsync(admin, "?is_public=None&sort=name:asc");
        Assert.True(both.IndexOf(name) < both.IndexOf(privateName));
        both = await GroupTypeNamesAsync(admin, "?is_public=None&sort=name:desc");
        Assert.True(both.IndexOf(privateName) < both.IndexOf(name));
        var (badSort, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/volume/v3/group_types?sort=volume_type:asc", apiVersion: V311);
        Assert.Equal(HttpStatusCode.BadRequest, badSort);

        // A member sees public types without their specs, never a private one, and manages none.
        using var member = await fixture.NewProjectClientAsync("gt-member");
        var memberList = (await member.Api.SendAsync(HttpMethod.Get, "/volume/v3/group_types", apiVersion: V311))["group_types"]!.AsArray();
        var seen = Assert.Single(memberList, t => t!["id"]!.GetValue<string>() == id)!;
        Assert.Null(seen["group_specs"]);
        Assert.DoesNotContain(memberList, t => t!["id"]!.GetValue<string>() == privateId);
        var (hidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/group_types/{privateId}", apiVersion: V311);
        Assert.Equal(HttpStatusCode.NotFound, hidden);
        var (forbidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Post, "/volume/v3/group_types",
            new JsonObject { ["group_type"] = new JsonObject { ["name"] = Unique("gt") } }, V311);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        var (specsForbidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/group_types/{id}/group_specs", apiVersion: V311);
        Assert.Equal(HttpStatusCode.Forbidden, specsForbidden);

        // Update: the fields given change, an empty body is Cinder's 400; the default group type is not configured.
        var renamed = Unique("a-gt-renamed");
        var updated = (await admin.SendAsync(HttpMethod.Put, $"/volume/v3/group_types/{id}",
            new JsonObject { ["group_type"] = new JsonObject { ["name"] = renamed, ["description"] = "second" } }, apiVersion: V311))["group_type"]!;
        Assert.Equal(renamed, updated["name"]!.GetValue<string>());
        Assert.Equal("second", updated["description"]!.GetValue<string>());
        Assert.True(updated["is_public"]!.GetValue<bool>());
        var (empty, emptyBody, _) = await admin.TrySendAsync(HttpMethod.Put, $"/volume/v3/group_types/{id}", new JsonObject { ["group_type"] = new JsonObject() }, V311);
        Assert.Equal(HttpStatusCode.BadRequest, empty);
        Assert.Equal("Specify group type name, description or a combination thereof.", MessageOf(emptyBody));
        var (noDefault, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/volume/v3/group_types/default", apiVersion: V311);
        Assert.Equal(HttpStatusCode.NotFound, noDefault);

        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/group_types/{id}", expect: HttpStatusCode.Accepted, apiVersion: V311);
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/group_types/{privateId}", expect: HttpStatusCode.Accepted, apiVersion: V311);
        var (gone, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/group_types/{id}", apiVersion: V311);
        Assert.Equal(HttpStatusCode.NotFound, gone);
        Assert.DoesNotContain(renamed, await GroupTypeNamesAsync(admin, "?is_public=None"));
    }

    [Fact]
    public async Task Group_specs_are_set_shown_updated_and_deleted_one_key_at_a_time()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var id = await CreateGroupTypeAsync(admin, Unique("gt-specs"));
        var path = $"/volume/v3/group_types/{id}/group_specs";
        var set = await admin.SendAsync(HttpMethod.Post, path, new JsonObject { ["group_specs"] = new JsonObject { ["key1"] = "value1", ["key2"] = "value2" } },
            HttpStatusCode.Accepted, V311);
        Assert.Equal("{\"group_specs\":{\"key1\":\"value1\",\"key2\":\"value2\"}}", set.ToJsonString());
        set = await admin.SendAsync(HttpMethod.Post, path, new JsonObject { ["group_specs"] = new JsonObject { ["key2"] = "changed", ["key3"] = "value3" } },
            HttpStatusCode.Accepted, V311);
        Assert.Equal("{\"group_specs\":{\"key2\":\"changed\",\"key3\":\"value3\"}}", set.ToJsonString());

        var item = await admin.SendAsync(HttpMethod.Put, $"{path}/key3", new JsonObject { ["key3"] = "value3-updated" }, apiVersion: V311);
        Assert.Equal("{\"key3\":\"value3-updated\"}", item.ToJsonString());
        var (mismatch, mismatchBody, _) = await admin.TrySendAsync(HttpMethod.Put, $"{path}/key3", new JsonObject { ["key4"] = "v" }, V311);
        Assert.Equal(HttpStatusCode.BadRequest, mismatch);
        Assert.Equal("Request body and URI mismatch", MessageOf(mismatchBody));
        Assert.Equal("{\"key2\":\"changed\"}", (await admin.SendAsync(HttpMethod.Get, $"{path}/key2", apiVersion: V311)).ToJsonString());

        var all = (await admin.SendAsync(HttpMethod.Get, path, apiVersion: V311))["group_specs"]!.AsObject();
        Assert.Equal(["key1", "key2", "key3"], all.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("value3-updated", all["key3"]!.GetValue<string>());

        foreach (var key in new[] { "key1", "key2", "key3" })
        {
            await admin.SendAsync(HttpMethod.Delete, $"{path}/{key}", expect: HttpStatusCode.Accepted, apiVersion: V311);
            var (missing, missingBody, _) = await admin.TrySendAsync(HttpMethod.Get, $"{path}/{key}", apiVersion: V311);
            Assert.Equal(HttpStatusCode.NotFound, missing);
            Assert.Equal($"Group Type {id} has no specs with key {key}.", MessageOf(missingBody));
        }

        var (deleteMissing, _, _) = await admin.TrySendAsync(HttpMethod.Delete, $"{path}/key1", apiVersion: V311);
        Assert.Equal(HttpStatusCode.NotFound, deleteMissing);
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/group_types/{id}", expect: HttpStatusCode.Accepted, apiVersion: V311);
    }
}
