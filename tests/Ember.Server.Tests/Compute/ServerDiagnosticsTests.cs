using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>Server diagnostics of a real guest: QMP's counters in Nova's 2.48 shape and the older flat one, and the openstack client's view.</summary>
public class ServerDiagnosticsTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task A_running_guest_has_diagnostics_from_qmp_and_a_stopped_one_a_409()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var flavor = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/flavors/1"))["flavor"]!;
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "diagnosed", ["imageRef"] = image, ["flavorRef"] = "1" },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";
        await api.WaitForAsync(path, s => s["server"]!["status"]!.GetValue<string>() == "ACTIVE", s_wait);
        // The guest reads 8 MiB of its disk that the boot did not touch (so no cache holds them): the block counters show them.
        await api.ExecInGuestAsync(server, "dd if=/dev/vda of=/dev/null bs=1M skip=256 count=8 2>/dev/null; echo done");

        var d = await api.SendAsync(HttpMethod.Get, $"{path}/diagnostics", apiVersion: "compute 2.48");
        Assert.Equal("running", d["state"]!.GetValue<string>());
        Assert.Equal("libvirt", d["driver"]!.GetValue<string>());
        Assert.Contains(d["hypervisor"]!.GetValue<string>(), new[] { "kvm", "qemu" });
        Assert.Equal(flavor["ram"]!.GetValue<int>(), d["memory_details"]!["maximum"]!.GetValue<int>());
        Assert.Equal(flavor["vcpus"]!.GetValue<int>(), d["num_cpus"]!.GetValue<int>());
        Assert.True(d["cpu_details"]![0]!["time"]!.GetValue<long>() > 0);
        Assert.True(d["uptime"]!.GetValue<long>() >= 0);
        var disks = d["disk_details"]!.AsArray();
        Assert.Equal(disks.Count, d["num_disks"]!.GetValue<int>());
        Assert.Contains(disks, k => k!["read_bytes"]!.GetValue<long>() >= 8 << 20);
        Assert.Equal(d["nic_details"]!.AsArray().Count, d["num_nics"]!.GetValue<int>());

        // Before 2.48: the libvirt driver's flat keys, memory in KiB.
        var legacy = await api.SendAsync(HttpMethod.Get, $"{path}/diagnostics", apiVersion: "compute 2.47");
        Assert.True(legacy["cpu0_time"]!.GetValue<long>() > 0);
        Assert.Equal(flavor["ram"]!.GetValue<int>() * 1024, legacy["memory"]!.GetValue<long>());
        Assert.True(legacy["vda_read"]!.GetValue<long>() >= 8 << 20);

        var shown = (await ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.48", "server", "show", "--diagnostics", server, "-f", "json"]))
            .EnsureSuccess().Json();
        Assert.Equal("running", shown["state"]!.GetValue<string>());

        // Members may not read them (admin only, as Nova).
        using var member = await ember.NewProjectClientAsync("diag-vm");
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Api.TrySendAsync(HttpMethod.Get, $"{path}/diagnostics")).Status);

        await api.SendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["os-stop"] = null }, HttpStatusCode.Accepted);
        await api.WaitForAsync(path, s => s["server"]!["status"]!.GetValue<string>() == "SHUTOFF", s_wait);
        Assert.Null(ember.Host.Services.GetRequiredService<VirtHost>().Find(server));
        Assert.Equal(HttpStatusCode.Conflict, (await api.TrySendAsync(HttpMethod.Get, $"{path}/diagnostics", apiVersion: "compute 2.48")).Status);

        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
    }
}
