using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>Runs <see cref="ImageImportCases"/> on SQLite.</summary>
public sealed class ImageImportTests(EmberFixture ember) : ImageImportCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="ImageImportCases"/> on PostgreSQL.</summary>
public sealed class PostgresImageImportTests(PostgresEmberFixture ember) : ImageImportCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>Glance's interoperable image import (issue 18): discovery, stage, import with glance-direct, and its errors.</summary>
public abstract class ImageImportCases(EmberFixture ember) : IDisposable
{
    private static readonly TimeSpan s_importTimeout = TimeSpan.FromMinutes(1);

    private readonly string _workDir = Directory.CreateTempSubdirectory("ember-import-test").FullName;

    public void Dispose() => Directory.Delete(_workDir, recursive: true);

    private string StagedFile(string id) => Path.Combine(ember.DataDir, "images", "staging", id);

    private static async Task<string> CreateAsync(ApiClient client, JsonObject body) =>
        (await client.SendAsync(HttpMethod.Post, "/image/v2/images", body, HttpStatusCode.Created))["id"]!.GetValue<string>();

    private static JsonObject RawImage(string name) => new() { ["name"] = name, ["disk_format"] = "raw", ["container_format"] = "bare" };

    private static async Task<HttpResponseMessage> StageAsync(ApiClient client, string id, byte[] data, string contentType = "application/octet-stream")
    {
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return await client.Http.PutAsync($"/image/v2/images/{id}/stage", content);
    }

    private static Task<(HttpStatusCode Status, JsonNode? Json, string Text)> ImportAsync(ApiClient client, string id, JsonNode body) =>
        client.TrySendAsync(HttpMethod.Post, $"/image/v2/images/{id}/import", body);

    private static JsonObject Method(string name) => new() { ["method"] = new JsonObject { ["name"] = name } };

    private static async Task<string> StatusAsync(ApiClient client, string id) =>
        (await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}"))["status"]!.GetValue<string>();

    private static void AssertGlanceError(HttpStatusCode expected, string message, (HttpStatusCode Status, JsonNode? Json, string Text) answer)
    {
        Assert.True(answer.Status == expected, $"expected {(int)expected}, got {(int)answer.Status}: {answer.Text}");
        Assert.Equal(message, answer.Json!["message"]!.GetValue<string>());
        Assert.Equal($"{(int)expected} {ReasonPhrase(expected)}", answer.Json!["code"]!.GetValue<string>());
    }

    private static string ReasonPhrase(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => "Bad Request",
        HttpStatusCode.Conflict => "Conflict",
        HttpStatusCode.NotFound => "Not Found",
        _ => status.ToString(),
    };

    [Fact]
    public async Task Discovery_offers_glance_direct_only_and_create_names_it_in_a_header()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var info = await admin.SendAsync(HttpMethod.Get, "/image/v2/info/import");
        Assert.Equal(["glance-direct"], info["import-methods"]!["value"]!.AsArray().Select(m => m!.GetValue<string>()));

        // One store: Glance without multiple backends answers 404, which glanceclient and Tempest read as "no stores".
        AssertGlanceError(HttpStatusCode.NotFound, "Multi backend is not supported at this site.",
            await admin.TrySendAsync(HttpMethod.Get, "/image/v2/info/stores"));

