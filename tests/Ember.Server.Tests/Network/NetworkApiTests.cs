using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Network;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Network;

/// <summary>The Neutron subset on SQLite.</summary>
public sealed class NetworkApiTests(EmberFixture fixture) : NetworkApiCases(fixture), IClassFixture<EmberFixture>;

/// <summary>The Neutron subset on PostgreSQL.</summary>
public sealed class PostgresNetworkApiTests(PostgresEmberFixture fixture) : NetworkApiCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>The Neutron subset over raw HTTP: error bodies, visibility, IPAM, security groups, the compute-facing service.</summary>
public abstract class NetworkApiCases(EmberFixture fixture)
{
    private const string V2 = "/network/v2.0";

    private static JsonObject Wrap(string key, JsonObject body) => new() { [key] = body };

    private static async Task<string> CreateAsync(ApiClient api, string collection, string key, JsonObject body)
    {
        var created = await api.SendAsync(HttpMethod.Post, $"{V2}/{collection}", Wrap(key, body), HttpStatusCode.Created);
        return created[key]!["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> ExpectErrorAsync(ApiClient api, HttpMethod method, string path, JsonObject? body, HttpStatusCode status, string type)
    {
        var (actual, json, text) = await api.TrySendAsync(method, path, body);
        Assert.True(actual == status, $"{method} {path}: expected {(int)status}, got {(int)actual}: {text}");
        var error = json!["NeutronError"]!;
        Assert.Equal(type, error["type"]!.GetValue<string>());
        Assert.Equal("", error["detail"]!.GetValue<string>());
        return error;
    }

    [Fact]
    public async Task Discovery_lists_v2_and_the_supported_extensions()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var versions = await api.SendAsync(HttpMethod.Get, "/network");
        Assert.Equal("v2.0", versions["versions"]![0]!["id"]!.GetValue<string>());
        var extensions = (await api.SendAsync(HttpMethod.Get, $"{V2}/extensions"))["extensions"]!.AsArray().Select(e => e!["alias"]!.GetValue<string>()).ToList();
        Assert.Contains("security-group", extensions);
        Assert.Contains("port-security", extensions);
        Assert.DoesNotContain("default-subnetpools", extensions);
        await ExpectErrorAsync(api, HttpMethod.Get, $"{V2}/extensions/default-subnetpools", null, HttpStatusCode.NotFound, "HTTPNotFound");

        // Found by the fuzzer: extensions have no id, so a page of them is marked by alias.
        var page = await api.SendAsync(HttpMethod.Get, $"{V2}/extensions?limit=2");
        Assert.Equal(2, page["extensions"]!.AsArray().Count);
        Assert.Contains("marker=" + extensions[1], page["extensions_links"]![0]!["href"]!.GetValue<string>(), StringComparison.Ordinal);
        var next = await api.SendAsync(HttpMethod.Get, $"{V2}/extensions?limit=2&marker={extensions[1]}");
        Assert.Equal(extensions[2], next["extensions"]![0]!["alias"]!.GetValue<string>());

        var token = await api.SendAsync(HttpMethod.Get, "/identity/v3/auth/catalog");
        Assert.Contains(token["catalog"]!.AsArray(), s => s!["type"]!.GetValue<string>() == "network"
            && s["endpoints"]![0]!["url"]!.GetValue<string>() == fixture.BaseUrl + "/network");
    }

    [Fact]
    public async Task Errors_have_the_NeutronError_shape()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var missing = Guid.NewGuid().ToString();
        var notFound = await ExpectErrorAsync(api, HttpMethod.Get, $"{V2}/networks/{missing}", null, HttpStatusCode.NotFound, "NetworkNotFound");
        Assert.Equal($"Network {missing} could not be found.", notFound["message"]!.GetValue<string>());
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/networks", Wrap("network", new JsonObject { ["bogus"] = 1 }), HttpStatusCode.BadRequest, "HTTPBadRequest");

        var network = await CreateAsync(api, "networks", "network", new JsonObject { ["name"] = "errors" });
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.1.0.0/33", ["ip_version"] = 4 }), HttpStatusCode.BadRequest, "HTTPBadRequest");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.1.0.5/24", ["ip_version"] = 4 }), HttpStatusCode.BadRequest, "HTTPBadRequest");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.0.0.0/31", ["ip_version"] = 4 }), HttpStatusCode.BadRequest, "InvalidInput");
        var v6 = await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "fd00::/64", ["ip_version"] = 6 }), HttpStatusCode.BadRequest, "InvalidInput");
        Assert.Contains("IPv6", v6["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject
        {
            ["network_id"] = network,
            ["cidr"] = "10.1.0.0/24",
            ["ip_version"] = 4,
            ["allocation_pools"] = new JsonArray(new JsonObject { ["start"] = "10.1.0.200", ["end"] = "10.1.1.10" }),
        }), HttpStatusCode.BadRequest, "OutOfBoundsAllocationPool");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject
        {
            ["network_id"] = network,
            ["cidr"] = "10.1.0.0/24",
            ["ip_version"] = 4,
            ["gateway_ip"] = "10.1.0.20",
            ["allocation_pools"] = new JsonArray(new JsonObject { ["start"] = "10.1.0.10", ["end"] = "10.1.0.30" }),
        }), HttpStatusCode.Conflict, "GatewayConflictWithAllocationPools");

        await CreateAsync(api, "subnets", "subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.1.0.0/24", ["ip_version"] = 4 });
        var overlap = await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/subnets", Wrap("subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "10.1.0.128/25", ["ip_version"] = 4 }), HttpStatusCode.BadRequest, "InvalidInput");
        Assert.Contains("overlaps", overlap["message"]!.GetValue<string>(), StringComparison.Ordinal);

        await CreateAsync(api, "ports", "port", new JsonObject { ["network_id"] = network });
        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/networks/{network}", null, HttpStatusCode.Conflict, "NetworkInUse");
    }

    [Fact]
    public async Task A_member_sees_its_own_and_shared_networks_only()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var secret = await CreateAsync(admin, "networks", "network", new JsonObject { ["name"] = "admin-private" });
        var shared = await CreateAsync(admin, "networks", "network", new JsonObject { ["name"] = "admin-shared", ["shared"] = true });

        var seen = (await demo.SendAsync(HttpMethod.Get, $"{V2}/networks"))["networks"]!.AsArray().Select(n => n!["id"]!.GetValue<string>()).ToList();
        Assert.DoesNotContain(secret, seen);
        Assert.Contains(shared, seen);
        await ExpectErrorAsync(demo, HttpMethod.Get, $"{V2}/networks/{secret}", null, HttpStatusCode.NotFound, "NetworkNotFound");
        await ExpectErrorAsync(demo, HttpMethod.Delete, $"{V2}/networks/{shared}", null, HttpStatusCode.Forbidden, "PolicyNotAuthorized");
        await ExpectErrorAsync(demo, HttpMethod.Post, $"{V2}/networks", Wrap("network", new JsonObject { ["shared"] = true }), HttpStatusCode.Forbidden, "PolicyNotAuthorized");

        // Admin-only attributes: shown to the admin, not to the member.
        var mine = await CreateAsync(demo, "networks", "network", new JsonObject { ["name"] = "demo-net" });
        Assert.Null((await demo.SendAsync(HttpMethod.Get, $"{V2}/networks/{mine}"))["network"]!["provider:network_type"]);
        Assert.Equal("vxlan", (await admin.SendAsync(HttpMethod.Get, $"{V2}/networks/{mine}"))["network"]!["provider:network_type"]!.GetValue<string>());
        var fields = await demo.SendAsync(HttpMethod.Get, $"{V2}/networks/{mine}?fields=id&fields=name");
        Assert.Equal(2, fields["network"]!.AsObject().Count);
    }

    [Fact]
    public async Task Tenant_networks_get_distinct_vnis_shown_to_admins_only()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var first = await CreateAsync(admin, "networks", "network", new JsonObject { ["name"] = "vni-1" });
        var second = await CreateAsync(demo, "networks", "network", new JsonObject { ["name"] = "vni-2" });
        var shownFirst = (await admin.SendAsync(HttpMethod.Get, $"{V2}/networks/{first}"))["network"]!;
        var shownSecond = (await admin.SendAsync(HttpMethod.Get, $"{V2}/networks/{second}"))["network"]!;
        Assert.Equal("vxlan", shownFirst["provider:network_type"]!.GetValue<string>());
        var vnis = new[] { shownFirst, shownSecond }.Select(n => n["provider:segmentation_id"]!.GetValue<int>()).ToList();
        Assert.All(vnis, vni => Assert.InRange(vni, 1, (1 << 24) - 1));
        Assert.NotEqual(vnis[0], vnis[1]);
        Assert.Null((await demo.SendAsync(HttpMethod.Get, $"{V2}/networks/{second}"))["network"]!["provider:segmentation_id"]);
        Assert.Equal(1450, shownSecond["mtu"]!.GetValue<int>()); // 1500 less the 50 bytes of VXLAN over IPv4

        // An external network is the hosts' own segment: flat, no VNI.
        var external = await CreateAsync(admin, "networks", "network", new JsonObject { ["name"] = "vni-ext", ["router:external"] = true });
        var shownExternal = (await admin.SendAsync(HttpMethod.Get, $"{V2}/networks/{external}"))["network"]!;
        Assert.Equal("flat", shownExternal["provider:network_type"]!.GetValue<string>());
        Assert.Null(shownExternal["provider:segmentation_id"]);
        foreach (var id in new[] { first, second, external })
        {
            await admin.SendAsync(HttpMethod.Delete, $"{V2}/networks/{id}", null, HttpStatusCode.NoContent);
        }
    }

    [Fact]
    public async Task Agents_list_the_compute_hosts_agents_and_say_why_networking_is_unavailable()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var agents = (await admin.SendAsync(HttpMethod.Get, $"{V2}/agents"))["agents"]!.AsArray();
        var types = agents.Select(a => a!["agent_type"]!.GetValue<string>()).ToList();
        Assert.Contains("Linux bridge agent", types);
        Assert.Contains("DHCP agent", types);
        Assert.Contains("L3 agent", types);
        Assert.Contains("Metadata agent", types);

        // This process's host runs without Network:HostNetworking: its agents are not alive and say why. (Other tests of
        // the class register agents of made-up hosts, so pick this host's.)
        var hostName = fixture.Host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmberOptions>>().Value.HostName;
        var bridge = agents.First(a => a!["agent_type"]!.GetValue<string>() == "Linux bridge agent" && a["host"]!.GetValue<string>() == hostName)!;
        Assert.False(bridge["alive"]!.GetValue<bool>());
        Assert.Equal("neutron-linuxbridge-agent", bridge["binary"]!.GetValue<string>());
        Assert.Contains("HostNetworking is off", bridge["configurations"]!["unavailable_reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("HostNetworking is off", bridge["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("vxlan", bridge["configurations"]!["tunnel_types"]![0]!.GetValue<string>());
        Assert.NotNull(bridge["heartbeat_timestamp"]);

        var id = bridge["id"]!.GetValue<string>();
        Assert.Equal(id, (await admin.SendAsync(HttpMethod.Get, $"{V2}/agents/{id}"))["agent"]!["id"]!.GetValue<string>());
        var dhcp = (await admin.SendAsync(HttpMethod.Get, $"{V2}/agents?agent_type=DHCP%20agent"))["agents"]!.AsArray();
        Assert.All(dhcp, a => Assert.Equal("neutron-dhcp-agent", a!["binary"]!.GetValue<string>()));
        await ExpectErrorAsync(admin, HttpMethod.Get, $"{V2}/agents/{Guid.NewGuid()}", null, HttpStatusCode.NotFound, "AgentNotFound");
        // Neutron filters by policy: a member lists none (Tempest's test_list_agents_non_admin).
        Assert.Empty((await demo.SendAsync(HttpMethod.Get, $"{V2}/agents"))["agents"]!.AsArray());
    }

    [Fact]
    public async Task Ipam_hands_out_first_free_addresses_refuses_taken_ones_and_runs_out()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var network = await CreateAsync(api, "networks", "network", new JsonObject { ["name"] = "small" });
        var subnet = await CreateAsync(api, "subnets", "subnet", new JsonObject { ["network_id"] = network, ["cidr"] = "192.168.50.0/29", ["ip_version"] = 4 });

        // .1 is the gateway, .2 the DHCP port: .3 to .6 are left.
        var dhcp = (await api.SendAsync(HttpMethod.Get, $"{V2}/ports?network_id={network}&device_owner=network:dhcp"))["ports"]!.AsArray();
        Assert.Equal("192.168.50.2", dhcp.Single()!["fixed_ips"]![0]!["ip_address"]!.GetValue<string>());
        var taken = await api.SendAsync(HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject
        {
            ["network_id"] = network,
            ["fixed_ips"] = new JsonArray(new JsonObject { ["ip_address"] = "192.168.50.5" }),
        }), HttpStatusCode.Created);
        Assert.Equal(subnet, taken["port"]!["fixed_ips"]![0]!["subnet_id"]!.GetValue<string>());
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject
        {
            ["network_id"] = network,
            ["fixed_ips"] = new JsonArray(new JsonObject { ["subnet_id"] = subnet, ["ip_address"] = "192.168.50.5" }),
        }), HttpStatusCode.Conflict, "IpAddressAlreadyAllocated");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject
        {
            ["network_id"] = network,
            ["fixed_ips"] = new JsonArray(new JsonObject { ["subnet_id"] = subnet, ["ip_address"] = "192.168.50.7" }),
        }), HttpStatusCode.BadRequest, "InvalidIpForSubnet");

        var addresses = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var port = await api.SendAsync(HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject { ["network_id"] = network }), HttpStatusCode.Created);
            addresses.Add(port["port"]!["fixed_ips"]![0]!["ip_address"]!.GetValue<string>());
        }

        Assert.Equal(["192.168.50.3", "192.168.50.4", "192.168.50.6"], addresses);
        var exhausted = await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject { ["network_id"] = network }), HttpStatusCode.Conflict, "IpAddressGenerationFailure");
        Assert.Equal($"No more IP addresses available on network {network}.", exhausted["message"]!.GetValue<string>());

        var filtered = (await api.SendAsync(HttpMethod.Get, $"{V2}/ports?fixed_ips=ip_address%3D192.168.50.5"))["ports"]!.AsArray();
        Assert.Equal(taken["port"]!["id"]!.GetValue<string>(), filtered.Single()!["id"]!.GetValue<string>());

        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/subnets/{subnet}", null, HttpStatusCode.Conflict, "SubnetInUse");
    }

    [Fact]
    public async Task Security_groups_keep_the_default_and_refuse_duplicates_and_groups_in_use()
    {
        using var project = await fixture.NewProjectClientAsync("netsg");
        var api = project.Api;
        var groups = (await api.SendAsync(HttpMethod.Get, $"{V2}/security-groups"))["security_groups"]!.AsArray();
        var defaultGroup = groups.Single()!;
        Assert.Equal("default", defaultGroup["name"]!.GetValue<string>());
        var rules = defaultGroup["security_group_rules"]!.AsArray();
        Assert.Equal(4, rules.Count);
        var defaultId = defaultGroup["id"]!.GetValue<string>();
        Assert.Equal(2, rules.Count(r => r!["remote_group_id"]?.GetValue<string>() == defaultId && r["direction"]!.GetValue<string>() == "ingress"));
        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/security-groups/{defaultId}", null, HttpStatusCode.Conflict, "SecurityGroupCannotRemoveDefault");

        var group = await CreateAsync(api, "security-groups", "security_group", new JsonObject { ["name"] = "web" });
        var rule = new JsonObject { ["security_group_id"] = group, ["direction"] = "ingress", ["protocol"] = "tcp", ["port_range_min"] = 80, ["port_range_max"] = 80 };
        var ruleId = await CreateAsync(api, "security-group-rules", "security_group_rule", rule);
        var exists = await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", (JsonObject)rule.DeepClone()), HttpStatusCode.Conflict, "SecurityGroupRuleExists");
        Assert.Contains(ruleId, exists["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["security_group_id"] = group,
            ["direction"] = "ingress",
            ["protocol"] = "tcp",
            ["port_range_min"] = 90,
            ["port_range_max"] = 80,
        }), HttpStatusCode.BadRequest, "SecurityGroupInvalidPortRange");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["security_group_id"] = group,
            ["direction"] = "ingress",
            ["remote_ip_prefix"] = "10.0.0.0/8",
            ["remote_group_id"] = defaultId,
        }), HttpStatusCode.BadRequest, "SecurityGroupRemoteGroupAndRemoteIpPrefix");
        await ExpectErrorAsync(api, HttpMethod.Post, $"{V2}/security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["security_group_id"] = group,
            ["direction"] = "ingress",
            ["ethertype"] = "IPv6",
            ["remote_ip_prefix"] = "10.0.0.0/8",
        }), HttpStatusCode.BadRequest, "SecurityGroupRuleParameterConflict");

        var network = await CreateAsync(api, "networks", "network", new JsonObject { ["name"] = "sg-net" });
        var port = await api.SendAsync(HttpMethod.Post, $"{V2}/ports", Wrap("port", new JsonObject { ["network_id"] = network }), HttpStatusCode.Created);
        Assert.Equal(defaultId, port["port"]!["security_groups"]![0]!.GetValue<string>());
        var portId = port["port"]!["id"]!.GetValue<string>();
        await api.SendAsync(HttpMethod.Put, $"{V2}/ports/{portId}", Wrap("port", new JsonObject { ["security_groups"] = new JsonArray(group) }));
        await ExpectErrorAsync(api, HttpMethod.Delete, $"{V2}/security-groups/{group}", null, HttpStatusCode.Conflict, "SecurityGroupInUse");
        await ExpectErrorAsync(api, HttpMethod.Put, $"{V2}/ports/{portId}", Wrap("port", new JsonObject { ["port_security_enabled"] = false }), HttpStatusCode.Conflict, "PortSecurityAndIPRequiredForSecurityGroups");
        await api.SendAsync(HttpMethod.Put, $"{V2}/ports/{portId}", Wrap("port", new JsonObject { ["port_security_enabled"] = false, ["security_groups"] = new JsonArray() }));
        await api.SendAsync(HttpMethod.Delete, $"{V2}/security-groups/{group}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Nova_proxies_the_network_services_security_groups_up_to_2_35()
    {
        using var project = await fixture.NewProjectClientAsync("novasg");
        var api = project.Api;
        const string groups = "/compute/v2.1/os-security-groups";
        var created = (await api.SendAsync(HttpMethod.Post, groups, Wrap("security_group", new JsonObject { ["name"] = "web", ["description"] = "web tier" })))["security_group"]!;
        var id = created["id"]!.GetValue<string>();
        Assert.Empty(created["rules"]!.AsArray()); // Neutron's two egress rules are not nova-network rules

        // Found by name as well as by id (python-openstackclient's `server add security group` looks it up this way).
        Assert.Equal(id, (await api.SendAsync(HttpMethod.Get, $"{groups}/web"))["security_group"]!["id"]!.GetValue<string>());
        var listed = (await api.SendAsync(HttpMethod.Get, groups))["security_groups"]!.AsArray();
        Assert.Equal(["default", "web"], listed.Select(g => g!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var (status, _, text) = await api.TrySendAsync(HttpMethod.Get, $"{groups}/nope");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("Security group nope not found.", text, StringComparison.Ordinal);

        // A nova-network rule is the network service's ingress rule.
        var rule = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["parent_group_id"] = id,
            ["ip_protocol"] = "tcp",
            ["from_port"] = 22,
            ["to_port"] = 22,
            ["cidr"] = "10.0.0.0/8",
        })))["security_group_rule"]!;
        Assert.Equal("10.0.0.0/8", rule["ip_range"]!["cidr"]!.GetValue<string>());
        var neutron = (await api.SendAsync(HttpMethod.Get, $"{V2}/security-group-rules/{rule["id"]!.GetValue<string>()}"))["security_group_rule"]!;
        Assert.Equal("ingress", neutron["direction"]!.GetValue<string>());
        Assert.Equal(22, neutron["port_range_min"]!.GetValue<int>());
        Assert.Equal("10.0.0.0/8", neutron["remote_ip_prefix"]!.GetValue<string>());
        (status, _, text) = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/os-security-group-rules", Wrap("security_group_rule", new JsonObject
        {
            ["parent_group_id"] = id,
            ["ip_protocol"] = "sctp",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Invalid IP protocol sctp.", text, StringComparison.Ordinal);
        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-security-group-rules/{rule["id"]!.GetValue<string>()}", expect: HttpStatusCode.Accepted);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, $"{groups}/{id}"))["security_group"]!["rules"]!.AsArray());

        await api.SendAsync(HttpMethod.Put, $"{groups}/{id}", Wrap("security_group", new JsonObject { ["name"] = "www", ["description"] = "renamed" }));
        Assert.Equal("www", (await api.SendAsync(HttpMethod.Get, $"{V2}/security-groups/{id}"))["security_group"]!["name"]!.GetValue<string>());

        // Nova stopped proxying at 2.36.
        (status, _, _) = await api.TrySendAsync(HttpMethod.Get, groups, apiVersion: "compute 2.36");
        Assert.Equal(HttpStatusCode.NotFound, status);
        await api.SendAsync(HttpMethod.Delete, $"{groups}/{id}", expect: HttpStatusCode.Accepted);
        await api.SendAsync(HttpMethod.Get, $"{V2}/security-groups/{id}", expect: HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Compute_gets_server_ports_a_dhcp_view_and_an_auto_allocated_network()
    {
        using var project = await fixture.NewProjectClientAsync("netcompute");
        var service = fixture.Host.Services.GetRequiredService<NetworkService>();
        var network = await service.GetOrCreateAutoNetworkAsync(project.ProjectId, CancellationToken.None);
        Assert.Equal(network, await service.GetOrCreateAutoNetworkAsync(project.ProjectId, CancellationToken.None));

        var serverId = Guid.NewGuid().ToString();
        var created = await service.CreatePortForServerAsync(project.ProjectId, network, null, null, serverId, "node-a", CancellationToken.None, tag: "made-nic");
        Assert.True(created.CreatedForServer);
        Assert.Equal(1450, created.Mtu);
        var given = await CreateAsync(project.Api, "ports", "port", new JsonObject { ["network_id"] = network });
        var claimed = await service.CreatePortForServerAsync(project.ProjectId, null, given, null, serverId, "node-a", CancellationToken.None, tag: "given-nic");
        Assert.False(claimed.CreatedForServer);
        Assert.Equal(2, (await service.ListServerPortsAsync(serverId, CancellationToken.None)).Count);

        // Nova's device tags are kept with the interfaces and read back for the metadata's devices list.
        var tags = (await service.ServerNetworkInfoAsync(serverId, CancellationToken.None)).ToDictionary(n => n.PortId, n => n.Tag);
        Assert.Equal("made-nic", tags[created.PortId]);
        Assert.Equal("given-nic", tags[claimed.PortId]);
        var other = Guid.NewGuid().ToString();
        await Assert.ThrowsAsync<Common.ApiException>(() => service.CreatePortForServerAsync(project.ProjectId, null, given, null, other, "node-a", CancellationToken.None));

        var dhcp = (await service.GetDhcpViewAsync(network, CancellationToken.None))!;
        var subnet = dhcp.Subnets.Single();
        Assert.StartsWith("10.128.", subnet.Cidr, StringComparison.Ordinal);
        Assert.EndsWith(".2", subnet.DhcpIp, StringComparison.Ordinal);
        Assert.Contains(dhcp.Hosts, h => h.MacAddress == created.MacAddress && h.IpAddress == created.FixedIps[0].IpAddress);

        await service.DeleteServerPortsAsync(serverId, CancellationToken.None);
        Assert.Empty(await service.ListServerPortsAsync(serverId, CancellationToken.None));
        var kept = (await project.Api.SendAsync(HttpMethod.Get, $"{V2}/ports/{given}"))["port"]!;
        Assert.Equal("", kept["device_id"]!.GetValue<string>());
        await project.Api.SendAsync(HttpMethod.Get, $"{V2}/ports/{created.PortId}", expect: HttpStatusCode.NotFound);

        // The kept port left its tag with the server it left: the next server that takes it without one has none.
        await service.CreatePortForServerAsync(project.ProjectId, null, given, null, other, "node-a", CancellationToken.None);
        Assert.Null(Assert.Single(await service.ServerNetworkInfoAsync(other, CancellationToken.None)).Tag);
        await service.DeleteServerPortsAsync(other, CancellationToken.None);
    }

    [Fact]
    public async Task Hosts_realize_every_interface_of_their_routers_with_tunnels_neighbours_and_a_dvr_mac_each()
    {
        using var project = await fixture.NewProjectClientAsync("netdvr");
        var service = fixture.Host.Services.GetRequiredService<NetworkService>();
        var (host1, host2) = ("dvr-1-" + Guid.NewGuid().ToString("N")[..8], "dvr-2-" + Guid.NewGuid().ToString("N")[..8]);

        // Neutron's dvr_host_macs: one per host, stable, from fa:16:3f, never shared.
        var mac1 = await service.GetOrCreateDvrHostMacAsync(host1, CancellationToken.None);
        Assert.Matches("^fa:16:3f(:[0-9a-f]{2}){3}$", mac1);
        Assert.Equal(mac1, await service.GetOrCreateDvrHostMacAsync(host1, CancellationToken.None));
        Assert.NotEqual(mac1, await service.GetOrCreateDvrHostMacAsync(host2, CancellationToken.None));

        foreach (var (host, address) in new[] { (host1, "192.0.2.21"), (host2, "192.0.2.22") })
        {
            await service.RegisterAgentAsync(new NetworkAgentRow { Host = host, TunnelAddress = address, TunnelPort = 4789, Available = true, StartedAt = DateTime.UtcNow }, CancellationToken.None);
        }

        // red's server on host-1, green's on host-2, one router joining both.
        var networks = new Dictionary<string, (string Network, string Subnet)>();
        foreach (var (name, cidr) in new[] { ("red", "10.61.1.0/24"), ("green", "10.61.2.0/24") })
        {
            var network = await CreateAsync(project.Api, "networks", "network", new JsonObject { ["name"] = name });
            networks[name] = (network, await CreateAsync(project.Api, "subnets", "subnet",
                new JsonObject { ["network_id"] = network, ["ip_version"] = 4, ["cidr"] = cidr }));
        }

        var router = await CreateAsync(project.Api, "routers", "router", new JsonObject { ["name"] = "dvr" });
        foreach (var (_, subnet) in networks.Values)
        {
            await project.Api.SendAsync(HttpMethod.Put, $"{V2}/routers/{router}/add_router_interface", new JsonObject { ["subnet_id"] = subnet });
        }

        var (server1, server2) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        var red = await service.CreatePortForServerAsync(project.ProjectId, networks["red"].Network, null, null, server1, host1, CancellationToken.None);
        var green = await service.CreatePortForServerAsync(project.ProjectId, networks["green"].Network, null, null, server2, host2, CancellationToken.None);

        // Host-1's copy has green's interface too, with green's server as a permanent neighbour.
        var copy = Assert.Single(await service.HostRoutersAsync(host1, bridgeHasGateway: false, CancellationToken.None));
        Assert.Equal(router, copy.RouterId);
        Assert.Equal(2, copy.Config.Interfaces.Count);
        var greenInterface = Assert.Single(copy.Config.Interfaces, i => i.NetworkId == networks["green"].Network);
        Assert.Equal("10.61.2.1/24", greenInterface.Address);
        Assert.Contains(new Ember.Network.RouterNeighbour(green.FixedIps[0].IpAddress, green.MacAddress), greenInterface.Neighbours!);
        Assert.DoesNotContain(greenInterface.Neighbours!, n => n.IpAddress == "10.61.2.1"); // not the router's own address
        var redInterface = Assert.Single(copy.Config.Interfaces, i => i.NetworkId == networks["red"].Network);
        Assert.Contains(new Ember.Network.RouterNeighbour(red.FixedIps[0].IpAddress, red.MacAddress), redInterface.Neighbours!);

        // Both networks are tunnelled on host-1; each floods only to the hosts with servers on it.
        var tunnels = (await service.HostTunnelsAsync(host1, CancellationToken.None)).ToDictionary(t => t.NetworkId);
        Assert.Empty(tunnels[networks["red"].Network].Peers);
        Assert.Equal(["192.0.2.22"], tunnels[networks["green"].Network].Peers);
        Assert.Equal(["192.0.2.21"], (await service.HostTunnelsAsync(host2, CancellationToken.None)).Single(t => t.NetworkId == networks["red"].Network).Peers);

        // Without servers, the host realizes no copy and tunnels nothing.
        await service.DeleteServerPortsAsync(server1, CancellationToken.None);
        Assert.Empty(await service.HostRoutersAsync(host1, bridgeHasGateway: false, CancellationToken.None));
        Assert.Empty(await service.HostTunnelsAsync(host1, CancellationToken.None));
        Assert.Single(await service.HostRoutersAsync(host2, bridgeHasGateway: false, CancellationToken.None));
        await service.DeleteServerPortsAsync(server2, CancellationToken.None);
    }
}
