using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Identity;

/// <summary>Debian's python-openstackclient against a live Ember: the commands of the platform issue.</summary>
public class OpenStackClientIdentityTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    [Fact]
    public async Task Token_issue_and_catalog_list_work()
    {
        var token = (await ember.RunClientAsync("openstack", "ember", "token", "issue", "-f", "json")).EnsureSuccess().Json();
        Assert.False(string.IsNullOrEmpty(token["id"]!.GetValue<string>()));
        Assert.NotNull(token["project_id"]);

        var catalog = (await ember.RunClientAsync("openstack", "ember", "catalog", "list", "-f", "json")).EnsureSuccess().Json();
        var types = catalog.AsArray().Select(s => s!["Type"]!.GetValue<string>()).ToHashSet();
        Assert.Superset(new HashSet<string> { "identity", "image", "compute", "block-storage", "volumev3" }, types);
    }

    [Fact]
    public async Task Admin_creates_project_user_and_role_assignment()
    {
        (await ember.RunClientAsync("openstack", "ember", "project", "create", "p1", "-f", "json")).EnsureSuccess();
        var user = (await ember.RunClientAsync("openstack", "ember", "user", "create", "--project", "p1", "--password", "x", "u1", "-f", "json"))
            .EnsureSuccess().Json();
        Assert.Equal("u1", user["name"]!.GetValue<string>());
        (await ember.RunClientAsync("openstack", "ember", "role", "add", "--project", "p1", "--user", "u1", "member")).EnsureSuccess();

        var assignments = (await ember.RunClientAsync("openstack", "ember", "role", "assignment", "list", "--names", "-f", "json"))
            .EnsureSuccess().Json().AsArray();
        Assert.Contains(assignments, a => a!["Role"]!.GetValue<string>() == "member"
            && a["User"]!.GetValue<string>() == "u1@Default" && a["Project"]!.GetValue<string>() == "p1@Default");
    }

    [Fact]
    public async Task Demo_user_cannot_create_a_project()
    {
        var result = await ember.RunClientAsync("openstack", "ember-demo", "project", "create", "nope");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("403", result.StdErr);
    }
}