        using var created = await admin.Http.PostAsync("/image/v2/images", new StringContent(RawImage("header").ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("glance-direct", created.Headers.GetValues("OpenStack-image-import-methods").Single());
    }

    [Fact]
    public async Task Stage_then_import_makes_the_image_active_with_its_hashes_and_counts_it_in_the_usage()
    {
        var project = await ember.NewProjectClientAsync("import");
        using var client = project.Api;
        client.Http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        var id = await CreateAsync(client, RawImage("imported"));
        var data = new byte[(3 << 20) + 17];
        Random.Shared.NextBytes(data);

        using (var staged = await StageAsync(client, id, data))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        var image = await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}");
        Assert.Equal("uploading", image["status"]!.GetValue<string>());
        Assert.Equal(data.Length, image["size"]!.GetValue<long>());
        Assert.Null(image["checksum"]);
        Assert.Equal(DataDirectory.PrivateFile, File.GetUnixFileMode(StagedFile(id)));
        Assert.Equal(DataDirectory.PrivateDirectory, File.GetUnixFileMode(Path.GetDirectoryName(StagedFile(id))!));
        // Staged data is not the image's data until the import.
        using (var download = await client.Http.GetAsync($"/image/v2/images/{id}/file"))
        {
            Assert.Equal(HttpStatusCode.NoContent, download.StatusCode);
        }

        var usage = (await client.SendAsync(HttpMethod.Get, "/image/v2/info/usage"))["usage"]!;
        Assert.Equal(3, usage["image_stage_total"]!["usage"]!.GetValue<long>());
        Assert.Equal(3, usage["image_size_total"]!["usage"]!.GetValue<long>());
        Assert.Equal(1, usage["image_count_uploading"]!["usage"]!.GetValue<long>());

        var (status, _, text) = await ImportAsync(client, id, Method("glance-direct"));
        Assert.True(status == HttpStatusCode.Accepted, text);
        var active = await client.WaitForAsync($"/image/v2/images/{id}", i => i["status"]!.GetValue<string>() != "importing", s_importTimeout);
        Assert.Equal("active", active["status"]!.GetValue<string>());
        Assert.Equal(data.Length, active["size"]!.GetValue<long>());
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), active["checksum"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(SHA512.HashData(data)), active["os_hash_value"]!.GetValue<string>());
        Assert.Equal(data.Length, active["virtual_size"]!.GetValue<long>());
        Assert.Equal(data, await client.Http.GetByteArrayAsync($"/image/v2/images/{id}/file"));
        Assert.False(File.Exists(StagedFile(id)));

        usage = (await client.SendAsync(HttpMethod.Get, "/image/v2/info/usage"))["usage"]!;
        Assert.Equal(0, usage["image_stage_total"]!["usage"]!.GetValue<long>());
        Assert.Equal(3, usage["image_size_total"]!["usage"]!.GetValue<long>());
        Assert.Equal(1, usage["image_count_total"]!["usage"]!.GetValue<long>());

