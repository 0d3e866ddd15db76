using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Network;

/// <summary>An Ember with DevStack's external network <c>public</c> (172.24.4.0/24) made at start.</summary>
public sealed class ExternalNetworkFixture : EmberFixture
{
    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Network.External.Name = "public";
        return Task.CompletedTask;
    }
}

/// <summary>
/// Routers and floating IPs (Neutron L3) through Debian's openstack client and raw HTTP: the API and its state (the
/// packets are tests/Ember.Tests/MultiHost/RouterTests.cs).
/// </summary>
public sealed class RouterApiTests(ExternalNetworkFixture fixture) : IClassFixture<ExternalNetworkFixture>
{
    private const string V2 = "/network/v2.0";

    private async Task<JsonNode> OpenStackJsonAsync(string cloud, params string[] args) =>
        (await fixture.RunClientAsync("openstack", cloud, [.. args, "-f", "json"])).EnsureSuccess().Json();

    private async Task<string> FailsAsync(string cloud, params string[] args)
    {
        var result = await fixture.RunClientAsync("openstack", cloud, args);
        Assert.True(result.ExitCode != 0, $"openstack {string.Join(' ', args)} succeeded: {result.StdOut}");
        return result.StdErr;
    }

    private static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    private static string Id(JsonNode node) => node["id"]!.GetValue<string>();

    [Fact]
    public async Task The_external_network_is_made_at_start_and_every_project_sees_it()
    {
        var external = (await OpenStackJsonAsync("ember-demo", "network", "list", "--external")).AsArray();
        var network = Assert.Single(external, n => n!["Name"]!.GetValue<string>() == "public")!;
        var shown = await OpenStackJsonAsync("ember-demo", "network", "show", "public");
        Assert.True(shown["router:external"]!.GetValue<bool>());
        // Its subnet is the admin's: a member does not see it (Neutron's get_subnet: owner or shared network; Tempest checks).
        var subnetId = network["Subnets"]![0]!.GetValue<string>();
        Assert.Contains("No Subnet found", await FailsAsync("ember-demo", "subnet", "show", subnetId), StringComparison.Ordinal);
        var subnet = await OpenStackJsonAsync("ember", "subnet", "show", subnetId);
        Assert.Equal("172.24.4.0/24", subnet["cidr"]!.GetValue<string>());
        Assert.Equal("172.24.4.1", subnet["gateway_ip"]!.GetValue<string>());
        Assert.False(subnet["enable_dhcp"]!.GetValue<bool>());

        // Only admins make external networks; a member asking is refused by policy.
        var refused = await FailsAsync("ember-demo", "network", "create", "--external", Name("ext"));
        Assert.Contains("disallowed by policy", refused, StringComparison.Ordinal);

        using var api = new ApiClient(await fixture.ClientAsync());
        var extensions = (await api.SendAsync(HttpMethod.Get, $"{V2}/extensions"))["extensions"]!.AsArray().Select(e => e!["alias"]!.GetValue<string>()).ToList();
        Assert.Contains("router", extensions);
        Assert.Contains("ext-gw-mode", extensions);
        Assert.Contains("external-net", extensions);
    }

