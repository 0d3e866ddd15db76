using System.CommandLine;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ember.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>
/// `ember server console SERVER`: the server's serial console, through Nova's remote-consoles API
/// (protocol serial) and the websocket URL it returns. On a terminal the local tty goes raw and Ctrl-]
/// quits; with stdin from a pipe the input is sent as it comes and the console is read until it has been
/// quiet for a moment after stdin ends.
/// </summary>
public static class ServerConsole
{
    /// <summary>Ctrl-], the escape of telnet and virsh console.</summary>
    public const byte Escape = 0x1d;

    /// <summary>The longest a piped session keeps reading after stdin ended, however chatty the guest is.</summary>
    private static readonly TimeSpan s_maxDrain = TimeSpan.FromSeconds(30);

    public static Command Create(ClientOptions g, params Command[] subcommands)
    {
        var server = new Argument<string>("server") { Description = "Server (name or id) whose serial console to attach to." };
        var drain = new Option<double>("--drain")
        {
            Description = "When stdin is not a terminal: seconds without console output, after stdin ends, before disconnecting.",
            DefaultValueFactory = _ => 2,
        };
        var command = Cmd("console", "Attach to a server's serial console (Ctrl-] quits); `console log` prints what it wrote.",
            [server, drain, .. subcommands]);
        g.SetAction(command, async (run, ct) =>
        {
            var name = run.Get(server);
            var id = Id(await run.Api.FindServerAsync(name, ct));
            var url = await UrlAsync(run.Session, id, ct);
            var stdin = run.Context.OpenStdin?.Invoke() ?? throw new CliException("No standard input to read the console's input from.");
            var stdout = run.Context.OpenStdout?.Invoke() ?? throw new CliException("No standard output to write the console to.");
            using var socket = new ClientWebSocket();
            socket.Options.AddSubProtocol("binary");
            if (run.Session.Credentials.Insecure)
            {
                socket.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
            }

            try
            {
                await socket.ConnectAsync(new Uri(url), ct);
            }
            catch (WebSocketException e)
            {
                throw new CliException($"Cannot connect to the serial console at {RedactToken(url)}: {e.Message}");
            }

            if (run.Context.InIsTerminal)
            {
                using (RawTerminal.Enter())
                {
                    // Raw mode is on before the banner, so a script that waits for it knows keys now go to the guest as typed.
                    run.Context.Err.Write($"Connected to the serial console of {name} ({id}). Escape character is '^]'; press Enter for a prompt.\r\n");
                    run.Context.Err.Flush();
                    await InteractiveAsync(socket, stdin, stdout, ct);
                }

                run.Context.Err.WriteLine();
                run.Context.Err.WriteLine("Console closed.");
            }
            else
            {
                await PipedAsync(socket, stdin, stdout, TimeSpan.FromSeconds(Math.Max(0, run.Get(drain))), ct);
            }

            return 0;
        });
        return command;
    }

    /// <summary>POST /servers/{id}/remote-consoles {"remote_console": {"protocol": "serial", "type": "serial"}} (compute 2.6+).</summary>
    public static async Task<string> UrlAsync(OpenStackSession session, string serverId, CancellationToken ct)
    {
        var body = new JsonObject { ["remote_console"] = new JsonObject { ["protocol"] = "serial", ["type"] = "serial" } };
        var reply = await session.PostAsync("compute", $"/servers/{serverId}/remote-consoles", body, ct);
        return (string?)reply?["remote_console"]?["url"] ?? throw new CliException("The remote-consoles reply has no url.");
    }

    private static string RedactToken(string url) =>
        url.Contains("token=", StringComparison.Ordinal) ? url[..(url.IndexOf("token=", StringComparison.Ordinal) + 6)] + "***" : url;

    /// <summary>With the terminal raw: keys go to the guest as typed until Ctrl-] or the server closes the console.</summary>
    private static async Task InteractiveAsync(ClientWebSocket socket, Stream stdin, Stream stdout, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receive = ReceiveAsync(socket, stdout, () => { }, stop.Token);
        var send = SendAsync(stdin, socket, stopAtEscape: true, stop.Token);
        await Task.WhenAny(receive, send);
        // The stdin read may stay blocked in the kernel; it is abandoned, not awaited.
        await CloseAsync(socket, receive, stop);
    }

    /// <summary>Sends stdin until it ends, then reads until the console has been quiet for <paramref name="drain"/>.</summary>
    private static async Task PipedAsync(ClientWebSocket socket, Stream stdin, Stream stdout, TimeSpan drain, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lastOutput = Stopwatch.GetTimestamp();
        var receive = ReceiveAsync(socket, stdout, () => Interlocked.Exchange(ref lastOutput, Stopwatch.GetTimestamp()), stop.Token);
        var send = SendAsync(stdin, socket, stopAtEscape: false, stop.Token);
        await Task.WhenAny(receive, send);
        if (!receive.IsCompleted)
        {
            await send;
            var ended = Stopwatch.GetTimestamp();
            while (!receive.IsCompleted
                && Stopwatch.GetElapsedTime(Math.Max(ended, Interlocked.Read(ref lastOutput))) < drain
                && Stopwatch.GetElapsedTime(ended) < s_maxDrain)
            {
                await Task.WhenAny(receive, Task.Delay(100, ct));
            }
        }

        await CloseAsync(socket, receive, stop);
    }

    /// <summary>Console output to stdout as it comes; returns when the server closes the websocket.</summary>
    private static async Task ReceiveAsync(WebSocket socket, Stream stdout, Action onOutput, CancellationToken ct)
    {
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, ct);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                await stdout.WriteAsync(buffer.AsMemory(0, received.Count), ct);
                await stdout.FlushAsync(ct);
                onOutput();
            }
        }
        catch (WebSocketException)
        {
            // The connection dropped: the session is over.
        }
    }

    /// <summary>Input to the guest; returns at the end of input or (on a terminal) at Ctrl-].</summary>
    private static async Task SendAsync(Stream stdin, WebSocket socket, bool stopAtEscape, CancellationToken ct)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await stdin.ReadAsync(buffer, ct);
                if (read == 0)
                {
                    return;
                }

                var escape = stopAtEscape ? Array.IndexOf(buffer, Escape, 0, read) : -1;
                var count = escape >= 0 ? escape : read;
                if (count > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, count), WebSocketMessageType.Binary, true, ct);
                }

                if (escape >= 0)
                {
                    return;
                }
            }
        }
        catch (WebSocketException)
        {
            // The server closed the console while we were sending.
        }
    }

    /// <summary>Sends our close, waits a little for the server's, then gives up on the receive loop.</summary>
    private static async Task CloseAsync(ClientWebSocket socket, Task receive, CancellationTokenSource stop)
    {
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client done", timeout.Token);
            }

            await receive.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
            // Closing is best effort: the process is about to end the connection anyway.
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await receive;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
