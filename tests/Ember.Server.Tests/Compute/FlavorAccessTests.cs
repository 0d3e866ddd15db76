using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// Private flavors (os-flavor-access): visible and bootable only by the projects on their access list and by
/// admins, managed by admins with addTenantAccess/removeTenantAccess, through the API and Debian's openstack client.
/// </summary>
public sealed class FlavorAccessTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private const string StrangerPassword = "stranger-secret";

    private static JsonObject FlavorBody(string name, bool isPublic) => new()
    {
        ["flavor"] = new JsonObject { ["name"] = name, ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 0, ["os-flavor-access:is_public"] = isPublic },
    };

    private static JsonObject Access(string action, string tenant) => new() { [action] = new JsonObject { ["tenant"] = tenant } };

    private static string[] TenantsOf(JsonNode reply) =>
        [.. reply["flavor_access"]!.AsArray().Select(a => a!["tenant_id"]!.GetValue<string>())];

    private static async Task<string> ProjectIdAsync(ApiClient admin, string name) =>
        (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/projects?name={name}"))["projects"]![0]!["id"]!.GetValue<string>();

    /// <summary>A member of a second project, "other" (created once per fixture).</summary>
    private async Task<ApiClient> StrangerAsync(ApiClient admin)
    {
        if ((await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=stranger"))["users"]!.AsArray().Count == 0)
        {
            var project = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
                new JsonObject { ["project"] = new JsonObject { ["name"] = "other" } }, HttpStatusCode.Created))["project"]!["id"]!.GetValue<string>();
            var user = (await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
                new JsonObject { ["user"] = new JsonObject { ["name"] = "stranger", ["password"] = StrangerPassword } }, HttpStatusCode.Created))["user"]!["id"]!.GetValue<string>();
            var member = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=member"))["roles"]![0]!["id"]!.GetValue<string>();
            await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{project}/users/{user}/roles/{member}", expect: HttpStatusCode.NoContent);
        }

        using var auth = new HttpClient();
        using var response = await auth.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth("stranger", StrangerPassword, "other"));
        response.EnsureSuccessStatusCode();
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        return new ApiClient(http);
    }

    private static JsonObject ServerBody(string image, string flavor) => new()
    {
        ["server"] = new JsonObject { ["name"] = "private-flavor-boot", ["imageRef"] = image, ["flavorRef"] = flavor, ["networks"] = "none" },
    };

    private static async Task<string[]> ListedAsync(ApiClient api, string query = "") =>
        [.. (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/flavors/detail" + query))["flavors"]!.AsArray().Select(f => f!["id"]!.GetValue<string>())];

    [Fact]
    public async Task A_private_flavor_is_seen_and_booted_only_by_projects_on_its_access_list()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        using var stranger = await StrangerAsync(admin);
        var demoProject = await ProjectIdAsync(admin, "demo");
        var image = (await demo.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();

        var created = await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors", FlavorBody("private-api", isPublic: false));
        var flavor = created["flavor"]!["id"]!.GetValue<string>();
        Assert.False(created["flavor"]!["os-flavor-access:is_public"]!.GetValue<bool>());
        Assert.Empty(TenantsOf(await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}/os-flavor-access")));

        // Only admins manage the list; duplicates are 409, unknown projects 400, like Nova.
        var (memberAdds, _, _) = await demo.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("addTenantAccess", demoProject));
        Assert.Equal(HttpStatusCode.Forbidden, memberAdds);
        var (memberLists, _, _) = await demo.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}/os-flavor-access");
        Assert.Equal(HttpStatusCode.Forbidden, memberLists);
        Assert.Equal([demoProject], TenantsOf(await admin.SendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("addTenantAccess", demoProject))));
        var (twice, twiceJson, _) = await admin.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("addTenantAccess", demoProject));
        Assert.Equal(HttpStatusCode.Conflict, twice);
        Assert.Equal($"Flavor access already exists for flavor {flavor} and project {demoProject} combination.", twiceJson!["conflictingRequest"]!["message"]!.GetValue<string>());
        var (nobody, _, _) = await admin.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("addTenantAccess", Guid.NewGuid().ToString("N")));
        Assert.Equal(HttpStatusCode.BadRequest, nobody);
        var (noFlavor, _, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/flavors/no-such-flavor/action", Access("addTenantAccess", demoProject));
        Assert.Equal(HttpStatusCode.NotFound, noFlavor);

        // Public flavors have no access list: 404 to read it, 409 to add to it (2.7+).
        var (publicList, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/flavors/1/os-flavor-access");
        Assert.Equal(HttpStatusCode.NotFound, publicList);
        var (publicAdd, publicJson, _) = await admin.TrySendAsync(HttpMethod.Post, "/compute/v2.1/flavors/1/action", Access("addTenantAccess", demoProject), "compute 2.7");
        Assert.Equal(HttpStatusCode.Conflict, publicAdd);
        Assert.Equal("Can not add access to a public flavor.", publicJson!["conflictingRequest"]!["message"]!.GetValue<string>());

        // Another project's member: the flavor does not exist for it, by id, in lists, for extra specs and for boot.
        var (hidden, hiddenJson, _) = await stranger.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}");
        Assert.Equal(HttpStatusCode.NotFound, hidden);
        Assert.Equal($"Flavor {flavor} could not be found.", hiddenJson!["itemNotFound"]!["message"]!.GetValue<string>());
        var (specs, _, _) = await stranger.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}/os-extra_specs");
        Assert.Equal(HttpStatusCode.NotFound, specs);
        Assert.DoesNotContain(flavor, await ListedAsync(stranger));
        Assert.DoesNotContain(flavor, await ListedAsync(stranger, "?is_public=none"));
        Assert.DoesNotContain(flavor, await ListedAsync(stranger, "?is_public=false"));
        var (boot, bootJson, _) = await stranger.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody(image, flavor));
        Assert.Equal(HttpStatusCode.BadRequest, boot);
        Assert.Equal("Invalid flavorRef provided.", bootJson!["badRequest"]!["message"]!.GetValue<string>());
        Assert.Empty((await stranger.SendAsync(HttpMethod.Get, "/compute/v2.1/servers"))["servers"]!.AsArray());

        // A member of a project on the list sees it and may boot it.
        Assert.Equal("private-api", (await demo.SendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}"))["flavor"]!["name"]!.GetValue<string>());
        Assert.Contains(flavor, await ListedAsync(demo));
        var server = (await demo.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody(image, flavor), HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        Assert.Equal(flavor, (await demo.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}"))["server"]!["flavor"]!["id"]!.GetValue<string>());
        await demo.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await demo.WaitGoneAsync($"/compute/v2.1/servers/{server}", TimeSpan.FromMinutes(2));

        // Admins: public and their own project's by default, everything with is_public=none, private ones with false.
        Assert.DoesNotContain(flavor, await ListedAsync(admin));
        Assert.Contains(flavor, await ListedAsync(admin, "?is_public=None"));
        var privateOnly = await ListedAsync(admin, "?is_public=false");
        Assert.Contains(flavor, privateOnly);
        Assert.DoesNotContain("1", privateOnly);
        var (badFilter, _, _) = await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/flavors?is_public=maybe");
        Assert.Equal(HttpStatusCode.BadRequest, badFilter);

        // Taking access away hides it again; removing twice is 404.
        Assert.Empty(TenantsOf(await admin.SendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("removeTenantAccess", demoProject))));
        var (again, _, _) = await admin.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/flavors/{flavor}/action", Access("removeTenantAccess", demoProject));
        Assert.Equal(HttpStatusCode.NotFound, again);
        var (gone, _, _) = await demo.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/flavors/{flavor}", expect: HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Openstack_client_creates_a_private_flavor_for_a_project_and_sets_and_shows_its_access()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        using var stranger = await StrangerAsync(admin);
        var demoProject = await ProjectIdAsync(admin, "demo");
        var otherProject = await ProjectIdAsync(admin, "other");

        var created = (await ember.RunClientAsync("openstack", "ember", "flavor", "create", "--private", "--project", "demo",
            "--ram", "64", "--vcpus", "1", "--disk", "0", "private-cli", "-f", "json")).EnsureSuccess().Json();
        Assert.False(created["os-flavor-access:is_public"]!.GetValue<bool>());
        var flavor = created["id"]!.GetValue<string>();

        var shown = (await ember.RunClientAsync("openstack", "ember", "flavor", "show", "private-cli", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal([demoProject], shown["access_project_ids"]!.AsArray().Select(p => p!.GetValue<string>()));

        (await ember.RunClientAsync("openstack", "ember", "flavor", "set", "--project", "other", "private-cli")).EnsureSuccess();
        shown = (await ember.RunClientAsync("openstack", "ember", "flavor", "show", flavor, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(new[] { demoProject, otherProject }.Order(), shown["access_project_ids"]!.AsArray().Select(p => p!.GetValue<string>()).Order());

        // The demo user's client finds it by name; the new member of "other" by id.
        var seen = (await ember.RunClientAsync("openstack", "ember-demo", "flavor", "show", "private-cli", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(flavor, seen["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await stranger.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}")).Status);

        (await ember.RunClientAsync("openstack", "ember", "flavor", "unset", "--project", "other", "private-cli")).EnsureSuccess();
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/flavors/{flavor}")).Status);
        (await ember.RunClientAsync("openstack", "ember", "flavor", "delete", flavor)).EnsureSuccess();
    }
}