    [Fact]
    public async Task Router_interfaces_gateway_and_floating_ips_through_the_client()
    {
        var net = Name("net");
        var networkId = Id(await OpenStackJsonAsync("ember-demo", "network", "create", net));
        var subnetId = Id(await OpenStackJsonAsync("ember-demo", "subnet", "create", "--network", net, "--subnet-range", "10.30.0.0/24", Name("sub")));
        var router = Name("router");
        var routerId = Id(await OpenStackJsonAsync("ember-demo", "router", "create", router));
        (await fixture.RunClientAsync("openstack", "ember-demo", "router", "set", "--external-gateway", "public", router)).EnsureSuccess();
        var gateway = (await OpenStackJsonAsync("ember-demo", "router", "show", router))["external_gateway_info"]!;
        Assert.True(gateway["enable_snat"]!.GetValue<bool>());
        var gatewayIp = gateway["external_fixed_ips"]![0]!["ip_address"]!.GetValue<string>();
        Assert.StartsWith("172.24.4.", gatewayIp, StringComparison.Ordinal);

        // The interface holds the subnet's gateway address; a second one on the same subnet is refused.
        (await fixture.RunClientAsync("openstack", "ember-demo", "router", "add", "subnet", router, subnetId)).EnsureSuccess();
        var routerPorts = (await OpenStackJsonAsync("ember-demo", "port", "list", "--router", router, "--long")).AsArray();
        var inside = Assert.Single(routerPorts, p => p!["Device Owner"]!.GetValue<string>() == "network:router_interface")!;
        Assert.Contains("10.30.0.1", inside["Fixed IP Addresses"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("already has a port on subnet", await FailsAsync("ember-demo", "router", "add", "subnet", router, subnetId), StringComparison.Ordinal);
        Assert.Contains("cannot be deleted directly", await FailsAsync("ember-demo", "port", "delete", inside["ID"]!.GetValue<string>()), StringComparison.Ordinal);

        // A floating IP on public, then associated with a port behind the router.
        var vmPort = Id(await OpenStackJsonAsync("ember-demo", "port", "create", "--network", net, Name("vm")));
        var floating = await OpenStackJsonAsync("ember-demo", "floating", "ip", "create", "public");
        var floatingId = Id(floating);
        Assert.Equal("DOWN", floating["status"]!.GetValue<string>());
        Assert.Null(floating["port_id"]?.GetValue<string>());
        (await fixture.RunClientAsync("openstack", "ember-demo", "floating", "ip", "set", "--port", vmPort, floatingId)).EnsureSuccess();
        var associated = await OpenStackJsonAsync("ember-demo", "floating", "ip", "show", floatingId);
        Assert.Equal(routerId, associated["router_id"]!.GetValue<string>());
        Assert.Equal("ACTIVE", associated["status"]!.GetValue<string>());
        Assert.StartsWith("10.30.0.", associated["fixed_ip_address"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Single((await OpenStackJsonAsync("ember-demo", "floating", "ip", "list", "--port", vmPort)).AsArray());

        // What is in use stays: the interface a floating IP needs, the subnet, the router, the external network.
        Assert.Contains("required by one or more floating IPs", await FailsAsync("ember-demo", "router", "remove", "subnet", router, subnetId), StringComparison.Ordinal);
        Assert.Contains("still has ports", await FailsAsync("ember-demo", "router", "delete", router), StringComparison.Ordinal);
        (await fixture.RunClientAsync("openstack", "ember-demo", "port", "delete", vmPort)).EnsureSuccess();
        Assert.Contains("One or more ports have an IP allocation", await FailsAsync("ember-demo", "subnet", "delete", subnetId), StringComparison.Ordinal);
        Assert.Contains("ports still in use", await FailsAsync("ember", "network", "delete", "public"), StringComparison.Ordinal);

        // Deleting the port disassociated the floating IP.
        var after = await OpenStackJsonAsync("ember-demo", "floating", "ip", "show", floatingId);
        Assert.Null(after["port_id"]?.GetValue<string>());
        Assert.Equal("DOWN", after["status"]!.GetValue<string>());

        (await fixture.RunClientAsync("openstack", "ember-demo", "floating", "ip", "delete", floatingId)).EnsureSuccess();
        (await fixture.RunClientAsync("openstack", "ember-demo", "router", "remove", "subnet", router, subnetId)).EnsureSuccess();
        Assert.Empty((await OpenStackJsonAsync("ember-demo", "port", "list", "--network", net, "--device-owner", "network:router_interface")).AsArray());
        (await fixture.RunClientAsync("openstack", "ember-demo", "router", "delete", router)).EnsureSuccess();
        (await fixture.RunClientAsync("openstack", "ember-demo", "network", "delete", networkId)).EnsureSuccess();
        // The gateway port went with the router.
        Assert.DoesNotContain((await OpenStackJsonAsync("ember", "port", "list", "--network", "public", "--long")).AsArray(),
            p => p!["Fixed IP Addresses"]!.ToJsonString().Contains($"\"{gatewayIp}\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Errors_and_quotas_of_routers_and_floating_ips()
    {
        using var project = await fixture.NewProjectClientAsync("l3");
        var api = project.Api;
        var publicId = (await api.SendAsync(HttpMethod.Get, $"{V2}/networks?name=public"))["networks"]![0]!["id"]!.GetValue<string>();
        var network = (await api.SendAsync(HttpMethod.Post, $"{V2}/networks", new JsonObject { ["network"] = new JsonObject { ["name"] = "n" } }, HttpStatusCode.Created))["network"]!;
        var subnet = (await api.SendAsync(HttpMethod.Post, $"{V2}/subnets", new JsonObject
        {
            ["subnet"] = new JsonObject { ["network_id"] = Id(network), ["cidr"] = "10.31.0.0/24", ["ip_version"] = 4 },
        }, HttpStatusCode.Created))["subnet"]!;
        var port = (await api.SendAsync(HttpMethod.Post, $"{V2}/ports", new JsonObject { ["port"] = new JsonObject { ["network_id"] = Id(network) } }, HttpStatusCode.Created))["port"]!;

        // A gateway on a network that is not external.
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/routers", new JsonObject
        {
            ["router"] = new JsonObject { ["name"] = "r", ["external_gateway_info"] = new JsonObject { ["network_id"] = Id(network) } },
        }, HttpStatusCode.BadRequest, "BadRequest");
        // enable_snat is the admin's to set (Neutron's policy).
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/routers", new JsonObject
        {
            ["router"] = new JsonObject { ["external_gateway_info"] = new JsonObject { ["network_id"] = publicId, ["enable_snat"] = false } },
        }, HttpStatusCode.Forbidden, "PolicyNotAuthorized");

        var router = (await api.SendAsync(HttpMethod.Post, $"{V2}/routers", new JsonObject
        {
            ["router"] = new JsonObject { ["name"] = "r", ["external_gateway_info"] = new JsonObject { ["network_id"] = publicId } },
        }, HttpStatusCode.Created))["router"]!;

        // A port whose subnet no router joins to public cannot get a floating IP.
        var error = await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/floatingips", new JsonObject
        {
            ["floatingip"] = new JsonObject { ["floating_network_id"] = publicId, ["port_id"] = Id(port) },
        }, HttpStatusCode.NotFound, "ExternalGatewayForFloatingIPNotFound");
        Assert.Contains($"External network {publicId} is not reachable from subnet {Id(subnet)}", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        // A floating IP on a network that is not external.
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/floatingips", new JsonObject
        {
            ["floatingip"] = new JsonObject { ["floating_network_id"] = Id(network) },
        }, HttpStatusCode.BadRequest, "BadRequest");

        // By port: the project's free port becomes the interface; the router is then in use.
        var added = await api.SendAsync(HttpMethod.Put, $"{V2}/routers/{Id(router)}/add_router_interface", new JsonObject { ["port_id"] = Id(port) });
        Assert.Equal(Id(subnet), added["subnet_id"]!.GetValue<string>());
        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/routers/{Id(router)}", null, HttpStatusCode.Conflict, "RouterInUse");
        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/networks/{Id(network)}", null, HttpStatusCode.Conflict, "NetworkInUse");
        await ExpectErrorAsync(api, HttpMethod.Put, $"{V2}/routers/{Id(router)}/remove_router_interface", new JsonObject { ["subnet_id"] = publicId },
            HttpStatusCode.NotFound, "RouterInterfaceNotFoundForSubnet");

        // Quotas count routers and floating IPs; a floating IP over the limit is refused.
        await api.SendAsync(HttpMethod.Post, $"{V2}/floatingips", new JsonObject { ["floatingip"] = new JsonObject { ["floating_network_id"] = publicId } }, HttpStatusCode.Created);
        var details = (await api.SendAsync(HttpMethod.Get, $"{V2}/quotas/{project.ProjectId}/details"))["quota"]!;
        Assert.Equal(1, details["router"]!["used"]!.GetValue<int>());
        Assert.Equal(1, details["floatingip"]!["used"]!.GetValue<int>());
        using var admin = new ApiClient(await fixture.ClientAsync());
        await admin.SendAsync(HttpMethod.Put, $"{V2}/quotas/{project.ProjectId}", new JsonObject { ["quota"] = new JsonObject { ["floatingip"] = 1 } });
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/floatingips", new JsonObject { ["floatingip"] = new JsonObject { ["floating_network_id"] = publicId } },
            HttpStatusCode.Conflict, "OverQuota");

        await api.SendAsync(HttpMethod.Put, $"{V2}/routers/{Id(router)}/remove_router_interface", new JsonObject { ["port_id"] = Id(port) });
        await api.SendAsync(HttpMethod.Delete, $"{V2}/routers/{Id(router)}", expect: HttpStatusCode.NoContent);
    }

    private static async Task<JsonNode> ExpectErrorAsync(ApiClient api, HttpMethod method, string path, JsonObject? body, HttpStatusCode status, string type)
    {
        var (actual, json, text) = await api.TrySendAsync(method, path, body);
        Assert.True(actual == status, $"{method} {path}: expected {(int)status}, got {(int)actual}: {text}");
        var error = json!["NeutronError"]!;
        Assert.Equal(type, error["type"]!.GetValue<string>());
        return error;
    }
}
