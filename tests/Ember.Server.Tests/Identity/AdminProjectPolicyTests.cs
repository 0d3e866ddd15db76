using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Identity;

/// <summary>Runs <see cref="AdminProjectPolicyCases"/> on SQLite.</summary>
public sealed class AdminProjectPolicyTests(EmberFixture ember) : AdminProjectPolicyCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="AdminProjectPolicyCases"/> on PostgreSQL.</summary>
public sealed class PostgresAdminProjectPolicyTests(PostgresEmberFixture ember) : AdminProjectPolicyCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// The admin role on an ordinary project is not the cloud admin (oslo.policy's is_admin_project): it gives no
/// power over other projects' resources or over identity, while the admin of the admin project keeps all of it.
/// </summary>
public abstract class AdminProjectPolicyCases(EmberFixture ember)
{
    private const string ProjectAdminPassword = "p2-admin-secret";

    [Fact]
    public async Task Admin_role_on_an_ordinary_project_does_not_reach_other_projects_or_identity()
    {
        var world = await WorldAsync();
        using var p2Admin = await ClientAsync(world.ProjectAdminName, ProjectAdminPassword, world.ProjectName);

        // Other projects' volumes, servers and private images are invisible, with or without all_tenants.
        var volumes = await p2Admin.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail?all_tenants=1");
        Assert.DoesNotContain(volumes["volumes"]!.AsArray(), v => v!["id"]!.GetValue<string>() == world.VolumeId);
        await p2Admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{world.VolumeId}", expect: HttpStatusCode.NotFound);
        var servers = await p2Admin.SendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail?all_tenants=1");
        Assert.DoesNotContain(servers["servers"]!.AsArray(), s => s!["id"]!.GetValue<string>() == world.ServerId);
        await p2Admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{world.ServerId}", expect: HttpStatusCode.NotFound);
        await p2Admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{world.ImageId}", expect: HttpStatusCode.NotFound);

        // Cloud-wide actions are refused.
        await p2Admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = "p2-flavor", ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 0 } },
            HttpStatusCode.Forbidden);
        await p2Admin.SendAsync(HttpMethod.Get, "/identity/v3/users", expect: HttpStatusCode.Forbidden);
        await p2Admin.SendAsync(HttpMethod.Get, "/identity/v3/projects", expect: HttpStatusCode.Forbidden);
        await p2Admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = "p2-made-" + Guid.NewGuid().ToString("N")[..8] } }, HttpStatusCode.Forbidden);
        await p2Admin.SendAsync(HttpMethod.Patch, $"/identity/v3/users/{world.DemoUserId}",
            new JsonObject { ["user"] = new JsonObject { ["password"] = "taken-over" } }, HttpStatusCode.Forbidden);
        await p2Admin.SendAsync(HttpMethod.Put,
            $"/identity/v3/projects/{world.AdminProjectId}/users/{world.ProjectAdminId}/roles/{world.AdminRoleId}", expect: HttpStatusCode.Forbidden);

        // In its own project it still acts: a volume of p2 is created and listed.
        var own = await p2Admin.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "p2-own" } }, HttpStatusCode.Accepted);
        var ownId = own["volume"]!["id"]!.GetValue<string>();
        await p2Admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{ownId}");
    }

    [Fact]
    public async Task The_admin_of_the_admin_project_is_the_cloud_admin()
    {
        var world = await WorldAsync();
        using var admin = new ApiClient(await ember.ClientAsync("admin"));

        var volumes = await admin.SendAsync(HttpMethod.Get, "/volume/v3/volumes/detail?all_tenants=1");
        Assert.Contains(volumes["volumes"]!.AsArray(), v => v!["id"]!.GetValue<string>() == world.VolumeId);
        await admin.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{world.VolumeId}");
        await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{world.ServerId}");
        await admin.SendAsync(HttpMethod.Get, $"/image/v2/images/{world.ImageId}");
        await admin.SendAsync(HttpMethod.Get, "/identity/v3/users");
    }

    [Fact]
    public async Task Token_body_says_whether_its_project_is_the_admin_project()
    {
        var world = await WorldAsync();
        Assert.True(await IsAdminProjectAsync("admin", EmberFixture.AdminPassword, "admin"));
        Assert.False(await IsAdminProjectAsync(world.ProjectAdminName, ProjectAdminPassword, world.ProjectName));
    }

    private async Task<bool> IsAdminProjectAsync(string user, string password, string project)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth(user, password, project));
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!["is_admin_project"]!.GetValue<bool>();
    }

    private sealed record World(string ProjectName, string ProjectAdminName, string ProjectAdminId, string AdminProjectId,
        string AdminRoleId, string DemoUserId, string VolumeId, string ServerId, string ImageId);

    /// <summary>
    /// Project p2 with a user holding the admin role on it, and a volume, a stopped server and a private image in
    /// the demo project (the server row is written directly: booting a VM is not what this test is about).
    /// </summary>
    private async Task<World> WorldAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var project = await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = "p2-" + suffix } }, HttpStatusCode.Created);
        var projectId = project["project"]!["id"]!.GetValue<string>();
        var user = await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = "p2-admin-" + suffix, ["password"] = ProjectAdminPassword } }, HttpStatusCode.Created);
        var userId = user["user"]!["id"]!.GetValue<string>();
        var roles = await admin.SendAsync(HttpMethod.Get, "/identity/v3/roles?name=admin");
        var adminRoleId = roles["roles"]![0]!["id"]!.GetValue<string>();
        await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{projectId}/users/{userId}/roles/{adminRoleId}", expect: HttpStatusCode.NoContent);
        var adminProjectId = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        var demoUser = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/users?name=demo"))["users"]![0]!;

        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        var volume = await demo.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "demo-" + suffix } }, HttpStatusCode.Accepted);
        var image = await demo.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "demo-" + suffix, ["disk_format"] = "raw", ["container_format"] = "bare", ["visibility"] = "private" },
            HttpStatusCode.Created);
        var now = DateTime.UtcNow;
        var server = await ember.Host.Services.GetRequiredService<ComputeStore>().InsertServerAsync(new ServerRow
        {
            Id = Guid.NewGuid().ToString(),
            Name = "demo-" + suffix,
            ProjectId = demoUser["default_project_id"]!.GetValue<string>(),
            UserId = demoUser["id"]!.GetValue<string>(),
            FlavorId = "none",
            VmState = "stopped",
            PowerState = 4,
            Host = "ember",
            CreatedAt = now,
            UpdatedAt = now,
        }, []);
        return new World("p2-" + suffix, "p2-admin-" + suffix, userId, adminProjectId, adminRoleId, demoUser["id"]!.GetValue<string>(),
            volume["volume"]!["id"]!.GetValue<string>(), server.Id, image["id"]!.GetValue<string>());
    }

    private async Task<ApiClient> ClientAsync(string user, string password, string project)
    {
        using var login = new HttpClient();
        using var response = await login.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth(user, password, project));
        response.EnsureSuccessStatusCode();
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return new ApiClient(http);
    }
}
