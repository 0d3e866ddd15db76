using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Testing;

namespace Ember.Server.Tests.Identity;

/// <summary>Runs <see cref="DelegationCases"/> on SQLite.</summary>
public sealed class DelegationTests(EmberFixture ember) : DelegationCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="DelegationCases"/> on PostgreSQL.</summary>
public sealed class PostgresDelegationTests(PostgresEmberFixture ember) : DelegationCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// Keystone's delegation: application credentials, trusts and implied roles, over the REST API of a live Ember. Each
/// token is used once before the change that must end it, so the server's validation cache has to notice.
/// </summary>
public abstract class DelegationCases(EmberFixture ember)
{
    private const string Password = "delegation-secret";

    [Fact]
    public async Task Application_credential_logs_in_to_its_project_with_only_its_roles()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var who = await NewUserAsync(admin, "member", "reader");
        using var user = await ClientOfAsync(who);

        var created = (await user.SendAsync(HttpMethod.Post, $"/identity/v3/users/{who.UserId}/application_credentials",
            new JsonObject { ["application_credential"] = new JsonObject { ["name"] = "ci", ["roles"] = new JsonArray(new JsonObject { ["name"] = "member" }) } },
            HttpStatusCode.Created))["application_credential"]!;
        var id = created["id"]!.GetValue<string>();
        var secret = created["secret"]!.GetValue<string>();
        Assert.False(created["unrestricted"]!.GetValue<bool>());

        var shown = (await user.SendAsync(HttpMethod.Get, $"/identity/v3/users/{who.UserId}/application_credentials/{id}"))["application_credential"]!;
        Assert.Null(shown["secret"]);
        Assert.Equal(who.ProjectId, shown["project_id"]!.GetValue<string>());
        var listed = (await user.SendAsync(HttpMethod.Get, $"/identity/v3/users/{who.UserId}/application_credentials?name=ci"))["application_credentials"]!.AsArray();
        Assert.Equal(id, Assert.Single(listed)!["id"]!.GetValue<string>());

        var (status, body, token) = await LoginAsync(new JsonObject { ["id"] = id, ["secret"] = secret });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(who.ProjectId, body!["token"]!["project"]!["id"]!.GetValue<string>());
        Assert.Equal(["member"], RoleNames(body));
        Assert.Equal(["application_credential"], body["token"]!["methods"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal(id, body["token"]!["application_credential"]!["id"]!.GetValue<string>());
        Assert.True(body["token"]!["application_credential"]!["restricted"]!.GetValue<bool>());

        var byName = await LoginAsync(new JsonObject
        {
            ["name"] = "ci",
            ["user"] = new JsonObject { ["name"] = who.Name, ["domain"] = new JsonObject { ["id"] = "default" } },
            ["secret"] = secret,
        });
        Assert.Equal(HttpStatusCode.Created, byName.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(new JsonObject { ["id"] = id, ["secret"] = "wrong" })).Status);

        // A restricted credential's token makes neither credentials nor trusts.
        using var restricted = ClientWithToken(token!);
        var (again, _, _) = await restricted.TrySendAsync(HttpMethod.Post, $"/identity/v3/users/{who.UserId}/application_credentials",
            new JsonObject { ["application_credential"] = new JsonObject { ["name"] = "more" } });
        Assert.Equal(HttpStatusCode.Forbidden, again);
        var (trust, _, _) = await restricted.TrySendAsync(HttpMethod.Post, "/identity/v3/OS-TRUST/trusts", TrustBody(who.UserId, who.UserId, who.ProjectId, false, "member"));
        Assert.Equal(HttpStatusCode.Forbidden, trust);

        // A role the user does not hold on the project cannot be given.
        var (notHeld, _, _) = await user.TrySendAsync(HttpMethod.Post, $"/identity/v3/users/{who.UserId}/application_credentials",
            new JsonObject { ["application_credential"] = new JsonObject { ["name"] = "admin-ci", ["roles"] = new JsonArray(new JsonObject { ["name"] = "admin" }) } });
        Assert.Equal(HttpStatusCode.NotFound, notHeld);

        await AssertAliveAsync(token!);
        await user.SendAsync(HttpMethod.Delete, $"/identity/v3/users/{who.UserId}/application_credentials/{id}", expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(token!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(new JsonObject { ["id"] = id, ["secret"] = secret })).Status);
    }

