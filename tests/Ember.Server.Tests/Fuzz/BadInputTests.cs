using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Fuzz;

/// <summary>Runs <see cref="BadInputCases"/> on SQLite.</summary>
public sealed class BadInputTests(FuzzFixture fixture) : BadInputCases(fixture), IClassFixture<FuzzFixture>;

/// <summary>Runs <see cref="BadInputCases"/> on PostgreSQL.</summary>
public sealed class PostgresBadInputTests(PostgresFuzzFixture fixture) : BadInputCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>Each bad input that once made a 500 (or worse), with the 4xx it gets now in the API's own error format.</summary>
public abstract class BadInputCases(FuzzFixture fixture)
{
    private async Task<ApiClient> ClientAsync(string user = "demo") => new(await fixture.ClientAsync(user));

    private static async Task<string> ProjectOfAsync(ApiClient api, string user)
    {
        var token = api.Http.DefaultRequestHeaders.GetValues("X-Auth-Token").Single();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Subject-Token", token);
        using var response = await api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(user, json["token"]!["project"]!["name"]!.GetValue<string>());
        return json["token"]!["project"]!["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task Limit_zero_is_an_empty_page_and_a_negative_or_textual_limit_is_a_400()
    {
        using var api = await ClientAsync();
        await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "limit-zero" } }, HttpStatusCode.Accepted);

        // With a volume in the list, limit=0 used to index the last item of an empty page: a 500.
        var page = await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?limit=0");
        Assert.Empty(page["volumes"]!.AsArray());
        Assert.Null(page["volumes_links"]);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/compute/v2.1/flavors?limit=0"))["flavors"]!.AsArray());

