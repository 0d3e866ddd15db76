using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>A real VM through stop, start, hard reboot and its serial console, with its volume's data surviving.</summary>
public class ServerLifecycleTests(CloudFixture ember) : IClassFixture<CloudFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Stop_start_reboot_keep_the_volume_and_the_serial_console_answers()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        var volume = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["name"] = "data", ["size"] = 1 } }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => Status(v, "volume") == "available", s_wait);
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["name"] = "lifecycle",
                ["imageRef"] = image,
                ["flavorRef"] = "1",
                ["block_device_mapping"] = new JsonArray(new JsonObject { ["volume_id"] = volume, ["device_name"] = "/dev/vdb" }),
            },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";
        await api.WaitForAsync(path, s => Status(s, "server") == "ACTIVE", s_wait);
        await api.ExecInGuestAsync(server, "mkfs.ext3 -q /dev/vdb && mkdir -p /m && mount /dev/vdb /m && echo kept > /m/f && umount /m");

        // changePassword goes through the guest agent; the guest's root hash must then verify the new password.
        await Action(api, server, new JsonObject { ["changePassword"] = new JsonObject { ["adminPass"] = "N3w-pass" } });
        Assert.Equal("match", await api.ExecInGuestAsync(server,
            "h=$(grep '^root:' /etc/shadow | cut -d: -f2); s=$(echo \"$h\" | cut -d'$' -f3); [ \"$(mkpasswd -m sha512 N3w-pass \"$s\")\" = \"$h\" ] && echo match"));

        await Action(api, server, new JsonObject { ["os-stop"] = null });
        var stopped = await api.WaitForAsync(path, s => Status(s, "server") == "SHUTOFF", s_wait);
        Assert.Equal(4, stopped["server"]!["OS-EXT-STS:power_state"]!.GetValue<int>());
        Assert.Equal("in-use", Status(await api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}"), "volume"));

        await Action(api, server, new JsonObject { ["os-start"] = null });
        await api.WaitForAsync(path, s => Status(s, "server") == "ACTIVE", s_wait);
        Assert.Equal("kept", await api.ExecInGuestAsync(server, "mkdir -p /m && mount /dev/vdb /m && cat /m/f && umount /m"));

        await Action(api, server, new JsonObject { ["reboot"] = new JsonObject { ["type"] = "HARD" } });
        await api.WaitForAsync(path, s => Status(s, "server") == "ACTIVE", s_wait);
        Assert.Equal("up", await api.ExecInGuestAsync(server, "echo up"));

        // Nova's remote console API, protocol serial: a websocket bridged to the guest's ttyS0 root shell.
        var url = (await api.SendAsync(HttpMethod.Post, $"{path}/remote-consoles",
            new JsonObject { ["remote_console"] = new JsonObject { ["protocol"] = "serial", ["type"] = "serial" } }))["remote_console"]!["url"]!.GetValue<string>();
        Assert.StartsWith("ws://", url);
        using (var socket = new ClientWebSocket())
        {
            await socket.ConnectAsync(new Uri(url), CancellationToken.None);
            await socket.SendAsync(Encoding.ASCII.GetBytes("\necho console-$((6*7))\n"), WebSocketMessageType.Binary, true, CancellationToken.None);
            var seen = new StringBuilder();
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            while (!seen.ToString().Contains("console-42", StringComparison.Ordinal))
            {
                var received = await socket.ReceiveAsync(buffer, timeout.Token);
                seen.Append(Encoding.ASCII.GetString(buffer, 0, received.Count));
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        var log = await api.SendAsync(HttpMethod.Post, $"{path}/action", new JsonObject { ["os-getConsoleOutput"] = new JsonObject { ["length"] = 200 } });
        Assert.Contains("console-42", log["output"]!.GetValue<string>());

        await api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync(path, s_wait);
        await api.WaitForAsync($"/volume/v3/volumes/{volume}", v => Status(v, "volume") == "available", s_wait);
    }

    [Fact]
    public async Task A_server_qemu_cannot_start_goes_to_error_with_a_fault()
    {
        using var api = new ApiClient(await ember.ClientAsync());
        var image = (await api.SendAsync(HttpMethod.Get, "/image/v2/images?name=ember-tiny"))["images"]![0]!["id"]!.GetValue<string>();
        // More memory than QEMU can map on this host.
        var flavor = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors", new JsonObject
        {
            ["flavor"] = new JsonObject { ["name"] = "huge", ["ram"] = 1_000_000_000, ["vcpus"] = 1, ["disk"] = 1 },
        }))["flavor"]!["id"]!.GetValue<string>();
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "doomed", ["imageRef"] = image, ["flavorRef"] = flavor },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var failed = await api.WaitForAsync($"/compute/v2.1/servers/{server}", s => Status(s, "server") == "ERROR", s_wait);
        Assert.False(string.IsNullOrWhiteSpace(failed["server"]!["fault"]!["message"]!.GetValue<string>()));
        Assert.Equal(500, failed["server"]!["fault"]!["code"]!.GetValue<int>());

        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await api.WaitGoneAsync($"/compute/v2.1/servers/{server}", s_wait);
    }

    private static string Status(JsonNode body, string key) => body[key]!["status"]!.GetValue<string>();

    private static Task Action(ApiClient api, string server, JsonObject body) =>
        api.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action", body, HttpStatusCode.Accepted);
}
