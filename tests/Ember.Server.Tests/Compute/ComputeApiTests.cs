using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Nova's wire format and rules: discovery, microversions, flavors, and the attach checks of reference §3.5.</summary>
public class ComputeApiTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private static readonly string s_max = Ember.Server.Compute.ComputeVersion.Max.ToString();

    [Fact]
    public async Task Discovery_advertises_v21_up_to_the_maximum()
    {
        using var http = new HttpClient();
        var versions = JsonNode.Parse(await http.GetStringAsync($"{ember.BaseUrl}/compute"))!["versions"]![0]!;
        Assert.Equal("v2.1", versions["id"]!.GetValue<string>());
        Assert.Equal(s_max, versions["version"]!.GetValue<string>());
        Assert.Equal("2.1", versions["min_version"]!.GetValue<string>());
        var version = JsonNode.Parse(await http.GetStringAsync($"{ember.BaseUrl}/compute/v2.1"))!["version"]!;
        Assert.Equal("CURRENT", version["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Microversion_is_echoed_and_out_of_range_is_406()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        using var request = new HttpRequestMessage(HttpMethod.Get, "/compute/v2.1/flavors");
        request.Headers.Add("OpenStack-API-Version", "compute latest");
        using var response = await api.Http.SendAsync(request);
        Assert.Equal($"compute {s_max}", response.Headers.GetValues("OpenStack-API-Version").Single());
        Assert.Equal(s_max, response.Headers.GetValues("X-OpenStack-Nova-API-Version").Single());

        var (status, json, _) = await api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/flavors", apiVersion: "compute 2.101");
        Assert.Equal(HttpStatusCode.NotAcceptable, status);
        Assert.Contains($"maximum is {s_max}", json!["computeFault"]!["message"]!.GetValue<string>());
    }

    /// <summary>novaclient 18.1 negotiates its own maximum, 2.92 (2.75's strict list query, 2.88's hypervisor shape, 2.90's hostname).</summary>
    [Fact]
    public async Task Clients_list_at_their_newest_microversion()
    {
        var nova = (await Cli.RunAsync("nova", ["--debug", "list"], ember.OpenRc())).EnsureSuccess();
        Assert.Contains("compute 2.92", nova.StdErr, StringComparison.Ordinal);
        (await Cli.RunAsync("nova", ["hypervisor-list"], ember.OpenRc())).EnsureSuccess();
        (await Cli.RunAsync("openstack", ["--os-compute-api-version", "2.92", "server", "list", "-f", "json"], ember.OpenRc())).EnsureSuccess();
        var hypervisors = (await Cli.RunAsync("openstack", ["--os-compute-api-version", "2.92", "hypervisor", "list", "--long", "-f", "json"], ember.OpenRc()))
            .EnsureSuccess().Json().AsArray();
        Assert.NotEmpty(hypervisors);
    }

    /// <summary>2.55's flavor update: only the description, admin only, not below 2.55 (Tempest's FlavorsV255TestJSON).</summary>
    [Fact]
    public async Task A_flavors_description_is_updated_from_2_55_by_an_admin()
    {
        var name = "desc-" + Guid.NewGuid().ToString("N")[..8];
        (await Cli.RunAsync("openstack", ["--os-compute-api-version", "2.55", "flavor", "create", "--ram", "64", "--description", "first", name],
            ember.OpenRc())).EnsureSuccess();
        (await Cli.RunAsync("openstack", ["--os-compute-api-version", "2.55", "flavor", "set", "--description", "second", name], ember.OpenRc()))
            .EnsureSuccess();
        var shown = (await Cli.RunAsync("openstack", ["--os-compute-api-version", "2.55", "flavor", "show", "-f", "json", name], ember.OpenRc()))
            .EnsureSuccess().Json();
        Assert.Equal("second", shown["description"]!.GetValue<string>());
        var id = shown["id"]!.GetValue<string>();

        using var admin = new ApiClient(await ember.ClientAsync());
        var update = new JsonObject { ["flavor"] = new JsonObject { ["description"] = null } };
        var reply = await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/flavors/{id}", update, apiVersion: "compute 2.55");
        Assert.Null(reply["flavor"]!["description"]);
        Assert.Equal(name, reply["flavor"]!["name"]!.GetValue<string>());

        var (status, _, _) = await admin.TrySendAsync(HttpMethod.Put, $"/compute/v2.1/flavors/{id}", update, apiVersion: "compute 2.54");
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, var json, _) = await admin.TrySendAsync(HttpMethod.Put, $"/compute/v2.1/flavors/{id}",
            new JsonObject { ["flavor"] = new JsonObject { ["description"] = "x", ["ram"] = 128 } }, apiVersion: "compute 2.55");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'ram' was unexpected", json!["badRequest"]!["message"]!.GetValue<string>());
        (status, _, _) = await admin.TrySendAsync(HttpMethod.Put, "/compute/v2.1/flavors/no-such-flavor", update, apiVersion: "compute 2.55");
        Assert.Equal(HttpStatusCode.NotFound, status);

        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        (status, _, _) = await demo.TrySendAsync(HttpMethod.Put, $"/compute/v2.1/flavors/{id}", update, apiVersion: "compute 2.55");
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Novaclient_flavor_create_auto_prints_the_seed_columns()
    {
        var result = (await Cli.RunAsync("nova", ["flavor-create", "m1.seed", "auto", "256", "1", "1"], ember.OpenRc())).EnsureSuccess();
        var header = result.StdOut.Split('\n').First(l => l.StartsWith("| ID", StringComparison.Ordinal));
        var columns = header.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["ID", "Name", "Memory_MiB", "Disk", "Ephemeral", "Swap", "VCPUs", "RXTX_Factor", "Is_Public", "Description"], columns);
        var row = result.StdOut.Split('\n').First(l => l.Contains("m1.seed", StringComparison.Ordinal))
            .Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(Guid.TryParse(row[0], out _), $"auto id should be a UUID: {row[0]}");
        Assert.Equal(["256", "1", "0"], row[2..5]);
    }

    [Fact]
    public async Task Member_cannot_create_a_flavor_and_gets_novas_message()
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = "x", ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 0 } });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.", json!["forbidden"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Duplicate_flavor_name_is_409_and_bad_ram_is_400()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var flavor = new JsonObject { ["flavor"] = new JsonObject { ["name"] = "dup", ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 0, ["id"] = null } };
        await api.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors", flavor);
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/flavors", flavor);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("Flavor with name dup already exists.", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        var (badStatus, _, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = "bad", ["ram"] = 0, ["vcpus"] = 1, ["disk"] = 0 } });
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
    }

    [Fact]
    public async Task Unknown_server_is_404_item_not_found()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(404, json!["itemNotFound"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Attach_rules_multiattach_needs_260_single_attach_volumes_attach_once()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var single = await CreateVolumeAsync(api, "single", multiattach: false);
        var shared = await CreateVolumeAsync(api, "shared", multiattach: true);

        // A multi-attach volume below 2.60 is refused at boot.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody("too-old", image, shared), apiVersion: "compute 2.59");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Multiattach volumes are only supported starting with compute API version 2.60.", json!["badRequest"]!["message"]!.GetValue<string>());
        Assert.Equal("available", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{shared}"))["volume"]!["status"]!.GetValue<string>());

        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody("holder", image, single), HttpStatusCode.Accepted))
            ["server"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{single}", v => v["volume"]!["status"]!.GetValue<string>() == "in-use", TimeSpan.FromMinutes(3));

        // The same single-attach volume on another server: Nova's "already attached to instances".
        var (second, secondJson, _) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody("thief", image, single), apiVersion: ApiClient.Compute260);
        Assert.Equal(HttpStatusCode.BadRequest, second);
        Assert.Equal($"Invalid volume: volume {single} is already attached to instances: {server}", secondJson!["badRequest"]!["message"]!.GetValue<string>());

        // The same volume twice on one server.
        var (twice, twiceJson, _) = await api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/os-volume_attachments",
            new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = single } }, ApiClient.Compute260);
        Assert.Equal(HttpStatusCode.BadRequest, twice);
        Assert.Equal($"Invalid volume: volume {single} already attached", twiceJson!["badRequest"]!["message"]!.GetValue<string>());

        // Hot-attaching a multi-attach volume below 2.60 is refused too.
        var (hot, _, _) = await api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/os-volume_attachments",
            new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = shared } }, "compute 2.59");
        Assert.Equal(HttpStatusCode.BadRequest, hot);

        var console = await api.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action",
            new JsonObject { ["os-getConsoleOutput"] = new JsonObject { ["length"] = 50 } });
        Assert.NotNull(console["output"]);

        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync($"/compute/v2.1/servers/{server}", TimeSpan.FromMinutes(2));
        await api.WaitForAsync($"/volume/v3/volumes/{single}", v => v["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_user_cannot_detach_a_volume_from_under_a_server_through_any_volume_api()
    {
        using var api = new ApiClient(await ember.ClientAsync("demo"));
        using var admin = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var volume = await CreateVolumeAsync(api, "mine", multiattach: false);
        var other = await CreateVolumeAsync(api, "mine-too", multiattach: false);
        var body = ServerBody("owner", image, volume);
        body["server"]!["block_device_mapping_v2"]!.AsArray().Add(
            new JsonObject { ["source_type"] = "volume", ["destination_type"] = "volume", ["uuid"] = other, ["boot_index"] = 2 });
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", body, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ACTIVE", TimeSpan.FromMinutes(3));
        var attached = await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "in-use", TimeSpan.FromMinutes(1));
        var attachmentId = attached["volume"]!["attachments"]![0]!["attachment_id"]!.GetValue<string>();
        var device = attached["volume"]!["attachments"]![0]!["device"]!.GetValue<string>();
        var otherAttachment = (await api.WaitForAsync($"/volume/v3/volumes/{other}", v => v["volume"]!["status"]!.GetValue<string>() == "in-use", TimeSpan.FromMinutes(1)))
            ["volume"]!["attachments"]![0]!["attachment_id"]!.GetValue<string>();

        // OSSA-2023-003: only the compute service (or an admin) may drop an attachment a server still uses,
        // whichever Cinder API the user tries: the attachments API, os-detach, os-terminate_connection.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/attachments/{attachmentId}", apiVersion: "volume 3.27");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains($"Detach volume from instance {server} using the Compute API", json!.ToJsonString());
        var connector = new JsonObject { ["host"] = "attacker", ["initiator"] = "x" };
        foreach (var action in new JsonObject[]
        {
            new() { ["os-detach"] = new JsonObject() },
            new() { ["os-detach"] = new JsonObject { ["attachment_id"] = attachmentId } },
            new() { ["os-terminate_connection"] = new JsonObject { ["connector"] = connector.DeepClone() } },
        })
        {
            var (refused, refusal, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action", action);
            Assert.True(refused == HttpStatusCode.Conflict, $"{action.ToJsonString()} answered {(int)refused}");
            Assert.Equal($"Detach volume from instance {server} using the Compute API", refusal!["conflictingRequest"]!["message"]!.GetValue<string>());
        }

        // os-force_detach is an admin action.
        var (forced, _, _) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{volume}/action",
            new JsonObject { ["os-force_detach"] = new JsonObject { ["attachment_id"] = attachmentId, ["connector"] = connector.DeepClone() } });
        Assert.Equal(HttpStatusCode.Forbidden, forced);

        // Nothing moved: the attachment is there, the volume in-use, and the guest still writes and reads the disk.
        var still = await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/{attachmentId}", apiVersion: "volume 3.27");
        Assert.Equal("attached", still["attachment"]!["status"]!.GetValue<string>());
        Assert.Equal("in-use", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}"))["volume"]!["status"]!.GetValue<string>());
        Assert.Equal("still-here", await api.ExecInGuestAsync(server,
            $"mkfs.ext3 -q {device} && mkdir -p /m && mount {device} /m && echo still-here > /m/f && sync && umount /m && mount {device} /m && cat /m/f && umount /m"));

        // The Compute API detaches as before (Debian's openstack client).
        (await ember.RunClientAsync("openstack", "ember-demo", "server", "remove", "volume", server, volume)).EnsureSuccess();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromMinutes(1));

        // An admin may force-detach (the cloud operator's escape hatch, as in Cinder).
        await admin.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{other}/action",
            new JsonObject { ["os-force_detach"] = new JsonObject { ["attachment_id"] = otherAttachment, ["connector"] = connector.DeepClone() } },
            HttpStatusCode.Accepted);
        Assert.Equal("available", (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{other}"))["volume"]!["status"]!.GetValue<string>());

        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync($"/compute/v2.1/servers/{server}", TimeSpan.FromMinutes(2));
    }

    private static JsonObject ServerBody(string name, string image, string volume) => new()
    {
        ["server"] = new JsonObject
        {
            ["name"] = name,
            ["imageRef"] = image,
            ["flavorRef"] = "1",
            ["networks"] = "none",
            ["block_device_mapping_v2"] = new JsonArray(
                new JsonObject { ["source_type"] = "image", ["destination_type"] = "local", ["uuid"] = image, ["boot_index"] = 0 },
                new JsonObject { ["source_type"] = "volume", ["destination_type"] = "volume", ["uuid"] = volume, ["boot_index"] = 1 }),
        },
    };

    private static async Task<string> CreateVolumeAsync(ApiClient api, string name, bool multiattach)
    {
        var body = new JsonObject { ["volume"] = new JsonObject { ["name"] = name, ["size"] = 1 } };
        if (multiattach)
        {
            body["volume"]!["volume_type"] = "multiattach";
        }

        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", body, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", v => v["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromMinutes(1));
        return id;
    }
}
