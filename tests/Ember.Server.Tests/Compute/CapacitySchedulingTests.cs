using System.Collections;
using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class CapacitySchedulingTests(FuzzFixture fixture) : CapacitySchedulingCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresCapacitySchedulingTests(PostgresFuzzFixture fixture) : CapacitySchedulingCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>The capacity options are Nova's defaults, and out-of-range values are refused at start with their names.</summary>
public sealed class CapacityOptionsTests
{
    [Fact]
    public void The_defaults_are_novas_and_a_ratio_of_zero_or_a_negative_reservation_is_refused()
    {
        var defaults = new ComputeOptions();
        Assert.Equal((4.0, 1.0, 1.0, 512, 0),
            (defaults.CpuAllocationRatio, defaults.RamAllocationRatio, defaults.DiskAllocationRatio, defaults.ReservedHostMemoryMb, defaults.ReservedHostDiskMb));

        foreach (var (key, value) in new[]
        {
            ("Compute:CpuAllocationRatio", "0"), ("Compute:RamAllocationRatio", "-1"), ("Compute:DiskAllocationRatio", "0"),
            ("Compute:ReservedHostMemoryMb", "-1"), ("Compute:ReservedHostDiskMb", "-512"),
        })
        {
            var error = Assert.Throws<ConfigurationException>(() =>
                EmberConfiguration.Load(null, new Hashtable(), new Dictionary<string, string?> { [key] = value }));
            Assert.Contains(key, error.Message);
        }

        var set = EmberConfiguration.Load(null, new Hashtable { ["EMBER_Compute__CpuAllocationRatio"] = "16" }, new Dictionary<string, string?>());
        Assert.Equal(16.0, set.Compute.CpuAllocationRatio);
    }
}

/// <summary>
/// The capacity filter, claims, availability zones, forced hosts and the local delete, against fake compute hosts
/// registered in the shared database with a chosen capacity and zone. Nothing runs those hosts: a server placed on
/// one stays BUILD with its spawn queued, which is all the scheduler's side needs.
/// </summary>
public abstract class CapacitySchedulingCases(FuzzFixture fixture)
{
    private const string Servers = "/compute/v2.1/servers";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Sixteen boots at once into a zone whose one host has memory for exactly five of the flavor (after the 512 MiB
    /// reserved for the host): five are placed there and eleven go ERROR with NoValidHost, on either engine.
    /// </summary>
    [Fact]
    public async Task Sixteen_concurrent_boots_on_a_host_that_fits_five_place_exactly_five()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await ImageAndFlavorAsync(admin, admin, ram: 256, vcpus: 1, disk: 1);
        var host = await RegisterHostAsync(vcpus: 64, memoryMb: 512 + (5 * 256), localGb: 100);
        var ids = new List<string>();
        try
        {
            var boots = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
                admin.TrySendAsync(HttpMethod.Post, Servers, ServerBody($"vm-{i}", image, flavor, host.Zone))));
            Assert.All(boots, b => Assert.Equal(HttpStatusCode.Accepted, b.Status));
            ids.AddRange(boots.Select(b => b.Json!["server"]!["id"]!.GetValue<string>()));

            var shown = new List<JsonNode>();
            foreach (var id in ids)
            {
                shown.Add((await admin.SendAsync(HttpMethod.Get, $"{Servers}/{id}"))["server"]!);
            }

            var placed = shown.Where(s => s["OS-EXT-SRV-ATTR:host"]?.GetValue<string>() == host.Name).ToList();
            Assert.Equal(5, placed.Count);
            Assert.All(placed, s => Assert.Equal("BUILD", Str(s, "status")));
            var refused = shown.Except(placed).ToList();
            Assert.Equal(11, refused.Count);
            Assert.All(refused, s =>
            {
                Assert.Equal("ERROR", Str(s, "status"));
                Assert.Null(s["OS-EXT-SRV-ATTR:host"]);
                Assert.Equal(ComputeScheduler.NoValidHost, Str(s["fault"], "message"));
                Assert.Equal(host.Zone, Str(s, "OS-EXT-AZ:availability_zone")); // the zone asked for, with no host
            });

