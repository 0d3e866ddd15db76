using System.Net;
using System.Text.Json.Nodes;

namespace Ember.OpenStack.Tests;

/// <summary>The shared client against a fake cloud: login with project scope, the catalog's aliases, token renewal, microversions.</summary>
public sealed class OpenStackClientTests : IDisposable
{
    private readonly FakeCloud _cloud = new();

    [Fact]
    public async Task Logs_in_with_the_password_scoped_to_the_project_at_keystones_v3_url()
    {
        using var client = _cloud.Client();
        var token = await client.AuthenticateAsync(force: false, default);

        Assert.Equal("tok-1", token.Id);
        Assert.Equal("p1", token.ProjectId);
        var login = _cloud.Requests[0];
        Assert.Equal("http://cloud.test/identity/v3/auth/tokens", login.RequestUri!.ToString());
        var auth = JsonNode.Parse(_cloud.Bodies[0])!["auth"]!;
        Assert.Equal("password", auth["identity"]!["methods"]![0]!.GetValue<string>());
        Assert.Equal("pw-secret", auth["identity"]!["password"]!["user"]!["password"]!.GetValue<string>());
        Assert.Equal("Default", auth["identity"]!["password"]!["user"]!["domain"]!["name"]!.GetValue<string>());
        Assert.Equal("service", auth["scope"]!["project"]!["name"]!.GetValue<string>());
        Assert.Equal("Default", auth["scope"]!["project"]!["domain"]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("http://k.test/identity", "http://k.test/identity/v3")]
    [InlineData("http://k.test/identity/v3/", "http://k.test/identity/v3")]
    [InlineData("http://k.test:5000/v2.0", "http://k.test:5000/v3")]
    public void The_auth_url_is_taken_as_users_write_it(string authUrl, string identityUrl) =>
        Assert.Equal(identityUrl, new OpenStackCredentials { AuthUrl = authUrl }.IdentityUrl);

    [Theory]
    [InlineData("block-storage", "public", null, "http://cloud.test/volume/v3")]
    [InlineData("volume", "public", "RegionTwo", "http://two.test/volume/v3")]
    [InlineData("volumev3", "internal", null, "http://internal.test/volume/v3")]
    [InlineData("image", "public", null, "http://cloud.test/image")]
    [InlineData("compute", "public", null, null)]
    [InlineData("block-storage", "admin", null, null)]
    public void Endpoints_are_found_under_any_alias_of_the_service_type_for_the_interface_and_region(string type, string iface, string? region, string? url)
    {
        var token = new KeystoneToken("t", DateTimeOffset.MaxValue, FakeCloud.Catalog(), null, null, []);
        Assert.Equal(url, token.FindEndpoint(type, iface, region));
    }

    [Fact]
    public async Task A_missing_endpoint_names_the_types_looked_for()
    {
        using var client = _cloud.Client();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.EndpointAsync("compute", default));
        Assert.Contains("'compute'", error.Message, StringComparison.Ordinal);
        Assert.Equal("http://cloud.test/volume/v3", await client.EndpointAsync("block-storage", default));
    }

    [Fact]
    public async Task The_token_is_reused_until_it_is_close_to_expiry_then_renewed()
    {
        using var renewing = new OpenStackClient(new HttpClient(_cloud), new OpenStackCredentials { AuthUrl = FakeCloud.AuthUrl, Username = "u", Password = "p" }, _cloud.Clock)
        {
            RenewBefore = TimeSpan.FromMinutes(5),
        };

        Assert.Equal("tok-1", await TokenSeenAsync(renewing));
        _cloud.Clock.Advance(TimeSpan.FromMinutes(54));
        Assert.Equal("tok-1", await TokenSeenAsync(renewing));
        _cloud.Clock.Advance(TimeSpan.FromMinutes(2)); // 4 minutes left
        Assert.Equal("tok-2", await TokenSeenAsync(renewing));
        Assert.Equal(2, _cloud.Logins);
    }

    [Fact]
    public async Task A_401_gets_a_new_token_and_one_more_try_only()
    {
        using var client = _cloud.Client();
        Assert.Equal("tok-1", await TokenSeenAsync(client));

        _cloud.Revoked["tok-1"] = true;
        Assert.Equal("tok-2", await TokenSeenAsync(client));
        Assert.Equal(2, _cloud.Logins);

        _cloud.Revoked["tok-2"] = true;
        _cloud.Revoked["tok-3"] = true;
        using var refused = await client.SendAsync(HttpMethod.Get, "http://cloud.test/volume/v3/volumes", null, null, default);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(3, _cloud.Logins);
    }

