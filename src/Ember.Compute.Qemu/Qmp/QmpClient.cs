using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu.Qmp;

/// <summary>
/// A QMP client over a unix socket: greeting, <c>qmp_capabilities</c>, id-correlated commands and an event stream.
/// One reader loop completes replies and dispatches events; when the connection drops every pending
/// command and event wait fails with <see cref="QmpDisconnectedException"/> instead of hanging.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, Pending> _pending = new();
    private readonly List<EventWaiter> _waiters = [];
    private readonly Lock _stateLock = new();
    private readonly TaskCompletionSource<JsonElement> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;
    private bool _isClosed;
    private Exception? _closeReason;

    private QmpClient(Socket socket, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream);
        _logger = logger;
    }

    /// <summary>Upper bound for a command when the caller's token never fires.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The greeting's <c>QMP</c> object (version, capabilities).</summary>
    public JsonElement Greeting { get; private set; }

    /// <summary>Completes when the connection has closed, for whatever reason.</summary>
    public Task Completion => _closed.Task;

    /// <summary>Raised on the reader loop for every event; handlers must be quick and must not block.</summary>
    public event Action<QmpEvent>? EventReceived;

    /// <summary>Connects, reads the greeting and leaves capabilities negotiation mode.</summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, ILogger logger, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var client = new QmpClient(socket, logger);
        try
        {
            client._readLoop = client.ReadLoopAsync();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(client.DefaultTimeout);
            client.Greeting = await client._greeting.Task.WaitAsync(timeout.Token);
            await client.ExecuteAsync("qmp_capabilities", null, cancellationToken);
            return client;
        }
        catch (Exception ex)
        {
            await client.DisposeAsync();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"QMP greeting not received on {socketPath}", ex);
            }

            throw;
        }
    }

    /// <summary>
    /// Runs a command and returns its <c>return</c> value. Throws <see cref="QmpErrorException"/> on an error reply,
    /// <see cref="QmpDisconnectedException"/> if QEMU goes away, <see cref="TimeoutException"/> after <see cref="DefaultTimeout"/>.
    /// </summary>
    public Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, CancellationToken cancellationToken = default) =>
        ExecuteAsync(command, arguments, DefaultTimeout, cancellationToken);

    /// <inheritdoc cref="ExecuteAsync(string, JsonObject?, CancellationToken)"/>
    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextId);
        var pending = new Pending(command);
        lock (_stateLock)
        {
            if (_isClosed)
            {
                throw Disconnected(command);
            }

            _pending[id] = pending;
        }

        try
        {
            var message = Serialize(command, arguments, id);
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                // Not cancellable once started: half a command would desynchronise the stream.
                await _stream.WriteAsync(message, CancellationToken.None);
            }
            catch (IOException ex)
            {
                throw new QmpDisconnectedException($"QMP connection lost while sending {command}", ex);
            }
            catch (ObjectDisposedException ex)
            {
                throw new QmpDisconnectedException($"QMP connection closed while sending {command}", ex);
            }
            finally
            {
                _writeLock.Release();
            }

            try
            {
                return await pending.Completion.Task.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"QMP {command} got no reply within {timeout.TotalSeconds:0.#} s");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Waits for the next event called <paramref name="name"/> that satisfies <paramref name="match"/>.
    /// The wait is registered before this method returns, so call it before sending the command that
    /// causes the event and await it afterwards.
    /// </summary>
    public Task<QmpEvent> WaitForEventAsync(string name, Func<QmpEvent, bool>? match = null, CancellationToken cancellationToken = default)
    {
        var waiter = new EventWaiter(name, match);
        lock (_stateLock)
        {
            if (_isClosed)
            {
                return Task.FromException<QmpEvent>(Disconnected("waiting for event " + name));
            }

            _waiters.Add(waiter);
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() =>
            {
                lock (_stateLock)
                {
                    _waiters.Remove(waiter);
                }

                waiter.Completion.TrySetCanceled(cancellationToken);
            });
            _ = waiter.Completion.Task.ContinueWith(
                _ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return waiter.Completion.Task;
    }

    public async ValueTask DisposeAsync()
    {
        Close(new QmpDisconnectedException("QMP client disposed"));
        await _shutdown.CancelAsync();
        _socket.Dispose();
        try
        {
            await _readLoop;
        }
        catch
        {
            // The loop reports through Close; nothing more to say here.
        }

        _shutdown.Dispose();
        _writeLock.Dispose();
    }

    private static byte[] Serialize(string command, JsonObject? arguments, long id)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments");
                arguments.WriteTo(writer);
            }

            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private async Task ReadLoopAsync()
    {
        Exception reason = new QmpDisconnectedException("QMP connection closed by QEMU");
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(_shutdown.Token);
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, out var line))
                {
                    Dispatch(line);
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = new QmpDisconnectedException("QMP client disposed");
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            reason = new QmpDisconnectedException("QMP connection lost: " + ex.Message, ex);
        }
        catch (Exception ex)
        {
            Log.QmpReaderFailed(_logger, ex);
            reason = new QmpDisconnectedException("QMP reader failed: " + ex.Message, ex);
        }
        finally
        {
            await _reader.CompleteAsync();
            Close(reason);
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var position = buffer.PositionOf((byte)'\n');
        if (position is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, position.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
        return true;
    }

    private void Dispatch(ReadOnlySequence<byte> line)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!JsonDocument.TryParseValue(ref reader, out var parsed))
            {
                return; // blank line
            }

            document = parsed;
        }
        catch (JsonException ex)
        {
            Log.QmpBadMessage(_logger, Encoding.UTF8.GetString(line), ex);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            if (root.TryGetProperty("QMP", out var greeting))
            {
                _greeting.TrySetResult(greeting.Clone());
            }
            else if (root.TryGetProperty("event", out var eventName))
            {
                DispatchEvent(root, eventName.GetString() ?? "");
            }
            else if (root.TryGetProperty("id", out var idElement) && idElement.TryGetInt64(out var id))
            {
                if (!_pending.TryGetValue(id, out var pending))
                {
                    return; // the caller gave up (timeout or cancellation)
                }

                if (root.TryGetProperty("return", out var value))
                {
                    pending.Completion.TrySetResult(value.Clone());
                }
                else if (root.TryGetProperty("error", out var error))
                {
                    pending.Completion.TrySetException(new QmpErrorException(
                        pending.Command,
                        error.TryGetProperty("class", out var c) ? c.GetString() ?? "" : "",
                        error.TryGetProperty("desc", out var d) ? d.GetString() ?? "" : ""));
                }
            }
            else
            {
                // An error without id: QEMU could not parse what we sent. Nothing to correlate it with.
                Log.QmpUncorrelated(_logger, root.GetRawText());
            }
        }
    }

    private void DispatchEvent(JsonElement root, string name)
    {
        var data = root.TryGetProperty("data", out var d) ? d.Clone() : s_emptyObject;
        var timestamp = DateTimeOffset.UtcNow;
        if (root.TryGetProperty("timestamp", out var ts)
            && ts.TryGetProperty("seconds", out var seconds) && seconds.TryGetInt64(out var s)
            && ts.TryGetProperty("microseconds", out var micros) && micros.TryGetInt64(out var us))
        {
            timestamp = DateTimeOffset.FromUnixTimeSeconds(s).AddTicks(us * 10);
        }

        var qmpEvent = new QmpEvent(name, data, timestamp);
        Log.QmpEvent(_logger, name, data.GetRawText());

        List<EventWaiter>? matched = null;
        lock (_stateLock)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var waiter = _waiters[i];
                if (waiter.Name == name && (waiter.Match is null || waiter.Match(qmpEvent)))
                {
                    (matched ??= []).Add(waiter);
                    _waiters.RemoveAt(i);
                }
            }
        }

        // Handlers first: whoever awaited the event then sees the state the handlers updated.
        try
        {
            EventReceived?.Invoke(qmpEvent);
        }
        catch (Exception ex)
        {
            Log.QmpEventHandlerFailed(_logger, name, ex);
        }

        if (matched is not null)
        {
            foreach (var waiter in matched)
            {
                waiter.Completion.TrySetResult(qmpEvent);
            }
        }
    }

    private void Close(Exception reason)
    {
        List<EventWaiter> waiters;
        lock (_stateLock)
        {
            if (_isClosed)
            {
                return;
            }

            _isClosed = true;
            _closeReason = reason;
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var pending in _pending.Values)
        {
            pending.Completion.TrySetException(new QmpDisconnectedException(
                $"QMP connection closed before {pending.Command} was answered ({reason.Message})", reason));
        }

        foreach (var waiter in waiters)
        {
            waiter.Completion.TrySetException(new QmpDisconnectedException(
                $"QMP connection closed while waiting for event {waiter.Name} ({reason.Message})", reason));
        }

        _greeting.TrySetException(reason);
        _closed.TrySetResult();
    }

    private QmpDisconnectedException Disconnected(string what) =>
        new($"QMP connection is closed, cannot run {what} ({_closeReason?.Message})", _closeReason);

    private static readonly JsonElement s_emptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    private sealed class Pending(string command)
    {
        public string Command { get; } = command;

        public TaskCompletionSource<JsonElement> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class EventWaiter(string name, Func<QmpEvent, bool>? match)
    {
        public string Name { get; } = name;

        public Func<QmpEvent, bool>? Match { get; } = match;

        public TaskCompletionSource<QmpEvent> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
