using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

/// <summary>
/// Interactive serial consoles, the way Nova offers them: the API hands out a short-lived token URL
/// (remote-consoles, protocol serial), and a websocket on that URL is bridged to the server's serial
/// port (QEMU's console socket). Only one client at a time: QEMU's chardev accepts one connection.
/// </summary>
public sealed class SerialConsole(ComputeStore store, IComputeHosts hosts)
{
    private static readonly TimeSpan s_tokenLifetime = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<string, (string ServerId, DateTime Expires)> _tokens = new();

    public string IssueUrl(HttpContext http, string serverId)
    {
        foreach (var (key, value) in _tokens)
        {
            if (value.Expires < DateTime.UtcNow)
            {
                _tokens.TryRemove(key, out _);
            }
        }

        var token = Ids.NewSecret();
        _tokens[token] = (serverId, DateTime.UtcNow + s_tokenLifetime);
        var baseUrl = http.BaseUrl();
        var ws = baseUrl.StartsWith("https://", StringComparison.Ordinal) ? "wss://" + baseUrl[8..] : "ws://" + baseUrl[7..];
        return $"{ws}/compute/serial-console?token={token}";
    }

    /// <summary>GET /compute/serial-console?token=...: the websocket bridge. The token is single-use.</summary>
    public async Task BridgeAsync(HttpContext http)
    {
        var token = http.Request.Query["token"].ToString();
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw ApiException.BadRequest("This URL serves a websocket.");
        }

        if (!_tokens.TryRemove(token, out var entry) || entry.Expires < DateTime.UtcNow)
        {
            throw ApiException.Unauthorized("The console token is invalid or has expired.");
        }

        // The guest's serial port is on the server's host: the host hands over a stream (a proxy, once hosts are remote).
        var server = await store.FindServerAsync(entry.ServerId) ?? throw ApiException.NotFound($"Instance {entry.ServerId} could not be found.");
        ComputeService.RequireRunning(server);
        var requestId = http.Response.Headers["x-openstack-request-id"].ToString();
        await using var serial = await (await hosts.GetAsync(server.Host, http.RequestAborted)).OpenSerialConsoleAsync(new SerialConsoleRequest(requestId, server.Id), http.RequestAborted);
        var subProtocol = http.WebSockets.WebSocketRequestedProtocols.Contains("binary") ? "binary" : null;
        using var socket = await http.WebSockets.AcceptWebSocketAsync(subProtocol);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var toGuest = PumpToSerialAsync(socket, serial, done.Token);
        var toClient = PumpToClientAsync(serial, socket, done.Token);
        await Task.WhenAny(toGuest, toClient);
        await done.CancelAsync();
        // Answer the client's close (CloseReceived), or close first when the guest side ended (Open).
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "console closed", CancellationToken.None);
        }
    }

    private static async Task PumpToSerialAsync(WebSocket socket, Stream serial, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (!cancellationToken.IsCancellationRequested)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            await serial.WriteAsync(buffer.AsMemory(0, received.Count), cancellationToken);
            await serial.FlushAsync(cancellationToken);
        }
    }

    private static async Task PumpToClientAsync(Stream serial, WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (!cancellationToken.IsCancellationRequested)
        {
            var read = await serial.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, read), WebSocketMessageType.Binary, true, cancellationToken);
        }
    }
}

public static partial class ComputeApi
{
    private static void MapConsoles(IEndpointRouteBuilder compute, RouteGroupBuilder v21)
    {
        compute.MapGet("/serial-console", (HttpContext http, SerialConsole consoles) => consoles.BridgeAsync(http));
        v21.MapPost("/servers/{id}/remote-consoles", async (HttpContext http, ComputeStore store, SerialConsole consoles, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-remote-consoles");
            var server = await FindServerAsync(store, context, id);
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "remote_console");
            var protocol = Json.OptionalString(body, "protocol");
            if (protocol != "serial")
            {
                throw ApiException.BadRequest($"Unavailable console type {protocol}: Ember offers the serial console only.");
            }

            ComputeService.RequireRunning(server);
            return Json.Reply(new JsonObject
            {
                ["remote_console"] = new JsonObject
                {
                    ["protocol"] = "serial",
                    ["type"] = "serial",
                    ["url"] = consoles.IssueUrl(http, server.Id),
                },
            });
        });
    }
}
