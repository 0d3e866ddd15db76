using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// The seed's multi-attach exchange with today's client: Debian's openstackclient, the multiattach
/// volume type instead of --allow-multiattach, and `server add volume` at compute 2.60.
/// </summary>
public class ModernClientScenarioTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private Task<CliResult> OpenStackAsync(params string[] args) =>
        ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.60", .. args]);

    [Fact]
    public async Task Openstack_client_attaches_one_multiattach_volume_to_two_running_servers()
    {
        var volume = (await OpenStackAsync("volume", "create", "--type", "multiattach", "--size", "1", "shared", "-f", "json")).EnsureSuccess().Json();
        var volumeId = volume["id"]!.GetValue<string>();
        Assert.True(volume["multiattach"]!.GetValue<bool>());

        var servers = new List<string>();
        foreach (var name in new[] { "vm-a", "vm-b" })
        {
            var server = (await OpenStackAsync("server", "create", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
                "--wait", name, "-f", "json")).EnsureSuccess().Json();
            Assert.Equal("ACTIVE", server["status"]!.GetValue<string>());
            servers.Add(server["id"]!.GetValue<string>());
        }

        foreach (var name in new[] { "vm-a", "vm-b" })
        {
            (await OpenStackAsync("server", "add", "volume", "--device", "/dev/vdb", name, "shared")).EnsureSuccess();
        }

        using var api = new ApiClient(await ember.ClientAsync());
        await api.WaitForAsync($"/volume/v3/volumes/{volumeId}",
            v => v["volume"]!["status"]!.GetValue<string>() == "in-use" && v["volume"]!["attachments"]!.AsArray().Count == 2, TimeSpan.FromMinutes(3));
        var shown = (await OpenStackAsync("volume", "show", "shared", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("in-use", shown["status"]!.GetValue<string>());

        await api.ExecInGuestAsync(servers[0], "for i in $(seq 50); do [ -b /dev/vdb ] && break; sleep 0.2; done; mkfs.ext3 -q /dev/vdb && mkdir -p /mnt/s && mount /dev/vdb /mnt/s && echo from-a > /mnt/s/a && umount /mnt/s");
        Assert.Equal("from-a", await api.ExecInGuestAsync(servers[1], "for i in $(seq 50); do [ -b /dev/vdb ] && break; sleep 0.2; done; mkdir -p /mnt/s && mount /dev/vdb /mnt/s && cat /mnt/s/a && umount /mnt/s"));

        (await OpenStackAsync("server", "remove", "volume", "vm-b", "shared")).EnsureSuccess();
        await api.WaitForAsync($"/volume/v3/volumes/{volumeId}",
            v => v["volume"]!["status"]!.GetValue<string>() == "in-use" && v["volume"]!["attachments"]!.AsArray().Count == 1, TimeSpan.FromMinutes(2));

        (await OpenStackAsync("server", "delete", "--wait", "vm-a", "vm-b")).EnsureSuccess();
        await api.WaitForAsync($"/volume/v3/volumes/{volumeId}", v => v["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromMinutes(2));
        (await OpenStackAsync("volume", "delete", "shared")).EnsureSuccess();
    }
}
