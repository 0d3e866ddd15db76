using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>Keystone's regions (/v3/regions) with the openstack client: a tree, RegionOne fixed by its endpoints.</summary>
public sealed class RegionTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private Task<CliResult> OpenstackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", args);

    [Fact]
    public async Task Openstack_client_creates_lists_updates_and_deletes_regions()
    {
        var parent = "parent-" + Guid.NewGuid().ToString("N")[..8];
        var child = "child-" + Guid.NewGuid().ToString("N")[..8];
        (await OpenstackAsync("region", "create", "--description", "the parent", parent)).EnsureSuccess();
        var created = (await OpenstackAsync("region", "create", "--parent-region", parent, child, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(parent, created["parent_region"]!.GetValue<string>());

        var listed = (await OpenstackAsync("region", "list", "-f", "json")).EnsureSuccess().Json().AsArray().Select(r => r!["Region"]!.GetValue<string>()).ToList();
        Assert.Contains("RegionOne", listed);
        Assert.Contains(child, listed);
        var children = (await OpenstackAsync("region", "list", "--parent-region", parent, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(child, Assert.Single(children)!["Region"]!.GetValue<string>());

        (await OpenstackAsync("region", "set", "--description", "renamed", child)).EnsureSuccess();
        Assert.Equal("renamed", (await OpenstackAsync("region", "show", child, "-f", "json")).EnsureSuccess().Json()["description"]!.GetValue<string>());

        // Keystone's errors: an unknown parent is a 404, a cycle a 400, a duplicate id a 409, RegionOne holds the endpoints (403).
        using var api = new ApiClient(await ember.ClientAsync());
        await api.SendAsync(HttpMethod.Post, "/identity/v3/regions",
            new JsonObject { ["region"] = new JsonObject { ["parent_region_id"] = "no-such-region" } }, HttpStatusCode.NotFound);
        await api.SendAsync(HttpMethod.Patch, $"/identity/v3/regions/{parent}",
            new JsonObject { ["region"] = new JsonObject { ["parent_region_id"] = child } }, HttpStatusCode.BadRequest);
        await api.SendAsync(HttpMethod.Put, $"/identity/v3/regions/{child}", new JsonObject { ["region"] = new JsonObject() }, HttpStatusCode.Conflict);
        await api.SendAsync(HttpMethod.Delete, "/identity/v3/regions/RegionOne", expect: HttpStatusCode.Forbidden);
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        await demo.SendAsync(HttpMethod.Post, "/identity/v3/regions", new JsonObject { ["region"] = new JsonObject() }, HttpStatusCode.Forbidden);

        // Deleting the parent deletes its child, as Keystone does.
        (await OpenstackAsync("region", "delete", parent)).EnsureSuccess();
        await api.SendAsync(HttpMethod.Get, $"/identity/v3/regions/{child}", expect: HttpStatusCode.NotFound);
    }
}