            // os-hypervisors counts what the filter counted: the reservation and five servers fill the memory.
            var hypervisor = await HypervisorAsync(admin, host.Name);
            Assert.Equal(512 + (5 * 256), Int(hypervisor, "memory_mb_used"));
            Assert.Equal(0, Int(hypervisor, "free_ram_mb"));
            Assert.Equal(5, Int(hypervisor, "vcpus_used"));
            Assert.Equal(5, Int(hypervisor, "running_vms"));
        }
        finally
        {
            await RetireHostAsync(admin, host.Name, ids);
        }
    }

    /// <summary>Each resource limits on its own: vCPUs overcommit 4:1, memory keeps 512 MiB for the host, disk is 1:1.</summary>
    [Theory]
    [InlineData("vcpus", 4)]
    [InlineData("memory", 2)]
    [InlineData("disk", 2)]
    public async Task A_host_takes_servers_until_one_resource_is_used_up_under_its_ratio_and_reservation(string resource, int fitting)
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await ImageAndFlavorAsync(admin, admin, ram: 256, vcpus: 1, disk: 1);
        var host = resource switch
        {
            "vcpus" => await RegisterHostAsync(vcpus: 1, memoryMb: 65536, localGb: 100), // 1 core x 4.0
            "memory" => await RegisterHostAsync(vcpus: 64, memoryMb: 512 + (2 * 256), localGb: 100), // 512 MiB reserved
            _ => await RegisterHostAsync(vcpus: 64, memoryMb: 65536, localGb: 2),
        };
        var ids = new List<string>();
        try
        {
            for (var i = 0; i <= fitting; i++)
            {
                ids.Add(await BootAsync(admin, ServerBody($"vm-{i}", image, flavor, host.Zone)));
            }

            var hosts = new List<string?>();
            foreach (var id in ids)
            {
                hosts.Add((await admin.SendAsync(HttpMethod.Get, $"{Servers}/{id}"))["server"]!["OS-EXT-SRV-ATTR:host"]?.GetValue<string>());
            }

            Assert.Equal(Enumerable.Repeat<string?>(host.Name, fitting).Append(null), hosts);
            var last = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/{ids[^1]}"))["server"]!;
            Assert.Equal(ComputeScheduler.NoValidHost, Str(last["fault"], "message"));
        }
        finally
        {
            await RetireHostAsync(admin, host.Name, ids);
        }
    }

    [Fact]
    public async Task A_zone_must_exist_and_a_server_shows_the_zone_of_its_host()
    {
        using var own = await fixture.NewProjectClientAsync("az");
        var api = own.Api;
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await ImageAndFlavorAsync(api, admin, ram: 64, vcpus: 1, disk: 1);

        await ExpectRefusedAsync(api, ServerBody("vm", image, flavor, "no-such-zone"), HttpStatusCode.BadRequest, "badRequest",
            "The requested availability zone is not available");
        await ExpectRefusedAsync(api, ServerBody("vm", image, flavor, "a:b:c:d"), HttpStatusCode.BadRequest, "badRequest",
            "Invalid input received: Unable to parse availability_zone");
        await ExpectRefusedAsync(api, ServerBody("vm", image, flavor, ""), HttpStatusCode.BadRequest, "badRequest", null);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, Servers))["servers"]!.AsArray());

        // Nova's default zone "nova" is this process's host's; a server that names no zone gets its host's.
        var local = fixture.Host.Services.GetRequiredService<ComputeHostManager>().Name;
        var ids = new List<string>();
        foreach (var zone in new[] { "nova", null })
        {
            ids.Add(await BootAsync(api, ServerBody("default", image, flavor, zone)));
            var server = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/{ids[^1]}"))["server"]!;
            Assert.Equal(local, Str(server, "OS-EXT-SRV-ATTR:host"));
            Assert.Equal("nova", Str(server, "OS-EXT-AZ:availability_zone"));
        }

        // Another zone is available while an enabled nova-compute service is in it.
        var host = await RegisterHostAsync(vcpus: 8, memoryMb: 8192, localGb: 100);
        try
        {
            await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/disable", new JsonObject { ["host"] = host.Name, ["binary"] = "nova-compute" });
            await ExpectRefusedAsync(api, ServerBody("vm", image, flavor, host.Zone), HttpStatusCode.BadRequest, "badRequest",
                "The requested availability zone is not available");
            await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/enable", new JsonObject { ["host"] = host.Name, ["binary"] = "nova-compute" });
            ids.Add(await BootAsync(api, ServerBody("in-zone", image, flavor, host.Zone)));
            var inZone = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/{ids[^1]}"))["server"]!;
            Assert.Equal(host.Name, Str(inZone, "OS-EXT-SRV-ATTR:host"));
            Assert.Equal(host.Zone, Str(inZone, "OS-EXT-AZ:availability_zone"));
        }
        finally
        {
            await RetireHostAsync(admin, host.Name, ids);
        }
    }

    /// <summary>
    /// nova:HOST (and ::NODE) is for the cloud admin: it skips the filters (so a disabled host, or another zone, is
    /// fine) but not the claim, and a host that is not a registered compute host is NoValidHost.
    /// </summary>
    [Fact]
    public async Task A_forced_host_is_admin_only_skips_the_filters_but_not_the_capacity()
    {
        using var own = await fixture.NewProjectClientAsync("forced");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await ImageAndFlavorAsync(admin, admin, ram: 256, vcpus: 1, disk: 1);
        var host = await RegisterHostAsync(vcpus: 8, memoryMb: 512 + (2 * 256), localGb: 100);
        var ids = new List<string>();
        try
        {
            await ExpectRefusedAsync(own.Api, ServerBody("vm", image, flavor, $"nova:{host.Name}"), HttpStatusCode.Forbidden, "forbidden",
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
            await ExpectRefusedAsync(own.Api, ServerBody("vm", image, flavor, $"nova::{host.Name}"), HttpStatusCode.Forbidden, "forbidden",
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
            Assert.Empty((await own.Api.SendAsync(HttpMethod.Get, Servers))["servers"]!.AsArray());

            await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/disable", new JsonObject { ["host"] = host.Name, ["binary"] = "nova-compute" });
            // With a forced host the zone part is not checked (Nova's rule): the host's own zone applies. With a node alone it is.
            await ExpectRefusedAsync(admin, ServerBody("vm", image, flavor, $"no-such-zone::{host.Name}"), HttpStatusCode.BadRequest, "badRequest",
                "The requested availability zone is not available");
            foreach (var zone in new[] { $"no-such-zone:{host.Name}", $"nova:{host.Name}:{host.Name}", $"::{host.Name}" })
            {
                ids.Add(await BootAsync(admin, ServerBody("forced", image, flavor, zone)));
                var server = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/{ids[^1]}"))["server"]!;
                var expected = ids.Count <= 2 ? host.Name : null; // room for two: the third is refused by the claim
                Assert.Equal(expected, server["OS-EXT-SRV-ATTR:host"]?.GetValue<string>());
                Assert.Equal(expected is null ? "" : host.Zone, Str(server, "OS-EXT-AZ:availability_zone"));
            }

            ids.Add(await BootAsync(admin, ServerBody("nowhere", image, flavor, "nova:no-such-host")));
            var nowhere = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/{ids[^1]}"))["server"]!;
            Assert.Null(nowhere["OS-EXT-SRV-ATTR:host"]);
            Assert.Equal(ComputeScheduler.NoValidHost, Str(nowhere["fault"], "message"));
        }
        finally
        {
            await RetireHostAsync(admin, host.Name, ids);
        }
    }

    /// <summary>
    /// A server whose host went down, or whose host's service row is gone, is deleted by the API itself, as Nova's
    /// local delete: 204, the row gone at once, the attachments released and delete_on_termination volumes deleted.
    /// Any other action on it is still 409.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_server_on_a_host_that_is_down_or_gone_is_deleted_locally_with_its_volumes_released(bool serviceRowDeleted)
    {
        using var own = await fixture.NewProjectClientAsync("local-delete");
        var api = own.Api;
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await ImageAndFlavorAsync(api, admin, ram: 64, vcpus: 1, disk: 1);
        var kept = await VolumeAsync(api, "kept");
        var dropped = await VolumeAsync(api, "dropped");
        var host = await RegisterHostAsync(vcpus: 8, memoryMb: 8192, localGb: 100);
        var body = ServerBody("stranded", image, flavor, host.Zone);
        body["server"]!["block_device_mapping_v2"] = new JsonArray(
            new JsonObject { ["uuid"] = kept, ["source_type"] = "volume", ["destination_type"] = "volume", ["boot_index"] = -1 },
            new JsonObject { ["uuid"] = dropped, ["source_type"] = "volume", ["destination_type"] = "volume", ["boot_index"] = -1, ["delete_on_termination"] = true });
        var id = await BootAsync(api, body);
        try
        {
            Assert.Equal(host.Name, Str((await admin.SendAsync(HttpMethod.Get, $"{Servers}/{id}"))["server"], "OS-EXT-SRV-ATTR:host"));
            Assert.Equal("reserved", Str((await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{kept}"))["volume"], "status"));

            // While the host is up, a stop reaches the state check (BUILD cannot stop); once it is down, the host check.
            var stop = new JsonObject { ["os-stop"] = null };
            await ExpectErrorAsync(api, HttpMethod.Post, $"{Servers}/{id}/action", stop, HttpStatusCode.Conflict, "conflictingRequest",
                $"Cannot 'stop' instance {id} while it is in vm_state building");
            var services = fixture.Host.Services.GetRequiredService<ComputeServiceStore>();
            if (serviceRowDeleted)
            {
                Assert.True(await services.DeleteAsync((await services.FindAsync(host.Name, ComputeServiceStore.ComputeBinary))!.Id));
            }
            else
            {
                await ReportAsync(host, DateTime.UtcNow.AddHours(-1)); // silent for an hour: down
            }

            await ExpectErrorAsync(api, HttpMethod.Post, $"{Servers}/{id}/action", stop, HttpStatusCode.Conflict, "conflictingRequest",
                $"Compute host {host.Name} is not available.");
            await api.SendAsync(HttpMethod.Delete, $"{Servers}/{id}", expect: HttpStatusCode.NoContent);
            await api.SendAsync(HttpMethod.Get, $"{Servers}/{id}", expect: HttpStatusCode.NotFound);

            var volume = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{kept}"))["volume"]!;
            Assert.Equal("available", Str(volume, "status"));
            Assert.Empty(volume["attachments"]!.AsArray());
            await api.WaitGoneAsync($"/volume/v3/volumes/{dropped}", s_wait);
        }
        finally
        {
            await RetireHostAsync(admin, host.Name, [id]);
            await api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{kept}");
        }
    }

    private sealed record FakeHost(string Name, string Zone, HostCapacity Capacity);

    /// <summary>A nova-compute host of its own zone, up as of now, with the capacity given.</summary>
    private async Task<FakeHost> RegisterHostAsync(int vcpus, long memoryMb, long localGb)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var host = new FakeHost("fake-" + suffix, "zone-" + suffix, new HostCapacity(vcpus, memoryMb, localGb, localGb, "192.0.2.30", "{}"));
        await ReportAsync(host, DateTime.UtcNow);
        return host;
    }

    private Task ReportAsync(FakeHost host, DateTime at) =>
        fixture.Host.Services.GetRequiredService<ComputeServiceStore>().ReportAsync(host.Name, ComputeServiceStore.ComputeBinary, host.Zone, host.Capacity, at);

    /// <summary>Takes the fake host down, deletes its servers (locally, so at once) and its service, leaving the fixture as it was.</summary>
    private async Task RetireHostAsync(ApiClient admin, string name, IEnumerable<string> servers)
    {
        var store = fixture.Host.Services.GetRequiredService<ComputeServiceStore>();
        if (await store.FindAsync(name, ComputeServiceStore.ComputeBinary) is { } service)
        {
            await store.ReportAsync(name, ComputeServiceStore.ComputeBinary, service.Zone, null, DateTime.UtcNow.AddHours(-1));
        }

        foreach (var id in servers)
        {
            await admin.TrySendAsync(HttpMethod.Delete, $"{Servers}/{id}");
            await admin.WaitGoneAsync($"{Servers}/{id}", s_wait);
        }

        if (await store.FindAsync(name, ComputeServiceStore.ComputeBinary) is { } gone)
        {
            await store.DeleteAsync(gone.Id);
        }
    }

    /// <summary>An image of <paramref name="owner"/>'s project and a public flavor of the figures given.</summary>
    private async Task<(string Image, string Flavor)> ImageAndFlavorAsync(ApiClient owner, ApiClient admin, int ram, int vcpus, int disk)
    {
        var (image, _) = await fixture.ImageAndFlavorAsync(owner, "cap");
        var flavor = "cap-" + Guid.NewGuid().ToString("N")[..8];
        await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = flavor, ["id"] = flavor, ["ram"] = ram, ["vcpus"] = vcpus, ["disk"] = disk } });
        return (image, flavor);
    }

    private static async Task<string> VolumeAsync(ApiClient api, string name)
    {
        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = name } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => Str(j["volume"], "status") == "available", s_wait);
        return id;
    }

    private static JsonObject ServerBody(string name, string image, string flavor, string? zone)
    {
        var server = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor };
        if (zone is not null)
        {
            server["availability_zone"] = zone;
        }

        return new JsonObject { ["server"] = server };
    }

    private static async Task<string> BootAsync(ApiClient api, JsonObject body) =>
        (await api.SendAsync(HttpMethod.Post, Servers, body, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();

    private static async Task ExpectErrorAsync(ApiClient api, HttpMethod method, string path, JsonObject body, HttpStatusCode status, string kind, string? message)
    {
        var (actual, json, text) = await api.TrySendAsync(method, path, body);
        Assert.True(actual == status, $"{(int)actual}: {text}");
        if (message is not null)
        {
            Assert.Equal(message, Str(json![kind], "message"));
        }
    }

    /// <summary>A POST /servers that is refused with <paramref name="status"/> and, when given, <paramref name="message"/>.</summary>
    private static Task ExpectRefusedAsync(ApiClient api, JsonObject body, HttpStatusCode status, string kind, string? message) =>
        ExpectErrorAsync(api, HttpMethod.Post, Servers, body, status, kind, message);

    private static async Task<JsonNode> HypervisorAsync(ApiClient admin, string host) =>
        (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail"))["hypervisors"]!.AsArray()
            .Single(h => Str(h, "hypervisor_hostname") == host)!;

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();

    private static long Int(JsonNode? node, string key) => node![key]!.GetValue<long>();
}
