using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>Runs <see cref="KeystoneExtensionCases"/> on SQLite.</summary>
public sealed class KeystoneExtensionTests(EmberFixture ember) : KeystoneExtensionCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="KeystoneExtensionCases"/> on PostgreSQL.</summary>
public sealed class PostgresKeystoneExtensionTests(PostgresEmberFixture ember) : KeystoneExtensionCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// The Keystone APIs Tempest excluded until now, over the REST API of a live Ember: OS-INHERIT, system grants and
/// system-scoped tokens, domain-specific roles, policies, OAuth1 consumers, endpoint groups and domain configuration.
/// </summary>
public abstract class KeystoneExtensionCases(EmberFixture ember)
{
    private const string Password = "extension-secret";

    [Fact]
    public async Task Inherited_grants_reach_the_projects_below_in_tokens_and_assignments()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var domain = await NewAsync(admin, "domains", "domain", new JsonObject { ["name"] = Unique("inh") });
        var parent = await NewAsync(admin, "projects", "project", new JsonObject { ["name"] = Unique("parent"), ["domain_id"] = domain });
        var child = await NewAsync(admin, "projects", "project", new JsonObject { ["name"] = Unique("child"), ["parent_id"] = parent });
        var userName = Unique("heir");
        var user = await NewAsync(admin, "users", "user", new JsonObject { ["name"] = userName, ["domain_id"] = domain, ["password"] = Password });
        var role = await NewAsync(admin, "roles", "role", new JsonObject { ["name"] = Unique("inherited") });

