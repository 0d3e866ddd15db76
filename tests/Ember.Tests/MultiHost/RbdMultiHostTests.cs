using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Tests.Support;
using static Ember.Tests.Support.MultiHostFixture;

namespace Ember.Tests.MultiHost;

/// <summary>
/// Issue 14's multi-host case: the two compute hosts, each in its own network namespace, reach one Ceph cluster on the
/// bridge. A multi-attach RBD volume is attached to a server on each host; each host's QEMU opens the image itself with
/// its rbd driver (no NBD, no byte through the controller), with the cephx key from the host's own keyring, and what
/// one guest writes the other reads. Driven by Debian's openstack and nova clients.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed partial class RbdMultiHostTests(RbdMultiHostFixture cloud) : IClassFixture<RbdMultiHostFixture>
{
    private readonly CephCluster _ceph = cloud.Ceph!;

    [Fact]
    public async Task A_multiattach_rbd_volume_is_shared_by_servers_on_two_hosts_each_qemu_opening_it_itself()
    {
        (await cloud.OpenStackAsync("volume", "type", "create", "--property", "multiattach=<is> True", "rbd-shared")).EnsureSuccess();
        var volume = Id((await cloud.OpenStackAsync("volume", "create", "--type", "rbd-shared", "--size", "1", "shared", "-f", "json")).EnsureSuccess().Json());
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(volume), "status") == "available", "shared available");
        Assert.True((await cloud.VolumeAsync(volume))["multiattach"]!.GetValue<bool>());
        // Cinder's MULTIATTACH_EXCLUSIONS: two writers on different hosts would ping-pong an exclusive lock.
        var image = $"{_ceph.Pool}/volume-{volume}";
        var features = JsonNode.Parse(await _ceph.RbdAsync("info", "--format", "json", image))!["features"]!.AsArray().Select(f => f!.GetValue<string>());
        Assert.DoesNotContain("exclusive-lock", features);

        // One server forced onto each host (Nova's zone:host, an admin's right), the volume hot-attached to both.
        var servers = new Dictionary<string, string>();
        foreach (var host in ComputeHosts)
        {
            var name = "rbd-on-" + host;
            (await cloud.NovaAsync("boot", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
                "--availability-zone", $"nova:{host}", "--poll", name)).EnsureSuccess();
            var shown = (await cloud.OpenStackAsync("server", "show", name, "-f", "json")).EnsureSuccess().Json();
            Assert.Equal("ACTIVE", Text(shown, "status"));
            Assert.Equal(host, Text(shown, "OS-EXT-SRV-ATTR:host"));
            servers[host] = name;
            (await cloud.NovaAsync("volume-attach", name, volume)).EnsureSuccess();
        }

        await WaitForAsync(async () => Text(await cloud.VolumeAsync(volume), "status") == "in-use"
            && (await cloud.VolumeAsync(volume))["attachments"]!.AsArray().Count == 2, "shared attached to both servers");
        var attachments = (await cloud.VolumeAsync(volume))["attachments"]!.AsArray();
        Assert.Equal(ComputeHosts, attachments.Select(a => Text(a, "host_name")).Order());

        // Each attachment's connection_info is Cinder's rbd one: the image and the monitors on the bridge, a user, no key.
        var key = (await _ceph.CephAsync("auth", "get-key", "client." + CephCluster.User)).Trim();
        foreach (var attachment in attachments)
        {
            var shown = (await cloud.OpenStackAsync("--os-volume-api-version", "3.27", "volume", "attachment", "show",
                Text(attachment, "attachment_id"), "-f", "json")).EnsureSuccess();
            var connection = shown.Json()["Properties"]!;
            Assert.Equal("rbd", Text(connection, "driver_volume_type"));
            Assert.Equal(image, Text(connection, "name"));
            Assert.Equal([_ceph.Address], connection["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
            Assert.Equal(CephCluster.User, Text(connection, "auth_username"));
            Assert.DoesNotContain(key, shown.StdOut, StringComparison.Ordinal);
        }

        // The image's watchers are the two QEMUs, one at each host's own address: each opened it with librbd, across
        // the bridge from its namespace.
        var watchers = JsonNode.Parse(await _ceph.RbdAsync("status", "--format", "json", image))!["watchers"]!.AsArray();
        Assert.Equal(ComputeHosts.Select(cloud.AddressOf).Order(), watchers.Select(w => IPv4().Match(Text(w, "address")).Value).Order());

        // Data crosses: the guest on host-1 makes a file system, the one on host-2 reads it and answers.
        var (first, second) = (servers[ComputeHosts[0]], servers[ComputeHosts[1]]);
        var inFirst = await cloud.DeviceOfAsync(first, volume);
        await cloud.ExecAsync(first, $"mkfs.ext3 -q {inFirst} && mkdir -p /mnt/r && mount {inFirst} /mnt/r && echo from-{first} > /mnt/r/hello && umount /mnt/r");
        var inSecond = await cloud.DeviceOfAsync(second, volume);
        Assert.Equal($"from-{first}", await cloud.ExecAsync(second,
            $"mkdir -p /mnt/r && mount {inSecond} /mnt/r && cat /mnt/r/hello && echo from-{second} > /mnt/r/reply; umount /mnt/r"));
        Assert.Equal($"from-{second}", await cloud.ExecAsync(first, $"mount {inFirst} /mnt/r && cat /mnt/r/reply; umount /mnt/r"));

        // Each host attached the image through QEMU's rbd driver, never an NBD export of the controller's. The key went
        // to each QEMU over its private QMP socket: it is in no QEMU's argv and no host's log.
        foreach (var host in ComputeHosts)
        {
            Assert.Contains($"(rbd {image})", cloud.ComputeOutput(host), StringComparison.Ordinal);
            Assert.DoesNotContain("nbd export", cloud.ComputeOutput(host), StringComparison.Ordinal);
            var qemus = (await Cli.RunAsync("pgrep", ["-f", $"qemu-system.*{Path.Combine(cloud.Root, host)}/"])).EnsureSuccess().StdOut
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var qemu = Assert.Single(qemus);
            Assert.DoesNotContain(key, await File.ReadAllTextAsync($"/proc/{qemu}/cmdline"), StringComparison.Ordinal);
            Assert.DoesNotContain(key, cloud.ComputeOutput(host), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(key, cloud.Controller.OutputSoFar(), StringComparison.Ordinal);

        // Deleted servers close the image (QMP quit), so it has no watchers left and the volume goes with its image.
        (await cloud.OpenStackAsync(["server", "delete", "--wait", .. servers.Values])).EnsureSuccess();
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(volume), "status") == "available", "shared available after the servers are deleted");
        (await cloud.OpenStackAsync("volume", "delete", volume)).EnsureSuccess();
        await WaitForAsync(async () => JsonNode.Parse(await _ceph.RbdAsync("ls", "--format", "json", _ceph.Pool))!.AsArray().Count == 0, "the pool empty");
        (await cloud.OpenStackAsync("volume", "type", "delete", "rbd-shared")).EnsureSuccess();
    }

    /// <summary>The IP of a Ceph entity address (`rbd status` prints e.g. 10.210.3.2:0/1234567).</summary>
    [GeneratedRegex(@"\d+\.\d+\.\d+\.\d+")]
    private static partial Regex IPv4();
}
