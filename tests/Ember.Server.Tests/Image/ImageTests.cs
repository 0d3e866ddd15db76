using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>Runs <see cref="ImageCases"/> on SQLite.</summary>
public sealed class ImageTests(EmberFixture ember) : ImageCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="ImageCases"/> on PostgreSQL.</summary>
public sealed class PostgresImageTests(PostgresEmberFixture ember) : ImageCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>The same image API with the data in a Ceph pool (Image:Backend rbd), and volumes as files copied from it.</summary>
public sealed class RbdImageTests(RbdImagesEmberFixture ember) : ImageCases(ember), IClassFixture<RbdImagesEmberFixture>;

public abstract class ImageCases(EmberFixture ember) : IDisposable
{
    private readonly string _workDir = Directory.CreateTempSubdirectory("ember-image-test").FullName;

    public void Dispose() => Directory.Delete(_workDir, recursive: true);

    private async Task<string> MakeQcow2Async(string name, string size = "32M")
    {
        var path = Path.Combine(_workDir, name);
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", path, size])).EnsureSuccess();
        // Some real bytes, so the checksum is not that of an empty image.
        (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 0 1M", path])).EnsureSuccess();
        return path;
    }

    [Fact]
    public async Task Openstack_client_uploads_lists_shows_saves_and_deletes_an_image()
    {
        var source = await MakeQcow2Async("cirros.qcow2");
        var created = (await ember.RunClientAsync("openstack", "ember", "image", "create", "--disk-format", "qcow2",
            "--container-format", "bare", "--file", source, "cirros-cli", "-f", "json")).EnsureSuccess().Json();
        var id = created["id"]!.GetValue<string>();

        var shown = (await ember.RunClientAsync("openstack", "ember", "image", "show", "cirros-cli", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("active", shown["status"]!.GetValue<string>());
        Assert.Equal(new FileInfo(source).Length, shown["size"]!.GetValue<long>());
        Assert.Equal(32L << 20, shown["virtual_size"]!.GetValue<long>());

        var copy = Path.Combine(_workDir, "saved.qcow2");
        (await ember.RunClientAsync("openstack", "ember", "image", "save", "--file", copy, "cirros-cli")).EnsureSuccess();
        Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(copy));

        (await ember.RunClientAsync("openstack", "ember", "image", "delete", "cirros-cli")).EnsureSuccess();
        var after = await ember.RunClientAsync("openstack", "ember", "image", "show", id);
        Assert.NotEqual(0, after.ExitCode);
        Assert.False(await ember.ImageDataExistsAsync(id));
    }

    [Fact]
    public async Task Glance_client_lists_images_with_the_v2_columns()
    {
        var source = await MakeQcow2Async("listed.qcow2");
        (await ember.RunClientAsync("openstack", "ember", "image", "create", "--disk-format", "qcow2",
            "--container-format", "bare", "--file", source, "listed")).EnsureSuccess();
        var env = ember.OpenRc();
        var list = (await Cli.RunAsync("glance", ["image-list"], env)).EnsureSuccess();
        Assert.Contains("| ID", list.StdOut);
        Assert.Contains("| listed", list.StdOut);
        var show = (await Cli.RunAsync("glance", ["image-show", "--human-readable", ListedId(list.StdOut, "listed")], env)).EnsureSuccess();
        Assert.Contains("active", show.StdOut);
    }

    private static string ListedId(string table, string name) =>
        table.Split('\n').First(l => l.Contains($"| {name} ")).Split('|', StringSplitOptions.TrimEntries)[1];

    [Fact]
    public async Task Member_cannot_create_a_public_image()
    {
        using var demo = await ember.ClientAsync("demo");
        using var response = await demo.PostAsync("/image/v2/images", new StringContent(
            """{"name":"pub","visibility":"public","disk_format":"raw","container_format":"bare"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("403 Forbidden", body["code"]!.GetValue<string>());

        var cli = await ember.RunClientAsync("openstack", "ember-demo", "image", "create", "--public", "--disk-format", "raw", "pub2");
        Assert.NotEqual(0, cli.ExitCode);
        Assert.Contains("403", cli.StdErr);
    }

    [Fact]
    public async Task A_cut_off_upload_leaves_the_image_queued_without_data()
    {
        using var admin = await ember.ClientAsync("admin");
        using var created = await admin.PostAsync("/image/v2/images", new StringContent(
            """{"name":"partial","disk_format":"raw","container_format":"bare"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

        // Declare 10 MiB, send 1 MiB, then close the connection.
        using var client = new System.Net.Sockets.TcpClient();
        var uri = new Uri(ember.BaseUrl);
        await client.ConnectAsync(uri.Host, uri.Port);
        var token = admin.DefaultRequestHeaders.GetValues("X-Auth-Token").Single();
        var stream = client.GetStream();
        var head = $"PUT /image/v2/images/{id}/file HTTP/1.1\r\nHost: {uri.Authority}\r\nX-Auth-Token: {token}\r\n" +
                   "Content-Type: application/octet-stream\r\nContent-Length: 10485760\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(new byte[1 << 20]);
        client.Close();

        var status = "";
        for (var i = 0; i < 100 && status != "queued"; i++)
        {
            await Task.Delay(100);
            status = JsonNode.Parse(await admin.GetStringAsync($"/image/v2/images/{id}"))!["status"]!.GetValue<string>();
        }

        Assert.Equal("queued", status);
        Assert.Empty(Directory.GetFiles(Path.Combine(ember.DataDir, "images"), id + "*"));
        Assert.False(await ember.ImageDataExistsAsync(id));
    }

    [Fact]
    public async Task Upload_download_round_trip_with_checksums_and_content_md5()
    {
        using var admin = await ember.ClientAsync("admin");
        using var created = await admin.PostAsync("/image/v2/images", new StringContent(
            """{"name":"raw-bytes","disk_format":"raw","container_format":"bare","hw_disk_bus":"virtio"}""", Encoding.UTF8, "application/json"));
        var image = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.Equal("queued", image["status"]!.GetValue<string>());
        Assert.Equal("virtio", image["hw_disk_bus"]!.GetValue<string>());
        var id = image["id"]!.GetValue<string>();

        // Random bytes around a zero run as long as an RBD object (4 MiB at 4 MiB), which the rbd store leaves unwritten.
        var data = new byte[(9 << 20) + 123];
        Random.Shared.NextBytes(data);
        Array.Clear(data, 4 << 20, 4 << 20);
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsync($"/image/v2/images/{id}/file", content)).StatusCode);

        var shown = JsonNode.Parse(await admin.GetStringAsync($"/image/v2/images/{id}"))!;
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(data)), shown["checksum"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA512.HashData(data)), shown["os_hash_value"]!.GetValue<string>());
        Assert.Equal(data.Length, shown["virtual_size"]!.GetValue<long>());

        using var download = await admin.GetAsync($"/image/v2/images/{id}/file");
        Assert.Equal(shown["checksum"]!.GetValue<string>(), download.Content.Headers.GetValues("Content-MD5").Single());
        Assert.Equal(data, await download.Content.ReadAsByteArrayAsync());

        using var range = new HttpRequestMessage(HttpMethod.Get, $"/image/v2/images/{id}/file");
        range.Headers.Range = new RangeHeaderValue((4 << 20) - 10, (8 << 20) + 9);
        using var partial = await admin.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(data.AsSpan((4 << 20) - 10, (4 << 20) + 20).ToArray(), await partial.Content.ReadAsByteArrayAsync());

        // A second upload to an active image is a conflict.
        var again = new ByteArrayContent([1, 2, 3]);
        again.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PutAsync($"/image/v2/images/{id}/file", again)).StatusCode);
    }

    [Fact]
    public async Task A_volume_from_a_qcow2_image_holds_the_image_bytes()
    {
        var source = await MakeQcow2Async("for-volume.qcow2");
        (await Cli.RunAsync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x3c 5M 64k", source])).EnsureSuccess();
        using var admin = await ember.ClientAsync("admin");
        using var api = new ApiClient(await ember.ClientAsync("admin"));
        var id = (await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "for-volume", ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var content = new ByteArrayContent(await File.ReadAllBytesAsync(source));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PutAsync($"/image/v2/images/{id}/file", content)).StatusCode);

        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["imageRef"] = id, ["size"] = 1 } }, HttpStatusCode.Accepted);
        var volume = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", j => j["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromSeconds(60));

        var target = ember.VolumeTarget(volume);
        foreach (var check in new[] { "read -P 0xab 0 1M", "read -P 0 1M 4M", "read -P 0x3c 5M 64k", "read -P 0 32M 1M" })
        {
            var read = (await Cli.RunAsync("qemu-io", ["-r", "-f", "raw", "-c", check, target])).EnsureSuccess();
            Assert.DoesNotContain("Pattern verification failed", read.StdOut, StringComparison.Ordinal);
        }

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{volume}", TimeSpan.FromSeconds(60));
        await api.SendAsync(HttpMethod.Delete, $"/image/v2/images/{id}", expect: HttpStatusCode.NoContent);
        Assert.False(await ember.ImageDataExistsAsync(id));
    }

    [Fact]
    public async Task Patch_renames_and_protected_images_cannot_be_deleted()
    {
        using var admin = await ember.ClientAsync("admin");
        using var created = await admin.PostAsync("/image/v2/images", new StringContent(
            """{"name":"before","disk_format":"raw","container_format":"bare"}""", Encoding.UTF8, "application/json"));
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

        var patch = new StringContent("""[{"op":"replace","path":"/name","value":"after"},{"op":"replace","path":"/protected","value":true}]""");
        patch.Headers.ContentType = new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch");
        using var patched = await admin.PatchAsync($"/image/v2/images/{id}", patch);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("after", JsonNode.Parse(await patched.Content.ReadAsStringAsync())!["name"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Forbidden, (await admin.DeleteAsync($"/image/v2/images/{id}")).StatusCode);

        var readOnly = new StringContent("""[{"op":"replace","path":"/status","value":"active"}]""");
        readOnly.Headers.ContentType = new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch");
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.PatchAsync($"/image/v2/images/{id}", readOnly)).StatusCode);
    }

    [Fact]
    public async Task Unknown_image_is_404_in_glance_format()
    {
        using var admin = await ember.ClientAsync("admin");
        using var response = await admin.GetAsync($"/image/v2/images/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("404 Not Found", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Glance_client_prints_the_message_of_an_image_api_error()
    {
        var env = ember.OpenRc();
        var id = Guid.NewGuid().ToString();
        var shown = await Cli.RunAsync("glance", ["image-show", id], env);
        Assert.NotEqual(0, shown.ExitCode);
        Assert.DoesNotContain("has no attribute", shown.StdErr, StringComparison.Ordinal);
        Assert.Contains($"No image found with ID {id}", shown.StdErr, StringComparison.Ordinal);

        var tagged = await Cli.RunAsync("glance", ["image-tag-delete", id, "t"], env);
        Assert.NotEqual(0, tagged.ExitCode);
        Assert.DoesNotContain("has no attribute", tagged.StdErr, StringComparison.Ordinal);
        Assert.Contains("404", tagged.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "text/plain")]
    [InlineData("*/*", "text/plain")]
    [InlineData("text/html", "text/html")]
    [InlineData("application/json", "application/json")]
    [InlineData("application/json, text/plain;q=0.5", "application/json")]
    [InlineData("text/*", "text/plain")]
    public async Task Image_errors_are_negotiated_as_webob_does(string? accept, string expected)
    {
        using var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", await ember.TokenAsync());
        if (accept is not null)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Accept", accept);
        }

        var id = Guid.NewGuid().ToString();
        using var response = await http.GetAsync($"/image/v2/images/{id}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(expected, response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains($"No image found with ID {id}", text, StringComparison.Ordinal);
        if (expected == "text/plain")
        {
            Assert.StartsWith("404 Not Found\n\n", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Requests_without_a_token_are_401()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync($"{ember.BaseUrl}/image/v2/images");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
