using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Data;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Identity;

/// <summary>Runs <see cref="IdentityApiCases"/> on SQLite.</summary>
public sealed class IdentityApiTests(EmberFixture ember) : IdentityApiCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="IdentityApiCases"/> on PostgreSQL.</summary>
public sealed class PostgresIdentityApiTests(PostgresEmberFixture ember) : IdentityApiCases(ember), IClassFixture<PostgresEmberFixture>;

public abstract class IdentityApiCases(EmberFixture ember)
{
    private static StringContent PasswordAuth(string user, string password, string? project = null) =>
        EmberFixture.PasswordAuth(user, password, project);

    [Fact]
    public async Task Root_lists_v3_with_300_and_location()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var response = await http.GetAsync($"{ember.BaseUrl}/identity");
        Assert.Equal(HttpStatusCode.MultipleChoices, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("v3.14", body["versions"]!["values"]![0]!["id"]!.GetValue<string>());
        Assert.EndsWith("/identity/v3/", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Password_auth_returns_201_with_token_roles_and_catalog()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", PasswordAuth("admin", EmberFixture.AdminPassword, "admin"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.False(string.IsNullOrEmpty(response.Headers.GetValues("X-Subject-Token").Single()));
        var token = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!;
        Assert.Equal("admin", token["project"]!["name"]!.GetValue<string>());
        Assert.Contains(token["roles"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "admin");
        var types = token["catalog"]!.AsArray().Select(s => s!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["identity", "image", "compute", "block-storage", "volumev3", "network"], types);
        Assert.EndsWith("Z", token["expires_at"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wrong_password_is_401_with_keystone_body_and_www_authenticate()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", PasswordAuth("admin", "wrong", "admin"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(401, error["code"]!.GetValue<int>());
        Assert.Equal("Unauthorized", error["title"]!.GetValue<string>());
        Assert.Equal("The request you have made requires authentication.", error["message"]!.GetValue<string>());
        Assert.StartsWith("Keystone uri=", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Unscoped_token_has_no_project_and_can_be_rescoped()
    {
        using var http = new HttpClient();
        using var unscoped = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", PasswordAuth("demo", EmberFixture.DemoPassword));
        // demo has a default project, so "no scope" scopes to it, as Keystone does.
        var first = JsonNode.Parse(await unscoped.Content.ReadAsStringAsync())!["token"]!;
        Assert.Equal("demo", first["project"]!["name"]!.GetValue<string>());
        var tokenId = unscoped.Headers.GetValues("X-Subject-Token").Single();

        var rescopeBody = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = tokenId } },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["name"] = "demo", ["domain"] = new JsonObject { ["id"] = "default" } } },
            },
        };
        var rescope = new StringContent(rescopeBody.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", rescope);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var token = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!;
        // Keystone's token method keeps the methods of the original token (Tempest's test_rescope_token).
        Assert.Equal(["token", "password"], token["methods"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal(first["audit_ids"]![0]!.GetValue<string>(), token["audit_ids"]![0]!.GetValue<string>());
    }

    /// <summary>Found by the fuzzer: PostgreSQL cannot store or compare a NUL; on both engines it is the client's error, never a 500.</summary>
    [Fact]
    public async Task A_nul_character_in_a_scope_id_is_a_client_error()
    {
        using var http = new HttpClient();
        var token = await ember.TokenAsync("demo");
        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = token } },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = "\0" } },
            },
        };
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"]);
    }

    [Fact]
    public async Task Scoping_to_a_project_without_a_role_is_401()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", PasswordAuth("demo", EmberFixture.DemoPassword, "admin"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Revoked_token_is_refused_by_every_service()
    {
        using var admin = await ember.ClientAsync("admin");
        var victim = await ember.TokenAsync("demo");
        using var revoke = new HttpRequestMessage(HttpMethod.Delete, "/identity/v3/auth/tokens");
        revoke.Headers.Add("X-Subject-Token", victim);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.SendAsync(revoke)).StatusCode);

        await AssertRefusedEverywhereAsync(victim);
    }

    [Fact]
    public async Task Expired_token_is_refused_by_every_service()
    {
        var token = await ember.TokenAsync("demo");
        var db = ember.Host.Services.GetRequiredService<Database>();
        await using (var c = await db.OpenAsync())
        {
            await c.ExecuteAsync("UPDATE tokens SET expires_at = @Past WHERE token_hash = @Hash",
                new { Past = DateTime.UtcNow.AddMinutes(-1), Hash = Ember.Server.Identity.IdentityStore.HashToken(token) });
        }

        await AssertRefusedEverywhereAsync(token);
    }

    private async Task AssertRefusedEverywhereAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        foreach (var path in new[] { "/identity/v3/auth/catalog", "/image/v2/images", "/compute/v2.1/servers", "/volume/v3/volumes" })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} answered {response.StatusCode}");
        }
    }

    [Fact]
    public async Task Validate_token_returns_the_subject_and_404_for_garbage()
    {
        using var admin = await ember.ClientAsync("admin");
        var subject = await ember.TokenAsync("demo");
        using var check = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        check.Headers.Add("X-Subject-Token", subject);
        using var ok = await admin.SendAsync(check);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("demo", JsonNode.Parse(await ok.Content.ReadAsStringAsync())!["token"]!["user"]!["name"]!.GetValue<string>());

        using var bad = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        bad.Headers.Add("X-Subject-Token", "not-a-token");
        Assert.Equal(HttpStatusCode.NotFound, (await admin.SendAsync(bad)).StatusCode);
    }

    [Fact]
    public async Task Member_cannot_create_projects()
    {
        using var demo = await ember.ClientAsync("demo");
        using var response = await demo.PostAsync("/identity/v3/projects",
            new StringContent("""{"project":{"name":"sneaky"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(403, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Duplicate_project_name_is_409()
    {
        using var admin = await ember.ClientAsync("admin");
        var body = """{"project":{"name":"dup-project"}}""";
        using var first = await admin.PostAsync("/identity/v3/projects", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var second = await admin.PostAsync("/identity/v3/projects", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
    }

    [Fact]
    public async Task Malformed_body_is_400_in_keystone_format()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(400, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Clouds_yaml_and_openrc_are_written_private()
    {
        Assert.True(File.Exists(ember.CloudsYaml));
        var mode = File.GetUnixFileMode(ember.CloudsYaml);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        var text = await File.ReadAllTextAsync(ember.CloudsYaml);
        Assert.Contains("  ember:", text);
        Assert.Contains("  ember-demo:", text);
        Assert.Contains(ember.Host.AuthUrl, text);
        Assert.True(File.Exists(Path.Combine(ember.DataDir, "admin-openrc")));
    }

    [Fact]
    public void Password_hashes_are_salted_and_verify()
    {
        var a = Ember.Server.Identity.PasswordHasher.Hash("pw", iterations: 1000);
        var b = Ember.Server.Identity.PasswordHasher.Hash("pw", iterations: 1000);
        Assert.NotEqual(a, b);
        Assert.True(Ember.Server.Identity.PasswordHasher.Verify("pw", a));
        Assert.False(Ember.Server.Identity.PasswordHasher.Verify("pw2", a));
        Assert.False(Ember.Server.Identity.PasswordHasher.Verify("pw", "garbage"));
    }

    [Fact]
    public async Task A_project_name_has_at_most_64_characters_as_in_keystone()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var prefix = Guid.NewGuid().ToString("N");
        await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = prefix + new string('x', 65 - prefix.Length) } }, HttpStatusCode.BadRequest);
        var created = await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = prefix + new string('x', 64 - prefix.Length) } }, HttpStatusCode.Created);
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/projects/{created["project"]!["id"]}",
            new JsonObject { ["project"] = new JsonObject { ["name"] = new string('y', 65) } }, HttpStatusCode.BadRequest);
    }
}
