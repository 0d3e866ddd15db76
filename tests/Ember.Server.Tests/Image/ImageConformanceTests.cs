using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>The image API where Tempest found Ember different from Glance (issue 18): patch forms, owner, deactivate, empty ids.</summary>
public sealed class ImageConformanceTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private static async Task<string> CreateAsync(HttpClient client, string body)
    {
        using var created = await client.PostAsync("/image/v2/images", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!["id"]!.GetValue<string>();
    }

    private static async Task<(HttpStatusCode Status, string Text)> PatchAsync(HttpClient client, string id, string patch, string mediaType)
    {
        var content = new StringContent(patch);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await client.PatchAsync($"/image/v2/images/{id}", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonNode> ShowAsync(HttpClient client, string id) => JsonNode.Parse(await client.GetStringAsync($"/image/v2/images/{id}"))!;

    [Fact]
    public async Task Patch_takes_both_json_patch_forms_and_only_the_admin_gives_an_image_to_another_project()
    {
        using var admin = await ember.ClientAsync("admin");
        var id = await CreateAsync(admin, """{"name":"forms","disk_format":"raw","container_format":"bare"}""");

        // Draft 4 (the operation as the key), as Tempest sends it with the 2.0 media type.
        var (status, text) = await PatchAsync(admin, id, """[{"replace":"/name","value":"renamed"},{"add":"/extra","value":"x"},{"replace":"/protected","value":true}]""",
            "application/openstack-images-v2.0-json-patch");
        Assert.True(status == HttpStatusCode.OK, text);
        var shown = await ShowAsync(admin, id);
        Assert.Equal("renamed", shown["name"]!.GetValue<string>());
        Assert.Equal("x", shown["extra"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.DeleteAsync($"/image/v2/images/{id}")).StatusCode);

        // RFC 6902 (op and path) with the 2.1 media type, as glanceclient sends it.
        (status, text) = await PatchAsync(admin, id, """[{"op":"remove","path":"/extra"},{"op":"replace","path":"/protected","value":false}]""",
            "application/openstack-images-v2.1-json-patch");
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Null((await ShowAsync(admin, id))["extra"]);

        // Two operations in one object, or a path that is not a top-level pointer, are 400s.
        Assert.Equal(HttpStatusCode.BadRequest, (await PatchAsync(admin, id, """[{"replace":"/name","add":"/x","value":"v"}]""", "application/openstack-images-v2.0-json-patch")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PatchAsync(admin, id, """[{"op":"replace","path":"name","value":"v"}]""", "application/openstack-images-v2.1-json-patch")).Status);

        // The admin may give the image to any project, at create and by patch.
        var owner1 = Guid.NewGuid().ToString("N");
        var owned = await CreateAsync(admin, $$"""{"name":"given","disk_format":"raw","container_format":"bare","owner":"{{owner1}}"}""");
        Assert.Equal(owner1, (await ShowAsync(admin, owned))["owner"]!.GetValue<string>());
        var owner2 = Guid.NewGuid().ToString("N");
        (status, text) = await PatchAsync(admin, owned, $$"""[{"replace":"/owner","value":"{{owner2}}"}]""", "application/openstack-images-v2.0-json-patch");
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(owner2, (await ShowAsync(admin, owned))["owner"]!.GetValue<string>());

        // A member may not, and nothing is made.
        using var demo = await ember.ClientAsync("demo");
        using var refused = await demo.PostAsync("/image/v2/images", new StringContent(
            $$"""{"name":"not-mine","disk_format":"raw","container_format":"bare","owner":"{{owner1}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var demoImage = await CreateAsync(demo, """{"name":"mine","disk_format":"raw","container_format":"bare"}""");
        Assert.Equal(HttpStatusCode.Forbidden, (await PatchAsync(demo, demoImage, $$"""[{"op":"replace","path":"/owner","value":"{{owner1}}"}]""",
            "application/openstack-images-v2.1-json-patch")).Status);

        foreach (var image in new[] { id, owned, demoImage })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/image/v2/images/{image}")).StatusCode);
        }
    }

    [Fact]
    public async Task Glance_client_deactivates_an_image_that_members_then_cannot_download_nor_make_a_volume_of()
    {
        using var demo = await ember.ClientAsync("demo");
        var id = await CreateAsync(demo, """{"name":"deactivated","disk_format":"raw","container_format":"bare"}""");
        var env = ember.OpenRc("demo");
        // A queued image cannot be deactivated (Glance's 400).
        var queued = await Cli.RunAsync("glance", ["image-deactivate", id], env);
        Assert.NotEqual(0, queued.ExitCode);
        Assert.Contains("Not allowed to deactivate image in status 'queued'", queued.StdErr, StringComparison.Ordinal);

        var data = new byte[1 << 20];
        Random.Shared.NextBytes(data);
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        Assert.Equal(HttpStatusCode.NoContent, (await demo.PutAsync($"/image/v2/images/{id}/file", content)).StatusCode);

        (await Cli.RunAsync("glance", ["image-deactivate", id], env)).EnsureSuccess();
        Assert.Equal("deactivated", (await ShowAsync(demo, id))["status"]!.GetValue<string>());
        using (var download = await demo.GetAsync($"/image/v2/images/{id}/file"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, download.StatusCode);
        }

        // The admin still reads it.
        using var admin = await ember.ClientAsync("admin");
        Assert.Equal(data, await admin.GetByteArrayAsync($"/image/v2/images/{id}/file"));

        using var volumes = new ApiClient(await ember.ClientAsync("demo"));
        var (status, _, text) = await volumes.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["imageRef"] = id } });
        Assert.True(status == HttpStatusCode.BadRequest, text);

        (await Cli.RunAsync("glance", ["image-reactivate", id], env)).EnsureSuccess();
        Assert.Equal("active", (await ShowAsync(demo, id))["status"]!.GetValue<string>());
        Assert.Equal(data, await demo.GetByteArrayAsync($"/image/v2/images/{id}/file"));
        Assert.Equal(HttpStatusCode.NoContent, (await demo.DeleteAsync($"/image/v2/images/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("GET", "/image/v2/images/")]
    [InlineData("DELETE", "/image/v2/images/")]
    [InlineData("GET", "/volume/v3/volumes/")]
    [InlineData("DELETE", "/volume/v3/volumes/")]
    [InlineData("PUT", "/volume/v3/volumes/")]
    [InlineData("GET", "/volume/v3/{project}/volumes/")]
    [InlineData("DELETE", "/volume/v3/{project}/snapshots/")]
    public async Task An_empty_id_is_a_404_in_the_apis_own_format(string method, string path)
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var project = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        admin.Http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        var (status, json, text) = await admin.TrySendAsync(new HttpMethod(method), path.Replace("{project}", project, StringComparison.Ordinal),
            method == "PUT" ? new JsonObject { ["volume"] = new JsonObject { ["name"] = "n" } } : null);
        Assert.True(status == HttpStatusCode.NotFound, text);
        Assert.NotNull(path.StartsWith("/image", StringComparison.Ordinal) ? json!["code"] : json!["itemNotFound"]);

        // The version documents keep their trailing slash.
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/{project}/");
        await admin.SendAsync(HttpMethod.Get, "/volume/v3/");
    }
}
