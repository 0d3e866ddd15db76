using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Image;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>A host with small image limits: 3 properties and 2 tags per image, 2 MiB of image data per project.</summary>
public class ImageQuotaFixture : EmberFixture
{
    public ImageQuotaFixture()
        : this(onPostgres: false)
    {
    }

    protected ImageQuotaFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    public const long StorageQuota = 2 << 20;

    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Image.PropertyQuota = 3;
        options.Image.TagQuota = 2;
        options.Image.StorageQuotaBytes = StorageQuota;
        return Task.CompletedTask;
    }
}

/// <summary>A <see cref="ImageQuotaFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresImageQuotaFixture() : ImageQuotaFixture(onPostgres: true);

/// <summary>Runs <see cref="ImageQuotaCases"/> on SQLite.</summary>
public sealed class ImageQuotaTests(ImageQuotaFixture ember) : ImageQuotaCases(ember), IClassFixture<ImageQuotaFixture>;

/// <summary>Runs <see cref="ImageQuotaCases"/> on PostgreSQL.</summary>
public sealed class PostgresImageQuotaTests(PostgresImageQuotaFixture ember) : ImageQuotaCases(ember), IClassFixture<PostgresImageQuotaFixture>;

/// <summary>Glance's image_property_quota and image_tag_quota, and a per-project storage quota enforced as the data streams.</summary>
public abstract class ImageQuotaCases(ImageQuotaFixture ember)
{
    [Fact]
    public async Task More_properties_than_the_quota_get_413_on_create_and_on_patch_and_nothing_changes()
    {
        using var demo = await ember.ClientAsync("demo");
        var (status, body) = await CreateAsync(demo, """{"name":"props","disk_format":"raw","container_format":"bare","a":"1","b":"2","c":"3","d":"4"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("The limit has been exceeded on the number of allowed image properties. Attempted: 4, Maximum: 3", body["message"]!.GetValue<string>());

        var (created, image) = await CreateAsync(demo, """{"name":"props","disk_format":"raw","container_format":"bare","a":"1","b":"2","c":"3"}""");
        Assert.Equal(HttpStatusCode.Created, created);
        var id = image["id"]!.GetValue<string>();

        using var patched = await PatchAsync(demo, id, """[{"op":"replace","path":"/name","value":"renamed"},{"op":"add","path":"/d","value":"4"}]""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, patched.StatusCode);
        var shown = JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{id}"))!;
        Assert.Equal("props", shown["name"]!.GetValue<string>());
        Assert.Null(shown["d"]);

        // Replacing one property with another stays within the quota.
        using var swapped = await PatchAsync(demo, id, """[{"op":"remove","path":"/c"},{"op":"add","path":"/d","value":"4"}]""");
        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
    }