        var onDomain = $"/identity/v3/OS-INHERIT/domains/{domain}/users/{user}/roles/{role}/inherited_to_projects";
        await admin.SendAsync(HttpMethod.Put, onDomain, expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Head, onDomain, expect: HttpStatusCode.NoContent);
        var listed = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-INHERIT/domains/{domain}/users/{user}/roles/inherited_to_projects"))["roles"]!.AsArray();
        Assert.Equal(role, Assert.Single(listed)!["id"]!.GetValue<string>());
        // Not a grant on the domain itself.
        await admin.SendAsync(HttpMethod.Head, $"/identity/v3/domains/{domain}/users/{user}/roles/{role}", expect: HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(userName, domain, new JsonObject { ["domain"] = new JsonObject { ["id"] = domain } })).Status);

        // Every project of the domain gets the role, in tokens and in the effective list.
        foreach (var project in new[] { parent, child })
        {
            var (status, body, _) = await LoginAsync(userName, domain, new JsonObject { ["project"] = new JsonObject { ["id"] = project } });
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.Contains(body!["token"]!["roles"]!.AsArray(), r => r!["id"]!.GetValue<string>() == role);
            var effective = await AssignmentsAsync(admin, $"effective&user.id={user}&scope.project.id={project}");
            var row = Assert.Single(effective)!;
            Assert.Equal(role, row["role"]!["id"]!.GetValue<string>());
            Assert.EndsWith($"/OS-INHERIT/domains/{domain}/users/{user}/roles/{role}/inherited_to_projects", row["links"]!["assignment"]!.GetValue<string>());
        }

        var plain = Assert.Single(await AssignmentsAsync(admin, $"user.id={user}"))!;
        Assert.Equal(domain, plain["scope"]!["domain"]!["id"]!.GetValue<string>());
        Assert.Equal("projects", plain["scope"]!["OS-INHERIT:inherited_to"]!.GetValue<string>());
        Assert.Single(await AssignmentsAsync(admin, $"user.id={user}&scope.OS-INHERIT:inherited_to=projects"));

        // On a project: the projects under it get the role, the project itself does not.
        await admin.SendAsync(HttpMethod.Delete, onDomain, expect: HttpStatusCode.NoContent);
        Assert.Empty(await AssignmentsAsync(admin, $"effective&user.id={user}&scope.project.id={child}"));
        var onParent = $"/identity/v3/OS-INHERIT/projects/{parent}/users/{user}/roles/{role}/inherited_to_projects";
        await admin.SendAsync(HttpMethod.Put, onParent, expect: HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.Created, (await LoginAsync(userName, domain, new JsonObject { ["project"] = new JsonObject { ["id"] = child } })).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(userName, domain, new JsonObject { ["project"] = new JsonObject { ["id"] = parent } })).Status);
        var subtree = await AssignmentsAsync(admin, $"effective&user.id={user}&scope.project.id={parent}&include_subtree=true");
        Assert.Equal(child, Assert.Single(subtree)!["scope"]!["project"]!["id"]!.GetValue<string>());
        var (badSubtree, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/identity/v3/role_assignments?include_subtree=true");
        Assert.Equal(HttpStatusCode.BadRequest, badSubtree);
        await admin.SendAsync(HttpMethod.Delete, onParent, expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Head, onParent, expect: HttpStatusCode.NotFound);

        // A group's inherited grant reaches its members, with the membership link.
        var group = await NewAsync(admin, "groups", "group", new JsonObject { ["name"] = Unique("heirs"), ["domain_id"] = domain });
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/groups/{group}/users/{user}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/OS-INHERIT/domains/{domain}/groups/{group}/roles/{role}/inherited_to_projects",
            expect: HttpStatusCode.NoContent);
        var viaGroup = Assert.Single(await AssignmentsAsync(admin, $"effective&user.id={user}&scope.project.id={child}"))!;
        Assert.EndsWith($"/groups/{group}/users/{user}", viaGroup["links"]!["membership"]!.GetValue<string>());
        using var self = ClientWithToken((await LoginAsync(userName, domain, new JsonObject { ["project"] = new JsonObject { ["id"] = child } })).Token!);
        var mine = (await self.SendAsync(HttpMethod.Get, "/identity/v3/auth/projects"))["projects"]!.AsArray().Select(p => p!["id"]!.GetValue<string>()).ToList();
        Assert.Contains(parent, mine);
        Assert.Contains(child, mine);
    }

    [Fact]
    public async Task System_grants_give_system_scoped_tokens_and_a_system_admin_is_the_cloud_admin()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var userName = Unique("operator");
        var user = await NewAsync(admin, "users", "user", new JsonObject { ["name"] = userName, ["password"] = Password });
        var role = await NewAsync(admin, "roles", "role", new JsonObject { ["name"] = Unique("sys") });
        var system = new JsonObject { ["system"] = new JsonObject { ["all"] = true } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(userName, "default", system)).Status);

        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/system/users/{user}/roles/{role}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Head, $"/identity/v3/system/users/{user}/roles/{role}", expect: HttpStatusCode.NoContent);
        var roles = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/system/users/{user}/roles"))["roles"]!.AsArray();
        Assert.Equal(role, Assert.Single(roles)!["id"]!.GetValue<string>());
        var assignment = Assert.Single(await AssignmentsAsync(admin, $"user.id={user}&scope.system=all"))!;
        Assert.True(assignment["scope"]!["system"]!["all"]!.GetValue<bool>());
        Assert.EndsWith($"/system/users/{user}/roles/{role}", assignment["links"]!["assignment"]!.GetValue<string>());
        Assert.Empty(await AssignmentsAsync(admin, $"user.id={user}&scope.domain.id=default"));

        var (status, body, token) = await LoginAsync(userName, "default", system);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True(body!["token"]!["system"]!["all"]!.GetValue<bool>());
        Assert.Null(body["token"]!["project"]);
        Assert.Contains(body["token"]!["roles"]!.AsArray(), r => r!["id"]!.GetValue<string>() == role);
        using (var withRole = ClientWithToken(token!))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await withRole.TrySendAsync(HttpMethod.Get, "/identity/v3/users")).Status);
        }

        // The admin role on the system makes the cloud admin, as in Keystone.
        var adminRole = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=admin"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/system/users/{user}/roles/{adminRole}", expect: HttpStatusCode.NoContent);
        var (_, _, adminToken) = await LoginAsync(userName, "default", system);
        using (var systemAdmin = ClientWithToken(adminToken!))
        {
            Assert.Equal(HttpStatusCode.OK, (await systemAdmin.TrySendAsync(HttpMethod.Get, "/identity/v3/users")).Status);
        }

        // Without any system role left, the system-scoped token is dead.
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/system/users/{user}/roles/{adminRole}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/system/users/{user}/roles/{role}", expect: HttpStatusCode.NoContent);
        using var validator = ClientWithToken(token!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await validator.TrySendAsync(HttpMethod.Get, "/identity/v3/auth/catalog")).Status);

        var group = await NewAsync(admin, "groups", "group", new JsonObject { ["name"] = Unique("operators") });
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/system/groups/{group}/roles/{role}", expect: HttpStatusCode.NoContent);
        Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/identity/v3/system/groups/{group}/roles"))["roles"]!.AsArray());
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/groups/{group}/users/{user}", expect: HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.Created, (await LoginAsync(userName, "default", system)).Status);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/system/groups/{group}/roles/{role}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Head, $"/identity/v3/system/groups/{group}/roles/{role}", expect: HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Domain_specific_roles_are_listed_by_domain_and_carried_only_through_the_roles_they_imply()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var domain = await NewAsync(admin, "domains", "domain", new JsonObject { ["name"] = Unique("droles") });
        var other = await NewAsync(admin, "domains", "domain", new JsonObject { ["name"] = Unique("droles2") });
        var project = await NewAsync(admin, "projects", "project", new JsonObject { ["name"] = Unique("dproj"), ["domain_id"] = domain });
        var userName = Unique("duser");
        var user = await NewAsync(admin, "users", "user", new JsonObject { ["name"] = userName, ["domain_id"] = domain, ["password"] = Password });
        var created = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/roles",
            new JsonObject { ["role"] = new JsonObject { ["name"] = Unique("drole"), ["domain_id"] = domain } }, HttpStatusCode.Created))["role"]!;
        var domainRole = created["id"]!.GetValue<string>();
        Assert.Equal(domain, created["domain_id"]!.GetValue<string>());
        var inDomain = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/roles?domain_id={domain}"))["roles"]!.AsArray();
        Assert.True(JsonNode.DeepEquals(created, Assert.Single(inDomain)));
        Assert.DoesNotContain((await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles"))["roles"]!.AsArray(), r => r!["id"]!.GetValue<string>() == domainRole);
        var (noDomain, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/identity/v3/roles",
            new JsonObject { ["role"] = new JsonObject { ["name"] = Unique("orphan"), ["domain_id"] = "no-such-domain" } });
        Assert.Equal(HttpStatusCode.NotFound, noDomain);

        // Rules: domain role to global role or to another domain's role, yes; global role to domain role, 403.
        var global = await NewAsync(admin, "roles", "role", new JsonObject { ["name"] = Unique("global") });
        var otherRole = await NewAsync(admin, "roles", "role", new JsonObject { ["name"] = Unique("other"), ["domain_id"] = other });
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/roles/{domainRole}/implies/{global}", expect: HttpStatusCode.Created);
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/roles/{domainRole}/implies/{otherRole}", expect: HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.TrySendAsync(HttpMethod.Put, $"/identity/v3/roles/{global}/implies/{domainRole}")).Status);

        // Given on a project of its domain: the token carries the implied global role, not the domain role.
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{user}/roles/{domainRole}", expect: HttpStatusCode.NoContent);
        var (status, body, _) = await LoginAsync(userName, domain, new JsonObject { ["project"] = new JsonObject { ["id"] = project } });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal([global], body!["token"]!["roles"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        var effective = await AssignmentsAsync(admin, $"effective&user.id={user}&scope.project.id={project}");
        Assert.Equal([global], effective.Select(a => a!["role"]!["id"]!.GetValue<string>()));

        // Only within its domain.
        var elsewhere = await NewAsync(admin, "projects", "project", new JsonObject { ["name"] = Unique("elsewhere"), ["domain_id"] = other });
        Assert.Equal(HttpStatusCode.Forbidden,
            (await admin.TrySendAsync(HttpMethod.Put, $"/identity/v3/projects/{elsewhere}/users/{user}/roles/{domainRole}")).Status);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/roles/{domainRole}", expect: HttpStatusCode.NoContent);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"/identity/v3/roles?domain_id={domain}"))["roles"]!.AsArray());
    }

    [Fact]
    public async Task Policies_and_oauth_consumers_are_kept_and_the_request_token_flow_is_a_501()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var policy = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/policies",
            new JsonObject { ["policy"] = new JsonObject { ["blob"] = "{\"a\": \"rule:b\"}", ["type"] = "application/json" } }, HttpStatusCode.Created))["policy"]!;
        var id = policy["id"]!.GetValue<string>();
        Assert.Equal("{\"a\": \"rule:b\"}", policy["blob"]!.GetValue<string>());
        var updated = (await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/policies/{id}",
            new JsonObject { ["policy"] = new JsonObject { ["type"] = "text/yaml" } }))["policy"]!;
        Assert.Equal("text/yaml", updated["type"]!.GetValue<string>());
        var shown = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/policies/{id}"))["policy"]!;
        Assert.Equal(("text/yaml", "{\"a\": \"rule:b\"}"), (shown["type"]!.GetValue<string>(), shown["blob"]!.GetValue<string>()));
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, "/identity/v3/policies?type=text/yaml"))["policies"]!.AsArray(), p => p!["id"]!.GetValue<string>() == id);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, "/identity/v3/policies",
            new JsonObject { ["policy"] = new JsonObject { ["type"] = "application/json" } })).Status);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/policies/{id}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"/identity/v3/policies/{id}", expect: HttpStatusCode.NotFound);

        var consumer = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/OS-OAUTH1/consumers",
            new JsonObject { ["consumer"] = new JsonObject { ["description"] = "first" } }, HttpStatusCode.Created))["consumer"]!;
        var consumerId = consumer["id"]!.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(consumer["secret"]!.GetValue<string>()));
        var fetched = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}"))["consumer"]!;
        Assert.Null(fetched["secret"]);
        Assert.True(JsonNode.DeepEquals(consumer["links"], fetched["links"]));
        await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}", new JsonObject { ["consumer"] = new JsonObject { ["description"] = "second" } });
        Assert.Equal("second", (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}"))["consumer"]!["description"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Patch, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}",
            new JsonObject { ["consumer"] = new JsonObject { ["secret"] = "mine" } })).Status);
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, "/identity/v3/OS-OAUTH1/consumers"))["consumers"]!.AsArray(),
            c => c!["id"]!.GetValue<string>() == consumerId);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-OAUTH1/consumers/{consumerId}", expect: HttpStatusCode.NotFound);

        var (status, error, _) = await admin.TrySendAsync(HttpMethod.Post, "/identity/v3/OS-OAUTH1/request_token");
        Assert.Equal(HttpStatusCode.NotImplemented, status);
        Assert.Equal(501, error!["error"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Endpoint_groups_filter_the_catalog_of_the_projects_they_are_associated_with()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var type = Unique("epf");
        var service = await NewAsync(admin, "services", "service", new JsonObject { ["type"] = type, ["name"] = type });
        var endpoint = await NewAsync(admin, "endpoints", "endpoint", new JsonObject
        {
            ["service_id"] = service,
            ["interface"] = "public",
            ["region_id"] = "RegionOne",
            ["url"] = "http://epf.example.invalid/v1",
        });
        var created = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/OS-EP-FILTER/endpoint_groups", new JsonObject
        {
            ["endpoint_group"] = new JsonObject { ["name"] = type, ["description"] = "one service", ["filters"] = new JsonObject { ["service_id"] = service } },
        }, HttpStatusCode.Created))["endpoint_group"]!;
        var group = created["id"]!.GetValue<string>();
        Assert.True(JsonNode.DeepEquals(created, (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}"))["endpoint_group"]));
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, "/identity/v3/OS-EP-FILTER/endpoint_groups"))["endpoint_groups"]!.AsArray(),
            g => JsonNode.DeepEquals(g, created));
        await admin.SendAsync(HttpMethod.Head, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}");
        var members = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/endpoints"))["endpoints"]!.AsArray();
        Assert.Equal(endpoint, Assert.Single(members)!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, "/identity/v3/OS-EP-FILTER/endpoint_groups", new JsonObject
        {
            ["endpoint_group"] = new JsonObject { ["name"] = "bad", ["filters"] = new JsonObject { ["url"] = "x" } },
        })).Status);

        // A project with the group sees only the group's endpoints in its tokens.
        var project = await NewAsync(admin, "projects", "project", new JsonObject { ["name"] = Unique("filtered") });
        var userName = Unique("filtered-user");
        var user = await NewAsync(admin, "users", "user", new JsonObject { ["name"] = userName, ["password"] = Password });
        var member = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"))["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{user}/roles/{member}", expect: HttpStatusCode.NoContent);
        var scope = new JsonObject { ["project"] = new JsonObject { ["id"] = project } };
        Assert.True((await CatalogTypesAsync(userName, scope)).Count > 1);

        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{project}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{project}");
        Assert.Equal([type], await CatalogTypesAsync(userName, scope));
        var ofProject = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/projects/{project}/endpoints"))["endpoints"]!.AsArray();
        Assert.Equal(endpoint, Assert.Single(ofProject)!["id"]!.GetValue<string>());
        Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/projects/{project}/endpoint_groups"))["endpoint_groups"]!.AsArray());
        Assert.Equal(project, Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/projects"))["projects"]!.AsArray())!
            ["id"]!.GetValue<string>());

        // One endpoint associated directly joins it; with no association left the whole catalog is back.
        var identity = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/endpoints?interface=public"))["endpoints"]!.AsArray()
            .First(e => e!["url"]!.GetValue<string>().EndsWith("/identity", StringComparison.Ordinal))!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/OS-EP-FILTER/projects/{project}/endpoints/{identity}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Head, $"/identity/v3/OS-EP-FILTER/projects/{project}/endpoints/{identity}", expect: HttpStatusCode.NoContent);
        Assert.Equal(new[] { "identity", type }.Order(StringComparer.Ordinal), (await CatalogTypesAsync(userName, scope)).Order(StringComparer.Ordinal));
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoints/{identity}/projects"))["projects"]!.AsArray(),
            p => p!["id"]!.GetValue<string>() == project);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/OS-EP-FILTER/projects/{project}/endpoints/{identity}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{project}", expect: HttpStatusCode.NoContent);
        Assert.True((await CatalogTypesAsync(userName, scope)).Count > 1);

        var renamed = (await admin.SendAsync(HttpMethod.Patch, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}",
            new JsonObject { ["endpoint_group"] = new JsonObject { ["name"] = "renamed", ["filters"] = new JsonObject { ["interface"] = "admin" } } }))["endpoint_group"]!;
        Assert.Equal(("renamed", "admin"), (renamed["name"]!.GetValue<string>(), renamed["filters"]!["interface"]!.GetValue<string>()));
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"/identity/v3/OS-EP-FILTER/endpoint_groups/{group}", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Delete, $"/identity/v3/services/{service}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Domain_configuration_is_stored_and_shown_as_keystone_does()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var defaults = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/domains/config/default"))["config"]!;
        Assert.Equal("sql", defaults["identity"]!["driver"]!.GetValue<string>());
        Assert.Equal("ldap://localhost", (await admin.SendAsync(HttpMethod.Get, "/identity/v3/domains/config/ldap/url/default"))["config"]!["url"]!.GetValue<string>());
        Assert.True(((JsonObject)(await admin.SendAsync(HttpMethod.Get, "/identity/v3/domains/config/identity/default"))["config"]!["identity"]!).ContainsKey("list_limit"));

        var domain = await NewAsync(admin, "domains", "domain", new JsonObject { ["name"] = Unique("cfg") });
        var path = $"/identity/v3/domains/{domain}/config";
        await admin.SendAsync(HttpMethod.Get, path, expect: HttpStatusCode.NotFound);
        var config = new JsonObject
        {
            ["identity"] = new JsonObject { ["driver"] = "ldap" },
            ["ldap"] = new JsonObject { ["url"] = "ldap://ldap.example.invalid:389/", ["user_tree_dn"] = "ou=Users,dc=example,dc=org", ["password"] = "hidden" },
        };
        var created = (await admin.SendAsync(HttpMethod.Put, path, new JsonObject { ["config"] = config.DeepClone() }, HttpStatusCode.Created))["config"]!;
        Assert.Null(created["ldap"]!["password"]);
        Assert.Equal("ldap", (await admin.SendAsync(HttpMethod.Get, path))["config"]!["identity"]!["driver"]!.GetValue<string>());
        Assert.Equal("ou=Users,dc=example,dc=org",
            (await admin.SendAsync(HttpMethod.Get, path + "/ldap/user_tree_dn"))["config"]!["user_tree_dn"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.TrySendAsync(HttpMethod.Put, path,
            new JsonObject { ["config"] = new JsonObject { ["assignment"] = new JsonObject { ["driver"] = "sql" } } })).Status);

        var patched = (await admin.SendAsync(HttpMethod.Patch, path + "/identity",
            new JsonObject { ["config"] = new JsonObject { ["identity"] = new JsonObject { ["driver"] = "sql", ["list_limit"] = 42 } } }))["config"]!;
        Assert.Equal(42, patched["identity"]!["list_limit"]!.GetValue<int>());
        Assert.Equal("ldap://ldap.example.invalid:389/", patched["ldap"]!["url"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Patch, path + "/identity/driver", new JsonObject { ["config"] = new JsonObject { ["driver"] = "other" } });
        Assert.Equal("other", (await admin.SendAsync(HttpMethod.Get, path + "/identity/driver"))["config"]!["driver"]!.GetValue<string>());

        await admin.SendAsync(HttpMethod.Delete, path + "/identity/driver", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, path + "/identity/driver", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Delete, path + "/identity", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, path + "/identity", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Put, path, new JsonObject { ["config"] = config.DeepClone() });
        await admin.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, path, expect: HttpStatusCode.NotFound);
    }

    private async Task<List<string>> CatalogTypesAsync(string userName, JsonObject scope)
    {
        var (status, body, _) = await LoginAsync(userName, "default", scope);
        Assert.Equal(HttpStatusCode.Created, status);
        return [.. body!["token"]!["catalog"]!.AsArray().Select(s => s!["type"]!.GetValue<string>())];
    }

    private static async Task<JsonArray> AssignmentsAsync(ApiClient admin, string query) =>
        (await admin.SendAsync(HttpMethod.Get, "/identity/v3/role_assignments?" + query))["role_assignments"]!.AsArray();

    private static async Task<string> NewAsync(ApiClient admin, string collection, string member, JsonObject body) =>
        (await admin.SendAsync(HttpMethod.Post, $"/identity/v3/{collection}", new JsonObject { [member] = body }, HttpStatusCode.Created))[member]!["id"]!.GetValue<string>();

    internal static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private ApiClient ClientWithToken(string token)
    {
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        http.DefaultRequestHeaders.Accept.Add(ApiClient.JsonMedia);
        return new ApiClient(http);
    }

    /// <summary>A password login of a user of <paramref name="domainId"/>, with the scope given (null: none asked).</summary>
    private async Task<(HttpStatusCode Status, JsonNode? Body, string? Token)> LoginAsync(string userName, string domainId, JsonObject? scope)
    {
        var auth = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = userName, ["domain"] = new JsonObject { ["id"] = domainId }, ["password"] = Password },
                },
            },
        };
        if (scope is not null)
        {
            auth["scope"] = scope.DeepClone();
        }

        using var http = new HttpClient();
        using var content = new StringContent(new JsonObject { ["auth"] = auth }.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", content);
        var text = await response.Content.ReadAsStringAsync();
        var token = response.Headers.TryGetValues("X-Subject-Token", out var values) ? values.Single() : null;
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, token);
    }
}

