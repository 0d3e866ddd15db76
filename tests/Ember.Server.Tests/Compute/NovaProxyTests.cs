using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>Runs <see cref="NovaProxyCases"/> on SQLite.</summary>
public sealed class NovaProxyTests(EmberFixture ember) : NovaProxyCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="NovaProxyCases"/> on PostgreSQL.</summary>
public sealed class PostgresNovaProxyTests(PostgresEmberFixture ember) : NovaProxyCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// Nova's remaining proxy and server APIs that need no running guest: os-volumes and os-snapshots (up to 2.35),
/// /extensions, os-server-password and os-server-external-events, with Nova's shapes, statuses and rules.
/// </summary>
public abstract class NovaProxyCases(EmberFixture ember)
{
    private const string Volumes = "/compute/v2.1/os-volumes";
    private const string Snapshots = "/compute/v2.1/os-snapshots";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static JsonObject NewVolume(JsonNode? size, string? name = null) => new()
    {
        ["volume"] = new JsonObject { ["size"] = size, ["display_name"] = name, ["metadata"] = new JsonObject { ["Type"] = "work" } },
    };

    private static async Task<JsonNode> AvailableAsync(ApiClient api, string path, string key) =>
        (await api.WaitForAsync(path, v => v[key]!["status"]!.GetValue<string>() == "available", s_wait))[key]!;

