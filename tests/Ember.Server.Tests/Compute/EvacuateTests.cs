using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// os-evacuate's rules as Nova's API has them (admin only, refused while the host's service is up, the request body by
/// microversion) and the move itself: a server of a host that went down is placed on a host that is up. The whole
/// story with real hosts and guests is in Ember.Tests' MultiHostTests.
/// </summary>
public sealed class EvacuateTests(FuzzFixture fixture) : IClassFixture<FuzzFixture>
{
    private const string DeadHost = "compute-evac";

    private static JsonObject Evacuate(JsonObject? argument = null) => new() { ["evacuate"] = argument ?? [] };

    [Fact]
    public async Task A_server_of_a_host_that_went_down_is_evacuated_by_an_admin_only_and_only_then()
    {
        var services = fixture.Host.Services;
        var registry = services.GetRequiredService<ComputeServiceStore>();
        var capacity = new HostCapacity(8, 16384, 100, 90, "192.0.2.30", "{}");
        await registry.ReportAsync(DeadHost, ComputeServiceStore.ComputeBinary, "nova", capacity, DateTime.UtcNow);
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(admin, "evacuate");
        var server = (await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "evacuee",
                ["imageRef"] = image,
                ["flavorRef"] = flavor,
                ["networks"] = "none",
                ["availability_zone"] = "nova:" + DeadHost,
            },
        }, HttpStatusCode.Accepted, "compute 2.60"))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}/action";

        // A building server is not evacuated (Nova's 409); here the host had built it before it went down.
        Assert.Equal(HttpStatusCode.Conflict, (await admin.TrySendAsync(HttpMethod.Post, path, Evacuate(), "compute 2.60")).Status);
        await services.GetRequiredService<ComputeStore>().SetStateAsync(server, VmStates.Active, null, PowerStates.Running);

        // While its host reports, the server is not evacuated: Nova's "still in use".
        var inUse = await admin.TrySendAsync(HttpMethod.Post, path, Evacuate(), "compute 2.60");
        Assert.Equal(HttpStatusCode.BadRequest, inUse.Status);
        Assert.Contains($"Compute service of {DeadHost} is still in use.", inUse.Text);

        // The host's last report is long ago now: down.
        await registry.ReportAsync(DeadHost, ComputeServiceStore.ComputeBinary, "nova", capacity, DateTime.UtcNow.AddHours(-1));
        // Evacuate is an admin's: a member may not, even for a server of its own.
        using var member = await fixture.NewProjectClientAsync("evacuate");
        var (memberImage, memberFlavor) = await fixture.ImageAndFlavorAsync(member.Api, "evacuate-member");
        var own = (await member.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "mine", ["imageRef"] = memberImage, ["flavorRef"] = memberFlavor, ["networks"] = "none" },
        }, HttpStatusCode.Accepted, "compute 2.60"))["server"]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{own}/action", Evacuate(), "compute 2.60")).Status);
        await member.Api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{own}", expect: HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.TrySendAsync(HttpMethod.Post, path, Evacuate(), "compute 2.1")).Status); // onSharedStorage required before 2.14
        Assert.Equal(HttpStatusCode.BadRequest,
            (await admin.TrySendAsync(HttpMethod.Post, path, Evacuate(new JsonObject { ["onSharedStorage"] = false }), "compute 2.60")).Status);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await admin.TrySendAsync(HttpMethod.Post, path, Evacuate(new JsonObject { ["host"] = DeadHost }), "compute 2.60")).Status);

        await admin.SendAsync(HttpMethod.Post, path, Evacuate(), apiVersion: "compute 2.60");
        var moved = await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}");
        var local = services.GetRequiredService<ComputeHostManager>().Name;
        Assert.Equal(local, moved["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        // os-migrations has the evacuation, from the dead host to the new one.
        var migration = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-migrations?instance_uuid={server}", apiVersion: "compute 2.23"))["migrations"]!.AsArray().Single()!;
        Assert.Equal(("evacuation", "done", DeadHost, local),
            (migration["migration_type"]!.GetValue<string>(), migration["status"]!.GetValue<string>(),
             migration["source_compute"]!.GetValue<string>(), migration["dest_compute"]!.GetValue<string>()));

        // The local host's QEMU is /bin/false: the rebuild fails there, and the server can be deleted as usual.
        await admin.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ERROR", TimeSpan.FromSeconds(60));
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await admin.WaitGoneAsync($"/compute/v2.1/servers/{server}", TimeSpan.FromSeconds(60));
    }
}
