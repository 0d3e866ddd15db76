using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>qemu-ga protocol edge cases against a fake agent on a real unix socket.</summary>
public sealed class GuestAgentProtocolTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Stale_replies_before_the_sync_are_discarded_and_exec_output_is_decoded()
    {
        var path = _dir["qga.sock"];
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var received = new List<string>();
        var agent = Task.Run(async () =>
        {
            using var client = await listener.AcceptAsync();
            await using var stream = new NetworkStream(client);
            var reader = new StreamReader(stream, Encoding.Latin1);
            async Task SendAsync(string s) => await stream.WriteAsync(Encoding.Latin1.GetBytes(s));
            var polls = 0;
            while (await reader.ReadLineAsync() is { } line)
            {
                var json = line.TrimStart('\u00ff');
                received.Add(json);
                var request = JsonNode.Parse(json)!.AsObject();
                switch ((string?)request["execute"])
                {
                    case "guest-sync-delimited":
                        // Leftovers from an earlier client, a reply to an old sync, then ours.
                        await SendAsync("{\"return\": {\"pid\": 1}}\n\u00ff{\"return\": 42}\n");
                        await SendAsync($"\u00ff{{\"return\": {request["arguments"]!["id"]!.ToJsonString()}}}\n");
                        break;
                    case "guest-exec":
                        await SendAsync("{\"return\": {\"pid\": 77}}\n");
                        break;
                    case "guest-exec-status":
                        await SendAsync(++polls < 3
                            ? "{\"return\": {\"exited\": false}}\n"
                            : "{\"return\": {\"exited\": true, \"exitcode\": 3, \"out-data\": \"aGkK\", \"err-data\": \"b29wcwo=\"}}\n");
                        break;
                }
            }
        });

        await using var guestAgent = new GuestAgent(path, "fake", NullLogger.Instance);
        var result = await guestAgent.ExecAsync("/bin/sh", ["-c", "echo hi"], "in", TimeSpan.FromSeconds(30), default);

        Assert.Equal(new GuestExecResult(3, "hi\n", "oops\n", TimedOut: false), result);
        var exec = JsonNode.Parse(received[1])!;
        Assert.Equal("guest-exec", (string?)exec["execute"]);
        Assert.True((bool)exec["arguments"]!["capture-output"]!);
        Assert.Equal("aW4=", (string?)exec["arguments"]!["input-data"]);
        Assert.Equal(3, received.Count(r => r.Contains("guest-exec-status", StringComparison.Ordinal)));
    }
}
