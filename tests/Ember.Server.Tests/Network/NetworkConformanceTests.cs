using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Network;

/// <summary>An Ember with the external network <c>public</c> made at start, on SQLite.</summary>
public sealed class PublicNetworkFixture : EmberFixture
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Network.External.Name = "public";
        return Task.CompletedTask;
    }
}

/// <summary>An Ember with the external network <c>public</c> made at start, on PostgreSQL.</summary>
public sealed class PostgresPublicNetworkFixture() : EmberFixture(onPostgres: true)
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Network.External.Name = "public";
        return Task.CompletedTask;
    }
}

/// <summary>What Tempest's network v2 tests found (docs/conformance.md, branch tnet), on SQLite.</summary>
public sealed class NetworkConformanceTests(PublicNetworkFixture fixture) : NetworkConformanceCases(fixture), IClassFixture<PublicNetworkFixture>;

/// <summary>What Tempest's network v2 tests found, on PostgreSQL.</summary>
public sealed class PostgresNetworkConformanceTests(PostgresPublicNetworkFixture fixture) : NetworkConformanceCases(fixture), IClassFixture<PostgresPublicNetworkFixture>;

/// <summary>Neutron's behaviour where Ember differed from it under Tempest's network v2 API tests, over raw HTTP.</summary>
public abstract class NetworkConformanceCases(EmberFixture fixture)
{
    private const string V2 = "/network/v2.0";

    private static JsonObject Wrap(string key, JsonNode body) => new() { [key] = body };

    private static string Id(JsonNode? node) => node!["id"]!.GetValue<string>();

    private static async Task<string> CreateAsync(ApiClient api, string collection, string key, JsonObject body) =>
        Id((await api.SendAsync(HttpMethod.Post, $"{V2}/{collection}", Wrap(key, body), HttpStatusCode.Created))[key]);

