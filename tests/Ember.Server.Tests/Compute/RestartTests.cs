using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Compute;

/// <summary>Supervision across restarts: no orphan QEMU, running servers come back with their volumes, a killed QEMU is noticed.</summary>
public sealed class RestartTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ember-restart-" + Guid.NewGuid().ToString("N")[..8]);
    private string _image = "";

    public async Task InitializeAsync() => _image = await GuestImage.PathAsync();

    public Task DisposeAsync()
    {
        Directory.Delete(_dataDir, recursive: true);
        return Task.CompletedTask;
    }

    private Task<EmberHost> StartAsync() => EmberHost.StartAsync(new EmberOptions
    {
        DataDir = _dataDir,
        Listen = "127.0.0.1:0",
        AdminPassword = EmberFixture.AdminPassword,
        DemoPassword = EmberFixture.DemoPassword,
        DefaultImagePath = _image,
    }, logging => logging.SetMinimumLevel(LogLevel.Warning));

    private static async Task<ApiClient> ClientAsync(EmberHost host)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{host.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth("admin", EmberFixture.AdminPassword, "admin"));
        var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        return new ApiClient(client);
    }

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
            qemuPidFile = Path.Combine(_dataDir, "instances", server, "qemu.pid");
            firstPid = int.Parse(await File.ReadAllTextAsync(qemuPidFile), System.Globalization.CultureInfo.InvariantCulture);
        }

        // Stopping ember stops its VMs: nothing is left running without a control plane.
        Assert.False(Directory.Exists($"/proc/{firstPid}"), $"QEMU {firstPid} outlived ember");

        await using var second = await StartAsync();
        using var again = await ClientAsync(second);
        await again.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ACTIVE", s_wait);
        Assert.Equal("before-restart", await again.ExecInGuestAsync(server, "mkdir -p /m && mount /dev/vdb /m && cat /m/f && umount /m"));
        Assert.Equal("in-use", (await again.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}"))["volume"]!["status"]!.GetValue<string>());

        // QEMU killed behind Ember's back: the server is SHUTOFF, not ACTIVE without a process.
        var pid = int.Parse(await File.ReadAllTextAsync(qemuPidFile), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        await again.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "SHUTOFF", s_wait);

        await again.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await again.WaitGoneAsync($"/compute/v2.1/servers/{server}", s_wait);
        Assert.False(Directory.Exists(Path.Combine(_dataDir, "instances", server)), "instance files left behind");
    }
}
