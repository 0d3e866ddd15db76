using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>Keystone's list filters (exact, inexact operators, booleans) on every identity list Ember has.</summary>
public sealed class IdentityFilterTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private static List<string> Names(JsonNode body, string list) =>
        [.. body[list]!.AsArray().Select(e => e!["name"]!.GetValue<string>())];

    [Fact]
    public async Task Services_filter_by_type_and_name()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var byType = await api.SendAsync(HttpMethod.Get, "/identity/v3/services?type=block-storage");
        Assert.Equal(["cinder"], Names(byType, "services"));
        var byName = await api.SendAsync(HttpMethod.Get, "/identity/v3/services?name=cinderv3");
        Assert.Equal("volumev3", byName["services"]![0]!["type"]!.GetValue<string>());
        Assert.Single(byName["services"]!.AsArray());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/services?name=block-storage"))["services"]!.AsArray());
        Assert.Equal(["cinder", "cinderv3"], Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/services?name__startswith=cinder"), "services"));

        var id = byType["services"]![0]!["id"]!.GetValue<string>();
        Assert.Equal("block-storage", (await api.SendAsync(HttpMethod.Get, $"/identity/v3/services/{id}"))["service"]!["type"]!.GetValue<string>());
        await api.SendAsync(HttpMethod.Get, "/identity/v3/services/block-storage", expect: HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Endpoints_filter_by_service_interface_and_region()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var service = (await api.SendAsync(HttpMethod.Get, "/identity/v3/services?type=compute"))["services"]![0]!["id"]!.GetValue<string>();
        var ofService = (await api.SendAsync(HttpMethod.Get, $"/identity/v3/endpoints?service_id={service}"))["endpoints"]!.AsArray();
        Assert.Equal(3, ofService.Count);
        Assert.All(ofService, e => Assert.Equal(service, e!["service_id"]!.GetValue<string>()));

        var publicOnes = (await api.SendAsync(HttpMethod.Get, $"/identity/v3/endpoints?service_id={service}&interface=public"))["endpoints"]!.AsArray();
        var endpoint = Assert.Single(publicOnes)!;
        Assert.Equal("public", endpoint["interface"]!.GetValue<string>());
        var shown = await api.SendAsync(HttpMethod.Get, $"/identity/v3/endpoints/{endpoint["id"]}");
        Assert.Equal(service, shown["endpoint"]!["service_id"]!.GetValue<string>());

        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/endpoints?region_id=Nowhere"))["endpoints"]!.AsArray());
        // Every service of the catalog has its public, internal and admin endpoint in RegionOne.
        var services = (await api.SendAsync(HttpMethod.Get, "/identity/v3/services"))["services"]!.AsArray().Count;
        Assert.Equal(3 * services, (await api.SendAsync(HttpMethod.Get, "/identity/v3/endpoints?region_id=RegionOne"))["endpoints"]!.AsArray().Count);
    }

    [Fact]
    public async Task Users_projects_roles_and_domains_filter_by_their_attributes()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var suffix = Guid.NewGuid().ToString("N")[..8];
        await api.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = $"Off-{suffix}", ["enabled"] = false } }, HttpStatusCode.Created);
        await api.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = $"off-{suffix}", ["enabled"] = false } }, HttpStatusCode.Created);

        var disabledProjects = Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?enabled=false"), "projects");
        Assert.Contains($"Off-{suffix}", disabledProjects);
        Assert.DoesNotContain("admin", disabledProjects);
        Assert.DoesNotContain($"Off-{suffix}", Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?enabled=true"), "projects"));
        Assert.Equal([$"Off-{suffix}"], Names(await api.SendAsync(HttpMethod.Get, $"/identity/v3/projects?name__icontains=off-{suffix}"), "projects"));
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"/identity/v3/projects?name__contains=off-{suffix}"))["projects"]!.AsArray());
        Assert.Contains("admin", Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?parent_id=default"), "projects"));
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?parent_id=other"))["projects"]!.AsArray());

        Assert.Equal([$"off-{suffix}"], Names(await api.SendAsync(HttpMethod.Get, $"/identity/v3/users?enabled=0&name__endswith={suffix}"), "users"));
        Assert.DoesNotContain($"off-{suffix}", Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/users?enabled=true"), "users"));
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/users?domain_id=other"))["users"]!.AsArray());

        Assert.Equal(["member"], Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"), "roles"));
        Assert.Equal(["reader"], Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/roles?name__startswith=rea"), "roles"));

        Assert.Equal(["Default"], Names(await api.SendAsync(HttpMethod.Get, "/identity/v3/domains?enabled=true"), "domains"));
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/domains?enabled=false"))["domains"]!.AsArray());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/domains?name=Other"))["domains"]!.AsArray());
    }

    [Fact]
    public async Task Role_assignments_of_groups_or_domains_are_none()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        Assert.NotEmpty((await api.SendAsync(HttpMethod.Get, "/identity/v3/role_assignments"))["role_assignments"]!.AsArray());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/role_assignments?scope.domain.id=default"))["role_assignments"]!.AsArray());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/identity/v3/role_assignments?group.id=g1"))["role_assignments"]!.AsArray());
    }

    [Fact]
    public async Task Openstack_endpoint_list_by_service_type_interface_and_region()
    {
        var all = (await ember.RunClientAsync("openstack", "ember", "endpoint", "list", "--service", "block-storage", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(3, all.Count);
        Assert.All(all, e => Assert.Equal("block-storage", e!["Service Type"]!.GetValue<string>()));

        var one = (await ember.RunClientAsync("openstack", "ember", "endpoint", "list", "--service", "nova", "--interface", "internal",
            "--region", "RegionOne", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal("compute", Assert.Single(one)!["Service Type"]!.GetValue<string>());

        var shown = (await ember.RunClientAsync("openstack", "ember", "service", "show", "volumev3", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("cinderv3", shown["name"]!.GetValue<string>());
    }
}