    [Fact]
    public async Task Removing_the_role_or_deleting_the_user_ends_an_application_credential()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var who = await NewUserAsync(admin, "member");
        using var user = await ClientOfAsync(who);
        var (id, secret) = await NewAppCredentialAsync(user, who, "given-secret-1");
        var token = (await LoginAsync(new JsonObject { ["id"] = id, ["secret"] = secret })).Token!;
        await AssertAliveAsync(token);

        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/projects/{who.ProjectId}/users/{who.UserId}/roles/{await RoleIdAsync(admin, "member")}",
            expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(new JsonObject { ["id"] = id, ["secret"] = secret })).Status);

        var other = await NewUserAsync(admin, "member");
        using var otherClient = await ClientOfAsync(other);
        var (otherId, otherSecret) = await NewAppCredentialAsync(otherClient, other, null);
        var otherToken = (await LoginAsync(new JsonObject { ["id"] = otherId, ["secret"] = otherSecret })).Token!;
        await AssertAliveAsync(otherToken);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/projects/{other.ProjectId}", expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(otherToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(new JsonObject { ["id"] = otherId, ["secret"] = otherSecret })).Status);
    }

    [Fact]
    public async Task Trust_scoped_token_carries_the_lent_roles_until_the_trust_is_deleted()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var trustor = await NewUserAsync(admin, "member", "reader");
        var trustee = await NewUserAsync(admin, "member");
        using var trustorClient = await ClientOfAsync(trustor);

        var (refused, _, _) = await trustorClient.TrySendAsync(HttpMethod.Post, "/identity/v3/OS-TRUST/trusts",
            TrustBody(trustee.UserId, trustee.UserId, trustor.ProjectId, false, "reader"));
        Assert.Equal(HttpStatusCode.Forbidden, refused); // the trustor must be the caller
        var redelegation = TrustBody(trustor.UserId, trustee.UserId, trustor.ProjectId, false, "reader");
        redelegation["trust"]!["allow_redelegation"] = true;
        Assert.Equal(HttpStatusCode.Forbidden, (await trustorClient.TrySendAsync(HttpMethod.Post, "/identity/v3/OS-TRUST/trusts", redelegation)).Status);

        var trust = (await trustorClient.SendAsync(HttpMethod.Post, "/identity/v3/OS-TRUST/trusts",
            TrustBody(trustor.UserId, trustee.UserId, trustor.ProjectId, false, "reader"), HttpStatusCode.Created))["trust"]!;
        var trustId = trust["id"]!.GetValue<string>();
        Assert.Equal(["reader"], trust["roles"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()));

        var listed = (await trustorClient.SendAsync(HttpMethod.Get, $"/identity/v3/OS-TRUST/trusts?trustor_user_id={trustor.UserId}"))["trusts"]!.AsArray();
        Assert.Equal(trustId, Assert.Single(listed)!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, (await trustorClient.TrySendAsync(HttpMethod.Get, "/identity/v3/OS-TRUST/trusts")).Status);
        var lent = (await trustorClient.SendAsync(HttpMethod.Get, $"/identity/v3/OS-TRUST/trusts/{trustId}/roles"))["roles"]!.AsArray();
        Assert.Single(lent);
        var memberId = await RoleIdAsync(admin, "member");
        Assert.Equal(HttpStatusCode.NotFound, (await trustorClient.TrySendAsync(HttpMethod.Get, $"/identity/v3/OS-TRUST/trusts/{trustId}/roles/{memberId}")).Status);

        var (status, body, token) = await TrustLoginAsync(trustee, trustId);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(trustee.UserId, body!["token"]!["user"]!["id"]!.GetValue<string>());
        Assert.Equal(trustor.ProjectId, body["token"]!["project"]!["id"]!.GetValue<string>());
        Assert.Equal(["reader"], RoleNames(body));
        var section = body["token"]!["OS-TRUST:trust"]!;
        Assert.Equal(trustId, section["id"]!.GetValue<string>());
        Assert.Equal(trustor.UserId, section["trustor_user"]!["id"]!.GetValue<string>());
        Assert.False(section["impersonation"]!.GetValue<bool>());

        // Someone else cannot use the trust.
        Assert.Equal(HttpStatusCode.Forbidden, (await TrustLoginAsync(trustor, trustId)).Status);

        await AssertAliveAsync(token!);
        await trustorClient.SendAsync(HttpMethod.Delete, $"/identity/v3/OS-TRUST/trusts/{trustId}", expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(token!);
        Assert.Equal(HttpStatusCode.NotFound, (await trustorClient.TrySendAsync(HttpMethod.Get, $"/identity/v3/OS-TRUST/trusts/{trustId}")).Status);
    }

    [Fact]
    public async Task Impersonating_trust_with_one_use_gives_one_token_of_the_trustor()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var trustor = await NewUserAsync(admin, "member");
        var trustee = await NewUserAsync(admin, "member");
        using var trustorClient = await ClientOfAsync(trustor);
        var body = TrustBody(trustor.UserId, trustee.UserId, trustor.ProjectId, true, "member");
        body["trust"]!["remaining_uses"] = 1;
        var trustId = (await trustorClient.SendAsync(HttpMethod.Post, "/identity/v3/OS-TRUST/trusts", body, HttpStatusCode.Created))["trust"]!["id"]!.GetValue<string>();

        var (status, issued, token) = await TrustLoginAsync(trustee, trustId);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(trustor.UserId, issued!["token"]!["user"]!["id"]!.GetValue<string>());
        Assert.True(issued["token"]!["OS-TRUST:trust"]!["impersonation"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await TrustLoginAsync(trustee, trustId)).Status); // its one use is spent

        // Losing the lent role ends the trust's token.
        await AssertAliveAsync(token!);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/projects/{trustor.ProjectId}/users/{trustor.UserId}/roles/{await RoleIdAsync(admin, "member")}",
            expect: HttpStatusCode.NoContent);
        await AssertDeadAsync(token!);
    }

    [Fact]
    public async Task Implied_roles_reach_tokens_and_effective_assignments_and_loops_end()
    {
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var prior = await NewRoleAsync(admin, "prior-" + suffix);
        var implied = await NewRoleAsync(admin, "implied-" + suffix);
        var who = await NewUserAsync(admin, "member", "prior-" + suffix);
        var token = (await PasswordLoginAsync(who)).Token!;
        Assert.DoesNotContain("implied-" + suffix, await TokenRolesAsync(admin, token));

        var rule = $"/identity/v3/roles/{prior}/implies/{implied}";
        var created = await admin.SendAsync(HttpMethod.Put, rule, expect: HttpStatusCode.Created);
        Assert.Equal(implied, created["role_inference"]!["implies"]!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NoContent, (await admin.TrySendAsync(HttpMethod.Head, rule)).Status);
        Assert.Equal(prior, (await admin.SendAsync(HttpMethod.Get, rule))["role_inference"]!["prior_role"]!["id"]!.GetValue<string>());
        var list = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/roles/{prior}/implies"))["role_inference"]!["implies"]!.AsArray();
        Assert.Equal(implied, Assert.Single(list)!["id"]!.GetValue<string>());
        // A loop back to the prior role is followed once.
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/roles/{implied}/implies/{prior}", expect: HttpStatusCode.Created);
        var all = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/role_inferences"))["role_inferences"]!.AsArray();
        Assert.Contains(all, r => r!["prior_role"]!["id"]!.GetValue<string>() == implied);
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.TrySendAsync(HttpMethod.Put, $"/identity/v3/roles/{prior}/implies/{await RoleIdAsync(admin, "admin")}")).Status);

        // The token already issued gains the implied role at once, and so do the effective assignments.
        Assert.Contains("implied-" + suffix, await TokenRolesAsync(admin, token));
        var effective = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/role_assignments?effective&user.id={who.UserId}&scope.project.id={who.ProjectId}"))
            ["role_assignments"]!.AsArray().Select(a => a!["role"]!["id"]!.GetValue<string>()).ToList();
        Assert.Contains(implied, effective);
        Assert.Equal(effective.Count, effective.Distinct().Count());

        await admin.SendAsync(HttpMethod.Delete, rule, expect: HttpStatusCode.NoContent);
        Assert.DoesNotContain("implied-" + suffix, await TokenRolesAsync(admin, token));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.TrySendAsync(HttpMethod.Get, rule)).Status);
    }

    private sealed record Who(string Name, string UserId, string ProjectName, string ProjectId);

    /// <summary>A fresh user holding <paramref name="roles"/> on a fresh project of its own.</summary>
    private static async Task<Who> NewUserAsync(ApiClient admin, params string[] roles)
    {
        var name = "dlg-" + Guid.NewGuid().ToString("N")[..10];
        var projectId = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = name } }, HttpStatusCode.Created))["project"]!["id"]!.GetValue<string>();
        var userId = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = name, ["password"] = Password } }, HttpStatusCode.Created))["user"]!["id"]!.GetValue<string>();
        foreach (var role in roles)
        {
            await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{projectId}/users/{userId}/roles/{await RoleIdAsync(admin, role)}",
                expect: HttpStatusCode.NoContent);
        }

        return new Who(name, userId, name, projectId);
    }

    private static async Task<string> NewRoleAsync(ApiClient admin, string name) =>
        (await admin.SendAsync(HttpMethod.Post, "/identity/v3/roles", new JsonObject { ["role"] = new JsonObject { ["name"] = name } }, HttpStatusCode.Created))
            ["role"]!["id"]!.GetValue<string>();

    private static async Task<string> RoleIdAsync(ApiClient admin, string name) =>
        (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/roles?name={name}"))["roles"]![0]!["id"]!.GetValue<string>();

    private static async Task<(string Id, string Secret)> NewAppCredentialAsync(ApiClient user, Who who, string? secret)
    {
        var request = new JsonObject { ["name"] = "cred-" + Guid.NewGuid().ToString("N")[..6] };
        if (secret is not null)
        {
            request["secret"] = secret;
        }

        var created = (await user.SendAsync(HttpMethod.Post, $"/identity/v3/users/{who.UserId}/application_credentials",
            new JsonObject { ["application_credential"] = request }, HttpStatusCode.Created))["application_credential"]!;
        Assert.Equal(secret ?? created["secret"]!.GetValue<string>(), created["secret"]!.GetValue<string>());
        return (created["id"]!.GetValue<string>(), created["secret"]!.GetValue<string>());
    }

    private static JsonObject TrustBody(string trustor, string trustee, string projectId, bool impersonation, string role) => new()
    {
        ["trust"] = new JsonObject
        {
            ["trustor_user_id"] = trustor,
            ["trustee_user_id"] = trustee,
            ["project_id"] = projectId,
            ["impersonation"] = impersonation,
            ["roles"] = new JsonArray(new JsonObject { ["name"] = role }),
        },
    };

    private async Task<ApiClient> ClientOfAsync(Who who) => ClientWithToken((await PasswordLoginAsync(who)).Token!);

    private ApiClient ClientWithToken(string token)
    {
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        return new ApiClient(http);
    }

    private Task<(HttpStatusCode Status, JsonNode? Body, string? Token)> PasswordLoginAsync(Who who) =>
        PostAuthAsync(EmberFixture.PasswordAuth(who.Name, Password, who.ProjectName));

    private Task<(HttpStatusCode Status, JsonNode? Body, string? Token)> LoginAsync(JsonObject credential) =>
        PostAuthAsync(Auth(new JsonObject
        {
            ["identity"] = new JsonObject { ["methods"] = new JsonArray("application_credential"), ["application_credential"] = credential },
        }));

    private Task<(HttpStatusCode Status, JsonNode? Body, string? Token)> TrustLoginAsync(Who trustee, string trustId) =>
        PostAuthAsync(Auth(new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = trustee.Name, ["domain"] = new JsonObject { ["id"] = "default" }, ["password"] = Password },
                },
            },
            ["scope"] = new JsonObject { ["OS-TRUST:trust"] = new JsonObject { ["id"] = trustId } },
        }));

    private static StringContent Auth(JsonObject auth) => new(new JsonObject { ["auth"] = auth }.ToJsonString(), Encoding.UTF8, "application/json");

    private async Task<(HttpStatusCode Status, JsonNode? Body, string? Token)> PostAuthAsync(StringContent content)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", content);
        var text = await response.Content.ReadAsStringAsync();
        var token = response.Headers.TryGetValues("X-Subject-Token", out var values) ? values.Single() : null;
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, token);
    }

    private static List<string> RoleNames(JsonNode body) =>
        [.. body["token"]!["roles"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    private static async Task<List<string>> TokenRolesAsync(ApiClient admin, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Subject-Token", token);
        using var response = await admin.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return RoleNames(JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
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

/// <summary>Debian's python-openstackclient on the delegation commands, and a login with OS_AUTH_TYPE=v3applicationcredential.</summary>
public class OpenStackClientDelegationTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    [Fact]
    public async Task Application_credential_commands_and_v3applicationcredential_login_work()
    {
        var name = "osc-" + Guid.NewGuid().ToString("N")[..8];
        var created = (await ember.RunClientAsync("openstack", "ember-demo", "application", "credential", "create", name, "-f", "json")).EnsureSuccess().Json();
        var id = created["id"]!.GetValue<string>();
        var secret = created["secret"]!.GetValue<string>();
        var listed = (await ember.RunClientAsync("openstack", "ember-demo", "application", "credential", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(listed, c => c!["ID"]!.GetValue<string>() == id);
        var shown = (await ember.RunClientAsync("openstack", "ember-demo", "application", "credential", "show", name, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(id, shown["id"]!.GetValue<string>());

        // The secret travels in the environment, never on a command line.
        var login = await Cli.RunAsync("openstack", ["token", "issue", "-f", "json"], new Dictionary<string, string>
        {
            ["OS_AUTH_TYPE"] = "v3applicationcredential",
            ["OS_AUTH_URL"] = ember.Host.AuthUrl,
            ["OS_IDENTITY_API_VERSION"] = "3",
            ["OS_APPLICATION_CREDENTIAL_ID"] = id,
            ["OS_APPLICATION_CREDENTIAL_SECRET"] = secret,
        });
        Assert.Equal(shown["project_id"]!.GetValue<string>(), login.EnsureSuccess().Json()["project_id"]!.GetValue<string>());

        (await ember.RunClientAsync("openstack", "ember-demo", "application", "credential", "delete", name)).EnsureSuccess();
        var after = (await ember.RunClientAsync("openstack", "ember-demo", "application", "credential", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.DoesNotContain(after, c => c!["ID"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task Trust_and_implied_role_commands_work()
    {
        var trust = (await ember.RunClientAsync("openstack", "ember", "trust", "create", "--project", "admin", "--role", "admin",
            "--impersonate", "admin", "demo", "-f", "json")).EnsureSuccess().Json();
        var trustId = trust["id"]!.GetValue<string>();
        var listed = (await ember.RunClientAsync("openstack", "ember", "trust", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(listed, t => t!["ID"]!.GetValue<string>() == trustId);
        var shown = (await ember.RunClientAsync("openstack", "ember", "trust", "show", trustId, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("admin", shown["roles"]!.GetValue<string>());
        (await ember.RunClientAsync("openstack", "ember", "trust", "delete", trustId)).EnsureSuccess();
        Assert.NotEqual(0, (await ember.RunClientAsync("openstack", "ember", "trust", "show", trustId)).ExitCode);

        var suffix = Guid.NewGuid().ToString("N")[..8];
        (await ember.RunClientAsync("openstack", "ember", "role", "create", "osc-prior-" + suffix)).EnsureSuccess();
        (await ember.RunClientAsync("openstack", "ember", "role", "create", "osc-implied-" + suffix)).EnsureSuccess();
        (await ember.RunClientAsync("openstack", "ember", "implied", "role", "create", "osc-prior-" + suffix, "--implied-role", "osc-implied-" + suffix))
            .EnsureSuccess();
        var rules = (await ember.RunClientAsync("openstack", "ember", "implied", "role", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(rules, r => r!["Prior Role Name"]!.GetValue<string>() == "osc-prior-" + suffix
            && r["Implied Role Name"]!.GetValue<string>() == "osc-implied-" + suffix);
        (await ember.RunClientAsync("openstack", "ember", "implied", "role", "delete", "osc-prior-" + suffix, "--implied-role", "osc-implied-" + suffix))
            .EnsureSuccess();
        rules = (await ember.RunClientAsync("openstack", "ember", "implied", "role", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.DoesNotContain(rules, r => r!["Prior Role Name"]!.GetValue<string>() == "osc-prior-" + suffix);
    }
}
