using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Runs <see cref="ComputeQuotaCases"/> on SQLite.</summary>
public sealed class ComputeQuotaTests(EmberFixture ember) : ComputeQuotaCases(ember), IClassFixture<EmberFixture>;

/// <summary>Runs <see cref="ComputeQuotaCases"/> on PostgreSQL.</summary>
public sealed class PostgresComputeQuotaTests(PostgresEmberFixture ember) : ComputeQuotaCases(ember), IClassFixture<PostgresEmberFixture>;

/// <summary>Nova's os-quota-sets, os-quota-class-sets and /limits, with usage counted and the limits enforced.</summary>
public abstract class ComputeQuotaCases(EmberFixture ember)
{
    private const string V260 = "compute 2.60";

    [Fact]
    public async Task Quota_sets_show_update_detail_and_revert()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        using var own = await ember.NewProjectClientAsync("quota");
        var shown = (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", apiVersion: V260))["quota_set"]!.AsObject();
        Assert.Equal(own.ProjectId, shown["id"]!.GetValue<string>());
        Assert.Equal(100, shown["key_pairs"]!.GetValue<int>());
        Assert.Equal(-1, shown["instances"]!.GetValue<int>());
        Assert.False(shown.ContainsKey("floating_ips") || shown.ContainsKey("injected_files"));
        var old = (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}"))["quota_set"]!.AsObject();
        Assert.True(old.ContainsKey("floating_ips") && old.ContainsKey("injected_files"));

        // Only admins change quotas, or see another project's.
        await own.Api.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = 5 } }, HttpStatusCode.Forbidden);
        using var demo = new ApiClient(await ember.ClientAsync("demo"));
        await demo.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", expect: HttpStatusCode.Forbidden);

        var updated = (await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = 5, ["cores"] = 8, ["ram"] = 4096 } }, apiVersion: V260))["quota_set"]!;
        Assert.Equal(5, updated["instances"]!.GetValue<int>());
        Assert.Null(updated["id"]);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["floating_ips"] = 5 } }, HttpStatusCode.BadRequest, V260);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = -2 } }, HttpStatusCode.BadRequest, V260);

        var detail = (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}/detail", apiVersion: V260))["quota_set"]!;
        Assert.Equal(5, detail["instances"]!["limit"]!.GetValue<int>());
        Assert.Equal(0, detail["instances"]!["in_use"]!.GetValue<int>());
        Assert.Equal(0, detail["instances"]!["reserved"]!.GetValue<int>());

        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", expect: HttpStatusCode.Accepted);
        Assert.Equal(-1, (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}"))["quota_set"]!["instances"]!.GetValue<int>());
        Assert.Equal(100, (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}/defaults"))["quota_set"]!["key_pairs"]!.GetValue<int>());
    }

    [Fact]
    public async Task Limits_show_the_projects_quotas_and_usage()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        using var own = await ember.NewProjectClientAsync("limits");
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = 7 } });
        await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-server-groups",
            new JsonObject { ["server_group"] = new JsonObject { ["name"] = "g", ["policies"] = new JsonArray("anti-affinity") } });

        var absolute = (await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/limits", apiVersion: V260))["limits"]!["absolute"]!.AsObject();
        Assert.Equal(7, absolute["maxTotalInstances"]!.GetValue<int>());
        Assert.Equal(0, absolute["totalInstancesUsed"]!.GetValue<int>());
        Assert.Equal(1, absolute["totalServerGroupsUsed"]!.GetValue<int>());
        Assert.False(absolute.ContainsKey("maxPersonality") || absolute.ContainsKey("maxTotalFloatingIps"));
        var old = (await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/limits"))["limits"]!["absolute"]!.AsObject();
        Assert.True(old.ContainsKey("maxPersonality") && old.ContainsKey("maxTotalFloatingIps") && old.ContainsKey("maxImageMeta"));

        // An admin names another project with tenant_id; a member may not.
        var other = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/limits?tenant_id={own.ProjectId}"))["limits"]!["absolute"]!;
        Assert.Equal(7, other["maxTotalInstances"]!.GetValue<int>());
        var adminProject = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/limits?tenant_id={adminProject}", expect: HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Limits_are_enforced_on_servers_key_pairs_and_server_groups()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        using var own = await ember.NewProjectClientAsync("enforced");
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["instances"] = 0, ["server_groups"] = 0 } });

        var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "over", ["imageRef"] = Guid.NewGuid().ToString(), ["flavorRef"] = "1" },
        });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("Quota exceeded for instances: Requested 1, but already used 0 of 0 instances", json!["forbidden"]!["message"]!.GetValue<string>());

        var (groupStatus, groupJson, _) = await own.Api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-server-groups",
            new JsonObject { ["server_group"] = new JsonObject { ["name"] = "g", ["policies"] = new JsonArray("affinity") } });
        Assert.Equal(HttpStatusCode.Forbidden, groupStatus);
        Assert.Equal("Quota exceeded, too many server groups.", groupJson!["forbidden"]!["message"]!.GetValue<string>());

        // Unlimited (-1) lets them through again.
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["server_groups"] = -1 } });
        await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-server-groups",
            new JsonObject { ["server_group"] = new JsonObject { ["name"] = "g", ["policies"] = new JsonArray("affinity") } });

        // A limit below what is used needs force.
        var (below, _, text) = await admin.TrySendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["server_groups"] = 0 } });
        Assert.Equal(HttpStatusCode.BadRequest, below);
        Assert.Contains("must be greater than or equal to already used and reserved 1", text, StringComparison.Ordinal);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}",
            new JsonObject { ["quota_set"] = new JsonObject { ["server_groups"] = 0, ["force"] = true } });
    }

    [Fact]
    public async Task Openstack_quota_show_and_set_and_limits_show_absolute()
    {
        using var admin = new ApiClient(await ember.ClientAsync());
        var name = "osc-quota-" + Guid.NewGuid().ToString("N")[..6];
        (await ember.RunClientAsync("openstack", "ember", "project", "create", name)).EnsureSuccess();
        (await ember.RunClientAsync("openstack", "ember", "quota", "set", "--instances", "3", "--cores", "6", "--key-pairs", "9", name)).EnsureSuccess();
        var quota = (await ember.RunClientAsync("openstack", "ember", "quota", "show", name, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(3, quota["instances"]!.GetValue<int>());
        Assert.Equal(6, quota["cores"]!.GetValue<int>());
        Assert.Equal(9, quota["key-pairs"]!.GetValue<int>());
        Assert.NotNull(quota["volumes"]);

        var limits = (await ember.RunClientAsync("openstack", "ember", "limits", "show", "--absolute", "-f", "json")).EnsureSuccess().Json().AsArray();
        var byName = limits.ToDictionary(l => l!["Name"]!.GetValue<string>(), l => l!["Value"]!.GetValue<int>());
        Assert.Equal(100, byName["maxTotalKeypairs"]);
        Assert.True(byName.ContainsKey("totalInstancesUsed"));
        Assert.True(byName.ContainsKey("maxTotalVolumes"));

        var nova = (await Cli.RunAsync("nova", ["quota-show", "--tenant", (string)quota["project"]!], ember.OpenRc())).EnsureSuccess().StdOut;
        Assert.Matches(@"\| instances\s+\| 3\s+\|", nova);
        var novaLimits = (await Cli.RunAsync("nova", ["limits"], ember.OpenRc())).EnsureSuccess().StdOut;
        Assert.Contains("Keypairs", novaLimits, StringComparison.Ordinal);
    }
}
