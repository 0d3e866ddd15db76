using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ember.Nbd;

/// <summary>Ember's NBD server: a unix socket (mode 0600) and optionally TCP, serving the exports of <see cref="Exports"/>.</summary>
public sealed class NbdServer : IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, (NbdConnection Connection, Task Run)> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly Dictionary<IPAddress, int> _perSource = [];
    private int _tcpConnections;
    private long _nextConnectionId;
    private int _disposed;

    public NbdServer(NbdServerOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.UnixSocketPath is null && options.TcpEndPoint is null)
            throw new ArgumentException("Give a unix socket path, a TCP endpoint, or both.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxInFlightPerConnection, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxTcpConnections, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxTcpConnectionsPerSource, 1, nameof(options));
        _options = options;
        _logger = loggerFactory.CreateLogger<NbdServer>();
    }

    /// <summary>The exports this server offers; add and remove at any time.</summary>
    public NbdExportRegistry Exports { get; } = new();

    /// <summary>The TCP endpoint actually bound (the real port when 0 was asked), after <see cref="StartAsync"/>.</summary>
    public IPEndPoint? BoundTcpEndPoint { get; private set; }

    /// <summary>The unix socket path, after <see cref="StartAsync"/>.</summary>
    public string? UnixSocketPath { get; private set; }

    /// <summary>Connections currently open (handshake or transmission).</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>TCP connections currently open, the number <see cref="NbdServerOptions.MaxTcpConnections"/> caps.</summary>
    public int TcpConnectionCount
    {
        get
        {
            lock (_perSource)
                return _tcpConnections;
        }
    }

    /// <summary>Binds the sockets and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_options.UnixSocketPath is { } path)
        {
            path = Path.GetFullPath(path);
            // A stale socket from a previous run would make bind fail.
            if (File.Exists(path) && (File.GetAttributes(path) & FileAttributes.Directory) == 0)
                File.Delete(path);
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listeners.Add(unix);
            unix.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            unix.Listen(512);
            UnixSocketPath = path;
            Log.Listening(_logger, "unix:" + path);
            _acceptLoops.Add(AcceptLoopAsync(unix, tcp: false));
        }
        if (_options.TcpEndPoint is { } endPoint)
        {
            var tcp = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            _listeners.Add(tcp);
            tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            tcp.Bind(endPoint);
            tcp.Listen(512);
            BoundTcpEndPoint = (IPEndPoint)tcp.LocalEndPoint!;
            Log.Listening(_logger, "tcp:" + BoundTcpEndPoint + (_options.TcpTls is null ? " (plain, no TLS)" : " (TLS with client certificates)"));
            _acceptLoops.Add(AcceptLoopAsync(tcp, tcp: true));
        }
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync(Socket listener, bool tcp)
    {
        // Read once: a disposed listener (the server stopping) throws on LocalEndPoint.
        var endpoint = listener.LocalEndPoint?.ToString() ?? "?";
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stopping.IsCancellationRequested)
            {
                return; // stopping: disposing the listener ends a pending accept with one of several errors
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.TooManyOpenSockets)
            {
                // One failed accept (client gone, or fd exhaustion) must not stop the server.
                await Task.Delay(10);
                continue;
            }
            catch (Exception e)
            {
                Log.AcceptFailed(_logger, e, endpoint);
                return;
            }
            IPAddress? source = null;
            if (tcp)
            {
                source = SourceOf(socket);
                if (!TryAdmit(source))
                {
                    // Over a cap: closed before the greeting, so an idle flood holds no more than the caps allow.
                    Log.ConnectionRefused(_logger, source.ToString());
                    socket.Dispose();
                    continue;
                }
                socket.NoDelay = true; // the spec: both ends SHOULD set TCP_NODELAY
            }
            var id = Interlocked.Increment(ref _nextConnectionId);
            var connection = new NbdConnection(id, socket, tcp, Exports, _options, _logger);
            Log.Accepted(_logger, id, source?.ToString() ?? "unix");
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[id] = (connection, RunConnectionAsync(connection, gate.Task, source));
            gate.SetResult();
            if (_stopping.IsCancellationRequested)
                connection.Abort();
        }
    }

    private async Task RunConnectionAsync(NbdConnection connection, Task registered, IPAddress? source)
    {
        await registered; // so the entry exists before it can be removed
        await Task.Yield(); // off the accept loop
        await connection.RunAsync();
        _connections.TryRemove(connection.Id, out _);
        if (source is not null)
            Release(source);
    }

    private static IPAddress SourceOf(Socket socket)
    {
        var address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    private bool TryAdmit(IPAddress source)
    {
        lock (_perSource)
        {
            if (_tcpConnections >= _options.MaxTcpConnections)
                return false;
            _perSource.TryGetValue(source, out var count);
            if (count >= _options.MaxTcpConnectionsPerSource)
                return false;
            _perSource[source] = count + 1;
            _tcpConnections++;
            return true;
        }
    }

    private void Release(IPAddress source)
    {
        lock (_perSource)
        {
            _tcpConnections--;
            if (_perSource.TryGetValue(source, out var count) && count > 1)
                _perSource[source] = count - 1;
            else
                _perSource.Remove(source);
        }
    }

    /// <summary>Stops listening, closes every connection, and closes every export's file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Cancel();
        foreach (var listener in _listeners)
            listener.Dispose();
        await Task.WhenAll(_acceptLoops);
        if (UnixSocketPath is not null)
        {
            try
            {
                File.Delete(UnixSocketPath);
            }
            catch (IOException)
            {
            }
        }
        var runs = new List<Task>();
        foreach (var (_, (connection, run)) in _connections)
        {
            connection.Abort();
            runs.Add(run);
        }
        await Task.WhenAll(runs);
        Exports.RemoveAll();
        _stopping.Dispose();
    }
}