    [Fact]
    public async Task Concurrent_requests_refused_with_401_share_one_new_token()
    {
        using var client = _cloud.Client();
        await TokenSeenAsync(client);
        _cloud.Revoked["tok-1"] = true;

        var seen = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => TokenSeenAsync(client)));

        Assert.All(seen, t => Assert.Equal("tok-2", t));
        Assert.Equal(2, _cloud.Logins);
    }

    [Fact]
    public async Task A_streamed_body_is_not_sent_twice_after_a_401()
    {
        using var client = _cloud.Client();
        await TokenSeenAsync(client);
        _cloud.Revoked["tok-1"] = true;

        using var content = new StreamContent(new MemoryStream([1, 2, 3]));
        using var response = await client.SendContentAsync(HttpMethod.Put, "http://cloud.test/image/v2/images/i/file", content, null, default);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1, _cloud.Logins);
    }

    [Fact]
    public async Task A_json_body_is_sent_again_whole_after_a_401()
    {
        using var client = _cloud.Client();
        await TokenSeenAsync(client);
        _cloud.Revoked["tok-1"] = true;

        await client.RequestJsonAsync(HttpMethod.Post, "http://cloud.test/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } }, null, default);

        // The refused request, the login, the same request again: buffered each time, so not chunked.
        Assert.Equal("{\"volume\":{\"size\":1}}", _cloud.Bodies[^3]);
        Assert.Equal("{\"volume\":{\"size\":1}}", _cloud.Bodies[^1]);
        Assert.Equal([21L, 21L], [_cloud.ContentLengths[^3], _cloud.ContentLengths[^1]]);
    }

    [Theory]
    [InlineData("volume 3.54", null)]
    [InlineData("compute 2.60", "2.60")]
    public async Task The_microversion_goes_in_OpenStack_API_Version_and_novas_own_header(string microversion, string? novaHeader)
    {
        using var client = _cloud.Client();
        await client.RequestJsonAsync(HttpMethod.Get, "http://cloud.test/x", null, microversion, default);

        var sent = _cloud.Requests[^1].Headers;
        Assert.Equal(microversion, sent.GetValues("OpenStack-API-Version").Single());
        Assert.Equal(novaHeader, sent.TryGetValues("X-OpenStack-Nova-API-Version", out var nova) ? nova.Single() : null);
        Assert.Equal("application/json", sent.Accept.Single().MediaType);
    }

    [Fact]
    public async Task A_refused_login_is_the_error_keystone_gives()
    {
        using var client = new OpenStackClient(new HttpClient(new RefusingKeystone()), new OpenStackCredentials { AuthUrl = FakeCloud.AuthUrl, Username = "u", Password = "p" });

        var error = await Assert.ThrowsAsync<OpenStackException>(() => client.AuthenticateAsync(force: false, default));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("The request you have made requires authentication.", error.ApiMessage);
    }

    [Fact]
    public void Printed_credentials_and_tokens_show_no_secret()
    {
        var credentials = new OpenStackCredentials { AuthUrl = FakeCloud.AuthUrl, Username = "u", Password = "pw-secret", Token = "tok-secret" };
        var token = new KeystoneToken("tok-secret", DateTimeOffset.MaxValue, [], "u1", "p1", new JsonObject { ["secret"] = "tok-secret" });

        Assert.DoesNotContain("secret", credentials.ToString(), StringComparison.Ordinal);
        Assert.Contains("Username = u", credentials.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret", token.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => _cloud.Dispose();

    private static async Task<string> TokenSeenAsync(OpenStackClient client) =>
        (await client.RequestJsonAsync(HttpMethod.Get, "http://cloud.test/volume/v3/volumes", null, null, default))!["token"]!.GetValue<string>();

    private sealed class RefusingKeystone : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(FakeCloud.Json(HttpStatusCode.Unauthorized,
                new JsonObject { ["error"] = new JsonObject { ["code"] = 401, ["title"] = "Unauthorized", ["message"] = "The request you have made requires authentication." } }));
    }
}
