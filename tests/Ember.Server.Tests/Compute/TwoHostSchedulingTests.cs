using System.Net;
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
        await services.GetRequiredService<ComputeServiceStore>().ReportAsync(OtherHost, ComputeServiceStore.ComputeBinary, "nova",
            new HostCapacity(8, 16384, 100, 90, "192.0.2.20", "{}"), DateTime.UtcNow);
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
}
