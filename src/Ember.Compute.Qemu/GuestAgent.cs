using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

/// <summary>
/// Client of qemu-guest-agent over the instance's virtio-serial chardev socket. The agent has no request ids and
/// keeps answering requests it received before we (re)connected, so every fresh connection is resynchronised
/// with <c>guest-sync-delimited</c> and a random id, discarding everything up to the matching reply. A request
/// that times out drops the connection, so a late reply can never be taken for the next one.
/// </summary>
public sealed class GuestAgent : IAsyncDisposable
{
    private const byte Delimiter = 0xFF;
    private static readonly TimeSpan s_minimumRequestTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_syncInterval = TimeSpan.FromSeconds(1);

    private readonly string _socketPath;
    private readonly string _serverId;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private Connection? _connection;
    private int _resetSinceSync;

    internal GuestAgent(string socketPath, string serverId, ILogger logger)
    {
        _socketPath = socketPath;
        _serverId = serverId;
        _logger = logger;
    }

    /// <summary>
    /// The guest was reset: the next request opens a fresh connection and synchronises with the new agent, so
    /// <see cref="PingAsync"/> after a reboot means the rebooted guest's agent answered.
    /// </summary>
    public void MarkGuestReset() => Volatile.Write(ref _resetSinceSync, 1);

    /// <summary>True once the agent answers a sync within <paramref name="timeout"/>; false if it never does.</summary>
    public async Task<bool> PingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _lock.WaitAsync(cancellationToken);
            try
            {
                await EnsureSyncedAsync(timeout, cancellationToken);
                return true;
            }
            finally
            {
                _lock.Release();
            }
        }
        catch (GuestAgentUnavailableException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs <paramref name="path"/> in the guest (<c>guest-exec</c> with captured output) and polls
    /// <c>guest-exec-status</c> until it exits or <paramref name="timeout"/> passes. On timeout the command is
    /// left running in the guest (the agent cannot kill it) and the result says <see cref="GuestExecResult.TimedOut"/>.
    /// </summary>
    /// <exception cref="GuestAgentUnavailableException">No agent answered within the timeout.</exception>
    public async Task<GuestExecResult> ExecAsync(string path, IReadOnlyList<string> args, string? stdin, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var arguments = new JsonObject
        {
            ["path"] = path,
            ["arg"] = new JsonArray([.. args.Select(a => (JsonNode?)JsonValue.Create(a))]),
            ["capture-output"] = true,
        };
        if (stdin is not null)
        {
            arguments["input-data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(stdin));
        }

        var started = await RequestAsync("guest-exec", arguments, RequestTimeout(deadline), cancellationToken);
        var pid = started.GetProperty("pid").GetInt64();
        Log.Agent(_logger, _serverId, $"guest-exec {path} -> pid {pid}");

        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var status = await RequestAsync("guest-exec-status", new JsonObject { ["pid"] = pid }, RequestTimeout(deadline), cancellationToken);
            if (status.GetProperty("exited").GetBoolean())
            {
                var exitCode = status.TryGetProperty("exitcode", out var code) ? code.GetInt32()
                    : status.TryGetProperty("signal", out var signal) ? 128 + signal.GetInt32()
                    : -1;
                return new GuestExecResult(exitCode, Decode(status, "out-data"), Decode(status, "err-data"), TimedOut: false);
            }

            if (DateTime.UtcNow + delay >= deadline)
            {
                Log.Agent(_logger, _serverId, $"pid {pid} still running after {timeout.TotalSeconds:0.#} s");
                return new GuestExecResult(-1, "", "", TimedOut: true);
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }

    /// <summary>Sets a guest user's password (<c>guest-set-user-password</c>, plain text, base64 on the wire).</summary>
    public async Task SetUserPasswordAsync(string user, string password, CancellationToken cancellationToken)
    {
        await RequestAsync(
            "guest-set-user-password",
            new JsonObject
            {
                ["username"] = user,
                ["password"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(password)),
                ["crypted"] = false,
            },
            s_requestTimeout,
            cancellationToken);
    }

    /// <summary>
    /// Runs any agent command and returns its <c>return</c> value; waits up to <paramref name="timeout"/> for the
    /// agent to come up first. An error reply throws <see cref="QemuException"/>.
    /// </summary>
    public async Task<JsonElement> RequestAsync(string command, JsonObject? arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            var connection = await EnsureSyncedAsync(timeout, cancellationToken);
            try
            {
                await connection.WriteAsync(Serialize(command, arguments), cancellationToken);
                using var reply = await connection.ReadMessageAsync(timeout < s_requestTimeout ? timeout : s_requestTimeout, cancellationToken);
                var root = reply.RootElement;
                if (root.TryGetProperty("error", out var error))
                {
                    var desc = error.TryGetProperty("desc", out var d) ? d.GetString() : error.GetRawText();
                    throw new QemuException($"guest agent {command} failed: {desc}");
                }

                return root.TryGetProperty("return", out var value) ? value.Clone() : default;
            }
            catch (Exception ex) when (ex is not QemuException)
            {
                await DropConnectionAsync();
                if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                throw new GuestAgentUnavailableException($"guest agent did not answer {command}: {ex.Message}", ex);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync();
        try
        {
            await DropConnectionAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<Connection> EnsureSyncedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _resetSinceSync, 0) != 0)
        {
            await DropConnectionAsync();
        }

        if (_connection is { } existing)
        {
            return existing;
        }

        var deadline = DateTime.UtcNow + timeout;
        Connection? connection = null;
        try
        {
            connection = await Connection.OpenAsync(_socketPath, cancellationToken);
            // Resend the sync every second: before the agent starts, our bytes wait in the channel and it
            // answers each sync once it is up; only the reply carrying the latest id counts.
            while (true)
            {
                var id = Random.Shared.NextInt64(1, long.MaxValue);
                var sync = Serialize("guest-sync-delimited", new JsonObject { ["id"] = id });
                // 0xFF first: it resets the agent's JSON parser after whatever half-message came before.
                await connection.WriteAsync((byte[])[Delimiter, .. sync], cancellationToken);
                var interval = Remaining(deadline) < s_syncInterval ? Remaining(deadline) : s_syncInterval;
                if (await connection.WaitForSyncAsync(id, interval, cancellationToken))
                {
                    Log.Agent(_logger, _serverId, "synchronised");
                    _connection = connection;
                    return connection;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw new GuestAgentUnavailableException(
                        $"the guest agent did not answer within {timeout.TotalSeconds:0.#} s (the guest has no qemu-guest-agent, or it is not up yet)");
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw new GuestAgentUnavailableException($"cannot reach the guest agent socket: {ex.Message}", ex);
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw;
        }
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// How long one agent round trip may take: what is left of the command's time, but never less than a few
    /// seconds. The command's timeout bounds the wait for the command; a loaded host must not turn a late
    /// poll into "agent unavailable".
    /// </summary>
    private static TimeSpan RequestTimeout(DateTime deadline)
    {
        var left = Remaining(deadline);
        return left > s_minimumRequestTimeout ? left : s_minimumRequestTimeout;
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static string Decode(JsonElement status, string property) =>
        status.TryGetProperty(property, out var data) && data.GetString() is { } base64
            ? Encoding.UTF8.GetString(Convert.FromBase64String(base64))
            : "";

    private static byte[] Serialize(string command, JsonObject? arguments)
    {
        var message = new JsonObject { ["execute"] = command };
        if (arguments is not null)
        {
            message["arguments"] = arguments.DeepClone();
        }

        return Encoding.UTF8.GetBytes(message.ToJsonString() + "\n");
    }

    /// <summary>One socket connection with a line buffer; replies are one JSON object per line, maybe after 0xFF.</summary>
    private sealed class Connection : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly ArrayBufferWriter<byte> _buffer = new(4096);
        private readonly byte[] _chunk = new byte[8192];

        private Connection(Socket socket) => _socket = socket;

        public static async Task<Connection> OpenAsync(string path, CancellationToken cancellationToken)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                return new Connection(socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            while (!data.IsEmpty)
            {
                var sent = await _socket.SendAsync(data, SocketFlags.None, cancellationToken);
                data = data[sent..];
            }
        }

        /// <summary>Reads replies until the one to sync <paramref name="id"/>; false if none within <paramref name="timeout"/>.</summary>
        public async Task<bool> WaitForSyncAsync(long id, TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            try
            {
                while (true)
                {
                    using var message = await ReadLineAsync(limit.Token);
                    if (message?.RootElement is { ValueKind: JsonValueKind.Object } root
                        && root.TryGetProperty("return", out var value)
                        && value.ValueKind == JsonValueKind.Number
                        && value.TryGetInt64(out var returned) && returned == id)
                    {
                        return true;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }

        public async Task<JsonDocument> ReadMessageAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            while (true)
            {
                try
                {
                    if (await ReadLineAsync(limit.Token) is { } message)
                    {
                        return message;
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"no reply within {timeout.TotalSeconds:0.#} s");
                }
            }
        }

        /// <summary>The next line parsed as JSON, or null for a line that is not (e.g. noise before a 0xFF).</summary>
        private async Task<JsonDocument?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var index = _buffer.WrittenSpan.IndexOf((byte)'\n');
                if (index >= 0)
                {
                    var line = _buffer.WrittenSpan[..index].ToArray();
                    var rest = _buffer.WrittenSpan[(index + 1)..].ToArray();
                    _buffer.Clear();
                    _buffer.Write(rest);
                    // A delimited reply starts with 0xFF; anything before the last 0xFF is stale.
                    var start = Array.LastIndexOf(line, Delimiter) + 1;
                    try
                    {
                        return JsonDocument.Parse(line.AsMemory(start));
                    }
                    catch (JsonException)
                    {
                        return null;
                    }
                }

                var read = await _socket.ReceiveAsync(_chunk, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    throw new IOException("guest agent socket closed");
                }

                _buffer.Write(_chunk.AsSpan(0, read));
            }
        }

        public ValueTask DisposeAsync()
        {
            _socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
