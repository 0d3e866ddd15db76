using System.Text.Json.Nodes;
using Ember.OpenStack;
using Ember.Server.Common;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// The volume calls of a compute host on another machine, over a real Ember's Block Storage API: the same
/// reserve, connect, complete and detach a host makes in-process, with the connection read back into its case.
/// </summary>
public sealed class VolumeApiClientTests(EmberFixture ember) : IClassFixture<EmberFixture>
{
    private static readonly RequestContext s_unused = new("u", "compute", "default", null, null, [], DateTime.MaxValue);

    private VolumeApiClient Client()
    {
        var access = new OpenStackCredentials { AuthUrl = ember.BaseUrl + "/identity/v3", Username = "admin", Password = EmberFixture.AdminPassword, ProjectName = "admin" };
        return new VolumeApiClient(new OpenStackClient(new HttpClient(), access, TimeProvider.System));
    }

    [Fact]
    public async Task A_multiattach_volume_is_reserved_connected_completed_and_detached_over_http()
    {
        var volumes = Client();
        var volume = await volumes.CreateAsync(s_unused, new VolumeCreateRequest(1) { Name = "remote", VolumeType = "multiattach" });
        using var api = new ApiClient(await ember.ClientAsync());
        await api.WaitForAsync($"/volume/v3/volumes/{volume.Id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromSeconds(60));
        var instance = Guid.NewGuid().ToString();

        var reserved = await volumes.ReserveAsync(s_unused, volume.Id, instance);
        Assert.Equal("reserved", reserved.Status);
        Assert.Null(reserved.Connection);

        // A connector naming another host: the volume service hands out TCP only when it has a listener, so here the
        // unix socket, which this test reaches because it runs on the same machine.
        var connected = await volumes.UpdateAsync(s_unused, reserved.Id, new Connector(Host: "compute-2", Mountpoint: "/dev/vdb"), "/dev/vdb");
        var unix = Assert.IsType<NbdUnixConnection>(connected.Connection);
        Assert.True(unix.Multiattach);
        Assert.False(unix.ReadOnly);
        var size = await Cli.RunAsync("nbdinfo", ["--size", $"nbd+unix:///{unix.ExportName}?socket={unix.SocketPath}"]);
        Assert.Equal((1L << 30).ToString(), size.EnsureSuccess().StdOut.Trim());

        await volumes.CompleteAsync(s_unused, reserved.Id);
        var inUse = await volumes.GetAsync(s_unused, volume.Id);
        Assert.Equal("in-use", inUse.Status);
        Assert.Equal([instance], inUse.ServerIds);

        await volumes.BeginDetachingAsync(s_unused, volume.Id);
        Assert.Equal("detaching", (await volumes.GetAsync(s_unused, volume.Id)).Status);
        await volumes.RollDetachingAsync(s_unused, volume.Id);
        await volumes.DeleteAttachmentAsync(s_unused, reserved.Id);
        Assert.Equal("available", (await volumes.GetAsync(s_unused, volume.Id)).Status);

        await volumes.DeleteVolumeAsync(s_unused, volume.Id);
        await api.WaitGoneAsync($"/volume/v3/volumes/{volume.Id}", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Cinder_errors_come_back_with_their_status_and_message()
    {
        var missing = Guid.NewGuid().ToString();
        var error = await Assert.ThrowsAsync<ApiException>(() => Client().ReserveAsync(s_unused, missing, Guid.NewGuid().ToString()));
        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_info_this_host_cannot_use_is_refused_by_name()
    {
        var rbd = new JsonObject { ["driver_volume_type"] = "rbd", ["name"] = "volumes/volume-1" };
        var error = Assert.Throws<NotSupportedException>(() => VolumeJson.ConnectionFrom(rbd));
        Assert.Contains("rbd", error.Message, StringComparison.Ordinal);
        Assert.Null(VolumeJson.ConnectionFrom(new JsonObject()));
    }
}
