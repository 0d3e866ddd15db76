using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Network;

/// <summary>Debian's python3-openstackclient (openstacksdk) against the Network API, commands as users type them.</summary>
public sealed class NetworkClientTests(EmberFixture fixture) : IClassFixture<EmberFixture>
{
    private async Task<JsonNode> OpenStackJsonAsync(string cloud, params string[] args) =>
        (await fixture.RunClientAsync("openstack", cloud, [.. args, "-f", "json"])).EnsureSuccess().Json();

    private static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Network_subnet_and_port_lifecycle_through_the_client()
    {
        var net = Name("net");
        var created = await OpenStackJsonAsync("ember", "network", "create", net);
        Assert.Equal(1450, created["mtu"]!.GetValue<int>());
        var networkId = created["id"]!.GetValue<string>();

        var subnet = await OpenStackJsonAsync("ember", "subnet", "create", "--network", net, "--subnet-range", "10.20.0.0/24",
            "--allocation-pool", "start=10.20.0.10,end=10.20.0.50", "--dns-nameserver", "192.0.2.53", Name("sub"));
        Assert.Equal("10.20.0.1", subnet["gateway_ip"]!.GetValue<string>());
        var subnetId = subnet["id"]!.GetValue<string>();
        var noGateway = await OpenStackJsonAsync("ember", "subnet", "create", "--network", net, "--subnet-range", "10.21.0.0/24", "--gateway", "none", Name("sub"));
        Assert.Null(noGateway["gateway_ip"]?.GetValue<string>());

        var port = await OpenStackJsonAsync("ember", "port", "create", "--network", net, "--fixed-ip", $"subnet={subnetId},ip-address=10.20.0.42", Name("port"));
        Assert.Contains("10.20.0.42", port["fixed_ips"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.StartsWith("fa:16:3e:", port["mac_address"]!.GetValue<string>(), StringComparison.Ordinal);
        var defaultPort = await OpenStackJsonAsync("ember", "port", "create", "--network", net, Name("port"));
        // The pool starts at .10 and the DHCP port took it, so the first free address is .11.
        Assert.Contains("10.20.0.11", defaultPort["fixed_ips"]!.ToJsonString(), StringComparison.Ordinal);

        var ports = (await OpenStackJsonAsync("ember", "port", "list", "--network", net)).AsArray();
        Assert.Equal(3, ports.Count); // two ports and the DHCP port

        (await fixture.RunClientAsync("openstack", "ember", "network", "set", "--name", net + "-renamed", "--description", "renamed", net)).EnsureSuccess();
        var shown = await OpenStackJsonAsync("ember", "network", "show", networkId);
        Assert.Equal(net + "-renamed", shown["name"]!.GetValue<string>());
        Assert.Equal(2, shown["subnets"]!.AsArray().Count);
        Assert.Contains((await OpenStackJsonAsync("ember", "network", "list")).AsArray(), n => n!["ID"]!.GetValue<string>() == networkId);

        var inUse = await fixture.RunClientAsync("openstack", "ember", "network", "delete", networkId);
        Assert.NotEqual(0, inUse.ExitCode);
        Assert.Contains("ports still in use", inUse.StdErr, StringComparison.Ordinal);

        (await fixture.RunClientAsync("openstack", "ember", "port", "delete", port["id"]!.GetValue<string>(), defaultPort["id"]!.GetValue<string>())).EnsureSuccess();
        (await fixture.RunClientAsync("openstack", "ember", "network", "delete", networkId)).EnsureSuccess();
        Assert.DoesNotContain((await OpenStackJsonAsync("ember", "network", "list")).AsArray(), n => n!["ID"]!.GetValue<string>() == networkId);
    }

    [Fact]
    public async Task Security_groups_and_rules_through_the_client()
    {
        var groups = (await OpenStackJsonAsync("ember-demo", "security", "group", "list")).AsArray();
        Assert.Contains(groups, g => g!["Name"]!.GetValue<string>() == "default");

        var name = Name("web");
        var group = await OpenStackJsonAsync("ember-demo", "security", "group", "create", name);
        var rule = await OpenStackJsonAsync("ember-demo", "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "0.0.0.0/0", name);
        Assert.Equal(22, rule["port_range_min"]!.GetValue<int>());
        Assert.Equal("ingress", rule["direction"]!.GetValue<string>());

        var duplicate = await fixture.RunClientAsync("openstack", "ember-demo", "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "0.0.0.0/0", name);
        Assert.NotEqual(0, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.StdErr, StringComparison.Ordinal);

        var rules = (await OpenStackJsonAsync("ember-demo", "security", "group", "rule", "list", name)).AsArray();
        Assert.Equal(3, rules.Count); // two egress rules of a new group and the one added
        (await fixture.RunClientAsync("openstack", "ember-demo", "security", "group", "rule", "delete", rule["id"]!.GetValue<string>())).EnsureSuccess();
        Assert.Equal(2, (await OpenStackJsonAsync("ember-demo", "security", "group", "rule", "list", name)).AsArray().Count);

        var removeDefault = await fixture.RunClientAsync("openstack", "ember-demo", "security", "group", "delete", "default");
        Assert.NotEqual(0, removeDefault.ExitCode);
        (await fixture.RunClientAsync("openstack", "ember-demo", "security", "group", "delete", group["id"]!.GetValue<string>())).EnsureSuccess();
    }

    [Fact]
    public async Task Quota_show_and_set_include_the_network_quotas()
    {
        using var project = await fixture.NewProjectClientAsync("netquota");
        (await fixture.RunClientAsync("openstack", "ember", "quota", "set", "--networks", "2", project.ProjectId)).EnsureSuccess();
        var quota = await OpenStackJsonAsync("ember", "quota", "show", project.ProjectId);
        Assert.Equal(2, quota["networks"]!.GetValue<int>());
        Assert.Equal(500, quota["ports"]!.GetValue<int>());

        for (var i = 0; i < 2; i++)
        {
            await project.Api.SendAsync(HttpMethod.Post, "/network/v2.0/networks", new JsonObject { ["network"] = new JsonObject { ["name"] = "q" + i } }, System.Net.HttpStatusCode.Created);
        }

        var (status, body, _) = await project.Api.TrySendAsync(HttpMethod.Post, "/network/v2.0/networks", new JsonObject { ["network"] = new JsonObject { ["name"] = "q3" } });
        Assert.Equal(System.Net.HttpStatusCode.Conflict, status);
        Assert.Equal("OverQuota", body!["NeutronError"]!["type"]!.GetValue<string>());
    }
}
