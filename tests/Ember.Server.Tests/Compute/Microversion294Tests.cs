using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Runs <see cref="Microversion294Cases"/> on SQLite.</summary>
public sealed class Microversion294Tests(FuzzFixture fixture) : Microversion294Cases(fixture), IClassFixture<FuzzFixture>;

/// <summary>Runs <see cref="Microversion294Cases"/> on PostgreSQL.</summary>
public sealed class PostgresMicroversion294Tests(PostgresFuzzFixture fixture) : Microversion294Cases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// What Nova's microversions 2.94–2.100 change, each checked just below and at its version (docs/compute.md lists them).
/// The fixture's QEMU fails, so servers end in ERROR on their host: enough for views and checks.
/// </summary>
public abstract class Microversion294Cases(FuzzFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static string V(int minor) => $"compute 2.{minor}";

    private static string Path(string server) => $"/compute/v2.1/servers/{server}";

    private static string Message(JsonNode? json) => json!.AsObject().First().Value!["message"]!.GetValue<string>();

    private static JsonObject Server(string name, string image, string flavor) =>
        new() { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor, ["networks"] = "none" };

    private static async Task<string> CreateAsync(ApiClient api, JsonObject root, string version) =>
        (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", root, HttpStatusCode.Accepted, version))["server"]!["id"]!.GetValue<string>();

    [Fact]
    public async Task Version_2_94_takes_a_fully_qualified_hostname_at_create_and_update()
    {
        using var own = await fixture.NewProjectClientAsync("mv-94");
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-94");
        var fqdn = Server("f93", image, flavor);
        fqdn["hostname"] = "web-1.example.org";

        // 2.90's hostname is one DNS label: a dot is a 400 below 2.94.
        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject { ["server"] = fqdn }, V(93));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("Invalid input for field/attribute hostname.", Message(json), StringComparison.Ordinal);

        var server = await CreateAsync(own.Api, new JsonObject { ["server"] = fqdn.DeepClone() }, V(94));
        var shown = await own.Api.SendAsync(HttpMethod.Get, Path(server), apiVersion: V(94));
        Assert.Equal("web-1.example.org", shown["server"]!["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());

        var update = new JsonObject { ["server"] = new JsonObject { ["hostname"] = "db.example.org" } };
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Put, Path(server), update, V(93))).Status);
        var updated = await own.Api.SendAsync(HttpMethod.Put, Path(server), update, apiVersion: V(94));
        Assert.Equal("db.example.org", updated["server"]!["OS-EXT-SRV-ATTR:hostname"]!.GetValue<string>());
        // Still Nova's fqdn type: no spaces, at most 255.
        update["server"]!["hostname"] = "db example.org";
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Put, Path(server), update, V(94))).Status);
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Versions_2_96_2_98_and_2_100_show_the_pinned_zone_the_image_properties_and_the_scheduler_hints()
    {
        using var own = await fixture.NewProjectClientAsync("mv-96");
        var (_, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-96");
        // An image with a property Nova knows (hw_disk_bus), one of its legacy names (architecture) and one it does not.
        var image = (await own.Api.SendAsync(HttpMethod.Post, "/image/v2/images", new JsonObject
        {
            ["name"] = "mv-98",
            ["disk_format"] = "raw",
            ["container_format"] = "bare",
            ["hw_disk_bus"] = "virtio",
            ["architecture"] = "x86_64",
            ["my_own_property"] = "kept out",
        }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        using (var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{image}/file") { Content = new ByteArrayContent(new byte[4096]) })
        {
            upload.Content.Headers.ContentType = new("application/octet-stream");
            using var uploaded = await own.Api.Http.SendAsync(upload);
            Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        }

        var pinned = Server("p96", image, flavor);
        pinned["availability_zone"] = "nova";
        var pinnedId = await CreateAsync(own.Api, new JsonObject
        {
            ["server"] = pinned,
            ["os:scheduler_hints"] = new JsonObject { ["build_near_host_ip"] = "192.0.2.1", ["cidr"] = "/24" },
        }, V(100));
        var free = await CreateAsync(own.Api, new JsonObject { ["server"] = Server("u96", image, flavor) }, V(100));
        await own.Api.WaitForAsync(Path(pinnedId), s => s["server"]!["status"]!.GetValue<string>() == "ERROR", s_wait);

        // Below each version its field is absent.
        var old = (await own.Api.SendAsync(HttpMethod.Get, Path(pinnedId), apiVersion: V(95)))["server"]!.AsObject();
        Assert.False(old.ContainsKey("pinned_availability_zone"));
        Assert.False(old["image"]!.AsObject().ContainsKey("properties"));
        Assert.False(old.ContainsKey("scheduler_hints"));
        var at97 = (await own.Api.SendAsync(HttpMethod.Get, Path(pinnedId), apiVersion: V(97)))["server"]!.AsObject();
        Assert.Equal("nova", at97["pinned_availability_zone"]!.GetValue<string>());
        Assert.False(at97["image"]!.AsObject().ContainsKey("properties"));
        Assert.False((await own.Api.SendAsync(HttpMethod.Get, Path(pinnedId), apiVersion: V(99)))["server"]!.AsObject().ContainsKey("scheduler_hints"));

        var shown = (await own.Api.SendAsync(HttpMethod.Get, Path(pinnedId), apiVersion: V(100)))["server"]!;
        var properties = shown["image"]!["properties"]!.AsObject();
        Assert.Equal(["architecture", "hw_disk_bus"], properties.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(("virtio", "x86_64"), (properties["hw_disk_bus"]!.GetValue<string>(), properties["architecture"]!.GetValue<string>()));
        // Nova's request spec keeps every hint as a list.
        var hints = shown["scheduler_hints"]!.AsObject();
        Assert.Equal(["build_near_host_ip", "cidr"], hints.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("[\"192.0.2.1\"]", hints["build_near_host_ip"]!.ToJsonString());
        Assert.Equal("[\"/24\"]", hints["cidr"]!.ToJsonString());

        // A server created without a zone or hints: null and {}; the list's detail view has the same fields.
        var details = (await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail", apiVersion: V(100)))["servers"]!.AsArray();
        var unpinned = details.Single(s => s!["id"]!.GetValue<string>() == free)!;
        Assert.Null(unpinned["pinned_availability_zone"]);
        Assert.True(unpinned.AsObject().ContainsKey("pinned_availability_zone"));
        Assert.Equal("{}", unpinned["scheduler_hints"]!.ToJsonString());
        Assert.Equal("nova", details.Single(s => s!["id"]!.GetValue<string>() == pinnedId)!["pinned_availability_zone"]!.GetValue<string>());

        await own.Api.SendAsync(HttpMethod.Delete, Path(pinnedId), expect: HttpStatusCode.NoContent);
        await own.Api.SendAsync(HttpMethod.Delete, Path(free), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Version_2_97_share_attachments_exist_and_none_can_be_made()
    {
        using var own = await fixture.NewProjectClientAsync("mv-97");
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv-97");
        var server = await CreateAsync(own.Api, new JsonObject { ["server"] = Server("s97", image, flavor) }, V(97));
        await own.Api.WaitForAsync(Path(server), s => s["server"]!["status"]!.GetValue<string>() == "ERROR", s_wait);
        var share = Guid.NewGuid().ToString();

        // Below 2.97 the route does not exist.
        Assert.Equal(HttpStatusCode.NotFound, (await own.Api.TrySendAsync(HttpMethod.Get, Path(server) + "/shares", apiVersion: V(96))).Status);
        var list = await own.Api.SendAsync(HttpMethod.Get, Path(server) + "/shares", apiVersion: V(97));
        Assert.Empty(list["shares"]!.AsArray());
        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Get, $"{Path(server)}/shares/{share}", apiVersion: V(97));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal($"Share {share} could not be found.", Message(json));
        Assert.Equal(HttpStatusCode.NotFound,
            (await own.Api.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{Guid.NewGuid()}/shares", apiVersion: V(97))).Status);

        // Nova attaches a share to a stopped server only: this one is in ERROR.
        var attach = new JsonObject { ["share"] = new JsonObject { ["share_id"] = share } };
        (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/shares", attach, V(97));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'create share' instance {server} while it is in vm_state error", Message(json));
        Assert.Equal(HttpStatusCode.BadRequest,
            (await own.Api.TrySendAsync(HttpMethod.Post, Path(server) + "/shares", new JsonObject { ["share"] = new JsonObject { ["share_id"] = "x" } }, V(97))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await own.Api.TrySendAsync(HttpMethod.Delete, $"{Path(server)}/shares/{share}", apiVersion: V(97))).Status);
        await own.Api.SendAsync(HttpMethod.Delete, Path(server), expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task The_version_document_and_latest_name_2_100()
    {
        using var own = await fixture.NewProjectClientAsync("mv-100");
        var version = (await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1"))["version"]!;
        Assert.Equal("2.100", version["version"]!.GetValue<string>());
        using var request = new HttpRequestMessage(HttpMethod.Get, "/compute/v2.1/flavors");
        request.Headers.Add("OpenStack-API-Version", "compute latest");
        using var reply = await own.Api.Http.SendAsync(request);
        Assert.Equal("compute 2.100", reply.Headers.GetValues("OpenStack-API-Version").Single());
        Assert.Equal(HttpStatusCode.NotAcceptable, (await own.Api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/flavors", apiVersion: "compute 2.101")).Status);
    }
}