    [Fact]
    public async Task More_tags_than_the_quota_get_413_and_a_tag_longer_than_255_characters_gets_400()
    {
        using var demo = await ember.ClientAsync("demo");
        var (status, body) = await CreateAsync(demo, """{"name":"tags","disk_format":"raw","container_format":"bare","tags":["x","y","z"]}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("number of allowed image tags. Attempted: 3, Maximum: 2", body["message"]!.GetValue<string>());

        var (_, image) = await CreateAsync(demo, """{"name":"tags","disk_format":"raw","container_format":"bare","tags":["x","y"]}""");
        var id = image["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await demo.PutAsync($"/image/v2/images/{id}/tags/y", null)).StatusCode); // already there
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await demo.PutAsync($"/image/v2/images/{id}/tags/z", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await demo.PutAsync($"/image/v2/images/{id}/tags/{new string('t', 256)}", null)).StatusCode);

        var tags = JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{id}"))!["tags"]!.AsArray().Select(t => t!.GetValue<string>());
        Assert.Equal(["x", "y"], tags.Order());
    }

    [Fact]
    public async Task Uploads_past_the_project_storage_quota_get_413_before_or_while_streaming_and_leave_no_data()
    {
        using var demo = await ember.ClientAsync("demo");
        var first = await QueuedImageAsync(demo);
        Assert.Equal(HttpStatusCode.NoContent, (await UploadAsync(demo, first, new ByteArrayContent(new byte[3 << 19]))).StatusCode); // 1.5 MiB

        // Announced size over what is left: refused before a byte is read.
        var second = await QueuedImageAsync(demo);
        using (var refused = await UploadAsync(demo, second, new ByteArrayContent(new byte[1 << 20])))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            var message = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["message"]!.GetValue<string>();
            Assert.Equal($"Denying attempt to upload image because it exceeds the quota: The size of the data {1 << 20} will exceed the limit. {1 << 19} bytes remaining.", message);
        }

        // No size announced (chunked): refused at the byte that passes the quota.
        using (var refused = await UploadAsync(demo, second, new UnknownLengthContent(1 << 20)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        }

        Assert.Equal("queued", JsonNode.Parse(await demo.GetStringAsync($"/image/v2/images/{second}"))!["status"]!.GetValue<string>());
        Assert.Empty(Directory.GetFiles(Path.Combine(ember.DataDir, "images"), second + "*"));

        // Another project's quota is its own, and deleting an image gives its bytes back.
        using var admin = await ember.ClientAsync("admin");
        Assert.Equal(HttpStatusCode.NoContent, (await UploadAsync(admin, await QueuedImageAsync(admin), new ByteArrayContent(new byte[1 << 20]))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await demo.DeleteAsync($"/image/v2/images/{first}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await UploadAsync(demo, second, new UnknownLengthContent(1 << 20))).StatusCode);
    }

    [Fact]
    public async Task Staged_data_counts_against_the_storage_quota_and_a_refused_stage_leaves_the_image_queued()
    {
        // A project of its own: the other cases fill the demo project's quota.
        var project = await ember.NewProjectClientAsync("stage-quota");
        using var client = project.Api;
        client.Http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        var first = await QueuedImageAsync(client.Http);
        using (var staged = await StageAsync(client.Http, first, new ByteArrayContent(new byte[3 << 19]))) // 1.5 MiB
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }

        // The staged 1.5 MiB leave 0.5 MiB: an announced MiB is refused before it is read, a chunked one at the byte past the quota.
        var second = await QueuedImageAsync(client.Http);
        using (var refused = await StageAsync(client.Http, second, new ByteArrayContent(new byte[1 << 20])))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            Assert.StartsWith("Denying attempt to upload image because it exceeds the quota", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["message"]!.GetValue<string>());
        }

        using (var refused = await StageAsync(client.Http, second, new UnknownLengthContent(1 << 20)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        }

        Assert.Equal("queued", JsonNode.Parse(await client.Http.GetStringAsync($"/image/v2/images/{second}"))!["status"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(ember.DataDir, "images", "staging", second)));

        // Deleting the staged image gives its bytes back.
        Assert.Equal(HttpStatusCode.NoContent, (await client.Http.DeleteAsync($"/image/v2/images/{first}")).StatusCode);
        using (var staged = await StageAsync(client.Http, second, new UnknownLengthContent(1 << 20)))
        {
            Assert.Equal(HttpStatusCode.NoContent, staged.StatusCode);
        }
    }

    private static Task<HttpResponseMessage> StageAsync(HttpClient client, string id, HttpContent content)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return client.PutAsync($"/image/v2/images/{id}/stage", content);
    }

    private static async Task<(HttpStatusCode Status, JsonNode Body)> CreateAsync(HttpClient client, string json)
    {
        using var response = await client.PostAsync("/image/v2/images", new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static async Task<string> QueuedImageAsync(HttpClient client)
    {
        var (status, image) = await CreateAsync(client, """{"name":"quota","disk_format":"raw","container_format":"bare"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return image["id"]!.GetValue<string>();
    }

    private static Task<HttpResponseMessage> PatchAsync(HttpClient client, string id, string patch)
    {
        var content = new StringContent(patch);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch");
        return client.PatchAsync($"/image/v2/images/{id}", content);
    }

    private static Task<HttpResponseMessage> UploadAsync(HttpClient client, string id, HttpContent content)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return client.PutAsync($"/image/v2/images/{id}/file", content);
    }

    /// <summary>A body of zeroes sent chunked: no Content-Length for the server to check first.</summary>
    private sealed class UnknownLengthContent(int length) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var chunk = new byte[64 * 1024];
            for (var sent = 0; sent < length; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, length - sent)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
