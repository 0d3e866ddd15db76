using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Runs <see cref="VolumeAdminApiCases"/> on SQLite.</summary>
public sealed class VolumeAdminApiTests(EmberFixture fixture) : VolumeAdminApiCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="VolumeAdminApiCases"/> on PostgreSQL.</summary>
public sealed class PostgresVolumeAdminApiTests(PostgresEmberFixture fixture) : VolumeAdminApiCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>Cinder's admin APIs that Tempest's volume.admin tests use: QoS specs, volume type encryption (issue 18).</summary>
public abstract class VolumeAdminApiCases(EmberFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<string> CreateTypeAsync(ApiClient admin, string name) =>
        (await admin.SendAsync(HttpMethod.Post, "/volume/v3/types", new JsonObject { ["volume_type"] = new JsonObject { ["name"] = name } }))
            ["volume_type"]!["id"]!.GetValue<string>();

    private static async Task<string?> QosOfTypeAsync(ApiClient admin, string typeId) =>
        (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{typeId}"))["volume_type"]!["qos_specs_id"]?.GetValue<string>();

    private static async Task<List<string>> AssociatedTypesAsync(ApiClient admin, string qosId) =>
        [.. (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{qosId}/associations"))["qos_associations"]!.AsArray()
            .Select(a => a!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    private static string MessageOf(JsonNode? error) => error!.AsObject().Single().Value!["message"]!.GetValue<string>();

    [Fact]
    public async Task Qos_specs_are_created_changed_associated_with_types_and_deleted_with_cinders_rules()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var name = Unique("qos");
        var created = await admin.SendAsync(HttpMethod.Post, "/volume/v3/qos-specs",
            new JsonObject { ["qos_specs"] = new JsonObject { ["name"] = name, ["consumer"] = "front-end", ["read_iops_sec"] = "2000" } });
        var qos = created["qos_specs"]!;
        var id = qos["id"]!.GetValue<string>();
        Assert.Equal(["consumer", "id", "name", "specs"], qos.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("front-end", qos["consumer"]!.GetValue<string>());
        Assert.Equal("2000", qos["specs"]!["read_iops_sec"]!.GetValue<string>());
        Assert.Null(qos["specs"]!["consumer"]);
        Assert.Equal(2, created["links"]!.AsArray().Count);

        // Cinder's 409 for a name taken, 400 for an unknown consumer or no name; the default consumer is back-end.
        var (taken, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/volume/v3/qos-specs", new JsonObject { ["qos_specs"] = new JsonObject { ["name"] = name } });
        Assert.Equal(HttpStatusCode.Conflict, taken);
        var (badConsumer, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/volume/v3/qos-specs",
            new JsonObject { ["qos_specs"] = new JsonObject { ["name"] = Unique("qos"), ["consumer"] = "hypervisor" } });
        Assert.Equal(HttpStatusCode.BadRequest, badConsumer);
        var (noName, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/volume/v3/qos-specs", new JsonObject { ["qos_specs"] = new JsonObject { ["k"] = "v" } });
        Assert.Equal(HttpStatusCode.BadRequest, noName);
        var other = (await admin.SendAsync(HttpMethod.Post, "/volume/v3/qos-specs", new JsonObject { ["qos_specs"] = new JsonObject { ["name"] = Unique("qos") } }))["qos_specs"]!;
        Assert.Equal("back-end", other["consumer"]!.GetValue<string>());
        var otherId = other["id"]!.GetValue<string>();

        var listed = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/qos-specs"))["qos_specs"]!.AsArray();
        Assert.Contains(listed, q => q!["id"]!.GetValue<string>() == id && q["name"]!.GetValue<string>() == name);

        // Keys are set (answered as given) and unset; unsetting a key the specs lack is a 404 and removes nothing.
        var set = await admin.SendAsync(HttpMethod.Put, $"/volume/v3/qos-specs/{id}", new JsonObject { ["qos_specs"] = new JsonObject { ["iops_bytes"] = "500" } });
        Assert.Equal("{\"qos_specs\":{\"iops_bytes\":\"500\"}}", set.ToJsonString());
        var shown = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}"))["qos_specs"]!["specs"]!;
        Assert.Equal(["iops_bytes", "read_iops_sec"], shown.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        var (missingKey, _, _) = await admin.TrySendAsync(HttpMethod.Put, $"/volume/v3/qos-specs/{id}/delete_keys",
            new JsonObject { ["keys"] = new JsonArray("iops_bytes", "no-such-key") });
        Assert.Equal(HttpStatusCode.NotFound, missingKey);
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/qos-specs/{id}/delete_keys", new JsonObject { ["keys"] = new JsonArray("iops_bytes") }, HttpStatusCode.Accepted);
        shown = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}"))["qos_specs"]!["specs"]!;
        Assert.Equal(["read_iops_sec"], shown.AsObject().Select(p => p.Key));

        // Associations: a type has one QoS specs, shown to admins as its qos_specs_id.
        var first = await CreateTypeAsync(admin, Unique("qos-type"));
        var second = await CreateTypeAsync(admin, Unique("qos-type"));
        foreach (var type in new[] { first, second })
        {
            await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}/associate?vol_type_id={type}", expect: HttpStatusCode.Accepted);
        }

        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}/associate?vol_type_id={first}", expect: HttpStatusCode.Accepted);
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal), await AssociatedTypesAsync(admin, id));
        Assert.Equal(id, await QosOfTypeAsync(admin, first));
        var (withOther, takenBody, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{otherId}/associate?vol_type_id={first}");
        Assert.Equal(HttpStatusCode.BadRequest, withOther);
        Assert.Contains("already associated", MessageOf(takenBody), StringComparison.Ordinal);
        var (noType, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}/associate");
        Assert.Equal(HttpStatusCode.BadRequest, noType);
        var (unknownType, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}/associate?vol_type_id={Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, unknownType);
        var (unknownQos, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{Guid.NewGuid()}/associate?vol_type_id={first}");
        Assert.Equal(HttpStatusCode.NotFound, unknownQos);

        // In use: a plain delete is a 400 and keeps everything; disassociate one, then a forced delete frees the rest.
        var (inUse, inUseBody, _) = await admin.TrySendAsync(HttpMethod.Delete, $"/volume/v3/qos-specs/{id}");
        Assert.Equal(HttpStatusCode.BadRequest, inUse);
        Assert.Equal("Qos specs still in use.", MessageOf(inUseBody));
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}/disassociate?vol_type_id={first}", expect: HttpStatusCode.Accepted);
        Assert.Equal([second], await AssociatedTypesAsync(admin, id));
        Assert.Null(await QosOfTypeAsync(admin, first));
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/qos-specs/{id}?force=True", expect: HttpStatusCode.Accepted);
        Assert.Null(await QosOfTypeAsync(admin, second));
        var (gone, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone);

        // disassociate_all, then a plain delete.
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{otherId}/associate?vol_type_id={first}", expect: HttpStatusCode.Accepted);
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/qos-specs/{otherId}/disassociate_all", expect: HttpStatusCode.Accepted);
        Assert.Empty(await AssociatedTypesAsync(admin, otherId));
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/qos-specs/{otherId}", expect: HttpStatusCode.Accepted);

        // Admin only, as Cinder's policy.
        using var member = await fixture.NewProjectClientAsync("qos-member");
        var (forbidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Get, "/volume/v3/qos-specs");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
    }

    [Fact]
    public async Task A_type_encryption_spec_is_kept_shown_and_changed_and_a_volume_of_an_encrypted_type_is_refused()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var typeName = Unique("enc");
        var type = await CreateTypeAsync(admin, typeName);
        Assert.Equal("{}", (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption")).ToJsonString());

        var spec = new JsonObject { ["provider"] = "luks", ["cipher"] = "aes-xts-plain64", ["key_size"] = 256, ["control_location"] = "front-end" };
        var created = (await admin.SendAsync(HttpMethod.Post, $"/volume/v3/types/{type}/encryption", new JsonObject { ["encryption"] = spec.DeepClone() }))["encryption"]!;
        Assert.Equal(type, created["volume_type_id"]!.GetValue<string>());
        Assert.True(Guid.TryParse(created["encryption_id"]!.GetValue<string>(), out _));
        Assert.Equal(256, created["key_size"]!.GetValue<int>());

        // Cinder's 400s: a second spec, an unknown control location or key, a negative key size, no provider; 404: no type.
        foreach (var (path, body) in new (string, JsonObject)[]
        {
            ($"/volume/v3/types/{type}/encryption", spec),
            ($"/volume/v3/types/{type}/encryption", new JsonObject { ["provider"] = "luks", ["control_location"] = "middle" }),
            ($"/volume/v3/types/{type}/encryption", new JsonObject { ["provider"] = "luks", ["control_location"] = "front-end", ["colour"] = "red" }),
            ($"/volume/v3/types/{type}/encryption", new JsonObject { ["provider"] = "luks", ["control_location"] = "front-end", ["key_size"] = -1 }),
            ($"/volume/v3/types/{type}/encryption", new JsonObject { ["control_location"] = "front-end" }),
        })
        {
            var (status, _, text) = await admin.TrySendAsync(HttpMethod.Post, path, new JsonObject { ["encryption"] = body.DeepClone() });
            Assert.True(status == HttpStatusCode.BadRequest, $"{body.ToJsonString()}: {(int)status} {text}");
        }

        var (noType, _, _) = await admin.TrySendAsync(HttpMethod.Post, $"/volume/v3/types/{Guid.NewGuid()}/encryption", new JsonObject { ["encryption"] = spec.DeepClone() });
        Assert.Equal(HttpStatusCode.NotFound, noType);

        var shown = await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption");
        Assert.Equal("luks", shown["provider"]!.GetValue<string>());
        Assert.Equal("front-end", shown["control_location"]!.GetValue<string>());
        Assert.Equal("{\"cipher\":\"aes-xts-plain64\"}", (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption/cipher")).ToJsonString());
        var (noField, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption/colour");
        Assert.Equal(HttpStatusCode.NotFound, noField);

        // Update: the fields given change (and are answered), the others stay.
        var updated = await admin.SendAsync(HttpMethod.Put, $"/volume/v3/types/{type}/encryption/provider",
            new JsonObject { ["encryption"] = new JsonObject { ["key_size"] = 128, ["control_location"] = "back-end" } });
        Assert.Equal("{\"encryption\":{\"control_location\":\"back-end\",\"key_size\":128}}", updated.ToJsonString());
        shown = await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption");
        Assert.Equal(128, shown["key_size"]!.GetValue<int>());
        Assert.Equal("back-end", shown["control_location"]!.GetValue<string>());
        Assert.Equal("luks", shown["provider"]!.GetValue<string>());

        // Ember has no key manager: a volume of the type is a 400 that says so, and nothing is counted.
        using var member = await fixture.NewProjectClientAsync("enc-member");
        var (refused, refusedBody, _) = await member.Api.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["volume_type"] = typeName } });
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("no key manager", MessageOf(refusedBody), StringComparison.Ordinal);
        var usage = await member.Api.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{member.ProjectId}?usage=true");
        Assert.Equal(0, usage["quota_set"]!["volumes"]!["in_use"]!.GetValue<int>());

        // Deleted: the type is plain again and its volumes can be made; a second delete is a 404.
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/types/{type}/encryption/provider", expect: HttpStatusCode.Accepted);
        Assert.Equal("{}", (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption")).ToJsonString());
        var (again, _, _) = await admin.TrySendAsync(HttpMethod.Delete, $"/volume/v3/types/{type}/encryption/provider");
        Assert.Equal(HttpStatusCode.NotFound, again);
        var volume = (await member.Api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["volume_type"] = typeName } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await member.Api.WaitForAsync($"/volume/v3/volumes/{volume}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);

        // A type in use: its encryption can be neither created nor deleted.
        var (inUse, inUseBody, _) = await admin.TrySendAsync(HttpMethod.Post, $"/volume/v3/types/{type}/encryption", new JsonObject { ["encryption"] = spec.DeepClone() });
        Assert.Equal(HttpStatusCode.BadRequest, inUse);
        Assert.Equal("Cannot create encryption specs. Volume type in use.", MessageOf(inUseBody));
        await member.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
        await member.Api.WaitGoneAsync($"/volume/v3/volumes/{volume}", s_wait);

        // The type's delete takes its spec with it.
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/types/{type}/encryption", new JsonObject { ["encryption"] = spec.DeepClone() });
        await admin.SendAsync(HttpMethod.Delete, $"/volume/v3/types/{type}", expect: HttpStatusCode.Accepted);
        var (typeGone, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/types/{type}/encryption");
        Assert.Equal(HttpStatusCode.NotFound, typeGone);
    }

    private static async Task<JsonNode> VolumeServiceAsync(ApiClient admin) =>
        (await admin.SendAsync(HttpMethod.Get, "/volume/v3/os-services?binary=cinder-volume"))["services"]!.AsArray().Single()!;

    /// <summary>Creates a volume and waits for it to settle; returns its id and final status.</summary>
    private static async Task<(string Id, string Status)> CreateSettledAsync(ApiClient api, string? type = null)
    {
        var volume = new JsonObject { ["size"] = 1 };
        if (type is not null)
        {
            volume["volume_type"] = type;
        }

        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = volume }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        var settled = await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() is "available" or "error", s_wait);
        return (id, settled["volume"]!["status"]!.GetValue<string>());
    }

    private static async Task AssertNoBackendMessageAsync(ApiClient api, string volumeId, string reasonPart)
    {
        var messages = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: "volume 3.3"))["messages"]!.AsArray();
        var message = Assert.Single(messages, m => m!["resource_uuid"]?.GetValue<string>() == volumeId)!;
        Assert.Equal("VOLUME_VOLUME_001_002", message["event_id"]!.GetValue<string>());
        var text = message["user_message"]!.GetValue<string>();
        Assert.StartsWith("schedule allocate volume:Could not find any available weighted backend.", text, StringComparison.Ordinal);
        Assert.Contains(reasonPart, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_disabled_or_frozen_volume_service_gets_no_volumes_and_the_project_is_told_why()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("svc-member");
        var host = (await VolumeServiceAsync(admin))["host"]!.GetValue<string>();

        var disabled = await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/disable-log-reason",
            new JsonObject { ["host"] = host, ["binary"] = "cinder-volume", ["disabled_reason"] = "maintenance" });
        Assert.True(disabled["disabled"]!.GetValue<bool>());
        Assert.Equal("maintenance", disabled["disabled_reason"]!.GetValue<string>());
        var service = await VolumeServiceAsync(admin);
        Assert.Equal("disabled", service["status"]!.GetValue<string>());
        Assert.Equal("maintenance", service["disabled_reason"]!.GetValue<string>());
        var hosts = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/os-hosts"))["hosts"]!.AsArray();
        Assert.Equal("disabled", hosts.Single(h => h!["service"]!.GetValue<string>() == "cinder-volume")!["service-state"]!.GetValue<string>());
        var (hidden, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"/volume/v3/os-hosts/{host}");
        Assert.Equal(HttpStatusCode.NotFound, hidden);

        var (unscheduled, status) = await CreateSettledAsync(member.Api);
        Assert.Equal("error", status);
        await AssertNoBackendMessageAsync(member.Api, unscheduled, "disabled");

        var enabled = await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/enable", new JsonObject { ["host"] = host, ["binary"] = "cinder-volume" });
        Assert.False(enabled["disabled"]!.GetValue<bool>());
        Assert.Null(enabled["disabled_reason"]);
        Assert.Equal("enabled", (await VolumeServiceAsync(admin))["status"]!.GetValue<string>());
        var (_, afterEnable) = await CreateSettledAsync(member.Api);
        Assert.Equal("available", afterEnable);

        // Freeze: no volumes either, until thawed; twice either way is Cinder's 400.
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/freeze", new JsonObject { ["host"] = host });
        Assert.True((await VolumeServiceAsync(admin))["frozen"]!.GetValue<bool>());
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/freeze", new JsonObject { ["host"] = host }, HttpStatusCode.BadRequest);
        var (frozenVolume, frozenStatus) = await CreateSettledAsync(member.Api);
        Assert.Equal("error", frozenStatus);
        await AssertNoBackendMessageAsync(member.Api, frozenVolume, "frozen");
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/thaw", new JsonObject { ["host"] = host });
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/thaw", new JsonObject { ["host"] = host }, HttpStatusCode.BadRequest);
        Assert.False((await VolumeServiceAsync(admin))["frozen"]!.GetValue<bool>());

        // os-hosts show: the member project's three volumes (two in error), as Cinder's strings.
        var resources = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/os-hosts/{host}"))["host"]!.AsArray().Select(r => r!["resource"]!).ToList();
        Assert.Equal("(total)", resources[0]["project"]!.GetValue<string>());
        var own = resources.Single(r => r["project"]!.GetValue<string>() == member.ProjectId);
        Assert.Equal("3", own["volume_count"]!.GetValue<string>());
        Assert.Equal("3", own["total_volume_gb"]!.GetValue<string>());
        Assert.Equal("0", own["snapshot_count"]!.GetValue<string>());

        // Tempest's negative cases: unknown host or binary 404, no reason 400, freeze or thaw of an unknown host 400.
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/enable", new JsonObject { ["host"] = "invalid_host", ["binary"] = "cinder-volume" }, HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/disable", new JsonObject { ["host"] = host, ["binary"] = "invalid_binary" }, HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/disable-log-reason",
            new JsonObject { ["host"] = host, ["binary"] = "cinder-volume", ["disabled_reason"] = null }, HttpStatusCode.BadRequest);
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/freeze", new JsonObject { ["host"] = "invalid_host" }, HttpStatusCode.BadRequest);
        await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-services/thaw", new JsonObject { ["host"] = "invalid_host" }, HttpStatusCode.BadRequest);
        Assert.Equal("enabled", (await VolumeServiceAsync(admin))["status"]!.GetValue<string>());
        var (forbidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Put, "/volume/v3/os-services/disable", new JsonObject { ["host"] = host, ["binary"] = "cinder-volume" });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
    }

    [Fact]
    public async Task Capabilities_match_the_pools_stats_and_a_type_asking_for_other_ones_gets_no_backend()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var pool = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools?detail=true"))["pools"]![0]!;
        var stats = pool["capabilities"]!;
        foreach (var host in new[] { pool["name"]!.GetValue<string>(), (await VolumeServiceAsync(admin))["host"]!.GetValue<string>() })
        {
            var capabilities = await admin.SendAsync(HttpMethod.Get, $"/volume/v3/capabilities/{host}");
            foreach (var key in new[] { "vendor_name", "volume_backend_name", "storage_protocol", "driver_version" })
            {
                Assert.Equal(stats[key]!.GetValue<string>(), capabilities[key]!.GetValue<string>());
            }

            Assert.StartsWith("OS::Storage::Capabilities::", capabilities["namespace"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("boolean", capabilities["properties"]!["thin_provisioning"]!["type"]!.GetValue<string>());
        }

        var (unknown, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/volume/v3/capabilities/nohost@nobackend");
        Assert.Equal(HttpStatusCode.NotFound, unknown);

        // Cinder's CapabilitiesFilter: the backend's own storage_protocol and vendor schedule, others do not.
        using var member = await fixture.NewProjectClientAsync("caps-member");
        var protocol = stats["storage_protocol"]!.GetValue<string>();
        var vendor = stats["vendor_name"]!.GetValue<string>();
        var matching = Unique("caps-ok");
        var bogus = Unique("caps-bogus");
        foreach (var (name, specs) in new[]
        {
            (matching, new JsonObject { ["storage_protocol"] = protocol, ["vendor_name"] = vendor, ["multiattach"] = "<is> True", ["vendor:anything"] = "x" }),
            (bogus, new JsonObject { ["storage_protocol"] = "bogus-protocol", ["vendor_name"] = vendor }),
        })
        {
            await admin.SendAsync(HttpMethod.Post, "/volume/v3/types", new JsonObject { ["volume_type"] = new JsonObject { ["name"] = name, ["extra_specs"] = specs } });
        }

        var (_, ok) = await CreateSettledAsync(member.Api, matching);
        Assert.Equal("available", ok);
        var (refused, error) = await CreateSettledAsync(member.Api, bogus);
        Assert.Equal("error", error);
        await AssertNoBackendMessageAsync(member.Api, refused, "storage_protocol");
    }

    [Fact]
    public async Task A_volume_is_retyped_in_place_and_a_retype_that_needs_another_backend_is_refused()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("retype");
        var first = Unique("retype-a");
        var second = Unique("retype-b");
        var elsewhere = Unique("retype-elsewhere");
        await CreateTypeAsync(admin, first);
        await CreateTypeAsync(admin, second);
        await admin.SendAsync(HttpMethod.Post, "/volume/v3/types",
            new JsonObject { ["volume_type"] = new JsonObject { ["name"] = elsewhere, ["extra_specs"] = new JsonObject { ["volume_backend_name"] = "another-backend" } } });
        var (id, status) = await CreateSettledAsync(member.Api, first);
        Assert.Equal("available", status);
        JsonObject Retype(string type, string policy = "never") => new() { ["os-retype"] = new JsonObject { ["new_type"] = type, ["migration_policy"] = policy } };

        await member.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", Retype(second), HttpStatusCode.Accepted);
        var shown = (await member.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!;
        Assert.Equal(second, shown["volume_type"]!.GetValue<string>());
        Assert.Equal("available", shown["status"]!.GetValue<string>());

        foreach (var (body, expected, says) in new (JsonObject, HttpStatusCode, string)[]
        {
            (Retype(second), HttpStatusCode.BadRequest, "same as original"),
            (Retype(first, "sometimes"), HttpStatusCode.BadRequest, "migration_policy"),
            (Retype(elsewhere, "on-demand"), HttpStatusCode.BadRequest, "needs a migration"),
            (Retype(Unique("no-such-type")), HttpStatusCode.NotFound, "could not be found"),
        })
        {
            var (actual, error, text) = await member.Api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", body);
            Assert.True(actual == expected, $"{body.ToJsonString()}: {(int)actual} {text}");
            Assert.Contains(says, MessageOf(error), StringComparison.Ordinal);
        }

        // To the multiattach type while available: the volume becomes multiattach.
        await member.Api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", Retype("multiattach"), HttpStatusCode.Accepted);
        Assert.True((await member.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}"))["volume"]!["multiattach"]!.GetValue<bool>());

        // Only available or in-use volumes are retyped.
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "error" } },
            HttpStatusCode.Accepted);
        var (wrongStatus, _, _) = await member.Api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", Retype(first));
        Assert.Equal(HttpStatusCode.BadRequest, wrongStatus);
    }

    [Fact]
    public async Task The_default_quota_class_sets_the_limits_of_every_project_without_its_own()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var shown = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/os-quota-class-sets/default"))["quota_class_set"]!;
        Assert.Equal("default", shown["id"]!.GetValue<string>());
        var volumes = shown["volumes"]!.GetValue<int>();
        var backups = shown["backups"]!.GetValue<int>();
        try
        {
            var updated = (await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-quota-class-sets/default",
                new JsonObject { ["quota_class_set"] = new JsonObject { ["volumes"] = volumes + 1, ["backups"] = backups + 1, ["not_a_resource"] = 5 } }))["quota_class_set"]!;
            Assert.Equal(volumes + 1, updated["volumes"]!.GetValue<int>());
            Assert.Null(updated["not_a_resource"]);

            // A project without limits of its own has the class's, in its defaults and its quota set alike.
            using var member = await fixture.NewProjectClientAsync("quota-class");
            var defaults = (await admin.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{member.ProjectId}/defaults"))["quota_set"]!;
            Assert.Equal(volumes + 1, defaults["volumes"]!.GetValue<int>());
            Assert.Equal(backups + 1, defaults["backups"]!.GetValue<int>());
            var own = (await member.Api.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{member.ProjectId}"))["quota_set"]!;
            Assert.Equal(volumes + 1, own["volumes"]!.GetValue<int>());

            var (perType, perTypeBody, _) = await admin.TrySendAsync(HttpMethod.Put, "/volume/v3/os-quota-class-sets/default",
                new JsonObject { ["quota_class_set"] = new JsonObject { ["volumes___DEFAULT__"] = 3 } });
            Assert.Equal(HttpStatusCode.BadRequest, perType);
            Assert.Contains("per volume type", MessageOf(perTypeBody), StringComparison.Ordinal);
            var (negative, _, _) = await admin.TrySendAsync(HttpMethod.Put, "/volume/v3/os-quota-class-sets/default",
                new JsonObject { ["quota_class_set"] = new JsonObject { ["volumes"] = -2 } });
            Assert.Equal(HttpStatusCode.BadRequest, negative);
            var (forbidden, _, _) = await member.Api.TrySendAsync(HttpMethod.Get, "/volume/v3/os-quota-class-sets/default");
            Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        }
        finally
        {
            await admin.SendAsync(HttpMethod.Put, "/volume/v3/os-quota-class-sets/default",
                new JsonObject { ["quota_class_set"] = new JsonObject { ["volumes"] = volumes, ["backups"] = backups } });
        }
    }
}

