using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Compute;

/// <summary>Supervision across restarts: no orphan QEMU, running servers come back with their volumes, a killed QEMU is noticed.</summary>
public sealed class RestartTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);
    private readonly RestartableDataDir _data = new("restart");
    private string _image = "";

    public async Task InitializeAsync() => _image = await GuestImage.PathAsync();

    public Task DisposeAsync()
    {
        _data.Dispose();
        return Task.CompletedTask;
    }

    private const string HostName = "node-a";

    private Task<EmberHost> StartAsync(string hostName = HostName) => _data.StartAsync(o =>
    {
        o.HostName = hostName;
        o.Image.DefaultImagePath = _image;
    });

    private static Task<ApiClient> ClientAsync(EmberHost host) => RestartableDataDir.AdminClientAsync(host);

    [Fact]
    public async Task A_running_server_survives_an_ember_restart_and_a_killed_qemu_is_noticed()
    {
        string server, volume, qemuPidFile;
        int firstPid;
        await using (var first = await StartAsync())
        {
            using var api = await ClientAsync(first);
            var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
            volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
                new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "persist" } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
            await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => v["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
            server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
            {
                ["server"] = new JsonObject
                {
                    ["name"] = "survivor",
                    ["imageRef"] = image,
                    ["flavorRef"] = "1",
                    ["block_device_mapping"] = new JsonArray(new JsonObject { ["volume_id"] = volume, ["device_name"] = "vdb" }),
                },
            }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
            await api.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ACTIVE", s_wait);
            await api.ExecInGuestAsync(server, "mkfs.ext3 -q /dev/vdb && mkdir -p /m && mount /dev/vdb /m && echo before-restart > /m/f && umount /m");
            qemuPidFile = Path.Combine(_data.DataDir, "instances", server, "qemu.pid");
            firstPid = int.Parse(await File.ReadAllTextAsync(qemuPidFile), System.Globalization.CultureInfo.InvariantCulture);
        }

        // Stopping ember stops its VMs: nothing is left running without a control plane.
        Assert.False(Directory.Exists($"/proc/{firstPid}"), $"QEMU {firstPid} outlived ember");

        await using var second = await StartAsync();
        using var again = await ClientAsync(second);
        var resumed = await again.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ACTIVE", s_wait);
        // The power state is the row's, written by the host manager; the host is the configured name, not the machine's.
        Assert.Equal(PowerStates.Running, resumed["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal(HostName, resumed["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        Assert.Equal(PowerStates.Running, (await second.Services.GetRequiredService<ComputeStore>().FindServerAsync(server))!.PowerState);
        Assert.Equal("before-restart", await again.ExecInGuestAsync(server, "mkdir -p /m && mount /dev/vdb /m && cat /m/f && umount /m"));
        Assert.Equal("in-use", (await again.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}"))["volume"]!["status"]!.GetValue<string>());

        // QEMU killed behind Ember's back: the server is SHUTOFF, not ACTIVE without a process.
        var pid = int.Parse(await File.ReadAllTextAsync(qemuPidFile), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        await again.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "SHUTOFF", s_wait);

        await again.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await again.WaitGoneAsync($"/compute/v2.1/servers/{server}", s_wait);
        Assert.False(Directory.Exists(Path.Combine(_data.DataDir, "instances", server)), "instance files left behind");
    }

    /// <summary>
    /// Recovery touches only the rows of its own host: another host's building, active and deleting servers are left
    /// exactly as they were, and the API reports their state from the row (ACTIVE, power state 1) although no
    /// QEMU of theirs runs here. This host's rows move on as before (building -> ERROR, active without QEMU -> SHUTOFF).
    /// </summary>
    [Fact]
    public async Task Recovery_moves_only_this_hosts_servers_and_the_api_reads_power_state_from_the_row()
    {
        ServerRow Row(string name, string host, string vmState, string? taskState, int powerState) => new()
        {
            Id = Guid.NewGuid().ToString(),
            Name = name,
            ProjectId = "p-other",
            UserId = "u-other",
            FlavorId = "1",
            FlavorJson = """{"Id":"1","Name":"m1.tiny","Ram":512,"Vcpus":1,"Disk":1}""",
            VmState = vmState,
            TaskState = taskState,
            PowerState = powerState,
            Host = host,
            CreatedAt = DateTime.UtcNow,
            UpdatedAt = DateTime.UtcNow,
        };

        var mineBuilding = Row("mine-building", HostName, VmStates.Building, "spawning", PowerStates.NoState);
        var mineActive = Row("mine-active", HostName, VmStates.Active, null, PowerStates.Running);
        var otherBuilding = Row("other-building", "node-b", VmStates.Building, "spawning", PowerStates.NoState);
        var otherActive = Row("other-active", "node-b", VmStates.Active, null, PowerStates.Running);
        var otherDeleting = Row("other-deleting", "node-b", VmStates.Active, "deleting", PowerStates.Running);
        var others = new List<ServerRow>();
        await using (var first = await StartAsync())
        {
            var store = first.Services.GetRequiredService<ComputeStore>();
            foreach (var row in (ServerRow[])[mineBuilding, mineActive, otherBuilding, otherActive, otherDeleting])
            {
                await store.InsertServerAsync(row, []);
            }

            // As stored (timestamps at the database's precision), to compare with after the restart.
            foreach (var row in (ServerRow[])[otherBuilding, otherActive, otherDeleting])
            {
                others.Add((await store.FindServerAsync(row.Id))!);
            }
        }

        await using var second = await StartAsync();
        var after = second.Services.GetRequiredService<ComputeStore>();
        foreach (var row in others)
        {
            var now = await after.FindServerAsync(row.Id);
            Assert.NotNull(now);
            Assert.Equal((row.VmState, row.TaskState, row.PowerState, row.Host, row.UpdatedAt), (now.VmState, now.TaskState, now.PowerState, now.Host, now.UpdatedAt));
        }

        Assert.Equal(VmStates.Error, (await after.FindServerAsync(mineBuilding.Id))!.VmState);
        Assert.Equal((VmStates.Stopped, PowerStates.Shutdown), await after.FindServerAsync(mineActive.Id) is { } stopped ? (stopped.VmState, stopped.PowerState) : default);

        using var api = await ClientAsync(second);
        var shown = (await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{otherActive.Id}"))["server"]!;
        Assert.Equal("ACTIVE", shown["status"]!.GetValue<string>());
        Assert.Equal(PowerStates.Running, shown["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("node-b", shown["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        var mine = (await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{mineActive.Id}"))["server"]!;
        Assert.Equal("SHUTOFF", mine["status"]!.GetValue<string>());
        Assert.Equal(PowerStates.Shutdown, mine["OS-EXT-STS:power_state"]!.GetValue<int>());

        // Work for a host this process does not run (node-b never registered) is refused, not done here: the row stays as it was.
        var (status, _, _) = await api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{otherActive.Id}/action", new JsonObject { ["os-stop"] = null });
        Assert.Equal(HttpStatusCode.Conflict, status);
        var unchanged = (await after.FindServerAsync(otherActive.Id))!;
        Assert.Equal((VmStates.Active, (string?)null, PowerStates.Running), (unchanged.VmState, unchanged.TaskState, unchanged.PowerState));

        // A delete is Nova's local delete for a host that is not up: the API removes the row itself.
        (status, _, _) = await api.TrySendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{otherActive.Id}");
        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Null(await after.FindServerAsync(otherActive.Id));
    }
}
