using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Testing;

namespace Ember.Server.Tests.Network;

/// <summary>
/// Nova's checks of a server create's networks, answered before anything is reserved: an unknown network, port or
/// security group is a 400, a port another device holds and an ambiguous "auto" are 409s, and none of them leaves a server or a port.
/// Every case here is refused before a host is asked, so this in-process cloud never plugs anything into the machine.
/// </summary>
public sealed class ServerNetworkRequestTests(ServerNetworkRequestTests.WiredCloudFixture ember) : IClassFixture<ServerNetworkRequestTests.WiredCloudFixture>
{
    /// <summary>The guest image and host networking on (its data plane is never reached by these tests).</summary>
    public sealed class WiredCloudFixture : EmberFixture
    {
        protected override async Task ConfigureAsync(EmberOptions options)
        {
            options.Image.DefaultImagePath = await GuestImage.PathAsync();
            options.Network.HostNetworking = true;
        }
    }

    [Fact]
    public async Task An_unknown_network_or_port_is_a_400_and_a_port_held_by_another_device_a_409()
    {
        using var project = await ember.NewProjectClientAsync("nics");
        var api = project.Api;
        var missing = Guid.NewGuid().ToString();
        var refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", await ServerBodyAsync(api, new JsonArray(new JsonObject { ["uuid"] = missing })), "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains($"Network {missing} could not be found.", refused.Text, StringComparison.Ordinal);

        refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", await ServerBodyAsync(api, new JsonArray(new JsonObject { ["port"] = missing })), "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains($"Port {missing} could not be found.", refused.Text, StringComparison.Ordinal);

        refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", await ServerBodyAsync(api, new JsonArray(new JsonObject { ["uuid"] = "not-a-uuid" })), "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);

        var network = await CreateNetworkAsync(api, "held", "10.61.1.0/24");
        var port = (await api.SendAsync(HttpMethod.Post, "/network/v2.0/ports",
            new JsonObject { ["port"] = new JsonObject { ["network_id"] = network, ["device_id"] = "some-other-device" } }, HttpStatusCode.Created))["port"]!["id"]!.GetValue<string>();
        refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", await ServerBodyAsync(api, new JsonArray(new JsonObject { ["port"] = port })), "compute 2.60");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains($"Port {port} is still in use.", refused.Text, StringComparison.Ordinal);

        // A security group the project does not have (Nova's SecurityGroupNotFound, a 400 on create).
        var body = await ServerBodyAsync(api, new JsonArray(new JsonObject { ["uuid"] = network }));
        body["server"]!["security_groups"] = new JsonArray(new JsonObject { ["name"] = "default" }, new JsonObject { ["name"] = "no-such-group" });
        refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", body, "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("Security group no-such-group not found.", refused.Text, StringComparison.Ordinal);
        body["server"]!["security_groups"] = new JsonArray(new JsonObject { ["name"] = "" });
        refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", body, "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);

        await AssertNothingLeftAsync(api, network, expectedPorts: 1);
    }

    [Fact]
    public async Task Auto_with_two_networks_of_the_project_is_ambiguous()
    {
        using var project = await ember.NewProjectClientAsync("auto");
        var api = project.Api;
        var first = await CreateNetworkAsync(api, "one", "10.61.2.0/24");
        await CreateNetworkAsync(api, "two", "10.61.3.0/24");
        var refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", await ServerBodyAsync(api, "auto"), "compute 2.60");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains("Multiple possible networks found", refused.Text, StringComparison.Ordinal);
        await AssertNothingLeftAsync(api, first, expectedPorts: 0);
    }

    private static async Task<JsonObject> ServerBodyAsync(ApiClient api, JsonNode networks)
    {
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        return new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "nic-test", ["imageRef"] = image, ["flavorRef"] = "1", ["networks"] = networks },
        };
    }

    private static async Task<string> CreateNetworkAsync(ApiClient api, string name, string cidr)
    {
        var id = (await api.SendAsync(HttpMethod.Post, "/network/v2.0/networks",
            new JsonObject { ["network"] = new JsonObject { ["name"] = name } }, HttpStatusCode.Created))["network"]!["id"]!.GetValue<string>();
        await api.SendAsync(HttpMethod.Post, "/network/v2.0/subnets",
            new JsonObject { ["subnet"] = new JsonObject { ["network_id"] = id, ["ip_version"] = 4, ["cidr"] = cidr } }, HttpStatusCode.Created);
        return id;
    }

    /// <summary>No server was stored and no port other than the DHCP port and the test's own was made on the network.</summary>
    private static async Task AssertNothingLeftAsync(ApiClient api, string network, int expectedPorts)
    {
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers"))["servers"]!.AsArray());
        var ports = (await api.SendAsync(HttpMethod.Get, $"/network/v2.0/ports?network_id={network}"))["ports"]!.AsArray();
        Assert.Equal(expectedPorts, ports.Count(p => p!["device_owner"]!.GetValue<string>() != "network:dhcp"));
    }
}

/// <summary>Without host networking (the default), a server asked onto a network is refused rather than booted without it.</summary>
public sealed class ServerNetworkUnwiredTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    [Fact]
    public async Task A_network_list_is_refused_when_the_cloud_has_no_host_networking()
    {
        using var project = await ember.NewProjectClientAsync("unwired");
        var api = project.Api;
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var refused = await api.TrySendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "unwired",
                ["imageRef"] = image,
                ["flavorRef"] = "1",
                ["networks"] = new JsonArray(new JsonObject { ["uuid"] = Guid.NewGuid().ToString() }),
            },
        }, "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("Network:HostNetworking is off", refused.Text, StringComparison.Ordinal);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers"))["servers"]!.AsArray());
    }
}