        // An active image is no target for another import.
        AssertGlanceError(HttpStatusCode.Conflict, "Image with status active cannot be target for import", await ImportAsync(client, id, Method("glance-direct")));
        using (var again = await StageAsync(client, id, data))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }
    }

    [Fact]
    public async Task Import_requests_and_states_glance_refuses_are_refused_in_its_words()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var id = await CreateAsync(admin, RawImage("refusals"));
        var unknown = Guid.NewGuid().ToString();

        // Before staging: nothing to import.
        AssertGlanceError(HttpStatusCode.Conflict, "Image needs to be staged before 'glance-direct' method can be used",
            await ImportAsync(admin, id, Method("glance-direct")));
        AssertGlanceError(HttpStatusCode.NotFound, $"No image found with ID {unknown}", await ImportAsync(admin, unknown, Method("glance-direct")));
        using (var missing = await StageAsync(admin, unknown, [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // Bodies: no method, no name, a method Ember does not offer (no outbound fetches, one store), flags not booleans.
        AssertGlanceError(HttpStatusCode.BadRequest, "Import request requires a 'method' field.", await ImportAsync(admin, id, new JsonObject()));
        AssertGlanceError(HttpStatusCode.BadRequest, "Import request requires a 'name' field.",
            await ImportAsync(admin, id, new JsonObject { ["method"] = new JsonObject() }));
        foreach (var method in new[] { "web-download", "copy-image", "glance-download" })
        {
            AssertGlanceError(HttpStatusCode.BadRequest, $"Unknown import method name '{method}'.", await ImportAsync(admin, id, Method(method)));
        }

        var notBoolean = Method("glance-direct");
        notBoolean["all_stores"] = "yes";
        AssertGlanceError(HttpStatusCode.BadRequest, "'all_stores' must be boolean value only", await ImportAsync(admin, id, notBoolean));

        // Stage takes only octet-stream, and only once.
        using (var json = await StageAsync(admin, id, [1, 2, 3], "application/json"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        }

        Assert.Equal("queued", await StatusAsync(admin, id));
        using (var staged = await StageAsync(admin, id, [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        using (var twice = await StageAsync(admin, id, [4, 5, 6]))
        {
            Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
            Assert.Contains("Image status transition from uploading to uploading is not allowed", await twice.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // An upload to a staged image is refused as well, and the staged bytes stay.
        var content = new ByteArrayContent([7, 8, 9]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using (var upload = await admin.Http.PutAsync($"/image/v2/images/{id}/file", content))
        {
            Assert.Equal(HttpStatusCode.Conflict, upload.StatusCode);
        }

        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(StagedFile(id)));

        // Formats must be set by import time; once staged they can no longer be.
        var formatless = await CreateAsync(admin, new JsonObject { ["name"] = "no-container", ["disk_format"] = "raw" });
        (await StageAsync(admin, formatless, [1])).Dispose();
        AssertGlanceError(HttpStatusCode.Conflict, "'container_format' needs to be set before import", await ImportAsync(admin, formatless, Method("glance-direct")));
        Assert.Equal("uploading", await StatusAsync(admin, formatless));

        // Another project may neither stage nor import the admin's (public) image.
        using (var patched = await admin.Http.PatchAsync($"/image/v2/images/{id}", new StringContent("""[{"op":"replace","path":"/visibility","value":"public"}]""",
            new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch"))))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        var (forbidden, _, text) = await ImportAsync(demo, id, Method("glance-direct"));
        Assert.True(forbidden == HttpStatusCode.Forbidden, text);
        var other = await CreateAsync(admin, RawImage("others"));
        using (var patched = await admin.Http.PatchAsync($"/image/v2/images/{other}", new StringContent("""[{"op":"replace","path":"/visibility","value":"public"}]""",
            new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch"))))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        using (var stage = await StageAsync(demo, other, [1]))
        {
            Assert.Equal(HttpStatusCode.Forbidden, stage.StatusCode);
        }

        Assert.Equal("queued", await StatusAsync(admin, other));

        // Deleting a staged image removes its staged data.
        foreach (var image in new[] { id, formatless, other })
        {
            await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{image}", expect: HttpStatusCode.NoContent);
            Assert.False(File.Exists(StagedFile(image)));
        }
    }

    [Fact]
    public async Task A_failed_import_goes_back_to_queued_without_the_staged_data_and_can_be_staged_again()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var id = await CreateAsync(admin, new JsonObject { ["name"] = "not-qcow2", ["disk_format"] = "qcow2", ["container_format"] = "bare" });
        var data = new byte[1 << 20];
        Random.Shared.NextBytes(data);
        using (var staged = await StageAsync(admin, id, data))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        // Random bytes are no qcow2: the import's inspection refuses them as an upload's would.
        var (status, _, text) = await ImportAsync(admin, id, Method("glance-direct"));
        Assert.True(status == HttpStatusCode.Accepted, text);
        var failed = await admin.WaitForAsync($"/image/v2/images/{id}", i => i["status"]!.GetValue<string>() is not ("importing" or "uploading"), s_importTimeout);
        Assert.Equal("queued", failed["status"]!.GetValue<string>());
        Assert.Null(failed["size"]);
        Assert.Null(failed["checksum"]);
        Assert.False(File.Exists(StagedFile(id)));
        Assert.False(await ember.ImageDataExistsAsync(id));

        // Queued again: real qcow2 data can be staged and imported.
        var qcow2 = Path.Combine(_workDir, "real.qcow2");
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "16M"])).EnsureSuccess();
        using (var staged = await StageAsync(admin, id, await File.ReadAllBytesAsync(qcow2)))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        (status, _, text) = await ImportAsync(admin, id, Method("glance-direct"));
        Assert.True(status == HttpStatusCode.Accepted, text);
        var active = await admin.WaitForAsync($"/image/v2/images/{id}", i => i["status"]!.GetValue<string>() != "importing", s_importTimeout);
        Assert.Equal("active", active["status"]!.GetValue<string>());
        Assert.Equal(16L << 20, active["virtual_size"]!.GetValue<long>());
        await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{id}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Glance_and_openstack_clients_create_images_through_the_import()
    {
        // glanceclient's one command: create, stage (here from stdin), import with glance-direct.
        var text = string.Concat(Enumerable.Range(0, 1 << 14).Select(_ => Convert.ToHexString(RandomNumberGenerator.GetBytes(32))));
        var env = ember.OpenRc("admin");
        var created = await Cli.RunAsync("glance", ["image-create-via-import", "--disk-format", "raw", "--container-format", "bare", "--name", "via-import"], env, stdin: text);
        created.EnsureSuccess();
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var id = (await admin.SendAsync(HttpMethod.Get, "/image/v2/images?name=via-import"))["images"]![0]!["id"]!.GetValue<string>();
        var image = await admin.WaitForAsync($"/image/v2/images/{id}", i => i["status"]!.GetValue<string>() == "active", s_importTimeout);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text))), image["checksum"]!.GetValue<string>());

        var info = (await Cli.RunAsync("glance", ["import-info"], env)).EnsureSuccess();
        // A table wrapped at 80 columns: the value is whole once the borders and line breaks are gone.
        Assert.Contains("\"value\":[\"glance-direct\"]", string.Concat(info.StdOut.Where(c => !char.IsWhiteSpace(c) && c != '|')), StringComparison.Ordinal);

        // openstackclient's --import (openstacksdk: create, then stage and import because the create answer names glance-direct).
        var file = Path.Combine(_workDir, "osc.raw");
        var data = new byte[2 << 20];
        Random.Shared.NextBytes(data);
        await File.WriteAllBytesAsync(file, data);
        (await ember.RunClientAsync("openstack", "ember", "image", "create", "--import", "--disk-format", "raw", "--container-format", "bare",
            "--file", file, "osc-import")).EnsureSuccess();
        var osc = (await admin.SendAsync(HttpMethod.Get, "/image/v2/images?name=osc-import"))["images"]![0]!["id"]!.GetValue<string>();
        var imported = await admin.WaitForAsync($"/image/v2/images/{osc}", i => i["status"]!.GetValue<string>() == "active", s_importTimeout);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(data)), imported["checksum"]!.GetValue<string>());
        Assert.Equal(data, await admin.Http.GetByteArrayAsync($"/image/v2/images/{osc}/file"));

        foreach (var done in new[] { id, osc })
        {
            await admin.SendAsync(HttpMethod.Delete, $"/image/v2/images/{done}", expect: HttpStatusCode.NoContent);
        }
    }
}

/// <summary>What a stop leaves in the staging area, put right by the next start (SQLite; the rule is the same on PostgreSQL).</summary>
public sealed class ImageStagingRestartTests
{
    [Fact]
    public async Task Start_keeps_complete_stages_requeues_cut_off_ones_and_removes_orphans()
    {
        using var dir = new RestartableDataDir("staging");
        string complete, cutOff;
        var staging = Path.Combine(dir.DataDir, "images", "staging");
        var orphan = Path.Combine(staging, Guid.NewGuid().ToString());
        await using (var host = await dir.StartAsync())
        {
            using var admin = await RestartableDataDir.AdminClientAsync(host);
            complete = await StagedImageAsync(admin, new byte[4096]);
            cutOff = await StagedImageAsync(admin, new byte[4096]);
        }

        // As a stop in the middle of a stage leaves them: fewer bytes than the size, and a file no image waits for.
        await using (var stream = new FileStream(Path.Combine(staging, cutOff), FileMode.Open))
        {
            stream.SetLength(100);
        }

        await File.WriteAllBytesAsync(orphan, [1, 2, 3]);

        await using (var host = await dir.StartAsync())
        {
            using var admin = await RestartableDataDir.AdminClientAsync(host);
            Assert.Equal("uploading", (await admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{complete}"))["status"]!.GetValue<string>());
            var requeued = await admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{cutOff}");
            Assert.Equal("queued", requeued["status"]!.GetValue<string>());
            Assert.Null(requeued["size"]);
            Assert.False(File.Exists(Path.Combine(staging, cutOff)));
            Assert.False(File.Exists(orphan));

            // The complete stage survived the restart and imports.
            await admin.SendAsync(HttpMethod.Post, $"/image/v2/images/{complete}/import",
                new JsonObject { ["method"] = new JsonObject { ["name"] = "glance-direct" } }, HttpStatusCode.Accepted);
            var active = await admin.WaitForAsync($"/image/v2/images/{complete}", i => i["status"]!.GetValue<string>() != "importing", TimeSpan.FromMinutes(1));
            Assert.Equal("active", active["status"]!.GetValue<string>());
        }
    }

    private static async Task<string> StagedImageAsync(ApiClient admin, byte[] data)
    {
        var id = (await admin.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "staged", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var staged = await admin.Http.PutAsync($"/image/v2/images/{id}/stage", content);
        Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        return id;
    }
}
