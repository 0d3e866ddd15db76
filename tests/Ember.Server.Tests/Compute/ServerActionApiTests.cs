using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>Instance actions, lock, resetState, tags, metadata, update and multiple create on SQLite, plus the openstack client.</summary>
public sealed class ServerActionApiTests(FuzzFixture fixture) : ServerActionApiCases(fixture), IClassFixture<FuzzFixture>
{
    private readonly FuzzFixture _fixture = fixture;

    [Fact]
    public async Task Openstack_server_event_list_and_show_read_the_actions()
    {
        using var admin = new ApiClient(await _fixture.ClientAsync());
        var (image, flavor) = await _fixture.ImageAndFlavorAsync(admin, "ev");
        var server = await CreateAsync(admin, "ev-" + Guid.NewGuid().ToString("N")[..6], image, flavor);
        await admin.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);

        Task<CliResult> OpenStackAsync(params string[] args) => _fixture.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.62", .. args]);
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["lock", "create"], events.Select(e => e!["Action"]!.GetValue<string>()));
        var requestId = events[1]!["Request ID"]!.GetValue<string>();
        var shown = (await OpenStackAsync("server", "event", "show", server, requestId, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("create", shown["action"]!.GetValue<string>());
        Assert.Contains("compute__do_build_and_run_instance", shown["events"]!.ToJsonString(), StringComparison.Ordinal);
        await admin.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }
}

