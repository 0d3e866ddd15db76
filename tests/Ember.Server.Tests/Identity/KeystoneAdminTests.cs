using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>
/// Keystone as people script it, with Debian's openstack client: the catalog's services and endpoints, domains and
/// domain-scoped tokens, groups and their role assignments.
/// </summary>
public sealed class KeystoneAdminTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private Task<CliResult> OpenstackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The openstack client as a user of any domain, with password auth and the scope given in the environment.</summary>
    private Task<CliResult> OpenstackAsAsync(string user, string userDomain, string password, IDictionary<string, string> scope, params string[] args)
    {
        var env = new Dictionary<string, string>(scope)
        {
            ["OS_AUTH_URL"] = ember.BaseUrl + "/identity/v3",
            ["OS_IDENTITY_API_VERSION"] = "3",
            ["OS_USERNAME"] = user,
            ["OS_USER_DOMAIN_NAME"] = userDomain,
            ["OS_PASSWORD"] = password,
            ["OS_CLOUD"] = "",
            ["OS_CLIENT_CONFIG_FILE"] = "/dev/null",
        };
        return Cli.RunAsync("openstack", args, env);
    }

    [Fact]
    public async Task Openstack_client_creates_a_service_and_endpoints_that_tokens_then_carry()
    {
        var type = Unique("svc");
        var service = (await OpenstackAsync("service", "create", "--name", type + "-name", "--description", "a test service", type, "-f", "json")).EnsureSuccess().Json();
        var serviceId = service["id"]!.GetValue<string>();
        Assert.Equal(type, service["type"]!.GetValue<string>());
        var endpoint = (await OpenstackAsync("endpoint", "create", "--region", "RegionOne", type, "public", "http://svc.example.invalid:8999/v1/$(project_id)s", "-f", "json"))
            .EnsureSuccess().Json();
        var endpointId = endpoint["id"]!.GetValue<string>();
        (await OpenstackAsync("endpoint", "create", "--region", "RegionOne", type, "internal", "http://svc.example.invalid:8998/v1", "-f", "json")).EnsureSuccess();

        // The list filters: by service, interface and region, as the client sends them.
        var listed = (await OpenstackAsync("endpoint", "list", "--service", type, "--interface", "public", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(endpointId, Assert.Single(listed)!["ID"]!.GetValue<string>());
        Assert.Equal(2, (await OpenstackAsync("endpoint", "list", "--service", serviceId, "--region", "RegionOne", "-f", "json")).EnsureSuccess().Json().AsArray().Count);

        // A new token's catalog has the service, its project filled into the URL.
        using var api = new ApiClient(await ember.ClientAsync());
        var catalog = (await api.SendAsync(HttpMethod.Get, "/identity/v3/auth/catalog"))["catalog"]!.AsArray();
        var entry = Assert.Single(catalog, s => s!["type"]!.GetValue<string>() == type)!;
        var publicUrl = entry["endpoints"]!.AsArray().Single(e => e!["interface"]!.GetValue<string>() == "public")!["url"]!.GetValue<string>();
        Assert.StartsWith("http://svc.example.invalid:8999/v1/", publicUrl);
        Assert.DoesNotContain("$(", publicUrl);
        Assert.Contains(type, (await OpenstackAsync("catalog", "show", type, "-f", "json")).EnsureSuccess().StdOut);

        // A disabled service leaves the catalog; the region holding its endpoints cannot be deleted.
        (await OpenstackAsync("service", "set", "--disable", type)).EnsureSuccess();
        Assert.DoesNotContain((await api.SendAsync(HttpMethod.Get, "/identity/v3/auth/catalog"))["catalog"]!.AsArray(), s => s!["type"]!.GetValue<string>() == type);
        (await OpenstackAsync("endpoint", "delete", endpointId)).EnsureSuccess();
        await api.SendAsync(HttpMethod.Get, $"/identity/v3/endpoints/{endpointId}", expect: HttpStatusCode.NotFound);

        // Bad input: an unknown interface or service is a 400; deleting the service deletes its endpoints.
        await api.SendAsync(HttpMethod.Post, "/identity/v3/endpoints", new JsonObject
        {
            ["endpoint"] = new JsonObject { ["service_id"] = serviceId, ["interface"] = "private", ["url"] = "http://x" },
        }, HttpStatusCode.BadRequest);
        await api.SendAsync(HttpMethod.Post, "/identity/v3/endpoints", new JsonObject
        {
            ["endpoint"] = new JsonObject { ["service_id"] = "nope", ["interface"] = "public", ["url"] = "http://x" },
        }, HttpStatusCode.BadRequest);
        (await OpenstackAsync("service", "delete", serviceId)).EnsureSuccess();
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"/identity/v3/endpoints?service_id={serviceId}"))["endpoints"]!.AsArray());

        // The demo user may not change the catalog.
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        await demo.SendAsync(HttpMethod.Post, "/identity/v3/services", new JsonObject { ["service"] = new JsonObject { ["type"] = "x" } }, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Openstack_client_manages_domains_and_a_domain_admin_gets_a_domain_scoped_token()
    {
        var domain = Unique("dom");
        var domainId = (await OpenstackAsync("domain", "create", "--description", "a test domain", domain, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        (await OpenstackAsync("project", "create", "--domain", domain, "shared-name", "-f", "json")).EnsureSuccess();
        // Names are unique per domain: the same name in another domain is fine, twice in one is a 409.
        (await OpenstackAsync("project", "create", "--domain", "default", Unique("shared-name"), "-f", "json")).EnsureSuccess();
        var again = await OpenstackAsync("project", "create", "--domain", domain, "shared-name");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("409", again.StdErr);
        var password = Guid.NewGuid().ToString("N");
        (await OpenstackAsync("user", "create", "--domain", domain, "--password", password, "admin", "-f", "json")).EnsureSuccess();
        (await OpenstackAsync("role", "add", "--domain", domain, "--user", "admin", "--user-domain", domain, "admin")).EnsureSuccess();

        var listed = (await OpenstackAsync("domain", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(listed, d => d!["Name"]!.GetValue<string>() == domain);
        Assert.Single((await OpenstackAsync("project", "list", "--domain", domain, "-f", "json")).EnsureSuccess().Json().AsArray());

        // OS_DOMAIN_NAME: a domain-scoped token, with the domain's roles.
        var scope = new Dictionary<string, string> { ["OS_DOMAIN_NAME"] = domain };
        var token = (await OpenstackAsAsync("admin", domain, password, scope, "token", "issue", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(domainId, token["domain_id"]!.GetValue<string>());
        using var api = new ApiClient(await ember.ClientAsync());
        var http = api.Http;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Subject-Token", token["id"]!.GetValue<string>());
        using var response = await http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!;
        Assert.Equal(domainId, body["domain"]!["id"]!.GetValue<string>());
        Assert.Contains(body["roles"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "admin");
        Assert.Null(body["project"]);

        // An enabled domain is not deleted (403); a disabled one ends its tokens and goes with its projects and users.
        var enabledDelete = await OpenstackAsync("domain", "delete", domain);
        Assert.NotEqual(0, enabledDelete.ExitCode);
        Assert.Contains("403", enabledDelete.StdErr);
        (await OpenstackAsync("domain", "set", "--disable", domain)).EnsureSuccess();
        using var check = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        check.Headers.Add("X-Subject-Token", token["id"]!.GetValue<string>());
        using var afterDisable = await http.SendAsync(check);
        Assert.Equal(HttpStatusCode.NotFound, afterDisable.StatusCode);
        Assert.NotEqual(0, (await OpenstackAsAsync("admin", domain, password, scope, "token", "issue")).ExitCode);
        (await OpenstackAsync("domain", "delete", domain)).EnsureSuccess();
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"/identity/v3/projects?domain_id={domainId}"))["projects"]!.AsArray());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"/identity/v3/users?domain_id={domainId}"))["users"]!.AsArray());

        // The Default domain holds the cloud admin: never disabled or deleted.
        await api.SendAsync(HttpMethod.Patch, "/identity/v3/domains/default",
            new JsonObject { ["domain"] = new JsonObject { ["enabled"] = false } }, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Openstack_client_groups_give_their_roles_to_members_tokens()
    {
        var project = Unique("gproj");
        var group = Unique("grp");
        var user = Unique("guser");
        var password = Guid.NewGuid().ToString("N");
        (await OpenstackAsync("project", "create", project, "-f", "json")).EnsureSuccess();
        (await OpenstackAsync("user", "create", "--password", password, user, "-f", "json")).EnsureSuccess();
        var groupId = (await OpenstackAsync("group", "create", "--description", "testers", group, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        (await OpenstackAsync("group", "add", "user", group, user)).EnsureSuccess();
        var contains = (await OpenstackAsync("group", "contains", "user", group, user)).EnsureSuccess().StdOut;
        Assert.Contains($"{user} in group {group}", contains);
        Assert.DoesNotContain("not in", contains);
        (await OpenstackAsync("role", "add", "--project", project, "--group", group, "member")).EnsureSuccess();

        // The member's token on the project has the group's role.
        var scope = new Dictionary<string, string> { ["OS_PROJECT_NAME"] = project, ["OS_PROJECT_DOMAIN_NAME"] = "Default" };
        var token = (await OpenstackAsAsync(user, "Default", password, scope, "token", "issue", "-f", "json")).EnsureSuccess().Json();
        Assert.False(string.IsNullOrEmpty(token["project_id"]!.GetValue<string>()));

        // role_assignments: the group's row, and with effective the member's row that comes from it.
        var byGroup = (await OpenstackAsync("role", "assignment", "list", "--group", group, "--names", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(byGroup, a => a!["Group"]!.GetValue<string>() == $"{group}@Default" && a["Project"]!.GetValue<string>() == $"{project}@Default");
        var effective = (await OpenstackAsync("role", "assignment", "list", "--user", user, "--effective", "--names", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(effective, a => a!["Role"]!.GetValue<string>() == "member" && a["User"]!.GetValue<string>() == $"{user}@Default");
        Assert.Empty((await OpenstackAsync("role", "assignment", "list", "--user", user, "-f", "json")).EnsureSuccess().Json().AsArray());

        // Leaving the group takes the role away: the token dies, a new one on the project is refused.
        (await OpenstackAsync("group", "remove", "user", group, user)).EnsureSuccess();
        using var api = new ApiClient(await ember.ClientAsync());
        using var check = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        check.Headers.Add("X-Subject-Token", token["id"]!.GetValue<string>());
        using var response = await api.Http.SendAsync(check);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotEqual(0, (await OpenstackAsAsync(user, "Default", password, scope, "token", "issue")).ExitCode);

        // A group role on a domain counts in a domain-scoped token; deleting the group ends it.
        (await OpenstackAsync("group", "add", "user", group, user)).EnsureSuccess();
        (await OpenstackAsync("role", "add", "--domain", "default", "--group", group, "reader")).EnsureSuccess();
        var domainToken = (await OpenstackAsAsync(user, "Default", password, new Dictionary<string, string> { ["OS_DOMAIN_NAME"] = "Default" }, "token", "issue", "-f", "json"))
            .EnsureSuccess().Json();
        Assert.Equal("default", domainToken["domain_id"]!.GetValue<string>());
        (await OpenstackAsync("group", "delete", groupId)).EnsureSuccess();
        using var check2 = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        check2.Headers.Add("X-Subject-Token", domainToken["id"]!.GetValue<string>());
        using var response2 = await api.Http.SendAsync(check2);
        Assert.Equal(HttpStatusCode.NotFound, response2.StatusCode);
    }
}

/// <summary>Credentials, EC2 credentials, self-service password change, project tags and hierarchy, with the openstack client.</summary>
public sealed class KeystoneUserTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private Task<CliResult> OpenstackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    [Fact]
    public async Task Openstack_client_manages_credentials_and_ec2_credentials()
    {
        var access = "access-" + Guid.NewGuid().ToString("N")[..8];
        var created = (await OpenstackAsync("credential", "create", "--type", "ec2", "--project", "admin", "admin",
            $"{{\"access\": \"{access}\", \"secret\": \"s3cret\"}}", "-f", "json")).EnsureSuccess().Json();
        var id = created["id"]!.GetValue<string>();
        // Keystone names an EC2 credential by the SHA-256 of its access key.
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(access))), id);
        Assert.Contains(id, (await OpenstackAsync("credential", "list", "--type", "ec2", "-f", "json")).EnsureSuccess().StdOut);
        (await OpenstackAsync("credential", "set", "--type", "cert", "--data", "a certificate", "--user", "admin", id)).EnsureSuccess();
        Assert.Equal("a certificate", (await OpenstackAsync("credential", "show", id, "-f", "json")).EnsureSuccess().Json()["blob"]!.GetValue<string>());
        (await OpenstackAsync("credential", "delete", id)).EnsureSuccess();

        var ec2 = (await OpenstackAsync("ec2", "credentials", "create", "-f", "json")).EnsureSuccess().Json();
        var key = ec2["access"]!.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(ec2["secret"]!.GetValue<string>()));
        Assert.Contains(key, (await OpenstackAsync("ec2", "credentials", "list", "-f", "json")).EnsureSuccess().StdOut);
        (await OpenstackAsync("ec2", "credentials", "delete", key)).EnsureSuccess();
        Assert.DoesNotContain(key, (await OpenstackAsync("ec2", "credentials", "list", "-f", "json")).EnsureSuccess().StdOut);

        // Someone else's credentials are not the demo user's to read.
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        Assert.Empty((await demo.SendAsync(HttpMethod.Get, "/identity/v3/credentials"))["credentials"]!.AsArray());
    }

    [Fact]
    public async Task A_user_changes_their_own_password_and_projects_keep_tags_and_parents()
    {
        var user = "pw-" + Guid.NewGuid().ToString("N")[..8];
        var project = "tagged-" + Guid.NewGuid().ToString("N")[..8];
        (await OpenstackAsync("project", "create", "--tag", "blue", "--tag", "green", project, "-f", "json")).EnsureSuccess();
        (await OpenstackAsync("user", "create", "--project", project, "--password", "old-password", user, "-f", "json")).EnsureSuccess();
        (await OpenstackAsync("role", "add", "--project", project, "--user", user, "member")).EnsureSuccess();
        var env = new Dictionary<string, string>
        {
            ["OS_AUTH_URL"] = ember.BaseUrl + "/identity/v3",
            ["OS_IDENTITY_API_VERSION"] = "3",
            ["OS_USERNAME"] = user,
            ["OS_USER_DOMAIN_NAME"] = "Default",
            ["OS_PROJECT_NAME"] = project,
            ["OS_PROJECT_DOMAIN_NAME"] = "Default",
            ["OS_PASSWORD"] = "old-password",
            ["OS_CLOUD"] = "",
            ["OS_CLIENT_CONFIG_FILE"] = "/dev/null",
        };
        var wrong = await Cli.RunAsync("openstack", ["user", "password", "set", "--original-password", "not-it", "--password", "new-password"], env);
        Assert.NotEqual(0, wrong.ExitCode);
        (await Cli.RunAsync("openstack", ["user", "password", "set", "--original-password", "old-password", "--password", "new-password"], env)).EnsureSuccess();
        Assert.NotEqual(0, (await Cli.RunAsync("openstack", ["token", "issue"], env)).ExitCode);
        env["OS_PASSWORD"] = "new-password";
        (await Cli.RunAsync("openstack", ["token", "issue"], env)).EnsureSuccess();

        // Tags: the filters of the list; a child project names its parent.
        var tagged = (await OpenstackAsync("project", "list", "--tags", "blue,green", "-f", "json")).EnsureSuccess().StdOut;
        Assert.Contains(project, tagged);
        Assert.DoesNotContain(project, (await OpenstackAsync("project", "list", "--not-tags-any", "green", "-f", "json")).EnsureSuccess().StdOut);
        var parentId = (await OpenstackAsync("project", "show", project, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        var child = (await OpenstackAsync("project", "create", "--parent", project, project + "-child", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(parentId, child["parent_id"]!.GetValue<string>());
        var refused = await OpenstackAsync("project", "delete", project);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("403", refused.StdErr);
    }
}
