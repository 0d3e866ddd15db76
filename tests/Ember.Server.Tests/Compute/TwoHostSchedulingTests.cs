using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Compute;
using Ember.Server.Data;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class TwoHostSchedulingTests(FuzzFixture fixture) : TwoHostSchedulingCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresTwoHostSchedulingTests(PostgresFuzzFixture fixture) : TwoHostSchedulingCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// A second compute host registered in the shared database is a candidate like the local one: an anti-affinity pair
/// lands on both, and the cast to the other host waits in the database queue for it (nothing runs it here).
/// </summary>
public abstract class TwoHostSchedulingCases(FuzzFixture fixture)
{
    private const string OtherHost = "compute-b";

    [Fact]
    public async Task An_anti_affinity_pair_is_placed_on_two_registered_hosts_and_the_remote_spawn_is_queued()
    {
        var services = fixture.Host.Services;
        await RegisterOtherHostAsync();
        using var own = await fixture.NewProjectClientAsync("two-hosts");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "two-hosts");
        var group = (await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-server-groups",
            ServerGroupCases.GroupBody("pair", "anti-affinity")))["server_group"]!["id"]!.GetValue<string>();

        var servers = new List<string>();
        foreach (var name in new[] { "vm-1", "vm-2" })
        {
            servers.Add(await ServerGroupCases.CreateServerAsync(own.Api, name, image, flavor, group));
        }

        var hosts = new Dictionary<string, string>();
        foreach (var id in servers)
        {
            var shown = await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{id}");
            hosts[id] = shown["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
        }

        var local = services.GetRequiredService<ComputeHostManager>().Name;
        Assert.Equal(new[] { local, OtherHost }.Order(), hosts.Values.Order());

        var remote = hosts.Single(h => h.Value == OtherHost).Key;
        await using (var c = await services.GetRequiredService<Database>().OpenAsync())
        {
            var kinds = await c.QueryAsync<string>("SELECT kind FROM compute_host_messages WHERE host = @OtherHost AND server_id = @remote", new { OtherHost, remote });
            Assert.Equal([HostMessageQueue.Spawn], kinds);
        }

        Assert.Equal("BUILD", (await own.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{remote}"))["server"]!["status"]!.GetValue<string>());
        // The local one reached this process's host, whose QEMU is /bin/false.
        var placedHere = hosts.Single(h => h.Value == local).Key;
        await own.Api.WaitForAsync($"/compute/v2.1/servers/{placedHere}", s => s["server"]!["status"]!.GetValue<string>() == "ERROR", TimeSpan.FromSeconds(60));
        await own.Api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{placedHere}", expect: HttpStatusCode.NoContent);
        await own.Api.WaitGoneAsync($"/compute/v2.1/servers/{placedHere}", TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// The weighers: with no group, the host with the most free RAM wins (the other host has far more than this
    /// machine); a soft policy wins over free RAM: soft-anti-affinity sends the second member away from the big host,
    /// soft-affinity keeps it with a first member an admin put on this host.
    /// </summary>
    [Fact]
    public async Task Free_ram_weighs_the_hosts_and_a_soft_group_policy_outweighs_it()
    {
        var services = fixture.Host.Services;
        await RegisterOtherHostAsync();
        var local = services.GetRequiredService<ComputeHostManager>().Name;
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(admin, "weighers");

        var plain = await BootAsync(admin, ServerBody("plain", image, flavor));
        Assert.Equal(OtherHost, await HostOfAsync(admin, plain));

        var apart = await GroupAsync(admin, "apart", "soft-anti-affinity");
        var apartFirst = await BootAsync(admin, ServerBody("apart-1", image, flavor, group: apart));
        var apartSecond = await BootAsync(admin, ServerBody("apart-2", image, flavor, group: apart));
        Assert.Equal(OtherHost, await HostOfAsync(admin, apartFirst));
        Assert.Equal(local, await HostOfAsync(admin, apartSecond));

        var together = await GroupAsync(admin, "together", "soft-affinity");
        var togetherFirst = await BootAsync(admin, ServerBody("together-1", image, flavor, group: together, zone: $"nova:{local}"));
        var togetherSecond = await BootAsync(admin, ServerBody("together-2", image, flavor, group: together));
        Assert.Equal(local, await HostOfAsync(admin, togetherFirst));
        Assert.Equal(local, await HostOfAsync(admin, togetherSecond));

        foreach (var id in new[] { plain, apartFirst, apartSecond, togetherFirst, togetherSecond })
        {
            await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{id}", expect: HttpStatusCode.NoContent);
        }
    }

    /// <summary>A second compute host, up, with far more RAM than this machine; nothing runs its casts.</summary>
    private Task RegisterOtherHostAsync() =>
        fixture.Host.Services.GetRequiredService<ComputeServiceStore>().ReportAsync(OtherHost, ComputeServiceStore.ComputeBinary, "nova",
            new HostCapacity(64, 1 << 20, 1000, 990, "192.0.2.20", "{}"), DateTime.UtcNow);

    private static JsonObject ServerBody(string name, string image, string flavor, string? group = null, string? zone = null)
    {
        var server = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor };
        if (zone is not null)
        {
            server["availability_zone"] = zone;
        }

        var body = new JsonObject { ["server"] = server };
        if (group is not null)
        {
            body["os:scheduler_hints"] = new JsonObject { ["group"] = group };
        }

        return body;
    }

    private static async Task<string> BootAsync(ApiClient api, JsonObject body) =>
        (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", body, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();

    private static async Task<string> GroupAsync(ApiClient api, string name, string policy) =>
        (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-server-groups", ServerGroupCases.GroupBody(name, policy), apiVersion: "compute 2.15"))
            ["server_group"]!["id"]!.GetValue<string>();

    private static async Task<string> HostOfAsync(ApiClient admin, string serverId) =>
        (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{serverId}"))["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
}