/// <summary>The same cases on PostgreSQL.</summary>
public sealed class PostgresServerActionApiTests(PostgresFuzzFixture fixture) : ServerActionApiCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// Nova's server lifecycle APIs that need no running guest: QEMU fails at the host here, so a server gets a host and
/// then goes ERROR there (its build event fails), which is enough for the action log, the lock, resetState, tags,
/// metadata, the update view and the list filters. Pause and suspend of a real guest are in <see cref="ServerPowerActionTests"/>.
/// </summary>
public abstract class ServerActionApiCases(FuzzFixture fixture)
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const string V262 = "compute 2.62";
    private const string V273 = "compute 2.73";

    [Fact]
    public async Task Every_action_is_recorded_with_its_events_and_stays_readable_after_the_delete()
    {
        using var own = await fixture.NewProjectClientAsync("ia");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "ia");
        var server = await CreateAsync(own.Api, "ia", image, flavor);
        await own.Api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        // The build event finishes after the row says ERROR: wait for its result too.
        var create = await WaitForEventResultAsync(own.Api, server, "create");
        Assert.Equal("Error", create["message"]!.GetValue<string>());
        Assert.Equal(own.ProjectId, create["project_id"]!.GetValue<string>());
        Assert.Equal(server, create["instance_uuid"]!.GetValue<string>());
        Assert.StartsWith("req-", create["request_id"]!.GetValue<string>(), StringComparison.Ordinal);
        var build = Assert.Single(create["events"]!.AsArray())!;
        Assert.Equal("compute__do_build_and_run_instance", build["event"]!.GetValue<string>());
        Assert.Equal("Error", build["result"]!.GetValue<string>());
        Assert.NotNull(build["finish_time"]);
        // 2.62: hostId for everyone, the host name and the traceback for admins only.
        Assert.Equal(56, build["hostId"]!.GetValue<string>().Length);
        Assert.False(build.AsObject().ContainsKey("host"));
        Assert.False(build.AsObject().ContainsKey("traceback"));
        var requestId = create["request_id"]!.GetValue<string>();
        var adminView = (await admin.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions/{requestId}", apiVersion: V262))["instanceAction"]!;
        Assert.False(string.IsNullOrEmpty(adminView["events"]![0]!["host"]!.GetValue<string>()));
        Assert.NotNull(adminView["events"]![0]!["traceback"]);
        // Before 2.51 only an admin sees events.
        var old = (await own.Api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions/{requestId}"))["instanceAction"]!;
        Assert.False(old.AsObject().ContainsKey("events"));
        Assert.False(old.AsObject().ContainsKey("updated_at"));

        await own.Api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        await own.Api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await own.Api.WaitGoneAsync(Path(server), Wait);

        // Nova keeps a deleted server's actions (from 2.21), newest first; 2.58 pages them by request id.
        var actions = (await admin.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions", apiVersion: V262))["instanceActions"]!.AsArray();
        Assert.Equal(["delete", "unlock", "lock", "create"], actions.Select(a => a!["action"]!.GetValue<string>()));
        Assert.All(actions, a => Assert.NotNull(a!["updated_at"]));
        var page = await admin.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions?limit=2", apiVersion: V262);
        Assert.Equal(2, page["instanceActions"]!.AsArray().Count);
        var next = page["links"]![0]!["href"]!.GetValue<string>();
        var rest = await admin.SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery, apiVersion: V262);
        Assert.Equal(["lock", "create"], rest["instanceActions"]!.AsArray().Select(a => a!["action"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.TrySendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions", apiVersion: "compute 2.20")).Status);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await admin.TrySendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions?changes-since=2011/01/01", apiVersion: V262)).Status);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions?changes-since=2999-01-01T00:00:00Z",
            apiVersion: V262))["instanceActions"]!.AsArray());

        // Another project's member sees nothing of it.
        using var other = await fixture.NewProjectClientAsync("ia-other");
        Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions", apiVersion: V262)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await own.Api.TrySendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions/req-none", apiVersion: V262)).Status);
    }

    [Fact]
    public async Task A_locked_server_refuses_members_and_an_admins_lock_needs_an_admin_to_lift()
    {
        using var own = await fixture.NewProjectClientAsync("lock");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "lock");
        var server = await CreateAsync(own.Api, "lk", image, flavor);
        await own.Api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);

        await own.Api.SendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["lock"] = new JsonObject { ["locked_reason"] = "maintenance" } }, HttpStatusCode.Accepted, V273);
        var shown = (await own.Api.SendAsync(HttpMethod.Get, Path(server), apiVersion: V273))["server"]!;
        Assert.True(shown["locked"]!.GetValue<bool>());
        Assert.Equal("maintenance", shown["locked_reason"]!.GetValue<string>());
        Assert.Equal([server], await IdsAsync(own.Api, "/compute/v2.1/servers/detail?locked=true", V273));
        Assert.Empty(await IdsAsync(own.Api, "/compute/v2.1/servers/detail?locked=false", V273));

        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Delete, Path(server));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Instance {server} is locked", json!["conflictingRequest"]!["message"]!.GetValue<string>());
        (status, _, _) = await own.Api.TrySendAsync(HttpMethod.Put, Path(server) + "/metadata/k", new JsonObject { ["meta"] = new JsonObject { ["k"] = "v" } });
        Assert.Equal(HttpStatusCode.Conflict, status);

        // The owner's lock is the owner's to lift; an admin's is not.
        await own.Api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("unlock_override", json!["forbidden"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null((await own.Api.SendAsync(HttpMethod.Get, Path(server), apiVersion: V273))["server"]!["locked_reason"]);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);
        Assert.False((await own.Api.SendAsync(HttpMethod.Get, Path(server), apiVersion: "compute 2.9"))["server"]!["locked"]!.GetValue<bool>());

        // A reason longer than Nova's 255 characters is a 400.
        (status, _, _) = await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["lock"] = new JsonObject { ["locked_reason"] = new string('x', 256) } }, V273);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Actions_follow_novas_state_machine_and_reset_state_is_for_admins()
    {
        using var own = await fixture.NewProjectClientAsync("state");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "state");
        var server = await CreateAsync(own.Api, "st", image, flavor);
        await own.Api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);

        // (Nova's stop is allowed from error, so it is not among them.)
        foreach (var action in new[] { "pause", "unpause", "suspend", "resume", "os-start", "reboot" })
        {
            var argument = action == "reboot" ? new JsonObject { ["type"] = "HARD" } : null;
            var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { [action] = argument });
            Assert.Equal(HttpStatusCode.Conflict, status);
            var name = action.StartsWith("os-", StringComparison.Ordinal) ? action[3..] : action;
            Assert.Equal($"Cannot '{name}' instance {server} while it is in vm_state error", json!["conflictingRequest"]!["message"]!.GetValue<string>());
        }

        var reset = new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } };
        Assert.Equal(HttpStatusCode.Forbidden, (await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", reset)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "paused" } })).Status);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", reset, HttpStatusCode.Accepted);
        var shown = (await own.Api.SendAsync(HttpMethod.Get, Path(server)))["server"]!;
        Assert.Equal("ACTIVE", Status(shown));

        // From active, unpause and resume are still refused (they need paused and suspended).
        var (unpause, body, _) = await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unpause"] = null });
        Assert.Equal(HttpStatusCode.Conflict, unpause);
        Assert.Equal($"Cannot 'unpause' instance {server} while it is in vm_state active", body!["conflictingRequest"]!["message"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "error" } },
            HttpStatusCode.Accepted);
        Assert.Equal("ERROR", Status(await own.Api.SendAsync(HttpMethod.Get, Path(server))));
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Tags_and_metadata_are_kept_and_filter_the_list()
    {
        using var own = await fixture.NewProjectClientAsync("tags");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "tags");
        var a = await CreateAsync(api, "ta", image, flavor);
        var b = await CreateAsync(api, "tb", image, flavor);
        await api.WaitForAsync(Path(a), s => Status(s) == "ERROR", Wait);
        await api.WaitForAsync(Path(b), s => Status(s) == "ERROR", Wait);
        const string V226 = "compute 2.26";

        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, Path(a) + "/tags")).Status);
        var put = await api.SendAsync(HttpMethod.Put, Path(a) + "/tags", new JsonObject { ["tags"] = new JsonArray("web", "prod") }, apiVersion: V226);
        Assert.Equal(["prod", "web"], Strings(put["tags"]!));
        await api.SendAsync(HttpMethod.Put, Path(b) + "/tags/web", expect: HttpStatusCode.Created, apiVersion: V226);
        await api.SendAsync(HttpMethod.Put, Path(b) + "/tags/web", expect: HttpStatusCode.NoContent, apiVersion: V226);
        await api.SendAsync(HttpMethod.Get, Path(b) + "/tags/web", expect: HttpStatusCode.NoContent, apiVersion: V226);
        await api.SendAsync(HttpMethod.Get, Path(b) + "/tags/prod", expect: HttpStatusCode.NotFound, apiVersion: V226);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Put, Path(b) + "/tags", new JsonObject { ["tags"] = new JsonArray("a,b") }, V226)).Status);
        Assert.Equal(["prod", "web"], Strings((await api.SendAsync(HttpMethod.Get, Path(a), apiVersion: V226))["server"]!["tags"]!));

        var servers = "/compute/v2.1/servers";
        Assert.Equal([a], await IdsAsync(api, $"{servers}?tags=web,prod", V226));
        Assert.Equal(new[] { a, b }.Order(), (await IdsAsync(api, $"{servers}?tags-any=web", V226)).Order());
        Assert.Equal([b], await IdsAsync(api, $"{servers}?not-tags=prod", V226));
        Assert.Empty(await IdsAsync(api, $"{servers}?not-tags-any=web", V226));
        await api.SendAsync(HttpMethod.Delete, Path(a) + "/tags/prod", expect: HttpStatusCode.NoContent, apiVersion: V226);
        await api.SendAsync(HttpMethod.Delete, Path(a) + "/tags/prod", expect: HttpStatusCode.NotFound, apiVersion: V226);
        await api.SendAsync(HttpMethod.Delete, Path(a) + "/tags", expect: HttpStatusCode.NoContent, apiVersion: V226);
        Assert.Empty(Strings((await api.SendAsync(HttpMethod.Get, Path(a) + "/tags", apiVersion: V226))["tags"]!));

        // Server metadata: POST merges, PUT replaces, one key at a time by URI. resetState makes the server active: metadata
        // changes need a settled state other than error, as in Nova.
        using (var admin = new ApiClient(await fixture.ClientAsync()))
        {
            await admin.SendAsync(HttpMethod.Post, Path(a) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
                HttpStatusCode.Accepted);
        }

        await api.SendAsync(HttpMethod.Put, Path(a) + "/metadata", new JsonObject { ["metadata"] = new JsonObject { ["a"] = "1", ["b"] = "2" } });
        var merged = await api.SendAsync(HttpMethod.Post, Path(a) + "/metadata", new JsonObject { ["metadata"] = new JsonObject { ["b"] = "3", ["c"] = "4" } });
        Assert.Equal("{\"a\":\"1\",\"b\":\"3\",\"c\":\"4\"}", merged["metadata"]!.ToJsonString());
        Assert.Equal("3", (await api.SendAsync(HttpMethod.Get, Path(a) + "/metadata/b"))["meta"]!["b"]!.GetValue<string>());
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Put, Path(a) + "/metadata/b", new JsonObject { ["meta"] = new JsonObject { ["x"] = "1" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Request body and URI mismatch", json!["badRequest"]!["message"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, Path(a) + "/metadata/a", expect: HttpStatusCode.NoContent);
        await api.SendAsync(HttpMethod.Get, Path(a) + "/metadata/a", expect: HttpStatusCode.NotFound);
        Assert.Equal("{\"b\":\"3\",\"c\":\"4\"}", (await api.SendAsync(HttpMethod.Get, Path(a)))["server"]!["metadata"]!.ToJsonString());

        await api.SendAsync(HttpMethod.Delete, Path(a), expect: HttpStatusCode.NoContent);
        await api.SendAsync(HttpMethod.Delete, Path(b), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Update_answers_novas_update_view_and_keeps_valid_access_ips()
    {
        using var own = await fixture.NewProjectClientAsync("upd");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "upd");
        var body = new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "up", ["imageRef"] = image, ["flavorRef"] = flavor, ["accessIPv6"] = "2001:2001::3" },
        };
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", body, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        Assert.Equal("2001:2001::3", (await api.SendAsync(HttpMethod.Get, Path(server)))["server"]!["accessIPv6"]!.GetValue<string>());

        var updated = (await api.SendAsync(HttpMethod.Put, Path(server),
            new JsonObject { ["server"] = new JsonObject { ["name"] = "renamed", ["accessIPv4"] = "4.5.6.7" } }, apiVersion: V273))["server"]!.AsObject();
        Assert.Equal("renamed", updated["name"]!.GetValue<string>());
        Assert.Equal("4.5.6.7", updated["accessIPv4"]!.GetValue<string>());
        // Nova's update view below 2.75: none of the extended attributes, but the microversion fields.
        Assert.DoesNotContain(updated, p => p.Key.StartsWith("OS-EXT-", StringComparison.Ordinal) || p.Key is "key_name" or "config_drive" or "security_groups");
        Assert.Contains("locked_reason", updated.Select(p => p.Key));
        Assert.Contains("server_groups", updated.Select(p => p.Key));

        foreach (var (key, bad) in new[] { ("accessIPv4", "1.1.1.1.1"), ("accessIPv6", "notv6"), ("accessIPv4", "::1") })
        {
            var (status, _, text) = await api.TrySendAsync(HttpMethod.Put, Path(server), new JsonObject { ["server"] = new JsonObject { [key] = bad } });
            Assert.True(status == HttpStatusCode.BadRequest, text);
        }

        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Min_and_max_count_create_several_servers_or_refuse_clearly()
    {
        using var own = await fixture.NewProjectClientAsync("multi");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "multi");
        JsonObject Body(JsonObject extra)
        {
            var server = new JsonObject { ["name"] = "m", ["imageRef"] = image, ["flavorRef"] = flavor };
            foreach (var (key, value) in extra.ToList())
            {
                extra.Remove(key);
                server[key] = value;
            }

            return new JsonObject { ["server"] = server };
        }

        var reply = await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            Body(new JsonObject { ["min_count"] = 3, ["return_reservation_id"] = true }), HttpStatusCode.Accepted);
        var reservation = reply["reservation_id"]!.GetValue<string>();
        Assert.Matches("^r-[0-9a-f]{8}$", reservation);
        var servers = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/detail?all_tenants=1&project_id={own.ProjectId}", apiVersion: "compute 2.3"))
            ["servers"]!.AsArray();
        Assert.Equal(["m-1", "m-2", "m-3"], servers.Select(s => s!["name"]!.GetValue<string>()).Order());
        Assert.All(servers, s => Assert.Equal(reservation, s!["OS-EXT-SRV-ATTR:reservation_id"]!.GetValue<string>()));
        Assert.Equal([0, 1, 2], servers.Select(s => s!["OS-EXT-SRV-ATTR:launch_index"]!.GetValue<int>()).Order());

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", Body(new JsonObject { ["min_count"] = 3, ["max_count"] = 2 }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("min_count must be <= max_count", json!["badRequest"]!["message"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", Body(new JsonObject { ["max_count"] = 0 }))).Status);

        // Quota: 5 instances, 3 used. max_count 4 makes 2 (Nova creates what fits above min_count); min_count 2 then is a 403.
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = 5 } });
        var first = await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", Body(new JsonObject { ["max_count"] = 4 }), HttpStatusCode.Accepted);
        Assert.NotNull(first["server"]!["id"]);
        Assert.Equal(5, (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers"))["servers"]!.AsArray().Count);
        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", Body(new JsonObject { ["min_count"] = 2 }));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.StartsWith("Quota exceeded for instances", json!["forbidden"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        foreach (var id in await IdsAsync(api, "/compute/v2.1/servers", null))
        {
            await api.SendAsync(HttpMethod.Delete, Path(id), expect: HttpStatusCode.NoContent);
        }
    }

    [Fact]
    public async Task List_filters_flavor_host_and_changes_since_as_nova()
    {
        using var own = await fixture.NewProjectClientAsync("filters");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "filters");
        var server = await CreateAsync(own.Api, "f", image, flavor);
        var shown = await own.Api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        var servers = "/compute/v2.1/servers";
        Assert.Equal([server], await IdsAsync(own.Api, $"{servers}?flavor={flavor}", null));
        Assert.Empty(await IdsAsync(own.Api, $"{servers}?flavor=1", null));
        var host = (await admin.SendAsync(HttpMethod.Get, Path(server)))["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
        Assert.Contains(server, await IdsAsync(admin, $"{servers}?all_tenants=1&host={host}", null));
        Assert.Empty(await IdsAsync(admin, $"{servers}?all_tenants=1&host=nowhere", null));
        Assert.Equal([server], await IdsAsync(admin, $"{servers}?all_tenants=1&tenant_id={own.ProjectId}", null));

        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Get, $"{servers}?changes-since=2011/01/01");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("changes-since", json!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal([server], await IdsAsync(own.Api, $"{servers}?changes-since=2011-01-01T00:00:00Z", null));
        Assert.Empty(await IdsAsync(own.Api, $"{servers}?changes-since=2999-01-01T00:00:00Z", null));
        Assert.Empty(await IdsAsync(own.Api, $"{servers}?changes-before=2011-01-01T00:00:00Z", "compute 2.66"));
        Assert.Equal("ERROR", Status(shown));
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Create_image_checks_like_nova_and_uploads_the_flattened_root_disk_as_a_snapshot_image()
    {
        using var own = await fixture.NewProjectClientAsync("snap");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "snap");
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{image}"))
        {
            patch.Content = new StringContent("""[{"op":"add","path":"/hw_disk_bus","value":"virtio"},{"op":"add","path":"/img_signature","value":"sig"}]""",
                System.Text.Encoding.UTF8, "application/openstack-images-v2.1-json-patch");
            using var patched = await api.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        var server = await CreateAsync(api, "sn", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        JsonObject CreateImage(JsonNode? argument) => new() { ["createImage"] = argument };

        // Nova's vm_states: not from error.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", CreateImage(new JsonObject { ["name"] = "s" }));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'createImage' instance {server} while it is in vm_state error", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        // The body as Nova's schema has it, and the metadata_items quota.
        foreach (var bad in new JsonNode?[]
        {
            null, new JsonObject(), new JsonObject { ["name"] = "" }, new JsonObject { ["name"] = " padded" }, new JsonObject { ["name"] = new string('n', 256) },
            new JsonObject { ["name"] = "s", ["extra"] = 1 }, new JsonObject { ["name"] = "s", ["metadata"] = new JsonObject { ["bad/key"] = "v" } },
            new JsonObject { ["name"] = "s", ["metadata"] = new JsonObject { ["k"] = new string('v', 256) } },
        })
        {
            (status, _, var text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", CreateImage(bad?.DeepClone()));
            Assert.True(status == HttpStatusCode.BadRequest, $"{bad?.ToJsonString()}: {text}");
        }

        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["metadata_items"] = 1 } });
        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            CreateImage(new JsonObject { ["name"] = "s", ["metadata"] = new JsonObject { ["a"] = "1", ["b"] = "2" } }));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Image metadata limit exceeded", json!["forbidden"]!["message"]!.GetValue<string>());

        // Active with its disk on the host (QEMU never ran here: a cold copy). A lock does not stop a snapshot (Nova's too).
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        var reply = await api.SendAsync(HttpMethod.Post, Path(server) + "/action",
            CreateImage(new JsonObject { ["name"] = "snap-1", ["metadata"] = new JsonObject { ["purpose"] = "test" } }), HttpStatusCode.Accepted,
            "compute 2.45");
        var snapshot = reply["image_id"]!.GetValue<string>();
        var made = await api.WaitForAsync($"/image/v2/images/{snapshot}", i => i["status"]!.GetValue<string>() is "active", Wait);
        Assert.Equal("snap-1", made["name"]!.GetValue<string>());
        Assert.Equal("snapshot", made["image_type"]!.GetValue<string>());
        Assert.Equal(server, made["instance_uuid"]!.GetValue<string>());
        Assert.Equal(image, made["base_image_ref"]!.GetValue<string>());
        Assert.Equal(own.ProjectId, made["owner"]!.GetValue<string>());
        Assert.Equal("private", made["visibility"]!.GetValue<string>());
        Assert.Equal("test", made["purpose"]!.GetValue<string>());
        Assert.Equal("virtio", made["hw_disk_bus"]!.GetValue<string>());
        Assert.Null(made["img_signature"]);
        Assert.Equal(1, made["min_disk"]!.GetValue<int>());
        Assert.Equal("qcow2", made["disk_format"]!.GetValue<string>());
        // The flattened copy of a 1 GiB root disk over the 4 KiB base image.
        Assert.Equal(1L << 30, made["virtual_size"]!.GetValue<long>());
        var settled = await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal("ACTIVE", Status(settled));
        var action = await WaitForEventResultAsync(api, server, "createImage");
        var snapshotEvent = Assert.Single(action["events"]!.AsArray())!;
        Assert.Equal("compute_snapshot_instance", snapshotEvent["event"]!.GetValue<string>());
        Assert.Equal("Success", snapshotEvent["result"]!.GetValue<string>());

        // Before 2.45: no body, the image's URL in Location.
        using (var request = new HttpRequestMessage(HttpMethod.Post, Path(server) + "/action"))
        {
            request.Content = new StringContent(CreateImage(new JsonObject { ["name"] = "snap-2" }).ToJsonString(), System.Text.Encoding.UTF8, "application/json");
            request.Headers.Add("OpenStack-API-Version", "compute 2.44");
            using var response = await api.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var location = response.Headers.Location!.ToString();
            var second = location[(location.LastIndexOf('/') + 1)..];
            Assert.EndsWith($"/image/v2/images/{second}", location, StringComparison.Ordinal);
            await api.WaitForAsync($"/image/v2/images/{second}", i => i["status"]!.GetValue<string>() is "active", Wait);
        }

        await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Create_backup_makes_backup_images_and_keeps_the_newest_of_the_rotation()
    {
        using var own = await fixture.NewProjectClientAsync("backup");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "backup");
        var server = await CreateAsync(api, "bk", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        JsonObject Backup(string name, JsonNode? rotation, string? type = "daily") => new()
        {
            ["createBackup"] = new JsonObject { ["name"] = name, ["backup_type"] = type, ["rotation"] = rotation },
        };

        foreach (var bad in new[] { Backup("b", -1), Backup("b", "x"), Backup("b", null), Backup("b", 1, type: null) })
        {
            var (status, _, text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", bad);
            Assert.True(status == HttpStatusCode.BadRequest, $"{bad.ToJsonString()}: {text}");
        }

        // Three backups with a rotation of 2: the first is deleted when the third is taken.
        var made = new List<string>();
        foreach (var name in new[] { "b1", "b2", "b3" })
        {
            var reply = await api.SendAsync(HttpMethod.Post, Path(server) + "/action", Backup(name, 2), HttpStatusCode.Accepted, "compute 2.45");
            made.Add(reply["image_id"]!.GetValue<string>());
            var backup = await api.WaitForAsync($"/image/v2/images/{made[^1]}", i => i["status"]!.GetValue<string>() is "active", Wait);
            Assert.Equal("backup", backup["image_type"]!.GetValue<string>());
            Assert.Equal("daily", backup["backup_type"]!.GetValue<string>());
            Assert.Equal(server, backup["instance_uuid"]!.GetValue<string>());
            await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{made[0]}")).Status);
        var backups = (await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/images/detail?server={server}&type=backup"))["images"]!.AsArray();
        Assert.Equal(made[1..].Order(StringComparer.Ordinal), backups.Select(i => i!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Contains((await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}/os-instance-actions"))["instanceActions"]!.AsArray(),
            a => a!["action"]!.GetValue<string>() == "createBackup");
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_failed_snapshot_deletes_its_image_and_leaves_the_server_as_it_was()
    {
        using var own = await fixture.NewProjectClientAsync("snapfail");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "snapfail");
        var server = await CreateAsync(api, "sf", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        // The root disk is gone from the host: the copy fails there.
        var disk = System.IO.Path.Combine(fixture.DataDir, "instances", server, "disk");
        Assert.True(File.Exists(disk), disk);
        File.Delete(disk);
        var reply = await api.SendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["createImage"] = new JsonObject { ["name"] = "doomed" } }, HttpStatusCode.Accepted, "compute 2.45");
        var snapshot = reply["image_id"]!.GetValue<string>();
        var action = await WaitForEventResultAsync(api, server, "createImage");
        Assert.Equal("Error", action["events"]![0]!["result"]!.GetValue<string>());
        var settled = await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal("ACTIVE", Status(settled));
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{snapshot}")).Status);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_volume_backed_snapshot_is_volume_snapshots_and_an_image_of_their_block_device_mapping()
    {
        using var own = await fixture.NewProjectClientAsync("bfvsnap");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (_, flavor) = await fixture.ImageAndFlavorAsync(api, "bfvsnap");
        var (server, volume) = await VolumeBackedServerAsync(api, flavor, "bfv");
        // As if the guest had run: the server active, its root volume in use.
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "in-use" } }, HttpStatusCode.Accepted);

        // The volume snapshots count in the project's snapshots quota: Nova's OverQuota, a 403, and no image.
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["snapshots"] = 0 } });
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["createImage"] = new JsonObject { ["name"] = "over" } });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Quota exceeded for resources: snapshots", json!["forbidden"]!["message"]!.GetValue<string>());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=over"))["images"]!.AsArray());
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["snapshots"] = 10 } });

        var reply = await api.SendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["createImage"] = new JsonObject { ["name"] = "bfv-snap" } }, HttpStatusCode.Accepted, "compute 2.45");
        var image = await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{reply["image_id"]!.GetValue<string>()}");
        Assert.Equal("active", image["status"]!.GetValue<string>());
        Assert.Equal(0, image["size"]!.GetValue<long>());
        Assert.Equal("snapshot", image["image_type"]!.GetValue<string>());
        Assert.Equal(server, image["instance_uuid"]!.GetValue<string>());
        Assert.Equal("/dev/vda", image["root_device_name"]!.GetValue<string>());
        Assert.Equal("True", image["bdm_v2"]!.GetValue<string>());
        var mapping = Assert.Single(JsonNode.Parse(image["block_device_mapping"]!.GetValue<string>())!.AsArray())!;
        Assert.Equal("snapshot", mapping["source_type"]!.GetValue<string>());
        Assert.Equal("volume", mapping["destination_type"]!.GetValue<string>());
        Assert.Equal(0, mapping["boot_index"]!.GetValue<int>());
        Assert.Equal("/dev/vda", mapping["device_name"]!.GetValue<string>());
        Assert.Equal(1, mapping["volume_size"]!.GetValue<int>());
        var snapshot = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/snapshots/{mapping["snapshot_id"]!.GetValue<string>()}"))["snapshot"]!;
        Assert.Equal(volume, snapshot["volume_id"]!.GetValue<string>());
        Assert.Equal("snapshot for bfv-snap", snapshot["name"]!.GetValue<string>());
        var actions = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions"))["instanceActions"]!.AsArray();
        Assert.Equal("createImage", actions[0]!["action"]!.GetValue<string>());

        // The server's vm_state still rules: not while it is in error.
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "error" } },
            HttpStatusCode.Accepted);
        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["createImage"] = new JsonObject { ["name"] = "again" } });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'createImage' instance {server} while it is in vm_state error", json!["conflictingRequest"]!["message"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_volume_backed_snapshot_image_boots_a_server_on_new_volumes_of_its_snapshots_merged_with_the_request()
    {
        using var own = await fixture.NewProjectClientAsync("bfvboot");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (_, flavor) = await fixture.ImageAndFlavorAsync(api, "bfvboot");
        async Task<string> VolumeAsync(string name)
        {
            var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = name } },
                HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
            await api.WaitForAsync($"/volume/v3/volumes/{id}", v => v["volume"]!["status"]!.GetValue<string>() == "available", Wait);
            return id;
        }

        static JsonObject Mapping(string volume, int bootIndex, string? device, bool deleteOnTermination) => new()
        {
            ["boot_index"] = bootIndex,
            ["uuid"] = volume,
            ["source_type"] = "volume",
            ["destination_type"] = "volume",
            ["device_name"] = device,
            ["delete_on_termination"] = deleteOnTermination,
        };

        // The first server: a root volume (deleted with its server) and a data volume on vdb.
        var (root, data, other) = (await VolumeAsync("root"), await VolumeAsync("data"), await VolumeAsync("other"));
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{root}/action",
            new JsonObject { ["os-set_bootable"] = new JsonObject { ["bootable"] = true } }, HttpStatusCode.OK);
        var first = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "bfv-first",
                ["flavorRef"] = flavor,
                ["block_device_mapping_v2"] = new JsonArray(Mapping(root, 0, null, true), Mapping(data, 1, "/dev/vdb", false)),
            },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        await api.WaitForAsync(Path(first), s => Status(s) == "ERROR", Wait);
        // As if the guest had run: the server active, its volumes in use.
        await admin.SendAsync(HttpMethod.Post, Path(first) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        foreach (var volume in new[] { root, data })
        {
            await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
                new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "in-use" } }, HttpStatusCode.Accepted);
        }

        var imageId = (await api.SendAsync(HttpMethod.Post, Path(first) + "/action",
            new JsonObject { ["createImage"] = new JsonObject { ["name"] = "bfv-boot-snap" } }, HttpStatusCode.Accepted, "compute 2.45"))["image_id"]!
            .GetValue<string>();
        var image = await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{imageId}");
        var mappings = JsonNode.Parse(image["block_device_mapping"]!.GetValue<string>())!.AsArray();
        Assert.Equal(2, mappings.Count);
        var snapshots = mappings.ToDictionary(m => m!["device_name"]!.GetValue<string>(), m => m!["snapshot_id"]!.GetValue<string>());
        foreach (var snapshot in snapshots.Values)
        {
            await api.WaitForAsync($"/volume/v3/snapshots/{snapshot}", s => s["snapshot"]!["status"]!.GetValue<string>() == "available", Wait);
        }

        // Booting the image: the root comes from the root's snapshot; the request's own vdb overrides the image's.
        var second = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "bfv-second",
                ["imageRef"] = imageId,
                ["flavorRef"] = flavor,
                ["block_device_mapping_v2"] = new JsonArray(Mapping(other, 1, "/dev/vdb", false)),
            },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var shown = await api.WaitForAsync(Path(second), s => Status(s) == "ERROR", Wait);
        Assert.Equal(imageId, shown["server"]!["image"]!["id"]!.GetValue<string>());
        var attachments = (await api.SendAsync(HttpMethod.Get, $"{Path(second)}/os-volume_attachments"))["volumeAttachments"]!
            .AsArray().ToDictionary(a => a!["device"]!.GetValue<string>(), a => a!["volumeId"]!.GetValue<string>());
        Assert.Equal(["/dev/vda", "/dev/vdb"], attachments.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(other, attachments["/dev/vdb"]);
        var newRoot = attachments["/dev/vda"];
        Assert.NotEqual(root, newRoot);
        var rootVolume = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{newRoot}"))["volume"]!;
        Assert.Equal(snapshots["/dev/vda"], rootVolume["snapshot_id"]!.GetValue<string>());
        Assert.Equal(1, rootVolume["size"]!.GetValue<int>());
        Assert.DoesNotContain((await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail"))["volumes"]!.AsArray(),
            v => v!["snapshot_id"]?.GetValue<string>() == snapshots["/dev/vdb"]);

        // delete_on_termination as the image recorded it: the new root goes with the server, the request's volume stays.
        await api.SendAsync(HttpMethod.Delete, Path(second), expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync($"/volume/v3/volumes/{newRoot}", Wait);
        await api.WaitForAsync($"/volume/v3/volumes/{other}", v => v["volume"]!["status"]!.GetValue<string>() == "available", Wait);

        // The image's size checks: a root volume smaller than the image's min_disk is Nova's 400.
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{imageId}"))
        {
            patch.Content = new StringContent("""[{"op":"replace","path":"/min_disk","value":5}]""", System.Text.Encoding.UTF8,
                "application/openstack-images-v2.1-json-patch");
            using var patched = await api.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "bfv-small", ["imageRef"] = imageId, ["flavorRef"] = flavor },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Volume is smaller than the minimum size specified in image metadata. Volume size is {1L << 30} bytes, minimum size is {5L << 30} bytes.",
            json!["badRequest"]!["message"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, Path(first), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Rebuild_checks_like_nova_replaces_the_root_overlay_and_answers_the_server_with_its_new_password()
    {
        using var own = await fixture.NewProjectClientAsync("rb");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "rb");
        var (newImage, _) = await fixture.ImageAndFlavorAsync(api, "rb2");
        var server = await CreateAsync(api, "rb", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        JsonObject Rebuild(JsonNode? argument) => new() { ["rebuild"] = argument };

        // Nova's schema and checks: imageRef required, no ephemeral disks to preserve, fields by microversion, a known image and key.
        foreach (var (bad, version) in new (JsonNode?, string)[]
        {
            (null, "compute 2.1"), (new JsonObject(), "compute 2.1"), (new JsonObject { ["imageRef"] = newImage, ["preserve_ephemeral"] = true }, "compute 2.1"),
            (new JsonObject { ["imageRef"] = newImage, ["description"] = "d" }, "compute 2.18"),
            (new JsonObject { ["imageRef"] = newImage, ["key_name"] = "nope" }, "compute 2.54"),
            (new JsonObject { ["imageRef"] = newImage, ["user_data"] = "not base64!" }, "compute 2.57"),
            (new JsonObject { ["imageRef"] = Guid.NewGuid().ToString() }, "compute 2.1"),
        })
        {
            var (status, _, text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", Rebuild(bad?.DeepClone()), version);
            Assert.True(status == HttpStatusCode.BadRequest, $"{bad?.ToJsonString()} at {version}: {text}");
        }

        var (preserved, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            Rebuild(new JsonObject { ["imageRef"] = newImage, ["preserve_ephemeral"] = true }));
        Assert.Equal(HttpStatusCode.BadRequest, preserved);
        Assert.Equal("The current driver does not support preserving ephemeral partitions.", json!["badRequest"]!["message"]!.GetValue<string>());

        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        (var locked, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", Rebuild(new JsonObject { ["imageRef"] = newImage }));
        Assert.Equal(HttpStatusCode.Conflict, locked);
        Assert.Equal($"Instance {server} is locked", json!["conflictingRequest"]!["message"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);

        // Whatever was on the root disk is gone after the rebuild: the host makes a fresh overlay on the new image.
        var disk = System.IO.Path.Combine(fixture.DataDir, "instances", server, "disk");
        Assert.True(File.Exists(disk), disk);
        await File.WriteAllTextAsync(disk, "marker");
        var reply = (await api.SendAsync(HttpMethod.Post, Path(server) + "/action", Rebuild(new JsonObject
        {
            ["imageRef"] = $"http://glance.example/v2/images/{newImage}",
            ["name"] = "rebuilt",
            ["adminPass"] = "new-secret-1",
            ["metadata"] = new JsonObject { ["role"] = "web" },
            ["description"] = "second life",
            ["user_data"] = Convert.ToBase64String("#!/bin/sh\n"u8),
            ["accessIPv4"] = "192.0.2.7",
        }), HttpStatusCode.Accepted, "compute 2.57"))["server"]!;
        Assert.Equal(newImage, reply["image"]!["id"]!.GetValue<string>());
        Assert.Equal("new-secret-1", reply["adminPass"]!.GetValue<string>());
        Assert.Equal("rebuilt", reply["name"]!.GetValue<string>());
        Assert.Equal("web", reply["metadata"]!["role"]!.GetValue<string>());
        Assert.Equal("second life", reply["description"]!.GetValue<string>());
        Assert.Equal("192.0.2.7", reply["accessIPv4"]!.GetValue<string>());

        // QEMU fails on this host, so the rebuilt server goes ERROR again; its event is the rebuild's.
        var action = await WaitForEventResultAsync(api, server, "rebuild");
        var rebuildEvent = Assert.Single(action["events"]!.AsArray())!;
        Assert.Equal("compute_rebuild_instance", rebuildEvent["event"]!.GetValue<string>());
        var settled = await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal(newImage, settled["server"]!["image"]!["id"]!.GetValue<string>());
        var head = new byte[4];
        await using (var file = File.OpenRead(disk))
        {
            await file.ReadExactlyAsync(head);
        }

        Assert.Equal(new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xfb }, head);

        // A generated password when none is given.
        var again = (await api.SendAsync(HttpMethod.Post, Path(server) + "/action", Rebuild(new JsonObject { ["imageRef"] = image }),
            HttpStatusCode.Accepted))["server"]!;
        Assert.Equal(12, again["adminPass"]!.GetValue<string>().Length);
        await WaitForEventResultAsync(api, server, "rebuild");
        await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task A_volume_backed_rebuild_re_images_the_root_volume_in_place_from_2_93_only()
    {
        using var own = await fixture.NewProjectClientAsync("vbrb");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "vbrb");
        var (server, root) = await VolumeBackedServerAsync(api, flavor, "vbrb");
        // As if the guest had run: its root volume in use.
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{root}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "in-use" } }, HttpStatusCode.Accepted);

        // Below 2.93 Nova refuses a new image for a volume-backed server.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["rebuild"] = new JsonObject { ["imageRef"] = image } }, "compute 2.73");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Image {image} is unacceptable: Unable to rebuild with a different image for a volume-backed server.",
            json!["badRequest"]!["message"]!.GetValue<string>());

        // The compute service's rebuild, as the API asks it at 2.93 (MicroversionApiTests covers the HTTP side).
        var services = fixture.Host.Services;
        var compute = services.GetRequiredService<Ember.Server.Compute.ComputeService>();
        var store = services.GetRequiredService<Ember.Server.Compute.ComputeStore>();
        var userId = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=admin"))["users"]![0]!["id"]!.GetValue<string>();
        var caller = new Ember.Server.Common.RequestContext(userId, "admin", "default", own.ProjectId, null, ["member"], DateTime.MaxValue);
        var row = (await store.FindServerAsync(server))!;
        var oldAttachment = Assert.Single(await store.ListBdmsAsync(server)).AttachmentId;
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{image}"))
        {
            patch.Content = new StringContent("""[{"op":"replace","path":"/min_disk","value":2}]""", System.Text.Encoding.UTF8,
                "application/openstack-images-v2.1-json-patch");
            using var patched = await api.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        var tooSmall = await Assert.ThrowsAsync<Ember.Server.Common.ApiException>(() =>
            compute.RebuildAsync(caller, "req-" + Guid.NewGuid(), row, row with { ImageId = image }, "pw-1", reimageBootVolume: true));
        Assert.Equal($"Volume is smaller than the minimum size specified in image metadata. Volume size is {1L << 30} bytes, minimum size is {2L << 30} bytes.",
            tooSmall.Message);
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{image}"))
        {
            patch.Content = new StringContent("""[{"op":"replace","path":"/min_disk","value":0}]""", System.Text.Encoding.UTF8,
                "application/openstack-images-v2.1-json-patch");
            using var patched = await api.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        // The volume's data is replaced by the image's (4 KiB of zeros); it keeps its id and gets a new attachment.
        var volumeFile = fixture.VolumeTarget(root);
        await using (var file = new FileStream(volumeFile, FileMode.Open, FileAccess.Write))
        {
            await file.WriteAsync("marker"u8.ToArray());
        }

        var rebuilt = await compute.RebuildAsync(caller, "req-" + Guid.NewGuid(), row, row with { ImageId = image, Name = "vbrb-2" }, "pw-1",
            reimageBootVolume: true);
        Assert.Equal(image, rebuilt.ImageId);
        var action = await WaitForEventResultAsync(api, server, "rebuild");
        Assert.Equal("compute_rebuild_instance", action["events"]![0]!["event"]!.GetValue<string>());
        var settled = await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal(image, settled["server"]!["image"]!["id"]!.GetValue<string>());
        Assert.Equal("vbrb-2", settled["server"]!["name"]!.GetValue<string>());
        var volume = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{root}"))["volume"]!;
        Assert.Equal(image, volume["volume_image_metadata"]!["image_id"]!.GetValue<string>());
        var attachment = Assert.Single(volume["attachments"]!.AsArray())!;
        Assert.Equal(server, attachment["server_id"]!.GetValue<string>());
        Assert.NotEqual(oldAttachment, attachment["attachment_id"]!.GetValue<string>());
        Assert.Equal(attachment["attachment_id"]!.GetValue<string>(), Assert.Single(await store.ListBdmsAsync(server)).AttachmentId);
        var head = new byte[6];
        await using (var file = File.OpenRead(volumeFile))
        {
            await file.ReadExactlyAsync(head);
        }

        Assert.Equal(new byte[6], head);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Resize_checks_like_nova_keeps_the_old_disk_until_confirm_or_revert()
    {
        using var own = await fixture.NewProjectClientAsync("rs");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "rs");
        var bigger = "rs-big-" + Guid.NewGuid().ToString("N")[..8];
        var smaller = "rs-small-" + Guid.NewGuid().ToString("N")[..8];
        var wider = "rs-wide-" + Guid.NewGuid().ToString("N")[..8];
        foreach (var (id, disk, vcpus) in new[] { (bigger, 2, 1), (smaller, 0, 1), (wider, 1, 4) })
        {
            await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
                new JsonObject { ["flavor"] = new JsonObject { ["name"] = id, ["ram"] = 64, ["vcpus"] = vcpus, ["disk"] = disk, ["id"] = id } });
        }

        var server = await CreateAsync(api, "rs", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        JsonObject Resize(string flavorRef) => new() { ["resize"] = new JsonObject { ["flavorRef"] = flavorRef } };
        async Task<(HttpStatusCode, string)> TryAsync(JsonObject body)
        {
            var (status, json, text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", body);
            return (status, json is JsonObject o && o.FirstOrDefault().Value?["message"] is { } m ? m.GetValue<string>() : text);
        }

        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'resize' instance {server} while it is in vm_state error"), await TryAsync(Resize(bigger)));
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        Assert.Equal((HttpStatusCode.BadRequest, "When resizing, instances must change flavor!"), await TryAsync(Resize(flavor)));
        Assert.Equal((HttpStatusCode.BadRequest, "Server disk was unable to be resized because: Unable to resize disk down."), await TryAsync(Resize(smaller)));
        Assert.Equal(HttpStatusCode.BadRequest, (await TryAsync(Resize("no-such-flavor"))).Item1);
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'confirmResize' instance {server} while it is in vm_state active"),
            await TryAsync(new JsonObject { ["confirmResize"] = null }));
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["cores"] = 2 } });
        var (overQuota, message) = await TryAsync(Resize(wider));
        Assert.Equal(HttpStatusCode.Forbidden, overQuota);
        Assert.StartsWith("Quota exceeded for cores: Requested 3", message, StringComparison.Ordinal);

        // QEMU never ran here: the root disk is kept aside and grown, the server waits in VERIFY_RESIZE on the new flavor.
        var dir = System.IO.Path.Combine(fixture.DataDir, "instances", server);
        var rootSize = new FileInfo(System.IO.Path.Combine(dir, "disk")).Length;
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", Resize(bigger), HttpStatusCode.Accepted);
        var resized = await api.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal("VERIFY_RESIZE", Status(resized));
        Assert.Equal(bigger, resized["server"]!["flavor"]!["id"]!.GetValue<string>());
        Assert.True(File.Exists(System.IO.Path.Combine(dir, "disk.resize-orig")));
        var resizeAction = await WaitForEventResultAsync(api, server, "resize");
        Assert.Equal("compute_resize_instance", resizeAction["events"]![0]!["event"]!.GetValue<string>());
        Assert.Equal("Success", resizeAction["events"]![0]!["result"]!.GetValue<string>());
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'resize' instance {server} while it is in vm_state resized"), await TryAsync(Resize(flavor)));

        // Revert: the old flavor and the kept disk back.
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["revertResize"] = null }, HttpStatusCode.Accepted);
        var reverted = await api.WaitForAsync(Path(server), s => Status(s) is not ("VERIFY_RESIZE" or "REVERT_RESIZE"), Wait);
        Assert.Equal("SHUTOFF", Status(reverted));
        Assert.Equal(flavor, reverted["server"]!["flavor"]!["id"]!.GetValue<string>());
        Assert.False(File.Exists(System.IO.Path.Combine(dir, "disk.resize-orig")));
        Assert.Equal(rootSize, new FileInfo(System.IO.Path.Combine(dir, "disk")).Length);

        // Resize again and confirm (204): the new flavor stays, the kept disk goes.
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", Resize(bigger), HttpStatusCode.Accepted);
        await api.WaitForAsync(Path(server), s => Status(s) == "VERIFY_RESIZE" && s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["confirmResize"] = null }, HttpStatusCode.NoContent);
        var confirmed = await api.WaitForAsync(Path(server), s => Status(s) == "SHUTOFF", Wait);
        Assert.Equal(bigger, confirmed["server"]!["flavor"]!["id"]!.GetValue<string>());
        Assert.False(File.Exists(System.IO.Path.Combine(dir, "disk.resize-orig")));
        var actions = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions"))["instanceActions"]!.AsArray();
        Assert.Equal(["confirmResize", "resize", "revertResize", "resize"], actions.Take(4).Select(a => a!["action"]!.GetValue<string>()));
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Shelve_checks_like_nova_snapshots_the_root_disk_and_frees_the_host_and_a_failed_unshelve_goes_back()
    {
        using var own = await fixture.NewProjectClientAsync("sh");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "sh");
        var name = "sh-" + Guid.NewGuid().ToString("N")[..8];
        var server = await CreateAsync(api, name, image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        async Task<(HttpStatusCode, string)> TryAsync(ApiClient client, string action, JsonNode? argument = null)
        {
            var (status, json, text) = await client.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { [action] = argument });
            return (status, json is JsonObject o && o.FirstOrDefault().Value?["message"] is { } m ? m.GetValue<string>() : text);
        }

        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'shelve' instance {server} while it is in vm_state error"), await TryAsync(api, "shelve"));
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'unshelve' instance {server} while it is in vm_state active"), await TryAsync(api, "unshelve"));
        Assert.Equal(HttpStatusCode.Forbidden, (await TryAsync(api, "shelveOffload")).Item1);
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'shelveOffload' instance {server} while it is in vm_state active"), await TryAsync(admin, "shelveOffload"));
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        Assert.Equal((HttpStatusCode.Conflict, $"Instance {server} is locked"), await TryAsync(api, "shelve"));
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);

        // QEMU never ran here: the root disk is copied into "<name>-shelved", the server leaves its host and frees its vCPUs.
        async Task<int> VcpusUsedAsync() =>
            (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics"))["hypervisor_statistics"]!["vcpus_used"]!.GetValue<int>();
        var used = await VcpusUsedAsync();
        var dir = System.IO.Path.Combine(fixture.DataDir, "instances", server);
        Assert.True(File.Exists(System.IO.Path.Combine(dir, "disk")));
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["shelve"] = null }, HttpStatusCode.Accepted);
        var shelved = await admin.WaitForAsync(Path(server), s => Status(s) == "SHELVED_OFFLOADED" && s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Null(shelved["server"]!["OS-EXT-SRV-ATTR:host"]);
        Assert.Equal("shelved_offloaded", shelved["server"]!["OS-EXT-STS:vm_state"]!.GetValue<string>());
        Assert.False(Directory.Exists(dir));
        Assert.Equal(used - 1, await VcpusUsedAsync());
        var snapshot = Assert.Single((await api.SendAsync(HttpMethod.Get, $"/image/v2/images?name={name}-shelved"))["images"]!.AsArray())!;
        Assert.Equal("active", snapshot["status"]!.GetValue<string>());
        Assert.Equal(server, snapshot["instance_uuid"]!.GetValue<string>());
        var shelveAction = await WaitForEventResultAsync(api, server, "shelve");
        Assert.Equal("compute_shelve_instance", shelveAction["events"]![0]!["event"]!.GetValue<string>());
        Assert.Equal("Success", shelveAction["events"]![0]!["result"]!.GetValue<string>());
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'shelve' instance {server} while it is in vm_state shelved_offloaded"), await TryAsync(api, "shelve"));
        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'rescue' instance {server} while it is in vm_state shelved_offloaded"), await TryAsync(api, "rescue"));
        // The availability zone comes with 2.77, above Ember's highest compute microversion.
        Assert.Equal(HttpStatusCode.BadRequest, (await TryAsync(api, "unshelve", new JsonObject { ["availability_zone"] = "nova" })).Item1);

        // unshelve schedules it again; its host cannot start QEMU, so it goes back to SHELVED_OFFLOADED off any host, the image kept.
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unshelve"] = null }, HttpStatusCode.Accepted);
        var unshelve = await WaitForEventResultAsync(api, server, "unshelve");
        Assert.Equal("compute_unshelve_instance", unshelve["events"]![0]!["event"]!.GetValue<string>());
        Assert.Equal("Error", unshelve["events"]![0]!["result"]!.GetValue<string>());
        var back = await admin.WaitForAsync(Path(server), s => s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Equal("SHELVED_OFFLOADED", Status(back));
        Assert.Null(back["server"]!["OS-EXT-SRV-ATTR:host"]);
        Assert.Equal(used - 1, await VcpusUsedAsync());
        Assert.Equal(HttpStatusCode.OK, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{snapshot["id"]!.GetValue<string>()}")).Status);
        var actions = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions"))["instanceActions"]!.AsArray();
        Assert.Equal(["unshelve", "shelve"], actions.Take(2).Select(a => a!["action"]!.GetValue<string>()));

        // A shelved server is deleted by the API (no host to ask), and its shelved image with it.
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(Path(server), Wait);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{snapshot["id"]!.GetValue<string>()}")).Status);
    }

    [Fact]
    public async Task A_volume_backed_server_shelves_without_an_image_keeping_its_volume_and_is_not_rescued()
    {
        using var own = await fixture.NewProjectClientAsync("bfvsh");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (_, flavor) = await fixture.ImageAndFlavorAsync(api, "bfvsh");
        var name = "bfvsh-" + Guid.NewGuid().ToString("N")[..8];
        var (server, volume) = await VolumeBackedServerAsync(api, flavor, name);
        // As if the guest had run: the server active, its root volume in use.
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "in-use" } }, HttpStatusCode.Accepted);

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["rescue"] = null });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Instance {server} cannot be rescued: Cannot rescue a volume-backed instance", json!["badRequest"]!["message"]!.GetValue<string>());

        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["shelve"] = null }, HttpStatusCode.Accepted);
        var shelved = await api.WaitForAsync(Path(server), s => Status(s) == "SHELVED_OFFLOADED" && s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"/image/v2/images?name={name}-shelved"))["images"]!.AsArray());
        // The volume stays the server's: still listed on it, its attachment replaced by a reservation no host reaches
        // (Cinder shows the volume reserved, with no attachment made yet).
        Assert.Equal(volume, Assert.Single(shelved["server"]!["os-extended-volumes:volumes_attached"]!.AsArray())!["id"]!.GetValue<string>());
        var reserved = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}"))["volume"]!;
        Assert.Equal("reserved", reserved["status"]!.GetValue<string>());
        Assert.Empty(reserved["attachments"]!.AsArray());

        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(Path(server), Wait);
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", Wait);
    }

    [Fact]
    public async Task Rescue_checks_like_nova_answers_the_admin_password_and_boots_a_rescue_disk()
    {
        using var own = await fixture.NewProjectClientAsync("rsc");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "rsc");
        var server = await CreateAsync(api, "rsc", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        async Task<(HttpStatusCode, string)> TryAsync(string action, JsonNode? argument = null)
        {
            var (status, json, text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { [action] = argument });
            return (status, json is JsonObject o && o.FirstOrDefault().Value?["message"] is { } m ? m.GetValue<string>() : text);
        }

        Assert.Equal((HttpStatusCode.Conflict, $"Cannot 'unrescue' instance {server} while it is in vm_state error"), await TryAsync("unrescue"));
        Assert.Equal(HttpStatusCode.BadRequest, (await TryAsync("rescue", new JsonObject { ["rescue_image_ref"] = Guid.NewGuid().ToString() })).Item1);
        Assert.Equal(HttpStatusCode.BadRequest, (await TryAsync("rescue", new JsonObject { ["bogus"] = 1 })).Item1);
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["lock"] = null }, HttpStatusCode.Accepted);
        Assert.Equal((HttpStatusCode.Conflict, $"Instance {server} is locked"), await TryAsync("rescue"));
        await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["unlock"] = null }, HttpStatusCode.Accepted);

        // Nova rescues from ERROR too. The rescue disk is made; QEMU cannot start here, so the server ends in ERROR again.
        var reply = await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["rescue"] = new JsonObject { ["adminPass"] = "Rescue-Pw-1" } });
        Assert.Equal("Rescue-Pw-1", reply["adminPass"]!.GetValue<string>());
        var rescue = await WaitForEventResultAsync(api, server, "rescue");
        Assert.Equal("compute_rescue_instance", rescue["events"]![0]!["event"]!.GetValue<string>());
        Assert.True(File.Exists(System.IO.Path.Combine(fixture.DataDir, "instances", server, "disk.rescue")));
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR" && s["server"]!["OS-EXT-STS:task_state"] is null, Wait);
        var generated = await api.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["rescue"] = null });
        Assert.Equal(12, generated["adminPass"]!.GetValue<string>().Length);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    /// <summary>Waits until the action's events have all finished, then returns its 2.62 view.</summary>
    private static async Task<JsonNode> WaitForEventResultAsync(ApiClient api, string server, string action)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var list = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions", apiVersion: V262))["instanceActions"]!.AsArray();
            var found = list.FirstOrDefault(a => a!["action"]!.GetValue<string>() == action);
            if (found is not null)
            {
                var shown = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions/{found["request_id"]!.GetValue<string>()}",
                    apiVersion: V262))["instanceAction"]!;
                if (shown["events"]!.AsArray() is { Count: > 0 } events && events.All(e => e!["result"] is not null))
                {
                    return shown;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"the {action} action of {server} did not finish");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task An_image_whose_kernel_or_ramdisk_is_no_visible_active_image_neither_boots_nor_is_rebuilt_to()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "kern");
        var missing = Guid.NewGuid().ToString();
        // The kernel and ramdisk are loaded by the host as a service: the API is where Nova checks the caller may use them.
        var queued = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "kern-queued", ["disk_format"] = "aki", ["container_format"] = "aki" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var server = await CreateAsync(api, "kern", image, flavor);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        foreach (var (key, value) in new[] { ("kernel_id", missing), ("ramdisk_id", missing), ("kernel_id", queued) })
        {
            var bad = await UploadedImageAsync(api, new JsonObject { ["name"] = "kern-" + key, [key] = value });
            var (status, _, text) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers",
                new JsonObject { ["server"] = new JsonObject { ["name"] = "kern-bad", ["imageRef"] = bad, ["flavorRef"] = flavor } });
            Assert.True(status == HttpStatusCode.BadRequest, text);
            Assert.Contains($"Image {value} could not be found.", text, StringComparison.Ordinal);
            (status, _, text) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action",
                new JsonObject { ["rebuild"] = new JsonObject { ["imageRef"] = bad } });
            Assert.True(status == HttpStatusCode.BadRequest, text);
            Assert.Contains($"Image {value} could not be found.", text, StringComparison.Ordinal);
        }

        // Naming active images it can see, the image boots (QEMU fails on this test host, after the API took it).
        var good = await UploadedImageAsync(api, new JsonObject { ["name"] = "kern-good", ["kernel_id"] = image, ["ramdisk_id"] = image });
        var booted = await CreateAsync(api, "kern-good", good, flavor);
        await api.WaitForAsync(Path(booted), s => Status(s) == "ERROR", Wait);
        foreach (var id in new[] { booted, server })
        {
            await api.SendAsync(HttpMethod.Delete, Path(id), expect: HttpStatusCode.NoContent);
        }
    }

    /// <summary>An active 4 KiB raw image with the given create body (name and properties).</summary>
    private static async Task<string> UploadedImageAsync(ApiClient api, JsonObject body)
    {
        body["disk_format"] = "raw";
        body["container_format"] = "bare";
        var image = (await api.SendAsync(HttpMethod.Post, "/image/v2/images", body, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{image}/file") { Content = new ByteArrayContent(new byte[4096]) };
        upload.Content.Headers.ContentType = new("application/octet-stream");
        using var uploaded = await api.Http.SendAsync(upload);
        Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        return image;
    }

    protected static async Task<string> CreateAsync(ApiClient api, string name, string image, string flavor) =>
        (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor } },
            HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();

    private static async Task<List<string>> IdsAsync(ApiClient api, string path, string? version) =>
        [.. (await api.SendAsync(HttpMethod.Get, path, apiVersion: version))["servers"]!.AsArray().Select(s => s!["id"]!.GetValue<string>())];

    private static List<string> Strings(JsonNode array) => [.. array.AsArray().Select(t => t!.GetValue<string>())];

    protected static string Path(string server) => $"/compute/v2.1/servers/{server}";

    protected static string Status(JsonNode server) => (server["server"] ?? server)["status"]!.GetValue<string>();

    /// <summary>A server of <paramref name="api"/>'s project booted from a new 1 GiB volume; no guest runs here, so it ends in ERROR.</summary>
    /// <summary>`openstack server create --boot-from-volume N`: Nova makes the root volume from the image (image->volume).</summary>
    [Fact]
    public async Task Boot_from_volume_makes_the_root_volume_from_the_image_as_nova_does()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(admin, "bfvimg");
        var created = (await Cli.RunAsync("openstack",
            ["server", "create", "--image", image, "--flavor", flavor, "--boot-from-volume", "1", "-f", "json", "bfvimg-" + Guid.NewGuid().ToString("N")[..6]],
            fixture.OpenRc())).EnsureSuccess().Json();
        var server = created["id"]!.GetValue<string>();
        var shown = (await admin.SendAsync(HttpMethod.Get, Path(server)))["server"]!;
        Assert.Equal("", shown["image"]!.GetValue<string>());
        var root = Assert.Single(shown["os-extended-volumes:volumes_attached"]!.AsArray())!["id"]!.GetValue<string>();
        var volume = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{root}"))["volume"]!;
        Assert.Equal(1, volume["size"]!.GetValue<int>());
        Assert.Equal("true", volume["bootable"]!.GetValue<string>());
        Assert.Equal(image, volume["volume_image_metadata"]!["image_id"]!.GetValue<string>());

        // Nova's validation: a size is needed, and the image's min_disk must fit in it.
        var body = new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "bfvimg-bad",
                ["flavorRef"] = flavor,
                ["block_device_mapping_v2"] = new JsonArray(new JsonObject
                {
                    ["boot_index"] = 0,
                    ["uuid"] = image,
                    ["source_type"] = "image",
                    ["destination_type"] = "volume",
                }),
            },
        };
        var (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Block Device Mapping is Invalid: Images with destination_type 'volume' need to have a non-zero size specified",
            json!["badRequest"]!["message"]!.GetValue<string>());
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{image}"))
        {
            patch.Content = new StringContent("""[{"op":"replace","path":"/min_disk","value":2}]""", System.Text.Encoding.UTF8,
                "application/openstack-images-v2.1-json-patch");
            using var patched = await admin.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        body["server"]!["block_device_mapping_v2"]![0]!["volume_size"] = 1;
        (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("Volume is smaller than the minimum size specified in image metadata.", json!["badRequest"]!["message"]!.GetValue<string>());

        await admin.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await admin.WaitGoneAsync(Path(server), Wait);
    }

    [Fact]
    public async Task A_blank_root_volume_is_refused_without_an_image_until_marked_bootable()
    {
        using var own = await fixture.NewProjectClientAsync("notboot");
        var api = own.Api;
        var (_, flavor) = await fixture.ImageAndFlavorAsync(api, "notboot");
        var volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } },
            HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", Wait);
        var create = new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "notboot",
                ["flavorRef"] = flavor,
                ["block_device_mapping_v2"] = new JsonArray(new JsonObject
                {
                    ["boot_index"] = 0,
                    ["uuid"] = volume,
                    ["source_type"] = "volume",
                    ["destination_type"] = "volume",
                }),
            },
        };

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", create);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Block Device {volume} is not bootable.", json!["badRequest"]!["message"]!.GetValue<string>());
        var detail = await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("available", detail["volume"]!["status"]!.GetValue<string>());
        Assert.Empty(detail["volume"]!["attachments"]!.AsArray());
    }

    private static async Task<(string Server, string Volume)> VolumeBackedServerAsync(ApiClient api, string flavor, string name)
    {
        var volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } },
            HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", Wait);
        // A blank volume is not bootable until marked so (Nova refuses such a root without an image).
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-set_bootable"] = new JsonObject { ["bootable"] = true } }, HttpStatusCode.OK);
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = name,
                ["flavorRef"] = flavor,
                ["block_device_mapping_v2"] = new JsonArray(new JsonObject
                {
                    ["boot_index"] = 0,
                    ["uuid"] = volume,
                    ["source_type"] = "volume",
                    ["destination_type"] = "volume",
                }),
            },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", Wait);
        return (server, volume);
    }
}
