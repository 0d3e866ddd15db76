using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Data;

/// <summary>
/// PostgreSQL goes away under a running Ember: every API answers 503 in its own error format (not 500), nothing
/// half-written is left, and the same host serves again once the server is back. The fixture's cluster is its own.
/// </summary>
public sealed class PostgresOutageTests(PostgresEmberFixture ember) : IClassFixture<PostgresEmberFixture>
{
    [Fact]
    public async Task Database_down_is_503_in_each_apis_format_and_the_host_recovers_when_it_is_back()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var before = (await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes"))["volumes"]!.AsArray().Count;
        var cluster = ember.Postgres!;

        await cluster.StopAsync();
        try
        {
            // Cinder: {"serviceUnavailable": {"code": 503, ...}}, and a create leaves nothing behind.
            var (create, createJson, createText) = await api.TrySendAsync(HttpMethod.Post, "/volume/v3/volumes",
                new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "during-outage" } });
            Assert.True(create == HttpStatusCode.ServiceUnavailable, createText);
            Assert.Equal(503, createJson!["serviceUnavailable"]!["code"]!.GetValue<int>());

            // Keystone: {"error": {"code": 503, "title": "Service Unavailable", ...}}, for a login as for a token check.
            using var anonymous = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
            using var login = await anonymous.PostAsync("/identity/v3/auth/tokens", EmberFixture.PasswordAuth("admin", EmberFixture.AdminPassword, "admin"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, login.StatusCode);
            var keystone = JsonNode.Parse(await login.Content.ReadAsStringAsync())!;
            Assert.Equal(503, keystone["error"]!["code"]!.GetValue<int>());
            Assert.Equal("Service Unavailable", keystone["error"]!["title"]!.GetValue<string>());
            Assert.True(login.Headers.RetryAfter is not null, "503 without Retry-After");

            // Glance: {"message", "code": "503 Service Unavailable", "title"}; Nova as Cinder.
            var (image, imageJson, _) = await api.TrySendAsync(HttpMethod.Get, "/image/v2/images");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, image);
            Assert.Equal("503 Service Unavailable", imageJson!["code"]!.GetValue<string>());
            var (flavors, flavorsJson, _) = await api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/flavors");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, flavors);
            Assert.Equal(503, flavorsJson!["serviceUnavailable"]!["code"]!.GetValue<int>());
        }
        finally
        {
            if (!cluster.Running)
            {
                await cluster.StartAsync();
            }
        }

        // Back: the very next requests work (dead pooled connections were dropped), with what was there before and nothing more.
        var after = (await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes"))["volumes"]!.AsArray();
        Assert.Equal(before, after.Count);
        Assert.DoesNotContain(after, v => v!["name"]?.GetValue<string>() == "during-outage");
        await ember.TokenAsync();
        await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "after-outage" } }, HttpStatusCode.Accepted);
    }
}
