using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>The compute microversions above 2.73, each checked below and at the version that changes it, on SQLite.</summary>
public sealed class MicroversionApiTests(FuzzFixture fixture) : MicroversionApiCases(fixture), IClassFixture<FuzzFixture>;

/// <summary>The same cases on PostgreSQL.</summary>
public sealed class PostgresMicroversionApiTests(PostgresFuzzFixture fixture) : MicroversionApiCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// What each of Nova's microversions 2.74–2.93 changes, as far as Ember serves it (docs/compute.md lists them). The
/// fixture's QEMU fails, so servers end in ERROR on their host: enough for views, filters and checks.
/// </summary>
public abstract class MicroversionApiCases(FuzzFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static string V(int minor) => $"compute 2.{minor}";

    private static string Path(string server) => $"/compute/v2.1/servers/{server}";

    private static string Status(JsonNode server) => (server["server"] ?? server)["status"]!.GetValue<string>();

    private static string Message(JsonNode? json) => json!.AsObject().First().Value!["message"]!.GetValue<string>();

    private static async Task<string> CreateAsync(ApiClient api, JsonObject server, string? version = null) =>
        (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = server }, HttpStatusCode.Accepted, version))["server"]!["id"]!
            .GetValue<string>();

    /// <summary>A create body valid at every version (2.37 requires networks).</summary>
    private static JsonObject Server(string name, string image, string flavor) =>
        new() { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor, ["networks"] = "none" };

    [Fact]
    public async Task Create_takes_a_requested_host_from_2_74_for_admins_only()
    {
        using var own = await fixture.NewProjectClientAsync("mv-dest");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-dest");
        var host = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-services?binary=nova-compute"))["services"]![0]!["host"]!.GetValue<string>();
        JsonObject WithHost(string name, string value)
        {
            var server = Server(name, image, flavor);
            server["host"] = value;
            return server;
        }


        // Below 2.74 Nova's schema has no such field; from 2.74 it is an admin's (compute:servers:create:requested_destination).
        var (status, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = WithHost("d0", host) }, V(73));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _, _) = await own.Api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = WithHost("d1", host) }, V(74));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        var (missing, json, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = WithHost("d2", "no-such-host") }, V(74));
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Equal("Compute host no-such-host could not be found.", Message(json));
        var both = WithHost("d3", host);
        both["availability_zone"] = "nova:" + host;
        (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = both }, V(74));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("mutually exclusive", Message(json), StringComparison.Ordinal);

        var placed = await CreateAsync(admin, WithHost("d4", host), V(74));
        var shown = await admin.WaitForAsync(Path(placed), s => Status(s) == "ERROR", s_wait);
        Assert.Equal(host, shown["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Delete, Path(placed), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Version_2_75_refuses_unknown_list_parameters_and_answers_update_with_the_full_view()
    {
        using var own = await fixture.NewProjectClientAsync("mv-75");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-75");
        var server = await CreateAsync(own.Api, Server("c75", image, flavor));
        await own.Api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait);

        await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?bogus=1", apiVersion: V(74));
        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail?bogus=1", apiVersion: V(75));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'bogus' was unexpected", Message(json), StringComparison.Ordinal);
        var listed = (await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?name=c75&limit=5&node=x", apiVersion: V(75)))["servers"]!.AsArray();
        Assert.Equal(server, Assert.Single(listed)!["id"]!.GetValue<string>());

        // The update view: Nova's short one below 2.75, the show view from 2.75.
        var update = new JsonObject { ["server"] = new JsonObject { ["name"] = "c75b" } };
        var old = (await own.Api.SendAsync(HttpMethod.Put, Path(server), update, apiVersion: V(74)))["server"]!.AsObject();
        Assert.False(old.ContainsKey("OS-EXT-STS:vm_state"));
        var full = (await own.Api.SendAsync(HttpMethod.Put, Path(server), update, apiVersion: V(75)))["server"]!.AsObject();
        Assert.Equal("error", full["OS-EXT-STS:vm_state"]!.GetValue<string>());
        Assert.True(full.ContainsKey("OS-EXT-AZ:availability_zone"));
        Assert.Equal("c75b", full["name"]!.GetValue<string>());

        // A zero swap is "" before 2.75 and 0 from it.
        Assert.Equal("", (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}", apiVersion: V(74)))["flavor"]!["swap"]!.GetValue<string>());
        Assert.Equal(0, (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}", apiVersion: V(75)))["flavor"]!["swap"]!.GetValue<int>());

        // with_servers gives every hypervisor its list from 2.75, an empty one included.
        var hypervisors = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors?with_servers=true", apiVersion: V(75)))["hypervisors"]!.AsArray();
        Assert.NotEmpty(hypervisors);
        Assert.All(hypervisors, h => Assert.NotNull(h!["servers"]));
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Topology_and_the_image_cache_answer_from_their_versions_as_nova_does_with_nothing_to_show()
    {
        using var own = await fixture.NewProjectClientAsync("mv-topo");
        using var other = await fixture.NewProjectClientAsync("mv-topo-other");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-topo");
        var server = await CreateAsync(own.Api, Server("topo", image, flavor));

        Assert.Equal(HttpStatusCode.NotFound, (await own.Api.TrySendAsync(HttpMethod.Get, Path(server) + "/topology", apiVersion: V(77))).Status);
        var topology = await own.Api.SendAsync(HttpMethod.Get, Path(server) + "/topology", apiVersion: V(78));
        Assert.Empty(topology["nodes"]!.AsArray());
        Assert.True(topology.AsObject().ContainsKey("pagesize_kb"));
        Assert.Null(topology["pagesize_kb"]);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Get, Path(server) + "/topology", apiVersion: V(78))).Status);

        // 2.81: caching an image on an aggregate that does not exist is Nova's AggregateNotFound (after policy and body checks).
        var cache = new JsonObject { ["cache"] = new JsonArray(new JsonObject { ["id"] = image }) };
        Assert.Equal(HttpStatusCode.NotFound, (await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-aggregates/1/images", cache, V(80))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await own.Api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-aggregates/1/images", cache, V(81))).Status);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-aggregates/1/images", new JsonObject { ["cache"] = new JsonArray() }, V(81))).Status);
        var (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-aggregates/987654/images", cache, V(81));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("Aggregate 987654 could not be found.", Message(json));
        // An existing one takes the request: Ember's hosts fetch an image at its first boot, so there is nothing to do ahead.
        var aggregate = (await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/os-aggregates",
            new JsonObject { ["aggregate"] = new JsonObject { ["name"] = "mv-cache-" + Guid.NewGuid().ToString("N")[..8] } }))["aggregate"]!["id"]!.GetValue<long>();
        Assert.Equal(HttpStatusCode.Accepted, (await admin.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/os-aggregates/{aggregate}/images", cache, V(81))).Status);
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-aggregates/{aggregate}");
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Volume_attachments_show_and_take_delete_on_termination_and_their_ids_by_version()
    {
        using var own = await fixture.NewProjectClientAsync("mv-att");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mv-att");
        async Task<string> VolumeAsync(string name)
        {
            var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = name } },
                HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
            await api.WaitForAsync($"/volume/v3/volumes/{id}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
            return id;
        }

        var (data, spare) = (await VolumeAsync("mv-data"), await VolumeAsync("mv-spare"));
        var create = Server("att", image, flavor);
        create["block_device_mapping_v2"] = new JsonArray(new JsonObject
        {
            ["boot_index"] = -1,
            ["uuid"] = data,
            ["source_type"] = "volume",
            ["destination_type"] = "volume",
            ["delete_on_termination"] = false,
        });
        var server = await CreateAsync(api, create);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait);
        var attachment = $"{Path(server)}/os-volume_attachments/{data}";

        var at78 = (await api.SendAsync(HttpMethod.Get, attachment, apiVersion: V(78)))["volumeAttachment"]!.AsObject();
        Assert.False(at78.ContainsKey("delete_on_termination"));
        Assert.Equal(data, at78["id"]!.GetValue<string>());
        Assert.False((await api.SendAsync(HttpMethod.Get, attachment, apiVersion: V(79)))["volumeAttachment"]!["delete_on_termination"]!.GetValue<bool>());

        // 2.85: the owner may change delete_on_termination; other fields may be given, not changed; another volume is a swap (admin, not done).
        JsonObject Put(string key, JsonNode value) => new() { ["volumeAttachment"] = new JsonObject { ["volumeId"] = data, [key] = value } };
        var change = Put("delete_on_termination", true);
        Assert.Equal(HttpStatusCode.Forbidden, (await api.TrySendAsync(HttpMethod.Put, attachment, change, V(84))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Put, attachment, Put("device", "/dev/vdz"), V(85))).Status);
        var swap = new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = spare } };
        Assert.Equal(HttpStatusCode.Forbidden, (await api.TrySendAsync(HttpMethod.Put, attachment, swap, V(85))).Status);
        // Nova's checks come first: this server is in ERROR, where Nova swaps nothing (NovaProxyTests has the rest).
        Assert.Equal(HttpStatusCode.Conflict, (await admin.TrySendAsync(HttpMethod.Put, attachment, swap, V(85))).Status);
        await api.SendAsync(HttpMethod.Put, attachment, change, HttpStatusCode.Accepted, V(85));
        Assert.True((await api.SendAsync(HttpMethod.Get, attachment, apiVersion: V(85)))["volumeAttachment"]!["delete_on_termination"]!.GetValue<bool>());

        // 2.89: the Cinder attachment and the mapping's uuid instead of the id that repeated volumeId.
        var at89 = Assert.Single((await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-volume_attachments", apiVersion: V(89)))["volumeAttachments"]!.AsArray())!
            .AsObject();
        Assert.False(at89.ContainsKey("id"));
        Assert.Equal(data, at89["volumeId"]!.GetValue<string>());
        Assert.Equal(36, at89["bdm_uuid"]!.GetValue<string>().Length);
        Assert.True(at89.ContainsKey("attachment_id"));

        // 2.79's attach takes delete_on_termination (a 400 below it) and answers with it.
        await admin.SendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } },
            HttpStatusCode.Accepted);
        var attach = new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = spare, ["delete_on_termination"] = true } };
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, $"{Path(server)}/os-volume_attachments", attach, V(78))).Status);
        var attached = (await api.SendAsync(HttpMethod.Post, $"{Path(server)}/os-volume_attachments", attach, apiVersion: V(79)))["volumeAttachment"]!;
        Assert.True(attached["delete_on_termination"]!.GetValue<bool>());

        // The changed mapping holds: the data volume goes with its server.
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync($"/volume/v3/volumes/{data}", s_wait);
    }

    [Fact]
    public async Task Members_filter_on_more_columns_from_2_83_and_see_why_an_event_failed_from_2_84()
    {
        using var own = await fixture.NewProjectClientAsync("mv-83");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mv-83");
        var server = await CreateAsync(api, Server("f83", image, flavor));
        var power = (await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait))["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>();
        async Task<int> CountAsync(string query, int minor) =>
            (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail?" + query, apiVersion: V(minor)))["servers"]!.AsArray().Count;

        // Below 2.83 Nova drops these filters for a member; from 2.83 they apply.
        Assert.Equal(1, await CountAsync("vm_state=active", 82));
        Assert.Equal(0, await CountAsync("vm_state=active", 83));
        Assert.Equal(1, await CountAsync("vm_state=error", 83));
        Assert.Equal(0, await CountAsync("user_id=nobody", 83));
        Assert.Equal(0, await CountAsync("key_name=some-key", 83));
        Assert.Equal(1, await CountAsync($"config_drive=&power_state={power}", 83));
        Assert.Equal(0, await CountAsync($"power_state={power + 1}", 83));

        // 2.84: the failed build event says why, to the project's members too.
        var requestId = (await api.SendAsync(HttpMethod.Get, $"{Path(server)}/os-instance-actions", apiVersion: V(84)))["instanceActions"]![0]!["request_id"]!
            .GetValue<string>();
        var path = $"{Path(server)}/os-instance-actions/{requestId}";
        var action = await api.WaitForAsync(path, a => a["instanceAction"]!["events"]!.AsArray().Any(e => e!["result"]?.GetValue<string>() == "Error"), s_wait,
            V(84));
        var failed = action["instanceAction"]!["events"]!.AsArray().First(e => e!["result"]!.GetValue<string>() == "Error")!.AsObject();
        Assert.False(string.IsNullOrEmpty(failed["details"]!.GetValue<string>()));
        Assert.False(failed.ContainsKey("traceback"));
        var before = (await api.SendAsync(HttpMethod.Get, path, apiVersion: V(83)))["instanceAction"]!["events"]![0]!.AsObject();
        Assert.False(before.ContainsKey("details"));
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Flavor_extra_specs_are_validated_from_2_86_in_the_namespaces_nova_knows()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (_, flavor) = await fixture.ImageAndFlavorAsync(admin, "mv-86");
        var specs = $"/compute/v2.1/flavors/{flavor}/os-extra_specs";
        JsonObject Specs(string key, string value) => new() { ["extra_specs"] = new JsonObject { [key] = value } };

        await admin.SendAsync(HttpMethod.Post, specs, Specs("hw:cpu_policy", "bogus"), apiVersion: V(85));
        var (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, specs, Specs("hw:cpu_policy", "bogus"), V(86));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Validation failed; 'bogus' is not one of: dedicated, shared, mixed.", Message(json));
        (status, json, _) = await admin.TrySendAsync(HttpMethod.Post, specs, Specs("hw:no_such_spec", "1"), V(86));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Validation failed; extra spec 'hw:no_such_spec' does not appear to be a valid extra spec.", Message(json));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, specs, Specs("hw:numa_nodes", "0"), V(86))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Put, specs + "/hw_rng:allowed",
            new JsonObject { ["hw_rng:allowed"] = "maybe" }, V(86))).Status);

        // Known specs with good values, parametric ones, and specs outside Nova's namespaces are kept.
        await admin.SendAsync(HttpMethod.Post, specs, new JsonObject
        {
            ["extra_specs"] = new JsonObject
            {
                ["hw:cpu_policy"] = "dedicated",
                ["hw:numa_nodes"] = "2",
                ["hw:numa_cpus.0"] = "0-1",
                ["trait:CUSTOM_FAST"] = "required",
                ["resources1:VCPU"] = "2",
                ["quota:disk_read_bytes_sec"] = "10240",
                ["ember:anything"] = "goes",
                ["plain"] = "x",
            },
        }, apiVersion: V(86));
        await admin.SendAsync(HttpMethod.Put, specs + "/hw_rng:allowed", new JsonObject { ["hw_rng:allowed"] = "true" }, apiVersion: V(86));
        var kept = (await admin.SendAsync(HttpMethod.Get, specs, apiVersion: V(86)))["extra_specs"]!.AsObject();
        Assert.Equal("dedicated", kept["hw:cpu_policy"]!.GetValue<string>());
        Assert.Equal("goes", kept["ember:anything"]!.GetValue<string>());
        Assert.Equal("true", kept["hw_rng:allowed"]!.GetValue<string>());
    }

    [Fact]
    public async Task Hypervisors_drop_their_capacity_fields_and_routes_at_2_88()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var old = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail", apiVersion: V(87)))["hypervisors"]![0]!.AsObject();
        Assert.True(old.ContainsKey("vcpus"));
        Assert.False(old.ContainsKey("uptime"));
        var id = old["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics", apiVersion: V(87));

        var shown = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{id}", apiVersion: V(88)))["hypervisor"]!.AsObject();
        foreach (var gone in new[] { "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb",
            "current_workload", "running_vms", "disk_available_least", "cpu_info" })
        {
            Assert.False(shown.ContainsKey(gone), gone);
        }

        Assert.True(shown.ContainsKey("uptime"));
        Assert.Equal("QEMU", shown["hypervisor_type"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics", apiVersion: V(88))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{id}/uptime", apiVersion: V(88))).Status);
    }

    [Fact]
    public async Task Hostname_is_given_at_create_update_and_rebuild_from_2_90_and_shown_to_members()
    {
        using var own = await fixture.NewProjectClientAsync("mv-90");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mv-90");
        JsonObject Named(string hostname)
        {
            var server = Server("Web Server_1", image, flavor);
            server["hostname"] = hostname;
            return server;
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = Named("web-1") }, V(89))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = Named("bad_name") }, V(90))).Status);
        var several = Named("web-1");
        several["max_count"] = 2;
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = several }, V(90));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Unable to allocate a single hostname to multiple instances", Message(json));

        var server = await CreateAsync(api, Named("web-1"), V(90));
        var shown = (await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait, V(90)))["server"]!.AsObject();
        Assert.Equal("web-1", shown["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());
        Assert.False((await api.SendAsync(HttpMethod.Get, Path(server), apiVersion: V(89)))["server"]!.AsObject().ContainsKey("OS-EXT-SRV-ATTR:hostname"));

        // A server given none has its name made a label.
        var unnamed = await CreateAsync(api, Server("Web Server_1", image, flavor), V(90));
        Assert.Equal("web-server-1", (await api.SendAsync(HttpMethod.Get, Path(unnamed), apiVersion: V(90)))["server"]!["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());

        var updated = (await api.SendAsync(HttpMethod.Put, Path(server), new JsonObject { ["server"] = new JsonObject { ["hostname"] = "web-2" } }, apiVersion: V(90)))["server"]!;
        Assert.Equal("web-2", updated["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest,
            (await api.TrySendAsync(HttpMethod.Put, Path(server), new JsonObject { ["server"] = new JsonObject { ["hostname"] = "web-3" } }, V(89))).Status);
        var listed = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?hostname=web-2", apiVersion: V(90)))["servers"]!.AsArray();
        Assert.Equal(server, Assert.Single(listed)!["id"]!.GetValue<string>());

        var rebuilt = (await api.SendAsync(HttpMethod.Post, Path(server) + "/action",
            new JsonObject { ["rebuild"] = new JsonObject { ["imageRef"] = image, ["hostname"] = "web-4" } }, HttpStatusCode.Accepted, V(90)))["server"]!;
        Assert.Equal("web-4", rebuilt["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
        await api.SendAsync(HttpMethod.Delete, Path(unnamed), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Unshelve_takes_a_null_zone_from_2_91_and_keypairs_must_be_imported_from_2_92()
    {
        using var own = await fixture.NewProjectClientAsync("mv-91");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mv-91");
        var server = await CreateAsync(api, Server("u91", image, flavor));
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait);
        var unpin = new JsonObject { ["unshelve"] = new JsonObject { ["availability_zone"] = null } };
        // Below 2.91 the zone must be a string; from 2.91 null unpins, which only a shelved server may be asked.
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", unpin, V(90))).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", unpin, V(91))).Status);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);

        var name = "k-" + Guid.NewGuid().ToString("N")[..8];
        var generated = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", new JsonObject { ["keypair"] = new JsonObject { ["name"] = name } },
            HttpStatusCode.Created, V(91)))["keypair"]!;
        Assert.NotNull(generated["private_key"]);
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs",
            new JsonObject { ["keypair"] = new JsonObject { ["name"] = name + "-2" } }, V(92));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'public_key' is a required property", Message(json), StringComparison.Ordinal);
        JsonObject Import(string keyName) => new() { ["keypair"] = new JsonObject { ["name"] = keyName, ["public_key"] = generated["public_key"]!.GetValue<string>() } };
        Assert.Equal(HttpStatusCode.BadRequest, (await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Import(name + "@host.x"), V(91))).Status);
        var imported = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", Import(name + "@host.x"), HttpStatusCode.Created, V(92)))["keypair"]!;
        Assert.Null(imported["private_key"]);
        Assert.Equal(generated["fingerprint"]!.GetValue<string>(), imported["fingerprint"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-keypairs/{name}@host.x", apiVersion: V(92));
    }

    [Fact]
    public async Task A_volume_backed_server_is_rebuilt_from_2_93_and_its_rescue_refused_as_on_a_host_without_the_trait()
    {
        using var own = await fixture.NewProjectClientAsync("mv-93");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mv-93");
        var root = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } },
            HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{root}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        // A blank volume is not bootable until marked so (Nova refuses such a root without an image).
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{root}/action",
            new JsonObject { ["os-set_bootable"] = new JsonObject { ["bootable"] = true } }, HttpStatusCode.OK);
        var create = new JsonObject
        {
            ["name"] = "vb93",
            ["flavorRef"] = flavor,
            ["networks"] = "none",
            ["block_device_mapping_v2"] = new JsonArray(new JsonObject { ["boot_index"] = 0, ["uuid"] = root, ["source_type"] = "volume", ["destination_type"] = "volume" }),
        };
        var server = await CreateAsync(api, create);
        await api.WaitForAsync(Path(server), s => Status(s) == "ERROR", s_wait);

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["rescue"] = null }, V(86));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Instance {server} cannot be rescued: Cannot rescue a volume-backed instance", Message(json));
        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", new JsonObject { ["rescue"] = null }, V(87));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"Instance {server} cannot be rescued: Host unable to rescue a volume-backed instance", Message(json));

        // Below 2.93 a new image for a volume-backed server is refused; at 2.93 the rebuild goes on to check the image against the volume.
        var rebuild = new JsonObject { ["rebuild"] = new JsonObject { ["imageRef"] = image } };
        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", rebuild, V(92));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Unable to rebuild with a different image for a volume-backed server", Message(json), StringComparison.Ordinal);
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"/image/v2/images/{image}"))
        {
            patch.Content = new StringContent("""[{"op":"replace","path":"/min_disk","value":2}]""", System.Text.Encoding.UTF8,
                "application/openstack-images-v2.1-json-patch");
            using var patched = await api.Http.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        (status, json, _) = await api.TrySendAsync(HttpMethod.Post, Path(server) + "/action", rebuild, V(93));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("Volume is smaller than the minimum size specified in image metadata.", Message(json), StringComparison.Ordinal);
        await api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }
}
