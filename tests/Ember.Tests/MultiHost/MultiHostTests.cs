using System.Text.Json.Nodes;
using Ember.Tests.Support;
using static Ember.Tests.Support.MultiHostFixture;

namespace Ember.Tests.MultiHost;

/// <summary>
/// The seed across machines: a controller and two compute hosts in their own network namespaces (every byte over
/// TCP), PostgreSQL state, the seed's two VMs in an anti-affinity group and so on different hosts, one multi-attach
/// volume at boot (vdb) and one hot-attached (vdc), data written in one guest read in the other; then a compute host
/// is killed with SIGKILL and comes back, and the controller (the NBD server) is killed with SIGKILL under a guest's
/// flushed writes and comes back. Driven by Debian's openstack and nova clients.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class MultiHostTests(MultiHostFixture cloud) : IClassFixture<MultiHostFixture>
{
    [Fact]
    public async Task Service_and_hypervisor_lists_show_the_controller_and_both_compute_hosts()
    {
        var services = (await cloud.OpenStackAsync("compute", "service", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        var computes = services.Where(s => Text(s, "Binary") == "nova-compute").ToList();
        Assert.Equal(MultiHostFixture.ComputeHosts, computes.Select(s => Text(s, "Host")).Order());
        Assert.All(computes, s => Assert.Equal("up", Text(s, "State")));
        Assert.Contains(services, s => Text(s, "Binary") == "nova-scheduler" && Text(s, "Host") == "controller");
        Assert.DoesNotContain(services, s => Text(s, "Binary") == "nova-compute" && Text(s, "Host") == "controller");

        var hypervisors = (await cloud.OpenStackAsync("hypervisor", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        foreach (var host in MultiHostFixture.ComputeHosts)
        {
            // Each host reports the address of its own namespace's interface: it measured itself, in its own machine.
            Assert.Contains(hypervisors, h => Text(h, "Hypervisor Hostname") == host && Text(h, "Host IP") == cloud.AddressOf(host));
        }

        // `hypervisor show` also asks the host's uptime (os-hypervisors/{id}/uptime below 2.88), answered from its heartbeat.
        var shown = (await cloud.OpenStackAsync("hypervisor", "show", MultiHostFixture.ComputeHosts[0], "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("up", Text(shown, "state"));
        Assert.Matches(@"^\d+ (day|min)|^\d+:\d\d$", Text(shown, "uptime"));
    }

    [Fact]
    public async Task Seed_volumes_cross_hosts_and_survive_a_compute_host_killed_and_restarted()
    {
        var group = Id((await cloud.OpenStackAsync("server", "group", "create", "--policy", "anti-affinity", "seed", "-f", "json")).EnsureSuccess().Json());
        var vdb = await CreateMultiattachVolumeAsync("seed-vdb");
        var servers = new Dictionary<string, (string Id, string Host)>();
        foreach (var name in new[] { "vm-001", "vm-002" })
        {
            (await cloud.NovaAsync("boot", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
                "--block-device-mapping", $"vdb={vdb}:::0", "--hint", $"group={group}", "--poll", name)).EnsureSuccess();
            var shown = (await cloud.OpenStackAsync("server", "show", name, "-f", "json")).EnsureSuccess().Json();
            Assert.Equal("ACTIVE", Text(shown, "status"));
            servers[name] = (Id(shown), Text(shown, "OS-EXT-SRV-ATTR:host"));
        }

        // Anti-affinity put them on the two compute hosts; the controller runs none.
        Assert.Equal(MultiHostFixture.ComputeHosts, servers.Values.Select(s => s.Host).Order());


        // vdb, attached at boot: vm-001 makes the file system, vm-002 reads what it wrote.
        var vdbIn001 = await cloud.DeviceOfAsync("vm-001", vdb);
        await cloud.ExecAsync("vm-001", $"mkfs.ext3 -q {vdbIn001} && mkdir -p /mnt/s && mount {vdbIn001} /mnt/s && echo from-vm-001 > /mnt/s/hello && umount /mnt/s");
        var vdbIn002 = await cloud.DeviceOfAsync("vm-002", vdb);
        Assert.Equal("from-vm-001", await cloud.ExecAsync("vm-002", $"mkdir -p /mnt/s && mount {vdbIn002} /mnt/s && cat /mnt/s/hello; umount /mnt/s"));

        // The console log lives on the host that runs the guest (booted by now: its agent answered); the controller fetches it there.
        var console = (await cloud.OpenStackAsync("console", "log", "show", "vm-002")).EnsureSuccess().StdOut;
        Assert.Contains("ember-tiny: up in", console); // rcS says so on the serial console once the guest is up
        // The serial console websocket goes the same way: the controller relays it to the host's listener, keys in,
        // the guest shell's output back ($((6*7)) is expanded by the guest, not by us).
        var typed = (await cloud.EmberWithInputAsync("echo console-$((6*7))\n", "server", "console", "vm-002")).EnsureSuccess();
        Assert.Contains("console-42", typed.StdOut, StringComparison.Ordinal);

        // vdc, hot-attached to both running servers: now the other way round.
        var vdc = await CreateMultiattachVolumeAsync("seed-vdc");
        foreach (var name in servers.Keys)
        {
            (await cloud.NovaAsync("volume-attach", name, vdc, "/dev/vdc")).EnsureSuccess();
        }

        await WaitForAsync(async () => (await cloud.VolumeAsync(vdc))["attachments"]!.AsArray().Count == 2, "vdc attached to both servers");
        var attachmentHosts = (await cloud.VolumeAsync(vdc))["attachments"]!.AsArray().Select(a => Text(a, "host_name")).Order();
        Assert.Equal(MultiHostFixture.ComputeHosts, attachmentHosts);
        var vdcIn002 = await cloud.DeviceOfAsync("vm-002", vdc);
        await cloud.ExecAsync("vm-002", $"mkfs.ext3 -q {vdcIn002} && mkdir -p /mnt/c && mount {vdcIn002} /mnt/c && echo from-vm-002 > /mnt/c/hello && umount /mnt/c");
        var vdcIn001 = await cloud.DeviceOfAsync("vm-001", vdc);
        Assert.Equal("from-vm-002", await cloud.ExecAsync("vm-001", $"mkdir -p /mnt/c && mount {vdcIn001} /mnt/c && cat /mnt/c/hello; umount /mnt/c"));

        // kill -9 vm-001's host: it is reported down, while vm-002 on the other host keeps using the shared volumes.
        var (_, victim) = servers["vm-001"];
        await cloud.KillComputeAsync(victim);
        await WaitForAsync(async () => (await ServiceStateAsync(victim)) == "down", $"{victim} reported down", TimeSpan.FromMinutes(2));
        // Nova's words: DOWN is for a host forced down; a host that stopped reporting is UNKNOWN.
        Assert.Equal("UNKNOWN", await HostStatusAsync("vm-001"));
        Assert.Equal("UP", await HostStatusAsync("vm-002"));
        await cloud.ExecAsync("vm-002", $"mount {vdcIn002} /mnt/c && echo while-{victim}-was-down > /mnt/c/later && sync && umount /mnt/c");

        // Started again, the host adopts vm-001's QEMU (which ran on through the kill) with its disks.
        await cloud.StartComputeAsync(victim);
        await WaitForAsync(async () => (await ServiceStateAsync(victim)) == "up", $"{victim} up again");
        Assert.Equal("UP", await HostStatusAsync("vm-001"));
        var after = (await cloud.OpenStackAsync("server", "show", "vm-001", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("ACTIVE", Text(after, "status"));
        Assert.Equal($"while-{victim}-was-down", await cloud.ExecAsync("vm-001", $"mount {vdcIn001} /mnt/c && cat /mnt/c/later; umount /mnt/c"));

        // kill -9 the controller, which serves the NBD exports: the guests run on. A writer in vm-002 records in its own
        // root disk each value it has fsynced to the shared volume; once the controller is back and the writer stopped,
        // vm-001 finds the last acknowledged value (or a later one) on the volume. /root/acked is replaced by a rename,
        // so a poll never reads it half-written, and the writer stops between two rounds when /root/stop appears
        // (a kill could land between the truncation of counter and its write, leaving counter empty).
        await cloud.ExecAsync("vm-002", $"mount {vdcIn002} /mnt/c && rm -f /root/acked /root/stop && (sh -c 'i=0; while [ ! -e /root/stop ]; do i=$((i+1)); " +
            "echo $i > /mnt/c/counter && sync /mnt/c/counter && echo $i > /root/acked.new && mv -f /root/acked.new /root/acked; done' " +
            "< /dev/null > /dev/null 2>&1 & echo $! > /root/writer.pid)");
        var beforeKill = await AckedAsync(minimum: 1);
        await cloud.KillControllerAsync();
        await cloud.StartControllerAsync();
        await AckedAsync(minimum: beforeKill + 20); // the writes went on through the controller's restart
        var acked = long.Parse(await cloud.ExecAsync("vm-002", "touch /root/stop; while kill -0 $(cat /root/writer.pid) 2>/dev/null; do sleep 0.2; done; cat /root/acked; umount /mnt/c"),
            System.Globalization.CultureInfo.InvariantCulture);
        var onVolume = long.Parse(await cloud.ExecAsync("vm-001", $"mount {vdcIn001} /mnt/c && cat /mnt/c/counter; umount /mnt/c"),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(onVolume >= acked, $"vm-002 saw {acked} flushed, vm-001 reads {onVolume} from the volume");

        (await cloud.OpenStackAsync("server", "delete", "--wait", "vm-001", "vm-002")).EnsureSuccess();
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(vdb), "status") == "available" && Text(await cloud.VolumeAsync(vdc), "status") == "available",
            "both volumes available after the servers are deleted");
        (await cloud.OpenStackAsync("volume", "delete", vdb, vdc)).EnsureSuccess();
        (await cloud.OpenStackAsync("server", "group", "delete", group)).EnsureSuccess();
    }

    [Fact]
    public async Task Evacuate_rebuilds_the_server_of_a_dead_host_on_a_live_one_with_its_volume()
    {
        var data = Id((await cloud.OpenStackAsync("volume", "create", "--size", "1", "evac-data", "-f", "json")).EnsureSuccess().Json());
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(data), "status") == "available", "evac-data available");
        (await cloud.NovaAsync("boot", "--flavor", "m1.tiny", "--image", "ember-tiny", "--nic", "none",
            "--block-device-mapping", $"vdb={data}:::0", "--poll", "evac")).EnsureSuccess();
        var before = (await cloud.OpenStackAsync("server", "show", "evac", "-f", "json")).EnsureSuccess().Json();
        var (serverId, dead) = (Id(before), Text(before, "OS-EXT-SRV-ATTR:host"));
        var device = await cloud.DeviceOfAsync("evac", data);
        await cloud.ExecAsync("evac", $"mkfs.ext3 -q {device} && mkdir -p /mnt/d && mount {device} /mnt/d && echo written-on-{dead} > /mnt/d/f && umount /mnt/d");

        // A power cut: Ember and the guest die with the host. Evacuate is refused while the service still looks up.
        await cloud.PowerOffComputeAsync(dead);
        await WaitForAsync(async () => (await ServiceStateAsync(dead)) == "down", $"{dead} reported down", TimeSpan.FromMinutes(2));
        // novaclient: Debian's openstackclient 6.0 sends the evacuate, then fails on the reply's type on any cloud
        // ('TupleWithMeta' object has no attribute 'id').
        (await cloud.NovaAsync("evacuate", "evac")).EnsureSuccess();
        JsonNode after = before;
        await WaitForAsync(async () =>
        {
            after = (await cloud.OpenStackAsync("server", "show", "evac", "-f", "json")).EnsureSuccess().Json();
            Assert.NotEqual("ERROR", Text(after, "status"));
            return Text(after, "status") == "ACTIVE" && Text(after, "OS-EXT-SRV-ATTR:host") != dead;
        }, "evac ACTIVE on another host");
        var live = Text(after, "OS-EXT-SRV-ATTR:host");
        Assert.NotEqual(dead, live);
        var moved = await cloud.DeviceOfAsync("evac", data);
        Assert.Equal($"written-on-{dead}", await cloud.ExecAsync("evac", $"mkdir -p /mnt/d && mount {moved} /mnt/d && cat /mnt/d/f; umount /mnt/d"));
        var attachment = Assert.Single((await cloud.VolumeAsync(data))["attachments"]!.AsArray());
        Assert.Equal(live, Text(attachment, "host_name"));

        // Back from the dead, the old host removes its copy of the server, which is not its own any more.
        await cloud.StartComputeAsync(dead);
        await WaitForAsync(async () => (await ServiceStateAsync(dead)) == "up", $"{dead} up again");
        Assert.False(Directory.Exists(cloud.InstanceDirOf(dead, serverId)));

        (await cloud.OpenStackAsync("server", "delete", "--wait", "evac")).EnsureSuccess();
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(data), "status") == "available", "evac-data available again");
        (await cloud.OpenStackAsync("volume", "delete", data)).EnsureSuccess();
    }

    /// <summary>Waits until vm-002's writer has acknowledged at least <paramref name="minimum"/> flushed values; returns the latest.</summary>
    private async Task<long> AckedAsync(long minimum)
    {
        long acked = 0;
        await WaitForAsync(async () =>
        {
            acked = long.Parse("0" + await cloud.ExecAsync("vm-002", "cat /root/acked 2>/dev/null || true"), System.Globalization.CultureInfo.InvariantCulture);
            return acked >= minimum;
        }, $"vm-002's writer to pass {minimum}");
        return acked;
    }

    private async Task<string> CreateMultiattachVolumeAsync(string name)
    {
        var id = Id((await cloud.OpenStackAsync("volume", "create", "--type", "multiattach", "--size", "1", name, "-f", "json")).EnsureSuccess().Json());
        await WaitForAsync(async () => Text(await cloud.VolumeAsync(id), "status") == "available", $"{name} available");
        return id;
    }

    /// <summary>Nova's host_status (2.16) of a server as `openstack server show` prints it to an admin.</summary>
    private async Task<string> HostStatusAsync(string server) =>
        Text((await cloud.OpenStackAsync("--os-compute-api-version", "2.16", "server", "show", server, "-f", "json")).EnsureSuccess().Json(), "host_status");

    private async Task<string> ServiceStateAsync(string host)
    {
        var services = (await cloud.OpenStackAsync("compute", "service", "list", "--host", host, "--service", "nova-compute", "-f", "json")).EnsureSuccess().Json();
        return Text(services.AsArray().Single(), "State");
    }
}