/// <summary>Debian's python-openstackclient on the same APIs: role add --inherited/--system, --os-system-scope, domain roles, policies, endpoint groups, consumers.</summary>
public sealed class OpenStackClientKeystoneExtensionTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private const string Password = "osc-extension-secret";

    private Task<CliResult> OpenstackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    [Fact]
    public async Task Openstack_client_gives_inherited_and_system_roles_and_logs_in_system_scoped()
    {
        var domainName = KeystoneExtensionCases.Unique("oscd");
        var domain = (await OpenstackAsync("domain", "create", domainName, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        var userName = KeystoneExtensionCases.Unique("oscu");
        using (var admin = new ApiClient(await ember.ClientAsync()))
        {
            // The password goes in a request body, never on a command line.
            await admin.SendAsync(HttpMethod.Post, "/identity/v3/users", new JsonObject
            {
                ["user"] = new JsonObject { ["name"] = userName, ["domain_id"] = domain, ["password"] = Password },
            }, HttpStatusCode.Created);
        }

        var role = KeystoneExtensionCases.Unique("oscr");
        (await OpenstackAsync("role", "create", role)).EnsureSuccess();
        (await OpenstackAsync("role", "add", "--domain", domainName, "--user", userName, "--user-domain", domainName, "--inherited", role)).EnsureSuccess();
        var inherited = (await OpenstackAsync("role", "assignment", "list", "--user", userName, "--user-domain", domainName, "--inherited", "-f", "json"))
            .EnsureSuccess().Json().AsArray();
        var row = Assert.Single(inherited)!;
        Assert.True(row["Inherited"]!.GetValue<bool>());
        Assert.Equal(domain, row["Domain"]!.GetValue<string>());

        (await OpenstackAsync("role", "add", "--system", "all", "--user", userName, "--user-domain", domainName, role)).EnsureSuccess();
        var onSystem = (await OpenstackAsync("role", "assignment", "list", "--system", "all", "--user", userName, "--user-domain", domainName, "-f", "json"))
            .EnsureSuccess().Json().AsArray();
        Assert.Equal("all", Assert.Single(onSystem)!["System"]!.GetValue<string>());
        var token = await Cli.RunAsync("openstack", ["token", "issue", "-f", "json"], new Dictionary<string, string>
        {
            ["OS_AUTH_URL"] = ember.BaseUrl + "/identity/v3",
            ["OS_IDENTITY_API_VERSION"] = "3",
            ["OS_USERNAME"] = userName,
            ["OS_USER_DOMAIN_ID"] = domain,
            ["OS_PASSWORD"] = Password,
            ["OS_SYSTEM_SCOPE"] = "all",
            ["OS_CLOUD"] = "",
            ["OS_CLIENT_CONFIG_FILE"] = "/dev/null",
        });
        Assert.False(string.IsNullOrEmpty(token.EnsureSuccess().Json()["id"]!.GetValue<string>()));
        (await OpenstackAsync("role", "remove", "--system", "all", "--user", userName, "--user-domain", domainName, role)).EnsureSuccess();
        Assert.Empty((await OpenstackAsync("role", "assignment", "list", "--system", "all", "--user", userName, "--user-domain", domainName, "-f", "json"))
            .EnsureSuccess().Json().AsArray());

        var domainRole = KeystoneExtensionCases.Unique("oscdr");
        (await OpenstackAsync("role", "create", "--domain", domainName, domainRole)).EnsureSuccess();
        Assert.Contains((await OpenstackAsync("role", "list", "--domain", domainName, "-f", "json")).EnsureSuccess().Json().AsArray(),
            r => r!["Name"]!.GetValue<string>() == domainRole);
        Assert.DoesNotContain((await OpenstackAsync("role", "list", "-f", "json")).EnsureSuccess().Json().AsArray(), r => r!["Name"]!.GetValue<string>() == domainRole);
    }

    [Fact]
    public async Task Openstack_client_manages_policies_endpoint_groups_and_consumers()
    {
        var dir = Directory.CreateTempSubdirectory("ember-osc-");
        try
        {
            var blob = Path.Combine(dir.FullName, "policy.json");
            await File.WriteAllTextAsync(blob, "{\"identity:list_users\": \"role:admin\"}");
            var policy = (await OpenstackAsync("policy", "create", "--type", "application/json", blob, "-f", "json")).EnsureSuccess().Json();
            var policyId = policy["id"]!.GetValue<string>();
            Assert.Contains((await OpenstackAsync("policy", "list", "-f", "json")).EnsureSuccess().Json().AsArray(), p => p!["ID"]!.GetValue<string>() == policyId);
            (await OpenstackAsync("policy", "delete", policyId)).EnsureSuccess();

            var filters = Path.Combine(dir.FullName, "filters.json");
            await File.WriteAllTextAsync(filters, "{\"interface\": \"admin\"}");
            var groupName = KeystoneExtensionCases.Unique("oscg");
            var group = (await OpenstackAsync("endpoint", "group", "create", "--description", "admin endpoints", groupName, filters, "-f", "json")).EnsureSuccess().Json();
            var groupId = group["id"]!.GetValue<string>();
            var project = KeystoneExtensionCases.Unique("oscp");
            (await OpenstackAsync("project", "create", project)).EnsureSuccess();
            (await OpenstackAsync("endpoint", "group", "add", "project", groupName, project)).EnsureSuccess();
            Assert.Contains((await OpenstackAsync("endpoint", "group", "list", "--project", project, "-f", "json")).EnsureSuccess().Json().AsArray(),
                g => g!["ID"]!.GetValue<string>() == groupId);
            (await OpenstackAsync("endpoint", "group", "remove", "project", groupName, project)).EnsureSuccess();
            (await OpenstackAsync("endpoint", "group", "delete", groupName)).EnsureSuccess();
            Assert.DoesNotContain((await OpenstackAsync("endpoint", "group", "list", "-f", "json")).EnsureSuccess().Json().AsArray(),
                g => g!["ID"]!.GetValue<string>() == groupId);

            var consumer = (await OpenstackAsync("consumer", "create", "--description", "osc consumer", "-f", "json")).EnsureSuccess().Json();
            var consumerId = consumer["id"]!.GetValue<string>();
            Assert.Contains((await OpenstackAsync("consumer", "list", "-f", "json")).EnsureSuccess().Json().AsArray(), c => c!["ID"]!.GetValue<string>() == consumerId);
            (await OpenstackAsync("consumer", "delete", consumerId)).EnsureSuccess();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