    [Fact]
    public async Task Bulk_create_makes_all_or_nothing()
    {
        using var project = await fixture.NewProjectClientAsync("bulk");
        var api = project.Api;
        var networks = await api.SendAsync(HttpMethod.Post, $"{V2}/networks", Wrap("networks", new JsonArray(
            new JsonObject { ["name"] = "bulk-1" }, new JsonObject { ["name"] = "bulk-2" })), HttpStatusCode.Created);
        var made = networks["networks"]!.AsArray();
        Assert.Equal(["bulk-1", "bulk-2"], made.Select(n => n!["name"]!.GetValue<string>()));

        var subnets = await api.SendAsync(HttpMethod.Post, $"{V2}/subnets", Wrap("subnets", new JsonArray(
            new JsonObject { ["network_id"] = Id(made[0]), ["cidr"] = "10.20.0.0/24", ["ip_version"] = 4 },
            new JsonObject { ["network_id"] = Id(made[1]), ["cidr"] = "10.21.0.0/24", ["ip_version"] = 4 })), HttpStatusCode.Created);
        Assert.Equal(["10.20.0.0/24", "10.21.0.0/24"], subnets["subnets"]!.AsArray().Select(s => s!["cidr"]!.GetValue<string>()));

        var ports = await api.SendAsync(HttpMethod.Post, $"{V2}/ports?fields=id&fields=network_id", Wrap("ports", new JsonArray(
            new JsonObject { ["network_id"] = Id(made[0]) }, new JsonObject { ["network_id"] = Id(made[1]) })), HttpStatusCode.Created);
        Assert.Equal([Id(made[0]), Id(made[1])], ports["ports"]!.AsArray().Select(p => p!["network_id"]!.GetValue<string>()));

        // The second port asks for an address the first took: the first is deleted again and the answer is the conflict.
        var (status, error, text) = await api.TrySendAsync(HttpMethod.Post, $"{V2}/ports", Wrap("ports", new JsonArray(
            new JsonObject { ["network_id"] = Id(made[0]), ["name"] = "undone", ["fixed_ips"] = new JsonArray(new JsonObject { ["ip_address"] = "10.20.0.50" }) },
            new JsonObject { ["network_id"] = Id(made[0]), ["fixed_ips"] = new JsonArray(new JsonObject { ["ip_address"] = "10.20.0.50" }) })));
        Assert.True(status == HttpStatusCode.Conflict, text);
        Assert.Equal("IpAddressAlreadyAllocated", error!["NeutronError"]!["type"]!.GetValue<string>());
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"{V2}/ports?name=undone"))["ports"]!.AsArray());

        // An unknown attribute in any item refuses the whole bulk before anything is made.
        await api.SendAsync(HttpMethod.Post, $"{V2}/networks", Wrap("networks", new JsonArray(
            new JsonObject { ["name"] = "never" }, new JsonObject { ["bogus"] = true })), HttpStatusCode.BadRequest);
        await api.SendAsync(HttpMethod.Post, $"{V2}/networks", Wrap("networks", new JsonArray()), HttpStatusCode.BadRequest);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"{V2}/networks?name=never"))["networks"]!.AsArray());
    }

    [Fact]
    public async Task Quota_list_names_the_projects_with_limits_of_their_own()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var project = await fixture.NewProjectClientAsync("quota-list");
        await admin.SendAsync(HttpMethod.Put, $"{V2}/quotas/{project.ProjectId}", Wrap("quota", new JsonObject { ["network"] = 0, ["port"] = 0 }));

        var quotas = (await admin.SendAsync(HttpMethod.Get, $"{V2}/quotas"))["quotas"]!.AsArray();
        var ours = Assert.Single(quotas, q => q!["project_id"]!.GetValue<string>() == project.ProjectId)!;
        Assert.Equal(0, ours["network"]!.GetValue<int>());
        Assert.Equal(0, ours["port"]!.GetValue<int>());
        Assert.Equal(100, ours["subnet"]!.GetValue<int>());

        // A member may not list every project's quotas.
        var (status, error, _) = await project.Api.TrySendAsync(HttpMethod.Get, $"{V2}/quotas");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("PolicyNotAuthorized", error!["NeutronError"]!["type"]!.GetValue<string>());

        // Neutron takes a format suffix; Tempest's quota client asks for details.json.
        var details = (await admin.SendAsync(HttpMethod.Get, $"{V2}/quotas/{project.ProjectId}/details.json"))["quota"]!;
        Assert.Equal(0, details["network"]!["limit"]!.GetValue<int>());
        Assert.Equal(0, details["network"]!["used"]!.GetValue<int>());

        await admin.SendAsync(HttpMethod.Delete, $"{V2}/quotas/{project.ProjectId}", expect: HttpStatusCode.NoContent);
        Assert.DoesNotContain((await admin.SendAsync(HttpMethod.Get, $"{V2}/quotas"))["quotas"]!.AsArray(), q => q!["project_id"]!.GetValue<string>() == project.ProjectId);
    }

    [Fact]
    public async Task Deleting_an_external_network_deletes_its_disassociated_floating_ips()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var external = await CreateAsync(admin, "networks", "network", new JsonObject { ["name"] = "ext-delete", ["router:external"] = true });
        var subnet = await CreateAsync(admin, "subnets", "subnet", new JsonObject { ["network_id"] = external, ["cidr"] = "172.30.9.0/24", ["ip_version"] = 4, ["enable_dhcp"] = false });
        var floating = await CreateAsync(admin, "floatingips", "floatingip", new JsonObject { ["floating_network_id"] = external });

        await admin.SendAsync(HttpMethod.Delete, $"{V2}/networks/{external}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"{V2}/floatingips/{floating}", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Get, $"{V2}/subnets/{subnet}", expect: HttpStatusCode.NotFound);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{V2}/ports?network_id={external}"))["ports"]!.AsArray());
    }

    [Fact]
    public async Task Only_the_cloud_admin_deletes_a_projects_default_security_group()
    {
        using var project = await fixture.NewProjectClientAsync("default-sg");
        var groups = (await project.Api.SendAsync(HttpMethod.Get, $"{V2}/security-groups?name=default"))["security_groups"]!.AsArray();
        var group = Id(Assert.Single(groups));

        var (status, error, _) = await project.Api.TrySendAsync(HttpMethod.Delete, $"{V2}/security-groups/{group}");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("SecurityGroupCannotRemoveDefault", error!["NeutronError"]!["type"]!.GetValue<string>());

        // Tempest's clean-up of a project (as openstack project purge) deletes it as the admin; the project's next list makes it again.
        using var admin = new ApiClient(await fixture.ClientAsync());
        await admin.SendAsync(HttpMethod.Delete, $"{V2}/security-groups/{group}", expect: HttpStatusCode.NoContent);
        await admin.SendAsync(HttpMethod.Get, $"{V2}/security-groups/{group}", expect: HttpStatusCode.NotFound);
        var again = (await project.Api.SendAsync(HttpMethod.Get, $"{V2}/security-groups?name=default"))["security_groups"]!.AsArray();
        Assert.NotEqual(group, Id(Assert.Single(again)));
    }

    [Fact]
    public async Task A_member_lists_no_agents_and_finds_none()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var agents = (await admin.SendAsync(HttpMethod.Get, $"{V2}/agents"))["agents"]!.AsArray();
        var agent = Id(agents[0]);

        using var project = await fixture.NewProjectClientAsync("agents");
        Assert.Empty((await project.Api.SendAsync(HttpMethod.Get, $"{V2}/agents"))["agents"]!.AsArray());
        var (status, error, _) = await project.Api.TrySendAsync(HttpMethod.Get, $"{V2}/agents/{agent}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("AgentNotFound", error!["NeutronError"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Security_group_rules_read_and_check_their_values_as_neutron_does()
    {
        using var project = await fixture.NewProjectClientAsync("rules");
        var api = project.Api;
        var group = await CreateAsync(api, "security-groups", "security_group", new JsonObject { ["name"] = "rules" });

        // A protocol given as a JSON number is its number.
        var udp = await api.SendAsync(HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["security_group_id"] = group,
            ["direction"] = "ingress",
            ["protocol"] = 17,
        }), HttpStatusCode.Created);
        Assert.Equal("17", udp["security_group_rule"]!["protocol"]!.GetValue<string>());

        async Task<string> RefusedAsync(JsonObject rule)
        {
            rule["security_group_id"] = group;
            rule["direction"] = "ingress";
            var (status, error, text) = await api.TrySendAsync(HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", rule));
            Assert.True(status == HttpStatusCode.BadRequest, text);
            return error!["NeutronError"]!["message"]!.GetValue<string>();
        }

        // An IPv4 prefix has its four parts ("256" is no address, though .NET would read it as 0.0.1.0).
        Assert.Contains("'256' is not a valid IP subnet", await RefusedAsync(new JsonObject { ["protocol"] = "tcp", ["remote_ip_prefix"] = "256" }), StringComparison.Ordinal);
        Assert.Contains("is not a valid IP subnet", await RefusedAsync(new JsonObject { ["protocol"] = "tcp", ["remote_ip_prefix"] = "192.168.1./24" }), StringComparison.Ordinal);

        // ICMP's type is port_range_min and its code port_range_max; each error names which.
        Assert.Equal("Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255.",
            await RefusedAsync(new JsonObject { ["protocol"] = "icmp", ["port_range_min"] = 1, ["port_range_max"] = 256 }));
        Assert.Equal("Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.",
            await RefusedAsync(new JsonObject { ["protocol"] = "icmp", ["port_range_min"] = 300, ["port_range_max"] = 1 }));
        Assert.Contains("ICMP type (port-range-min) is missing", await RefusedAsync(new JsonObject { ["protocol"] = "icmp", ["port_range_max"] = 6 }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_external_networks_subnets_are_the_admins()
    {
        using var project = await fixture.NewProjectClientAsync("ext-subnets");
        var network = (await project.Api.SendAsync(HttpMethod.Get, $"{V2}/networks?router:external=True&name=public"))["networks"]![0]!;
        var subnet = network["subnets"]![0]!.GetValue<string>();

        // The network is every project's to see; its subnet is not (Neutron's get_subnet: owner or shared network).
        Assert.Empty((await project.Api.SendAsync(HttpMethod.Get, $"{V2}/subnets?network_id={Id(network)}"))["subnets"]!.AsArray());
        var (status, error, _) = await project.Api.TrySendAsync(HttpMethod.Get, $"{V2}/subnets/{subnet}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("SubnetNotFound", error!["NeutronError"]!["type"]!.GetValue<string>());

        using var admin = new ApiClient(await fixture.ClientAsync());
        await admin.SendAsync(HttpMethod.Get, $"{V2}/subnets/{subnet}");
    }

    [Fact]
    public async Task Ports_filter_by_a_part_of_their_address()
    {
        using var project = await fixture.NewProjectClientAsync("substr");
        var api = project.Api;
        var extensions = (await api.SendAsync(HttpMethod.Get, $"{V2}/extensions"))["extensions"]!.AsArray().Select(e => e!["alias"]!.GetValue<string>());
        Assert.Contains("ip-substring-filtering", extensions);

        var network = await CreateAsync(api, "networks", "network", new JsonObject { ["name"] = "substr" });
        var subnet = await CreateAsync(api, "subnets", "subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.40.0.0/28", ["ip_version"] = 4 });
        var nine = await CreateAsync(api, "ports", "port", new JsonObject { ["network_id"] = network, ["fixed_ips"] = new JsonArray(new JsonObject { ["subnet_id"] = subnet, ["ip_address"] = "10.40.0.9" }) });
        var ten = await CreateAsync(api, "ports", "port", new JsonObject { ["network_id"] = network, ["fixed_ips"] = new JsonArray(new JsonObject { ["subnet_id"] = subnet, ["ip_address"] = "10.40.0.10" }) });

        async Task<List<string>> PortsAsync(string filter) =>
            [.. (await api.SendAsync(HttpMethod.Get, $"{V2}/ports?network_id={network}&fixed_ips=ip_address_substr%3D{filter}"))["ports"]!.AsArray().Select(Id)];

        Assert.Equal([ten], await PortsAsync("10.40.0.1"));
        var both = await PortsAsync("10.40.0.");
        Assert.Contains(nine, both);
        Assert.Contains(ten, both);
    }
}
