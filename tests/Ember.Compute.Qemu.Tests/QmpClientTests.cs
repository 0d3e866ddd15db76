using System.Text.Json.Nodes;
using Ember.Compute.Qemu.Qmp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>Protocol edge cases against a fake QMP peer on a real unix socket.</summary>
public sealed class QmpClientTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Connect_reads_the_greeting_negotiates_and_runs_a_command()
    {
        await using var server = new FakeQmpServer(_dir["qmp.sock"], (request, s) =>
            s.SendAsync(FakeQmpServer.Reply(request, "{\"status\": \"running\", \"running\": true}")));
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);

        Assert.Equal(7, client.Greeting.GetProperty("version").GetProperty("qemu").GetProperty("major").GetInt32());
        var status = await client.ExecuteAsync("query-status").WaitAsync(s_wait);
        Assert.Equal("running", status.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Events_interleaved_with_replies_reach_waiters_and_do_not_complete_commands()
    {
        await using var server = new FakeQmpServer(_dir["qmp.sock"], async (request, s) =>
        {
            await s.SendAsync(FakeQmpServer.Event("DEVICE_DELETED", "{\"path\": \"/machine/peripheral/disk-vdb/virtio-backend\"}"));
            await s.SendAsync(FakeQmpServer.Event("DEVICE_DELETED", "{\"device\": \"disk-vdb\", \"path\": \"/machine/peripheral/disk-vdb\"}"));
            await s.SendAsync(FakeQmpServer.Reply(request));
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);
        var seen = new List<string>();
        client.EventReceived += e => { lock (seen) { seen.Add(e.Name); } };

        var deleted = client.WaitForEventAsync("DEVICE_DELETED", e => e.GetString("device") == "disk-vdb");
        await client.ExecuteAsync("device_del", new JsonObject { ["id"] = "disk-vdb" }).WaitAsync(s_wait);
        var ev = await deleted.WaitAsync(s_wait);

        Assert.Equal("/machine/peripheral/disk-vdb", ev.GetString("path"));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddTicks(50), ev.Timestamp);
        lock (seen)
        {
            Assert.Equal(["DEVICE_DELETED", "DEVICE_DELETED"], seen);
        }
    }

    [Fact]
    public async Task Replies_out_of_order_are_matched_by_id()
    {
        var held = new List<JsonObject>();
        await using var server = new FakeQmpServer(_dir["qmp.sock"], async (request, s) =>
        {
            held.Add(request);
            if (held.Count == 2)
            {
                await s.SendAsync(FakeQmpServer.Reply(held[1], "\"second\""));
                await s.SendAsync(FakeQmpServer.Reply(held[0], "\"first\""));
            }
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);

        var first = client.ExecuteAsync("a");
        await Task.Delay(100); // the fake answers once both arrived, in either order
        var second = client.ExecuteAsync("b");

        var results = await Task.WhenAll(first, second).WaitAsync(s_wait);
        Assert.Equal("first", results[0].GetString());
        Assert.Equal("second", results[1].GetString());
    }

    [Fact]
    public async Task Error_reply_throws_with_class_and_description()
    {
        await using var server = new FakeQmpServer(_dir["qmp.sock"], (request, s) =>
            s.SendAsync($"{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"Node vol1 is in use\"}}, \"id\": {request["id"]!.ToJsonString()}}}"));
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);

        var error = await Assert.ThrowsAsync<QmpErrorException>(() => client.ExecuteAsync("blockdev-del").WaitAsync(s_wait));
        Assert.Equal("GenericError", error.ErrorClass);
        Assert.Equal("Node vol1 is in use", error.Description);
        Assert.Equal("blockdev-del", error.Command);
    }

    [Fact]
    public async Task Qemu_dying_mid_command_fails_the_command_and_event_waiters()
    {
        await using var server = new FakeQmpServer(_dir["qmp.sock"], (request, s) =>
        {
            s.Crash();
            return Task.CompletedTask;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);
        var waiter = client.WaitForEventAsync("DEVICE_DELETED");

        await Assert.ThrowsAsync<QmpDisconnectedException>(() => client.ExecuteAsync("device_del").WaitAsync(s_wait));
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => waiter.WaitAsync(s_wait));
        await client.Completion.WaitAsync(s_wait);
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => client.ExecuteAsync("query-status"));
    }

    [Fact]
    public async Task Command_without_reply_times_out_and_the_late_reply_is_ignored()
    {
        JsonObject? unanswered = null;
        await using var server = new FakeQmpServer(_dir["qmp.sock"], async (request, s) =>
        {
            if ((string?)request["execute"] == "slow")
            {
                unanswered = request;
                return;
            }

            await s.SendAsync(FakeQmpServer.Reply(unanswered!, "\"late\""));
            await s.SendAsync(FakeQmpServer.Reply(request, "\"mine\""));
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);

        await Assert.ThrowsAsync<TimeoutException>(() => client.ExecuteAsync("slow", null, TimeSpan.FromMilliseconds(200), CancellationToken.None));
        var result = await client.ExecuteAsync("fast").WaitAsync(s_wait);
        Assert.Equal("mine", result.GetString());
    }

    [Fact]
    public async Task Cancelled_command_throws_operation_cancelled()
    {
        await using var server = new FakeQmpServer(_dir["qmp.sock"], (_, _) => Task.CompletedTask);
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, NullLogger.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("query-status", cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Peer_that_never_greets_times_out_on_connect()
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(_dir["mute.sock"]));
        listener.Listen(1);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => QmpClient.ConnectAsync(_dir["mute.sock"], NullLogger.Instance, cts.Token));
    }
}
