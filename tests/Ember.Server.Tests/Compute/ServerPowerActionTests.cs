using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// pause/unpause, suspend/resume and lock on one real guest, through Debian's openstack client, with QEMU's own
/// run state checked over QMP and every step in the server's action log with its host event.
/// </summary>
public class ServerPowerActionTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Pause_suspend_and_lock_a_running_guest_with_the_openstack_client()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "pausable", ["imageRef"] = image, ["flavorRef"] = "1" },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        await api.ExecInGuestAsync(server, "true"); // the guest agent answers: the guest is up

        Task<CliResult> OpenStackAsync(params string[] args) => ember.RunClientAsync("openstack", "ember", ["--os-compute-api-version", "2.73", .. args]);

        (await OpenStackAsync("server", "pause", server)).EnsureSuccess();
        var paused = await api.WaitForAsync(path, s => Status(s) == "PAUSED", s_wait);
        Assert.Equal(3, paused["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("paused", await QemuStatusAsync(server));
        // Nova's state machine: a paused server cannot be suspended or paused again.
        var (status, json, _) = await api.TrySendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["suspend"] = null });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"Cannot 'suspend' instance {server} while it is in vm_state paused", json!["conflictingRequest"]!["message"]!.GetValue<string>());

        (await OpenStackAsync("server", "unpause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.Equal("running", await QemuStatusAsync(server));
        Assert.Equal("up", await api.ExecInGuestAsync(server, "echo up"));

        (await OpenStackAsync("server", "suspend", server)).EnsureSuccess();
        var suspended = await api.WaitForAsync(path, s => Status(s) == "SUSPENDED", s_wait);
        Assert.Equal(4, suspended["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("paused", await QemuStatusAsync(server));
        (await OpenStackAsync("server", "resume", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        Assert.Equal("still", await api.ExecInGuestAsync(server, "echo still"));

        // A lock with a reason (2.73); the admin may still act on the server (members are refused: ServerActionApiTests).
        (await OpenStackAsync("server", "lock", "--reason", "backup", server)).EnsureSuccess();
        var locked = (await OpenStackAsync("server", "show", server, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("backup", locked["locked_reason"]!.GetValue<string>());
        (await OpenStackAsync("server", "pause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "PAUSED", s_wait);
        (await OpenStackAsync("server", "unpause", server)).EnsureSuccess();
        await api.WaitForAsync(path, s => Status(s) == "ACTIVE", s_wait);
        (await OpenStackAsync("server", "unlock", server)).EnsureSuccess();

        // The action log, newest first, each step with its host event and result.
        var events = (await OpenStackAsync("server", "event", "list", server, "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["unlock", "unpause", "pause", "lock", "resume", "suspend", "unpause", "pause", "create"],
            events.Select(e => e!["Action"]!.GetValue<string>()));
        var pauseRequest = events[7]!["Request ID"]!.GetValue<string>();
        var pause = (await api.SendAsync(HttpMethod.Get, $"{path}/os-instance-actions/{pauseRequest}", apiVersion: "compute 2.62"))["instanceAction"]!;
        var pauseEvent = Assert.Single(pause["events"]!.AsArray())!;
        Assert.Equal("compute_pause_instance", pauseEvent["event"]!.GetValue<string>());
        Assert.Equal("Success", pauseEvent["result"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(pauseEvent["host"]!.GetValue<string>()));

        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
    }

    private async Task<string> QemuStatusAsync(string server)
    {
        var machine = ember.Host.Services.GetRequiredService<VirtHost>().Find(server) ?? throw new InvalidOperationException("QEMU is not running");
        return await machine.QueryStatusAsync(CancellationToken.None);
    }

    private static string Status(JsonNode server) => server["server"]!["status"]!.GetValue<string>();
}
