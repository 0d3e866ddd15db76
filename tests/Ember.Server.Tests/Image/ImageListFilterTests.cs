using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Image;

/// <summary>Runs <see cref="ImageListFilterCases"/> on SQLite.</summary>
public sealed class ImageListFilterTests(EmberFixture ember) : ImageListFilterCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="ImageListFilterCases"/> on PostgreSQL.</summary>
public sealed class PostgresImageListFilterTests(PostgresEmberFixture ember) : ImageListFilterCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>Glance's list filters that Ember used to ignore (issue 18): time comparisons, size ranges, "in:" lists, both sort syntaxes.</summary>
public abstract class ImageListFilterCases(EmberFixture ember)
{
    [Fact]
    public async Task Time_size_and_in_filters_and_sorting_select_and_order_as_glance_does()
    {
        var project = await ember.NewProjectClientAsync("image-filters");
        using var client = project.Api;
        client.Http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        // A tag of this test's own keeps other tests' public images out of every list below.
        var tag = "filters-" + Guid.NewGuid().ToString("N")[..8];
        var small = await UploadedAsync(client, "small", tag, 1000);
        // created_at is compared in whole seconds, as Glance stores and shows it: the next image is a second younger.
        await Task.Delay(1100);
        var medium = await UploadedAsync(client, "medium", tag, 2000);
        var large = await UploadedAsync(client, "large", tag, 3000);
        var smallCreated = (await client.SendAsync(HttpMethod.Get, $"/image/v2/images/{small}"))["created_at"]!.GetValue<string>();

        async Task<List<string>> ListAsync(string query) =>
            [.. (await client.SendAsync(HttpMethod.Get, $"/image/v2/images?tag={tag}&{query}"))["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];

        Assert.Equal([large, medium], await ListAsync($"created_at=gt:{smallCreated}"));
        Assert.Equal([small], await ListAsync($"created_at=lte:{smallCreated}"));
        Assert.Equal([small], await ListAsync($"created_at={smallCreated}")); // a bare time is eq
        Assert.Equal([small], await ListAsync($"created_at=eq:{smallCreated}"));
        Assert.Equal([large, medium], await ListAsync($"created_at=neq:{smallCreated}"));
        Assert.Equal([large, medium, small], await ListAsync("updated_at=gte:2020-01-01"));
        Assert.Empty(await ListAsync("updated_at=lt:2020-01-01T00:00:00%2B02:00"));

        Assert.Equal([large, medium], await ListAsync("size_min=2000"));
        Assert.Equal([medium, small], await ListAsync("size_max=2000"));
        Assert.Equal([medium], await ListAsync("size_min=1500&size_max=2500"));
        Assert.Equal([large, small], await ListAsync("name=in:small,large"));
        Assert.Equal([medium], await ListAsync("name=eq:medium"));
        Assert.Equal([large, medium, small], await ListAsync("id=in:" + string.Join(',', small, medium, large)));

        Assert.Equal([small, medium, large], await ListAsync("sort=size:asc"));
        Assert.Equal([small, medium, large], await ListAsync("sort_key=size&sort_dir=asc"));
        Assert.Equal([small, medium, large], await ListAsync("sort=name:desc,size"));
        Assert.Equal([small, medium, large], await ListAsync("sort_key=status&sort_key=size&sort_dir=asc&sort_dir=asc"));

        // Paging over a sorted list: a marker continues in the same order.
        var first = await ListAsync("sort=size:asc&limit=2");
        Assert.Equal([small, medium], first);
        Assert.Equal([large], await ListAsync($"sort=size:asc&limit=2&marker={medium}"));
    }

    [Theory]
    [InlineData("created_at=foo:2024-01-01T00:00:00Z", "Unable to filter on a unknown operator.")]
    [InlineData("created_at=gt:yesterday", "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.")]
    [InlineData("updated_at=2024-13-01", "Bad \"updated_at\" query filter format. Use ISO 8601 DateTime notation.")]
    [InlineData("size_min=big", "Unable to filter on a range with a non-numeric value.")]
    [InlineData("size_max=1.5", "Unable to filter on a range with a non-numeric value.")]
    [InlineData("name=like:x", "Unable to filter by unknown operator 'like'.")]
    [InlineData("status=in:\"active", "Invalid filter value \"active. The quote is not closed.")]
    [InlineData("sort=size:up", "Invalid sort direction: up")]
    [InlineData("sort=size&sort_key=name", "Old and new sorting syntax cannot be combined")]
    [InlineData("sort_key=owner", "Invalid sort key: owner. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.")]
    [InlineData("sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc&sort_dir=asc", "Number of sort dirs does not match the number of sort keys")]
    [InlineData("os_hidden=maybe", "Invalid value 'maybe' for 'os_hidden' filter. Valid values are 'true' or 'false'.")]
    [InlineData("protected=yes", "Invalid value 'yes' for 'protected' filter. Valid values are 'true' or 'false'.")]
    [InlineData("visibility=everyone", "Invalid visibility value: everyone")]
    [InlineData("member_status=maybe", "Invalid status: maybe")]
    public async Task A_bad_filter_or_sort_is_a_400_in_glances_words(string query, string message)
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var (status, json, text) = await admin.TrySendAsync(HttpMethod.Get, $"/image/v2/images?{query}");
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.Equal(message, json!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Os_hidden_and_protected_filters_compare_for_equality()
    {
        var project = await ember.NewProjectClientAsync("image-hidden");
        using var client = project.Api;
        var tag = "hidden-" + Guid.NewGuid().ToString("N")[..8];
        var shown = await CreateAsync(client, new JsonObject { ["name"] = "shown", ["tags"] = new JsonArray(tag) });
        var hidden = await CreateAsync(client, new JsonObject { ["name"] = "hidden", ["os_hidden"] = true, ["protected"] = true, ["tags"] = new JsonArray(tag) });

        async Task<List<string>> ListAsync(string query) =>
            [.. (await client.SendAsync(HttpMethod.Get, $"/image/v2/images?tag={tag}&{query}"))["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];

        Assert.Equal([shown], await ListAsync(""));
        Assert.Equal([hidden], await ListAsync("os_hidden=true"));
        Assert.Equal([shown], await ListAsync("os_hidden=False"));
        Assert.Equal([hidden], await ListAsync("os_hidden=true&protected=true"));
        Assert.Empty(await ListAsync("protected=true"));

        using var unprotect = new StringContent("""[{"op":"replace","path":"/protected","value":false}]""");
        unprotect.Headers.ContentType = new MediaTypeHeaderValue("application/openstack-images-v2.1-json-patch");
        Assert.Equal(HttpStatusCode.OK, (await client.Http.PatchAsync($"/image/v2/images/{hidden}", unprotect)).StatusCode);
    }

    private static async Task<string> CreateAsync(ApiClient client, JsonObject body)
    {
        body["disk_format"] = "raw";
        body["container_format"] = "bare";
        return (await client.SendAsync(HttpMethod.Post, "/image/v2/images", body, HttpStatusCode.Created))["id"]!.GetValue<string>();
    }

    private static async Task<string> UploadedAsync(ApiClient client, string name, string tag, int size)
    {
        var id = await CreateAsync(client, new JsonObject { ["name"] = name, ["tags"] = new JsonArray(tag) });
        var content = new ByteArrayContent(new byte[size]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var uploaded = await client.Http.PutAsync($"/image/v2/images/{id}/file", content);
        Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        return id;
    }
}