        // The same with an image in the list (the fuzzer found it: the next link indexed the empty page).
        await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "limit-zero", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created);
        var images = await api.SendAsync(HttpMethod.Get, "/image/v2/images?limit=0");
        Assert.Empty(images["images"]!.AsArray());
        Assert.Null(images["next"]);

        foreach (var path in new[] { "/volume/v3/volumes?limit=-1", "/compute/v2.1/servers?limit=abc", "/compute/v2.1/flavors?limit=-5" })
        {
            var (status, json, text) = await api.TrySendAsync(HttpMethod.Get, path);
            Assert.True(status == HttpStatusCode.BadRequest, $"{path}: {(int)status} {text}");
            Assert.Equal(400, json!["badRequest"]!["code"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task A_name_filter_that_does_not_compile_or_backtracks_forever_is_a_400()
    {
        using var api = await ClientAsync();
        await CreateFailedServerAsync(api, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!");

        var (bad, badJson, badText) = await api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/servers?name=" + Uri.EscapeDataString("(unclosed"));
        Assert.True(bad == HttpStatusCode.BadRequest, badText);
        Assert.Equal(400, badJson!["badRequest"]!["code"]!.GetValue<int>());

        // Catastrophic backtracking against the 41-character name: the match times out, the caller gets a 400.
        var (slow, slowJson, slowText) = await api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail?name=" + Uri.EscapeDataString("^(a+)+$"));
        Assert.True(slow == HttpStatusCode.BadRequest, slowText);
        Assert.Contains("too long", slowJson!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var ok = await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?name=" + Uri.EscapeDataString("^a+!$"));
        Assert.Single(ok["servers"]!.AsArray());
    }

    [Fact]
    public async Task Auth_methods_that_are_not_strings_are_a_400_in_keystones_format()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var body = """{"auth":{"identity":{"methods":[1],"password":{"user":{"name":"demo","domain":{"id":"default"},"password":"x"}}}}}""";
        using var response = await http.PostAsync("/identity/v3/auth/tokens", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal(400, JsonNode.Parse(text)!["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_compute_microversion_out_of_range_is_a_406_on_every_route_including_the_server_list()
    {
        using var api = await ClientAsync();
        foreach (var path in new[] { "/compute/v2.1/servers", "/compute/v2.1/flavors", "/compute/v2.1/servers/detail" })
        {
            var (status, json, text) = await api.TrySendAsync(HttpMethod.Get, path, apiVersion: "compute 2.999");
            Assert.True(status == HttpStatusCode.NotAcceptable, $"{path}: {(int)status} {text}");
            Assert.Equal(406, json!["computeFault"]!["code"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task A_volume_url_naming_another_project_is_a_400_even_for_an_admin()
    {
        using var demo = await ClientAsync("demo");
        using var admin = await ClientAsync("admin");
        var demoProject = await ProjectOfAsync(demo, "demo");
        var adminProject = await ProjectOfAsync(admin, "admin");

        await demo.SendAsync(HttpMethod.Get, $"/volume/v3/{demoProject}/volumes");
        foreach (var (api, other) in new[] { (demo, adminProject), (admin, demoProject) })
        {
            var (status, json, text) = await api.TrySendAsync(HttpMethod.Get, $"/volume/v3/{other}/volumes/detail");
            Assert.True(status == HttpStatusCode.BadRequest, text);
            Assert.Equal("Malformed request url", json!["badRequest"]!["message"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_forged_host_header_reaches_neither_links_nor_the_catalog_nor_www_authenticate()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var auth = new HttpRequestMessage(HttpMethod.Post, "/identity/v3/auth/tokens") { Content = EmberFixture.PasswordAuth("demo", EmberFixture.DemoPassword, "demo") };
        auth.Headers.Host = "evil.example:6666";
        using var issued = await http.SendAsync(auth);
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var token = await issued.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil.example", token, StringComparison.Ordinal);
        Assert.Contains(fixture.BaseUrl + "/volume/v3/", token, StringComparison.Ordinal);

        foreach (var path in new[] { "/volume/v3", "/compute/v2.1", "/image/v2", "/identity/v3", "/compute/v2.1/servers" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "evil.example:6666";
            using var response = await http.SendAsync(request);
            var all = await response.Content.ReadAsStringAsync() + response.Headers + response.Headers.WwwAuthenticate;
            Assert.DoesNotContain("evil.example", all, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_json_body_over_the_cap_is_refused_with_413_before_it_is_read()
    {
        // A raw socket: announce 50 MB, send 64 KiB, and the answer must already be there.
        using var client = new TcpClient();
        var uri = new Uri(fixture.BaseUrl);
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        var head = $"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{{\"auth\":\"";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(new byte[64 * 1024]);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("HTTP/1.1 413", response, StringComparison.Ordinal);
        Assert.Contains("\"code\":413", response, StringComparison.Ordinal);

        // Without a length (chunked), the cap applies as the bytes arrive.
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/volume/v3/volumes")
        {
            Content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("{\"volume\":{\"name\":\"" + new string('a', 2 * 1024 * 1024) + "\"}}"))),
        };
        chunked.Headers.TransferEncodingChunked = true;
        chunked.Headers.Add("X-Auth-Token", await fixture.TokenAsync("demo"));
        chunked.Content.Headers.ContentType = new("application/json");
        try
        {
            using var refused = await http.SendAsync(chunked);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            Assert.Equal(413, JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["overLimit"]!["code"]!.GetValue<int>());
        }
        catch (HttpRequestException)
        {
            // The server may close the connection before the client finished sending; it must still be serving.
        }

        using var after = await http.GetAsync("/identity/v3");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_body_that_declares_another_media_type_is_refused_as_each_service_does()
    {
        using var api = await ClientAsync();
        async Task<(HttpStatusCode Status, JsonNode? Json)> PostAsync(string path, string mediaType, string body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
            request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(mediaType);
            using var response = await api.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null);
        }

        const string Volume = "{\"volume\":{\"size\":1,\"name\":\"media-type\"}}";
        var xml = await PostAsync("/volume/v3/volumes", "application/xml", Volume);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, xml.Status);
        Assert.Equal(415, xml.Json!["badMediaType"]!["code"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await PostAsync("/compute/v2.1/servers", "application/x-www-form-urlencoded", "{}")).Status);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await PostAsync("/image/v2/images", "text/html", "{\"name\":\"x\"}")).Status);

        // Keystone refuses with a 400 in its own format.
        var auth = await PostAsync("/identity/v3/auth/tokens", "text/xml", "{}");
        Assert.Equal(HttpStatusCode.BadRequest, auth.Status);
        Assert.Contains("application/json", auth.Json!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The vendor JSON types and charset parameters are JSON.
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync("/volume/v3/volumes", "application/vnd.openstack.volume+json", Volume)).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync("/volume/v3/volumes", "application/json; charset=UTF-8", Volume)).Status);
    }

    [Theory]
    [InlineData("deep")]
    [InlineData("duplicate")]
    public async Task Json_deeper_than_the_cap_or_with_duplicate_keys_is_a_400(string kind)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var body = kind == "deep"
            ? "{\"auth\":" + string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 41)
            : """{"auth":{"identity":{"methods":["password"]}},"auth":{}}""";
        using var response = await http.PostAsync("/identity/v3/auth/tokens", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal(400, JsonNode.Parse(text)!["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Names_and_metadata_have_cinders_and_novas_limits()
    {
        using var api = await ClientAsync();
        var tooLong = new string('n', 256);
        var (name, _, nameText) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = tooLong } });
        Assert.True(name == HttpStatusCode.BadRequest, nameText);

        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = new string('n', 255) } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();

        var (value, valueJson, valueText) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/metadata",
            new JsonObject { ["metadata"] = new JsonObject { ["k"] = tooLong } });
        Assert.True(value == HttpStatusCode.BadRequest, valueText);
        Assert.Equal("Metadata property value greater than 255 characters.", valueJson!["badRequest"]!["message"]!.GetValue<string>());

        // 100 items, then 100 more merged in: the sum is over the cap.
        JsonObject Items(string prefix) => new(Enumerable.Range(0, 100).Select(i => KeyValuePair.Create<string, JsonNode?>($"{prefix}{i}", "v")));
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/metadata", new JsonObject { ["metadata"] = Items("a") });
        var (count, _, countText) = await api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/metadata", new JsonObject { ["metadata"] = Items("b") });
        Assert.True(count == HttpStatusCode.Forbidden, countText);
        Assert.Equal(100, (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{id}/metadata"))["metadata"]!.AsObject().Count);

        var many = new JsonObject(Enumerable.Range(0, 129).Select(i => KeyValuePair.Create<string, JsonNode?>($"k{i}", "v")));
        var (server, serverJson, serverText) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = "many", ["imageRef"] = Guid.NewGuid().ToString(), ["flavorRef"] = "1", ["metadata"] = many } });
        Assert.True(server == HttpStatusCode.Forbidden, serverText);
        Assert.Contains("metadata items", serverJson!["forbidden"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>A server row in ERROR (this fixture's QEMU always fails): enough for filters to match against.</summary>
    private async Task CreateFailedServerAsync(ApiClient api, string name)
    {
        using (var admin = await ClientAsync("admin"))
        {
            await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
                new JsonObject { ["flavor"] = new JsonObject { ["name"] = "bad-input", ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 1, ["id"] = "bad-input-1" } });
        }

        var image = await api.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "bad-input", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created);
        var imageId = image["id"]!.GetValue<string>();
        using (var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{imageId}/file") { Content = new ByteArrayContent(new byte[4096]) })
        {
            upload.Content.Headers.ContentType = new("application/octet-stream");
            using var uploaded = await api.Http.SendAsync(upload);
            Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
        }

        await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = imageId, ["flavorRef"] = "bad-input-1" } }, HttpStatusCode.Accepted);
    }
}
