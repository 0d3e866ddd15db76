using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>A host with Keystone's admin_project_name unset (empty): every project is an admin project.</summary>
public sealed class UnsetAdminProjectFixture : EmberFixture
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Identity.AdminProjectName = "";
        return Task.CompletedTask;
    }
}

/// <summary>
/// With the admin project name empty, the admin role on any project is the cloud admin, as in Keystone with the option
/// unset (DevStack): what Tempest's dynamic credentials expect of the admin users they create. Roles still count.
/// </summary>
public sealed class UnsetAdminProjectTests(UnsetAdminProjectFixture ember) : IClassFixture<UnsetAdminProjectFixture>
{
    private const string Password = "unset-admin-project-secret";

    [Fact]
    public async Task Admin_role_on_any_project_is_the_cloud_admin_and_a_member_is_not()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        using var admin = new ApiClient(await ember.ClientAsync("admin"));
        var project = await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = "p-" + suffix } }, HttpStatusCode.Created);
        var projectId = project["project"]!["id"]!.GetValue<string>();
        foreach (var role in new[] { "admin", "member" })
        {
            var user = await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
                new JsonObject { ["user"] = new JsonObject { ["name"] = $"{role}-{suffix}", ["password"] = Password } }, HttpStatusCode.Created);
            var roleId = (await admin.SendAsync(HttpMethod.Get, $"/identity/v3/roles?name={role}"))["roles"]![0]!["id"]!.GetValue<string>();
            await admin.SendAsync(HttpMethod.Put, $"/identity/v3/projects/{projectId}/users/{user["user"]!["id"]}/roles/{roleId}",
                expect: HttpStatusCode.NoContent);
        }

        var (projectAdmin, isAdminProject) = await LoginAsync($"admin-{suffix}", "p-" + suffix);
        using (projectAdmin)
        {
            Assert.True(isAdminProject);
            await projectAdmin.SendAsync(HttpMethod.Get, "/identity/v3/users");
            await projectAdmin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
                new JsonObject { ["project"] = new JsonObject { ["name"] = "made-" + suffix } }, HttpStatusCode.Created);
        }

        var (member, memberProjectIsAdmin) = await LoginAsync($"member-{suffix}", "p-" + suffix);
        using (member)
        {
            Assert.True(memberProjectIsAdmin);
            await member.SendAsync(HttpMethod.Get, "/identity/v3/users", expect: HttpStatusCode.Forbidden);
        }
    }

    private async Task<(ApiClient Client, bool IsAdminProject)> LoginAsync(string user, string project)
    {
        using var login = new HttpClient();
        using var response = await login.PostAsync($"{ember.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth(user, Password, project));
        response.EnsureSuccessStatusCode();
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var http = new HttpClient { BaseAddress = new Uri(ember.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return (new ApiClient(http), body["token"]!["is_admin_project"]!.GetValue<bool>());
    }
}
