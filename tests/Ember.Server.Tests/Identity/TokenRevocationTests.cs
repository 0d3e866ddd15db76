using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Identity;

/// <summary>Runs <see cref="TokenRevocationCases"/> on SQLite.</summary>
public sealed class TokenRevocationTests(EmberFixture ember) : TokenRevocationCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="TokenRevocationCases"/> on PostgreSQL.</summary>
public sealed class PostgresTokenRevocationTests(PostgresEmberFixture ember) : TokenRevocationCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// Keystone's revocation events: what ends a user's or project's sessions kills every token issued before,
/// and undoing it (re-enable, re-grant) does not bring those tokens back.
/// </summary>
public abstract class TokenRevocationCases(EmberFixture ember)
{
    private const string Password = "revocation-secret";

    [Fact]
    public async Task Password_change_revokes_earlier_tokens_and_the_new_password_works()
    {
        var (admin, who) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{who.UserId}",
            new JsonObject { ["user"] = new JsonObject { ["password"] = "changed-secret" } });
        await AssertDeadAsync(who.Token);
        await AssertAliveAsync(await TokenAsync(who, "changed-secret"));
    }

    [Fact]
    public async Task Disabling_a_user_revokes_its_tokens_for_good()
    {
        var (admin, who) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{who.UserId}", new JsonObject { ["user"] = new JsonObject { ["enabled"] = false } });
        await AssertDeadAsync(who.Token);
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{who.UserId}", new JsonObject { ["user"] = new JsonObject { ["enabled"] = true } });
        await AssertDeadAsync(who.Token);
        await AssertAliveAsync(await TokenAsync(who, Password));
    }

    [Fact]
    public async Task Disabling_a_project_revokes_tokens_on_it_for_good()
    {
        var (admin, who) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/projects/{who.ProjectId}", new JsonObject { ["project"] = new JsonObject { ["enabled"] = false } });
        await AssertDeadAsync(who.Token);
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/projects/{who.ProjectId}", new JsonObject { ["project"] = new JsonObject { ["enabled"] = true } });
        await AssertDeadAsync(who.Token);
        await AssertAliveAsync(await TokenAsync(who, Password));
    }

    [Fact]
    public async Task Removing_a_role_assignment_revokes_tokens_on_that_project_for_good()
    {
        var (admin, who) = await UserWithTokenAsync();
        var grant = $"/identity/v3/projects/{who.ProjectId}/users/{who.UserId}/roles/{who.RoleId}";
        await admin.SendAsync(HttpMethod.Delete, grant, expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(who.Token);
        await admin.SendAsync(HttpMethod.Put, grant, expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(who.Token);
        await AssertAliveAsync(await TokenAsync(who, Password));
    }

    [Fact]
    public async Task Deleting_the_user_or_the_project_revokes_their_tokens()
    {
        var (admin, who) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/users/{who.UserId}", expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(who.Token);

        var (_, other) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/projects/{other.ProjectId}", expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(other.Token);
    }

    [Fact]
    public async Task A_rescoped_token_of_a_revoked_one_is_refused()
    {
        var (admin, who) = await UserWithTokenAsync();
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{who.UserId}", new JsonObject { ["user"] = new JsonObject { ["enabled"] = false } });
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{who.UserId}", new JsonObject { ["user"] = new JsonObject { ["enabled"] = true } });
        var rescope = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["methods"] = new JsonArray("token"), ["token"] = new JsonObject { ["id"] = who.Token } },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = who.ProjectId } },
            },
        };
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens",
            new StringContent(rescope.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_role_granted_after_a_token_was_used_shows_in_its_next_validation()
    {
        var (admin, who) = await UserWithTokenAsync();
        Assert.Equal(["member"], await TokenRolesAsync(admin, who.Token));
        var reader = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=reader"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{who.ProjectId}/users/{who.UserId}/roles/{reader}", expect: HttpStatusCode.NoContent);
        Assert.Equal(["member", "reader"], await TokenRolesAsync(admin, who.Token));
    }

    [Fact]
    public async Task A_token_for_a_user_deleted_during_its_login_is_refused_as_a_401()
    {
        // Found by the API fuzzer: the user went between the password check and the token's insert.
        var store = ember.Host.Services.GetRequiredService<Ember.Server.Identity.IdentityStore>();
        var now = DateTime.UtcNow;
        var row = new Ember.Server.Identity.TokenRow(new string('0', 64), "no-such-user", null, "password", "audit", now, now.AddHours(1), false);
        var error = await Assert.ThrowsAsync<Ember.Server.Common.ApiException>(() => store.InsertTokenAsync(row));
        Assert.Equal(401, error.StatusCode);
    }

    /// <summary>The role names of <paramref name="token"/> as GET /v3/auth/tokens shows them, sorted.</summary>
    private static async Task<List<string>> TokenRolesAsync(ApiClient admin, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Subject-Token", token);
        using var response = await admin.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return [.. body["token"]!["roles"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal)];
    }

    private sealed record Who(string UserName, string UserId, string ProjectName, string ProjectId, string RoleId, string Token);

    /// <summary>A fresh user with the member role on a fresh project, and a token of it.</summary>
    private async Task<(ApiClient Admin, Who Who)> UserWithTokenAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var admin = new ApiClient(await ember.ClientAsync("admin"));
        var projectId = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = "rev-" + suffix } }, HttpStatusCode.Created))["project"]!["id"]!.GetValue<string>();
        var userId = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = "rev-" + suffix, ["password"] = Password } }, HttpStatusCode.Created))["user"]!["id"]!.GetValue<string>();
        var roleId = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{projectId}/users/{userId}/roles/{roleId}", expect: HttpStatusCode.NoContent);
        var who = new Who("rev-" + suffix, userId, "rev-" + suffix, projectId, roleId, "");
        var token = await TokenAsync(who, Password);
        // Used once first, so the server holds its validation in its cache: what follows must still end it.
        await AssertAliveAsync(token);
        return (admin, who with { Token = token });
    }

    private async Task<string> TokenAsync(Who who, string password)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth(who.UserName, password, who.ProjectName));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return response.Headers.GetValues("X-Subject-Token").Single();
    }

    private async Task<HttpStatusCode> StatusWithAsync(string token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{ember.BaseUrl}/volume/v3/volumes");
        request.Headers.Add("X-Auth-Token", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task AssertDeadAsync(string token) => Assert.Equal(HttpStatusCode.Unauthorized, await StatusWithAsync(token));

    private async Task AssertAliveAsync(string token) => Assert.Equal(HttpStatusCode.OK, await StatusWithAsync(token));
}
