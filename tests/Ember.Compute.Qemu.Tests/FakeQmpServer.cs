using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Ember.Compute.Qemu.Tests;

/// <summary>
/// A QMP peer on a real unix socket: sends the greeting, answers qmp_capabilities, and hands every other
/// command to the test's handler, which writes whatever raw lines it likes (replies, events, nothing).
/// </summary>
public sealed class FakeQmpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<JsonObject, FakeQmpServer, Task> _handler;
    private readonly Task _serve;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _client;

    public FakeQmpServer(string socketPath, Func<JsonObject, FakeQmpServer, Task> handler)
    {
        SocketPath = socketPath;
        _handler = handler;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(1);
        _serve = ServeAsync();
    }

    public string SocketPath { get; }

    public async Task SendAsync(string line) =>
        await _client!.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None);

    public static string Reply(JsonObject request, string returnJson = "{}") =>
        $"{{\"return\": {returnJson}, \"id\": {request["id"]!.ToJsonString()}}}";

    public static string Event(string name, string dataJson = "{}") =>
        $"{{\"timestamp\": {{\"seconds\": 1700000000, \"microseconds\": 5}}, \"event\": \"{name}\", \"data\": {dataJson}}}";

    /// <summary>Drops the connection, as a crashing QEMU would.</summary>
    public void Crash() => _client?.Dispose();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _client?.Dispose();
        _listener.Dispose();
        try
        {
            await _serve;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        _client = await _listener.AcceptAsync(_stop.Token);
        await SendAsync("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"fake\"}, \"capabilities\": [\"oob\"]}}");
        var buffer = new byte[4096];
        var pending = new StringBuilder();
        while (true)
        {
            var read = await _client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                return;
            }

            pending.Append(Encoding.UTF8.GetString(buffer, 0, read));
            int newline;
            while ((newline = pending.ToString().IndexOf('\n', StringComparison.Ordinal)) >= 0)
            {
                var line = pending.ToString(0, newline);
                pending.Remove(0, newline + 1);
                var request = JsonNode.Parse(line)!.AsObject();
                if ((string?)request["execute"] == "qmp_capabilities")
                {
                    await SendAsync(Reply(request));
                }
                else
                {
                    await _handler(request, this);
                }
            }
        }
    }
}