    [Fact]
    public async Task Volumes_are_served_in_novas_shapes_and_lists_equal_their_shows()
    {
        using var project = await ember.NewProjectClientAsync("novavol");
        var api = project.Api;
        var created = (await api.SendAsync(HttpMethod.Post, Volumes, NewVolume(1, "proxied")))["volume"]!;
        Assert.Equal("proxied", created["displayName"]!.GetValue<string>());
        Assert.Equal("work", created["metadata"]!["Type"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(new JsonArray(new JsonObject()), created["attachments"]), created["attachments"]!.ToJsonString());
        var id = created["id"]!.GetValue<string>();

        var shown = await AvailableAsync(api, $"{Volumes}/{id}", "volume");
        Assert.Equal(1, shown["size"]!.GetValue<int>());
        Assert.Equal("nova", shown["availabilityZone"]!.GetValue<string>());
        Assert.Null(shown["snapshotId"]);
        Assert.False(string.IsNullOrEmpty(shown["volumeType"]!.GetValue<string>()));
        foreach (var list in new[] { Volumes, Volumes + "/detail" })
        {
            // Nova's index and detail are one view: the listed entry is the shown one, key for key.
            var listed = Assert.Single((await api.SendAsync(HttpMethod.Get, list))["volumes"]!.AsArray(), v => v!["id"]!.GetValue<string>() == id);
            Assert.True(JsonNode.DeepEquals(shown, listed), $"{shown.ToJsonString()} != {listed!.ToJsonString()}");
        }

        // Two more; offset and limit cut the list (newest first) as Nova's common.limited does.
        foreach (var name in new[] { "second", "third" })
        {
            await api.SendAsync(HttpMethod.Post, Volumes, NewVolume("1", name));
        }

        var all = (await api.SendAsync(HttpMethod.Get, Volumes))["volumes"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(3, all.Count);
        Assert.Equal([all[1]], (await api.SendAsync(HttpMethod.Get, $"{Volumes}/detail?offset=1&limit=1"))["volumes"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()));
        Assert.Equal(2, (await api.SendAsync(HttpMethod.Get, $"{Volumes}?limit=2"))["volumes"]!.AsArray().Count);

        // Attached (here through Cinder's legacy os-attach): the first server, with the volume's id as the attachment's.
        var server = Guid.NewGuid().ToString();
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/{project.ProjectId}/volumes/{id}/action",
            new JsonObject { ["os-attach"] = new JsonObject { ["instance_uuid"] = server, ["mountpoint"] = "/dev/vdb" } }, HttpStatusCode.Accepted);
        var attached = (await api.SendAsync(HttpMethod.Get, $"{Volumes}/{id}"))["volume"]!;
        Assert.Equal("in-use", attached["status"]!.GetValue<string>());
        var attachment = Assert.Single(attached["attachments"]!.AsArray())!;
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["id"] = id, ["volumeId"] = id, ["serverId"] = server, ["device"] = "/dev/vdb" }, attachment),
            attachment.ToJsonString());

        // Another project sees none of them.
        using var other = await ember.NewProjectClientAsync("novavol-other");
        var (status, _, text) = await other.Api.TrySendAsync(HttpMethod.Get, $"{Volumes}/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains($"Volume {id} could not be found.", text, StringComparison.Ordinal);
        Assert.Empty((await other.Api.SendAsync(HttpMethod.Get, Volumes))["volumes"]!.AsArray());

        // The proxy ends at 2.36, as Nova's does.
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, Volumes, apiVersion: "compute 2.36")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.TrySendAsync(HttpMethod.Get, Volumes, apiVersion: "compute 2.35")).Status);

        await api.SendAsync(HttpMethod.Post, $"/volume/v3/{project.ProjectId}/volumes/{id}/action",
            new JsonObject { ["os-detach"] = new JsonObject() }, HttpStatusCode.Accepted);
        await AvailableAsync(api, $"{Volumes}/{id}", "volume");
        await api.SendAsync(HttpMethod.Delete, $"{Volumes}/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"{Volumes}/{id}", s_wait);
    }

    [Theory]
    [InlineData("\"#$%\"")]
    [InlineData("\"\"")]
    [InlineData("\"0\"")]
    [InlineData("0")]
    [InlineData("null")]
    [InlineData("1.5")]
    public async Task A_volume_size_nova_or_cinder_refuses_is_a_400(string size)
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var (status, _, text) = await api.TrySendAsync(HttpMethod.Post, Volumes, NewVolume(JsonNode.Parse(size), "bad-size"));
        Assert.True(status == HttpStatusCode.BadRequest, text);
    }

    [Fact]
    public async Task Missing_ids_blank_ids_and_unknown_fields_get_novas_errors()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var missing = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"{Volumes}/{missing}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Delete, $"{Volumes}/{missing}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Delete, $"{Volumes}/invalid-{missing[..8]}")).Status);
        // A blank id, as Tempest sends it: Nova's router has no such route.
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"{Volumes}/")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Delete, $"{Volumes}/")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"{Snapshots}/{missing}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Delete, $"{Snapshots}/{missing}")).Status);

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Volumes,
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "cinder-style" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Additional properties are not allowed ('name' was unexpected)", json!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        (status, _, _) = await api.TrySendAsync(HttpMethod.Post, Snapshots, new JsonObject { ["snapshot"] = new JsonObject { ["display_name"] = "no volume" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Snapshots_are_created_shown_listed_and_deleted_through_the_proxy()
    {
        using var project = await ember.NewProjectClientAsync("novasnap");
        var api = project.Api;
        var volume = (await api.SendAsync(HttpMethod.Post, Volumes, NewVolume(1)))["volume"]!["id"]!.GetValue<string>();
        await AvailableAsync(api, $"{Volumes}/{volume}", "volume");

        var created = (await api.SendAsync(HttpMethod.Post, Snapshots, new JsonObject
        {
            ["snapshot"] = new JsonObject { ["volume_id"] = volume, ["display_name"] = "snap", ["display_description"] = "first", ["force"] = "false" },
        }))["snapshot"]!;
        Assert.Equal(volume, created["volumeId"]!.GetValue<string>());
        Assert.Equal(1, created["size"]!.GetValue<int>());
        var id = created["id"]!.GetValue<string>();
        var shown = await AvailableAsync(api, $"{Snapshots}/{id}", "snapshot");
        Assert.Equal(("snap", "first"), (shown["displayName"]!.GetValue<string>(), shown["displayDescription"]!.GetValue<string>()));
        Assert.Equal(["createdAt", "displayDescription", "displayName", "id", "size", "status", "volumeId"], shown.AsObject().Select(p => p.Key).Order());
        foreach (var list in new[] { Snapshots, Snapshots + "/detail" })
        {
            var listed = Assert.Single((await api.SendAsync(HttpMethod.Get, list))["snapshots"]!.AsArray());
            Assert.True(JsonNode.DeepEquals(shown, listed));
        }

        await api.SendAsync(HttpMethod.Delete, $"{Snapshots}/{id}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"{Snapshots}/{id}", s_wait);
        await api.SendAsync(HttpMethod.Delete, $"{Volumes}/{volume}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Extensions_list_what_ember_serves_and_show_one_by_alias()
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        var extensions = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/extensions"))["extensions"]!.AsArray();
        var aliases = extensions.Select(e => e!["alias"]!.GetValue<string>()).ToList();
        Assert.Subset(aliases.ToHashSet(), new HashSet<string> { "os-volumes", "os-server-password", "os-consoles", "os-keypairs", "OS-EXT-STS", "os-server-external-events" });
        Assert.DoesNotContain("os-cells", aliases); // Nova's, but nothing of it is in Ember
        Assert.All(extensions, e => Assert.Equal(["alias", "description", "links", "name", "namespace", "updated"], e!.AsObject().Select(p => p.Key).Order()));

        // An entry that needs a route is listed exactly when the route answers (os-hosts comes with its own route).
        using var admin = new ApiClient(await ember.ClientAsync());
        var hostsServed = (await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts")).Status != HttpStatusCode.NotFound;
        Assert.Equal(hostsServed, extensions.Any(e => e!["name"]!.GetValue<string>() == "Hosts"));

        var consoles = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/extensions/os-consoles"))["extension"]!;
        Assert.Equal(("os-consoles", "Consoles"), (consoles["alias"]!.GetValue<string>(), consoles["name"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/extensions/os-cells")).Status);
    }

    /// <summary>A server row of the admin project on a host of its own name (no QEMU: these APIs need none).</summary>
    private async Task<ServerRow> ServerRowAsync(string host, string? projectId = null, params string[] volumes)
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var adminProject = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        var user = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=admin"))["users"]![0]!["id"]!.GetValue<string>();
        var now = DateTime.UtcNow;
        var id = Guid.NewGuid().ToString();
        return await ember.Host.Services.GetRequiredService<ComputeStore>().InsertServerAsync(new ServerRow
        {
            Id = id,
            Name = "proxied-" + Guid.NewGuid().ToString("N")[..6],
            ProjectId = projectId ?? adminProject,
            UserId = user,
            FlavorId = "none",
            VmState = VmStates.Stopped,
            PowerState = 4,
            Host = host,
            CreatedAt = now,
            UpdatedAt = now,
        }, [.. volumes.Select((v, i) => new BdmRow { Id = Guid.NewGuid().ToString(), ServerId = id, VolumeId = v, DeviceName = $"vd{(char)('b' + i)}", CreatedAt = now })]);
    }

    [Fact]
    public async Task Swap_volume_meets_novas_checks_in_order_before_ember_refuses_it()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        async Task<string> VolumeAsync(int size)
        {
            var id = (await admin.SendAsync(HttpMethod.Post, Volumes, NewVolume(size)))["volume"]!["id"]!.GetValue<string>();
            await AvailableAsync(admin, $"{Volumes}/{id}", "volume");
            return id;
        }

        async Task AttachAsync(string volume, string server) => await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-attach"] = new JsonObject { ["instance_uuid"] = server, ["mountpoint"] = "/dev/vdb" } }, HttpStatusCode.Accepted);

        var (attached, spare, small, elsewhere) = (await VolumeAsync(2), await VolumeAsync(2), await VolumeAsync(1), await VolumeAsync(2));
        var server = await ServerRowAsync("elsewhere", null, attached);
        await AttachAsync(attached, server.Id);
        await AttachAsync(elsewhere, Guid.NewGuid().ToString());

        async Task<(HttpStatusCode, string)> SwapAsync(string old, string replacement)
        {
            var (status, _, text) = await admin.TrySendAsync(HttpMethod.Put, $"/compute/v2.1/servers/{server.Id}/os-volume_attachments/{old}",
                new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = replacement } });
            return (status, text);
        }

        var missing = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.NotFound, (await SwapAsync(missing, spare)).Item1); // the volume in the URL
        Assert.Equal(HttpStatusCode.BadRequest, (await SwapAsync(attached, missing)).Item1); // the volume in the body
        var (status, text) = await SwapAsync(elsewhere, spare);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Old volume is attached to a different instance.", text, StringComparison.Ordinal);
        (status, text) = await SwapAsync(attached, elsewhere);
        Assert.Contains("New volume must be detached in order to swap.", text, StringComparison.Ordinal);
        (status, text) = await SwapAsync(attached, small);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("New volume must be the same size or larger.", text, StringComparison.Ordinal);
        // Every check passed: Ember has no disk mirror, so it says so and changes nothing.
        (status, _) = await SwapAsync(attached, spare);
        Assert.Equal(HttpStatusCode.NotImplemented, status);
        Assert.Equal("available", (await admin.SendAsync(HttpMethod.Get, $"{Volumes}/{spare}"))["volume"]!["status"]!.GetValue<string>());

        using var member = await ember.NewProjectClientAsync("swap");
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Api.TrySendAsync(HttpMethod.Put,
            $"/compute/v2.1/servers/{server.Id}/os-volume_attachments/{attached}",
            new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = spare } })).Status);
    }

    [Fact]
    public async Task Restore_is_novas_409_for_a_server_never_soft_deleted_and_force_delete_deletes()
    {
        var server = await ServerRowAsync("elsewhere");
        using var admin = new ApiClient(await ember.ClientAsync());
        var path = $"/compute/v2.1/servers/{server.Id}";
        var (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["restore"] = null });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'restore' instance {server.Id} while it is in vm_state stopped", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        await admin.SendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["forceDelete"] = null }, HttpStatusCode.Accepted);
        await admin.WaitGoneAsync(path, s_wait);
    }

    [Fact]
    public async Task The_server_password_a_guest_posted_is_read_with_nova_get_password_and_cleared()
    {
        var server = await ServerRowAsync("elsewhere");
        var store = ember.Host.Services.GetRequiredService<ComputeStore>();
        using var admin = new ApiClient(await ember.ClientAsync());
        var path = $"/compute/v2.1/servers/{server.Id}/os-server-password";
        Assert.Equal("", (await admin.SendAsync(HttpMethod.Get, path))["password"]!.GetValue<string>());

        Assert.True(await store.SetServerPasswordOnceAsync(server.Id, "ZW5jcnlwdGVk"));
        Assert.False(await store.SetServerPasswordOnceAsync(server.Id, "c2Vjb25k")); // the first one stays until cleared
        Assert.Equal("ZW5jcnlwdGVk", (await admin.SendAsync(HttpMethod.Get, path))["password"]!.GetValue<string>());
        // Without a private key novaclient prints the password as stored (encrypted).
        var printed = (await Cli.RunAsync("nova", ["get-password", server.Id], ember.OpenRc())).EnsureSuccess().StdOut;
        Assert.Equal("ZW5jcnlwdGVk", printed.Trim());

        using var other = await ember.NewProjectClientAsync("pwd-other");
        Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Get, path)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Delete, path)).Status);

        (await Cli.RunAsync("nova", ["clear-password", server.Id], ember.OpenRc())).EnsureSuccess();
        Assert.Equal("", (await admin.SendAsync(HttpMethod.Get, path))["password"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        Assert.True(await store.SetServerPasswordOnceAsync(server.Id, "bmV3"));
        Assert.Equal(HttpStatusCode.NotFound,
            (await admin.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{Guid.NewGuid()}/os-server-password")).Status);
    }

    private static JsonObject Events(params (string Server, string Name, string? Tag)[] events) => new()
    {
        ["events"] = new JsonArray([.. events.Select(e =>
        {
            var o = new JsonObject { ["server_uuid"] = e.Server, ["name"] = e.Name };
            if (e.Tag is not null)
            {
                o["tag"] = e.Tag;
            }

            return (JsonNode)o;
        })]),
    };

    [Fact]
    public async Task External_events_get_a_code_each_and_the_reply_says_whether_all_were_accepted()
    {
        const string events = "/compute/v2.1/os-server-external-events";
        var placed = await ServerRowAsync("elsewhere");
        var unplaced = await ServerRowAsync("");
        var missing = Guid.NewGuid().ToString();
        using var admin = new ApiClient(await ember.ClientAsync());

        var accepted = Assert.Single((await admin.SendAsync(HttpMethod.Post, events, Events((placed.Id, "network-changed", null))))["events"]!.AsArray())!;
        Assert.Equal((placed.Id, "network-changed", 200, "completed"),
            (accepted["server_uuid"]!.GetValue<string>(), accepted["name"]!.GetValue<string>(), accepted["code"]!.GetValue<int>(), accepted["status"]!.GetValue<string>()));

        // Some refused: 207, with 404 for no such server, 422 for one on no host, 400 for a tag missing (2.51's volume-extended).
        var (status, json, text) = await admin.TrySendAsync(HttpMethod.Post, events, Events(
            (placed.Id, "network-vif-plugged", "port-1"), (missing, "network-vif-plugged", null), (unplaced.Id, "network-changed", null),
            (placed.Id, "volume-extended", null)), "compute 2.51");
        Assert.True(status == HttpStatusCode.MultiStatus, text);
        Assert.Equal([200, 404, 422, 400], json!["events"]!.AsArray().Select(e => e!["code"]!.GetValue<int>()));
        Assert.Equal("port-1", json["events"]![0]!["tag"]!.GetValue<string>());

        // None accepted: 404.
        (status, _, text) = await admin.TrySendAsync(HttpMethod.Post, events, Events((missing, "network-changed", null)));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("No instances found for any event", text, StringComparison.Ordinal);

        // Names arrive with their microversions; the schema refuses what it does not know.
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, events, Events((placed.Id, "volume-extended", missing)), "compute 2.50")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, events, Events((placed.Id, "power-update", "POWER_OFF")), "compute 2.75")).Status);
        var extra = Events((placed.Id, "network-changed", null));
        extra["events"]![0]!["extra"] = 1;
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, events, extra)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, events, Events((placed.Id[..8], "network-changed", null)))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, events, new JsonObject { ["events"] = new JsonArray() })).Status);

        // power-update and volume-extended are recorded as the instance actions Nova records.
        await admin.SendAsync(HttpMethod.Post, events, Events((placed.Id, "power-update", "POWER_OFF"), (placed.Id, "volume-extended", missing)), apiVersion: "compute 2.76");
        var actions = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{placed.Id}/os-instance-actions"))["instanceActions"]!.AsArray();
        Assert.Equal(["extend_volume", "stop"], actions.Select(a => a!["action"]!.GetValue<string>()).Order());

        // Only an admin (Nova: the service) sends events.
        using var member = await ember.NewProjectClientAsync("events");
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Api.TrySendAsync(HttpMethod.Post, events, Events((placed.Id, "network-changed", null)))).Status);
    }

    [Fact]
    public async Task Diagnostics_are_for_admins_and_a_409_without_a_running_guest()
    {
        var host = ember.Host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmberOptions>>().Value.HostName;
        var stopped = await ServerRowAsync(host);
        var unplaced = await ServerRowAsync("");
        using var admin = new ApiClient(await ember.ClientAsync());
        var (status, _, text) = await admin.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{stopped.Id}/diagnostics", apiVersion: "compute 2.48");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("is not ready", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await admin.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{unplaced.Id}/diagnostics")).Status);

        using var member = await ember.NewProjectClientAsync("diag");
        var own = await ServerRowAsync(host, member.ProjectId);
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Api.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{own.Id}/diagnostics")).Status);
    }
}
