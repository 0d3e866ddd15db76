using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Nova's image proxy (/compute/v2.1/images, up to 2.35): the image service's records in Nova's shapes and rules.</summary>
public sealed class ImageProxyTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private const string Images = "/compute/v2.1/images";

    [Fact]
    public async Task Images_and_their_metadata_are_served_in_novas_shapes_up_to_2_35()
    {
        using var project = await ember.NewProjectClientAsync("novaimg");
        var api = project.Api;
        var created = await api.SendAsync(HttpMethod.Post, "/image/v2/images", new JsonObject
        {
            ["name"] = "proxied",
            ["disk_format"] = "raw",
            ["container_format"] = "bare",
            ["min_ram"] = 64,
            ["distro"] = "debian",
        }, HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();

        var shown = (await api.SendAsync(HttpMethod.Get, $"{Images}/{id}"))["image"]!;
        Assert.Equal("proxied", shown["name"]!.GetValue<string>());
        Assert.Equal("SAVING", shown["status"]!.GetValue<string>()); // Glance's queued, in Nova's words
        Assert.Equal(25, shown["progress"]!.GetValue<int>());
        Assert.Equal(64, shown["minRam"]!.GetValue<int>());
        Assert.Equal("debian", shown["metadata"]!["distro"]!.GetValue<string>());
        Assert.Contains(shown["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "alternate");

        // Glance's own list filters by any additional property as key=value.
        Assert.Contains((await api.SendAsync(HttpMethod.Get, "/image/v2/images?distro=debian&disk_format=raw"))["images"]!.AsArray(),
            i => i!["id"]!.GetValue<string>() == id);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/image/v2/images?distro=fedora"))["images"]!.AsArray());

        var listed = (await api.SendAsync(HttpMethod.Get, $"{Images}/detail?name=proxied"))["images"]!.AsArray();
        Assert.Equal(id, Assert.Single(listed)!["id"]!.GetValue<string>());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"{Images}/detail?name=proxied&minRam=65"))["images"]!.AsArray());
        Assert.Contains((await api.SendAsync(HttpMethod.Get, $"{Images}?status=SAVING"))["images"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);

        // Metadata: POST merges, PUT of one key sets it, DELETE of a key removes it, PUT replaces the whole.
        var merged = (await api.SendAsync(HttpMethod.Post, $"{Images}/{id}/metadata",
            new JsonObject { ["metadata"] = new JsonObject { ["role"] = "web" } }))["metadata"]!;
        Assert.Equal(["distro", "role"], merged.AsObject().Select(p => p.Key));
        Assert.Equal("db", (await api.SendAsync(HttpMethod.Put, $"{Images}/{id}/metadata/role",
            new JsonObject { ["meta"] = new JsonObject { ["role"] = "db" } }))["meta"]!["role"]!.GetValue<string>());
        Assert.Equal("db", (await api.SendAsync(HttpMethod.Get, $"{Images}/{id}/metadata/role"))["meta"]!["role"]!.GetValue<string>());
        var (status, _, text) = await api.TrySendAsync(HttpMethod.Put, $"{Images}/{id}/metadata/role",
            new JsonObject { ["meta"] = new JsonObject { ["other"] = "x" } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Request body and URI mismatch", text, StringComparison.Ordinal);
        await api.SendAsync(HttpMethod.Delete, $"{Images}/{id}/metadata/role", expect: HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"{Images}/{id}/metadata/role")).Status);
        var replaced = (await api.SendAsync(HttpMethod.Put, $"{Images}/{id}/metadata",
            new JsonObject { ["metadata"] = new JsonObject { ["tier"] = "gold" } }))["metadata"]!;
        Assert.Equal(["tier"], replaced.AsObject().Select(p => p.Key));
        Assert.Equal("gold", (await api.SendAsync(HttpMethod.Get, $"/image/v2/images/{id}"))["tier"]!.GetValue<string>());

        var tooMany = new JsonObject();
        for (var i = 0; i < 129; i++)
        {
            tooMany[$"k{i}"] = "v";
        }

        (status, _, text) = await api.TrySendAsync(HttpMethod.Post, $"{Images}/{id}/metadata", new JsonObject { ["metadata"] = tooMany });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("Quota exceeded for metadata items", text, StringComparison.Ordinal);

        // Another project sees neither the private image nor its metadata, and cannot delete it.
        using var other = await ember.NewProjectClientAsync("novaimg-other");
        (status, _, text) = await other.Api.TrySendAsync(HttpMethod.Get, $"{Images}/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("Image not found.", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Delete, $"{Images}/{id}")).Status);

        // The proxy ends at 2.36, as Nova's does.
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"{Images}/{id}", apiVersion: "compute 2.36")).Status);

        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Delete, $"{Images}/")).Status); // a blank id, as Tempest sends
        await api.SendAsync(HttpMethod.Delete, $"{Images}/{id}", expect: HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/image/v2/images/{id}")).Status);
    }
}
