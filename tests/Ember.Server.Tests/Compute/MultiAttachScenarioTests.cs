using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Metrics;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ember.Server.Tests.Compute;

/// <summary>The seed walkthrough with the state in SQLite.</summary>
public sealed class MultiAttachScenarioTests(CloudFixture ember) : MultiAttachScenarioCases(ember), IClassFixture<CloudFixture>;

/// <summary>The seed walkthrough with the state in PostgreSQL, the store compute hosts on other machines will share.</summary>
public sealed class PostgresMultiAttachScenarioTests(PostgresCloudFixture ember) : MultiAttachScenarioCases(ember), IClassFixture<PostgresCloudFixture>;

/// <summary>
/// The seed walkthrough over the REST API with real VMs: one multi-attach volume at boot on two servers,
/// a second one hot-plugged into both, and files written in one guest read in the other.
/// </summary>
public abstract class MultiAttachScenarioCases(CloudFixture ember)
{
    private static readonly TimeSpan s_boot = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Two_vms_share_data_through_boot_time_and_hot_plugged_multiattach_volumes()
    {
        using var api = new ApiClient(await ember.ClientAsync("admin"));

        // cinder create --name m-a-001 --allow-multiattach 1 (the legacy body flag)
        var volume1 = await CreateMultiattachVolumeAsync(api, "m-a-001");
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        // nova flavor-create m1.micro auto 256 1 1
        var flavor = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors", new JsonObject
        {
            ["flavor"] = new JsonObject { ["name"] = "m1.micro", ["id"] = "auto", ["ram"] = 256, ["disk"] = 1, ["vcpus"] = 1 },
        }))["flavor"]!["id"]!.GetValue<string>();

        // nova boot --flavor m1.micro --image cirros --block-device-mapping vdb=<id>:::0 vm-001 (and vm-002)
        var vm1 = await BootAsync(api, "vm-001", image, flavor, volume1);
        var vm2 = await BootAsync(api, "vm-002", image, flavor, volume1);
        await WaitActiveAsync(api, vm1);
        await WaitActiveAsync(api, vm2);

        var shared = await api.WaitForAsync($"/volume/v3/volumes/{volume1}", v => v["volume"]!["attachments"]!.AsArray().Count == 2, s_boot);
        Assert.Equal("in-use", shared["volume"]!["status"]!.GetValue<string>());
        Assert.Equal(
            new[] { vm1, vm2 }.Order(),
            shared["volume"]!["attachments"]!.AsArray().Select(a => a!["server_id"]!.GetValue<string>()).Order());
        var shown = await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{vm1}");
        Assert.Equal(volume1, shown["server"]!["os-extended-volumes:volumes_attached"]![0]!["id"]!.GetValue<string>());

        // Part one, in the guests: format and write in vm-001, read and write in vm-002, read back in vm-001.
        await api.ExecInGuestAsync(vm1, "mkdir -p /tmp/1 && sudo mkfs.ext3 -q /dev/vdb && sudo mount /dev/vdb /tmp/1 && sudo chmod 777 /tmp/1 && echo vm-001 > /tmp/1/1 && sudo umount /dev/vdb");
        Assert.Equal("vm-001", await api.ExecInGuestAsync(vm2, "mkdir -p /tmp/1 && sudo mount /dev/vdb /tmp/1 && cat /tmp/1/1 && echo vm-002 > /tmp/1/2 && sudo umount /dev/vdb"));
        Assert.Equal("vm-002", await api.ExecInGuestAsync(vm1, "sudo mount /dev/vdb /tmp/1 && cat /tmp/1/2 && sudo umount /dev/vdb"));

        // Part two: nova volume-attach <vm> <m-a-002> /dev/vdc on both running servers.
        var volume2 = await CreateMultiattachVolumeAsync(api, "m-a-002");
        foreach (var vm in new[] { vm1, vm2 })
        {
            var attached = await api.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{vm}/os-volume_attachments",
                new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = volume2, ["device"] = "/dev/vdc" } },
                apiVersion: ApiClient.Compute260);
            Assert.Equal("/dev/vdc", attached["volumeAttachment"]!["device"]!.GetValue<string>());
            Assert.Equal(vm, attached["volumeAttachment"]!["serverId"]!.GetValue<string>());
        }

        await api.WaitForAsync($"/volume/v3/volumes/{volume2}",
            v => v["volume"]!["attachments"]!.AsArray().Count == 2 && v["volume"]!["status"]!.GetValue<string>() == "in-use", s_boot);
        await api.ExecInGuestAsync(vm1, "for i in $(seq 50); do [ -b /dev/vdc ] && break; sleep 0.2; done; mkdir -p /tmp/2 && sudo mkfs.ext3 -q /dev/vdc && sudo mount /dev/vdc /tmp/2 && sudo chmod 777 /tmp/2 && echo vdc-vm-001 > /tmp/2/1 && sudo umount /dev/vdc");
        Assert.Equal("vdc-vm-001", await api.ExecInGuestAsync(vm2, "for i in $(seq 50); do [ -b /dev/vdc ] && break; sleep 0.2; done; mkdir -p /tmp/2 && sudo mount /dev/vdc /tmp/2 && cat /tmp/2/1 && echo vdc-vm-002 > /tmp/2/2 && sudo umount /dev/vdc"));
        Assert.Equal("vdc-vm-002", await api.ExecInGuestAsync(vm1, "sudo mount /dev/vdc /tmp/2 && cat /tmp/2/2 && sudo umount /dev/vdc"));

        // What the guests did shows on /metrics: each attachment of the shared volume read and wrote through its own
        // export, and both QEMU processes are counted with their memory.
        var attachments = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume2}"))["volume"]!["attachments"]!.AsArray()
            .Select(a => a!["attachment_id"]!.GetValue<string>()).ToList();
        Assert.Equal(2, attachments.Count);
        var host = ember.Host.Services.GetRequiredService<IOptions<EmberOptions>>().Value.HostName;
        var metrics = await MetricsScraper.ScrapeUntilAsync(ember, t =>
            attachments.All(a => t.Sum("ember_nbd_written_bytes_total", ("volume_id", volume2), ("attachment_id", a)) > 0
                && t.Sum("ember_nbd_read_bytes_total", ("volume_id", volume2), ("attachment_id", a)) > 0)
            && t.Sum("ember_qemu_processes", ("host", host)) == 2, "both attachments' byte counters and two QEMU processes");
        foreach (var vm in new[] { vm1, vm2 })
        {
            Assert.True(metrics.Sum("ember_qemu_memory_resident_bytes", ("host", host), ("server_id", vm)) > 16 << 20);
        }

        Assert.True(metrics.Sum("ember_servers", ("host", host), ("status", "ACTIVE")) >= 2);

        // Detach from one server: the volume stays in-use for the other, and the guest loses the disk.
        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{vm2}/os-volume_attachments/{volume2}", expect: HttpStatusCode.Accepted);
        var afterDetach = await api.WaitForAsync($"/volume/v3/volumes/{volume2}",
            v => v["volume"]!["attachments"]!.AsArray().Count == 1 && v["volume"]!["status"]!.GetValue<string>() == "in-use", s_boot);
        Assert.Equal(vm1, afterDetach["volume"]!["attachments"]![0]!["server_id"]!.GetValue<string>());
        Assert.Equal("gone", await api.ExecInGuestAsync(vm2, "[ -b /dev/vdc ] && echo present || echo gone"));

        // Deleting the servers frees the volumes; delete_on_termination was 0, so they stay.
        foreach (var vm in new[] { vm1, vm2 })
        {
            await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{vm}", expect: HttpStatusCode.NoContent);
        }

        foreach (var vm in new[] { vm1, vm2 })
        {
            await api.WaitGoneAsync($"/compute/v2.1/servers/{vm}", s_boot);
        }

        foreach (var volume in new[] { volume1, volume2 })
        {
            var freed = await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_boot);
            Assert.Empty(freed["volume"]!["attachments"]!.AsArray());
        }
    }

    private static async Task<string> CreateMultiattachVolumeAsync(ApiClient api, string name)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject
        {
            ["volume"] = new JsonObject { ["name"] = name, ["size"] = 1, ["multiattach"] = true },
        }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        var ready = await api.WaitForAsync($"/volume/v3/volumes/{id}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_boot);
        Assert.True(ready["volume"]!["multiattach"]!.GetValue<bool>());
        return id;
    }

    private static async Task<string> BootAsync(ApiClient api, string name, string image, string flavor, string volume)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = name,
                ["imageRef"] = image,
                ["flavorRef"] = flavor,
                ["networks"] = "none",
                // What novaclient sends for vdb=<id>:::0: delete_on_termination as the string "0".
                ["block_device_mapping"] = new JsonArray(new JsonObject
                {
                    ["volume_id"] = volume,
                    ["device_name"] = "vdb",
                    ["delete_on_termination"] = "0",
                }),
            },
        }, HttpStatusCode.Accepted, ApiClient.Compute260);
        Assert.False(string.IsNullOrEmpty(created["server"]!["adminPass"]!.GetValue<string>()));
        return created["server"]!["id"]!.GetValue<string>();
    }

    private static Task WaitActiveAsync(ApiClient api, string server) =>
        api.WaitForAsync($"/compute/v2.1/servers/{server}", s =>
        {
            var status = s["server"]!["status"]!.GetValue<string>();
            Assert.NotEqual("ERROR", status);
            return status == "ACTIVE";
        }, s_boot);
}
