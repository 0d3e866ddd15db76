using System.Text.Json.Nodes;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>
/// A real VM booted from a new volume: `openstack server create --image ember-tiny --boot-from-volume 1` makes the root
/// volume from the image (block_device_mapping_v2 image->volume) and the guest runs from it as /dev/vda.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class BootFromVolumeTests(GuestCloudFixture cloud) : IClassFixture<GuestCloudFixture>, IDisposable
{
    private readonly LinkedCli _cli = new(cloud.Env());

    public void Dispose() => _cli.Dispose();

    private Task<CliResult> OpenStackAsync(params string[] args) =>
        Cli.RunAsync("openstack", ["--os-compute-api-version", "2.85", .. args], cloud.Env(), TimeSpan.FromMinutes(8));

    [Fact]
    public async Task The_guest_runs_from_the_volume_made_from_the_image_and_delete_on_termination_is_honoured()
    {
        var server = (await OpenStackAsync("server", "create", "--image", "ember-tiny", "--boot-from-volume", "1", "--flavor", "m1.tiny",
            "--nic", "none", "--wait", "bfv-vm", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("ACTIVE", Text(server, "status"));
        var serverId = Text(server, "id");

        // The root volume: made from the image, in use by the server as /dev/vda, kept on delete unless asked (the client sends no flag).
        var mapping = Assert.Single((await OpenStackAsync("server", "volume", "list", "bfv-vm", "-f", "json")).EnsureSuccess().Json().AsArray())!;
        var root = Text(mapping, "Volume ID");
        Assert.Equal("/dev/vda", Text(mapping, "Device"));
        Assert.False(mapping["Delete On Termination?"]!.GetValue<bool>());
        var volume = (await OpenStackAsync("volume", "show", root, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("in-use", Text(volume, "status"));
        Assert.Equal("true", Text(volume, "bootable"));
        Assert.Equal(1, volume["size"]!.GetValue<int>());
        Assert.Equal(serverId, Text(Assert.Single(volume["attachments"]!.AsArray()), "server_id"));

        // The guest agent answers, and its only disk vda is that volume (virtio serial = the volume id's first 20
        // characters), 1 GiB, with the image's boot partition on it: the server has no image disk, so the firmware booted
        // the kernel from this volume.
        var guest = await ExecAsync("bfv-vm", "cat /sys/block/vda/serial; echo; cat /sys/block/vda/size; ls /sys/block | grep '^vd'; ls /sys/block/vda | grep '^vda'");
        var lines = guest.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([root[..20], "2097152", "vda", "vda1"], lines);

        // 2.85: the flag set on the mapping is what delete honours; the root volume goes with the server.
        (await OpenStackAsync("server", "volume", "update", "--delete-on-termination", "bfv-vm", root)).EnsureSuccess();
        mapping = Assert.Single((await OpenStackAsync("server", "volume", "list", "bfv-vm", "-f", "json")).EnsureSuccess().Json().AsArray())!;
        Assert.True(mapping["Delete On Termination?"]!.GetValue<bool>());
        (await OpenStackAsync("server", "delete", "--wait", "bfv-vm")).EnsureSuccess();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        CliResult shown;
        while ((shown = await OpenStackAsync("volume", "show", root, "-f", "json")).ExitCode == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the root volume outlived its server: {shown.StdOut}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        Assert.Contains("No volume with a name or ID", shown.StdErr, StringComparison.Ordinal);
        Assert.Empty((await OpenStackAsync("server", "list", "-f", "json")).EnsureSuccess().Json().AsArray());
    }

    private async Task<string> ExecAsync(string server, string script)
    {
        var result = await _cli.ExecAsync(server, script);
        return result.EnsureSuccess().StdOut;
    }

    private static string Text(JsonNode? node, string key) =>
        node?[key]?.GetValue<string>() ?? throw new InvalidOperationException($"no {key} in {node?.ToJsonString()}");
}

/// <summary>
/// openstacksdk's cloud layer on a host without the network service (Network:HostNetworking off, the default): the SDK
/// treats a server without an address as failed, so users wait for it through the compute proxy instead (docs/compute.md).
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class OpenStackSdkWithoutNetworkTests(GuestCloudFixture cloud) : IClassFixture<GuestCloudFixture>, IDisposable
{
    private readonly LinkedCli _cli = new(cloud.Env());

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Create_server_with_wait_fails_without_an_address_and_the_proxy_wait_then_the_volume_calls_work()
    {
        var up = await OpenStackSdk.RunAsync(cloud.Env(), "up");
        Assert.Equal("Server reached ACTIVE state without being allocated an IP address.", up["no_network_error"]!.GetValue<string>());
        Assert.Equal("ACTIVE", up["server"]!["status"]!.GetValue<string>());
        var server = up["server"]!["id"]!.GetValue<string>();
        var volume = up["volume"]!["id"]!.GetValue<string>();
        Assert.Equal("in-use", up["attached"]!["status"]!.GetValue<string>());
        Assert.Equal(server, up["attachment"]!["server_id"]!.GetValue<string>());

        // The guest sees the 1 GiB disk, found by its serial as os-brick does.
        var size = await _cli.ExecAsync("sdk-vm", "for i in $(seq 150); do for d in /sys/block/vd*; do " +
            $"[ \"$(cat $d/serial 2>/dev/null)\" = {volume[..20]} ] && cat $d/size && exit 0; done; sleep 0.2; done; exit 1");
        Assert.Equal("2097152", size.EnsureSuccess().StdOut.Trim());

        var down = await OpenStackSdk.RunAsync(cloud.Env(), "down");
        Assert.Equal("available", down["detached"]!.GetValue<string>());
        Assert.True(down["server_gone"]!.GetValue<bool>());
        Assert.True(down["volume_gone"]!.GetValue<bool>());
        // The server the SDK gave up on was deleted by the SDK itself.
        Assert.Empty(down["servers_left"]!.AsArray());
    }
}
