using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ember.Nbd;

/// <summary>One client connection: handshake, then the transmission loop, over a pair of pipes on the socket.</summary>
internal sealed partial class NbdConnection
{
    private readonly Socket _socket;
    private Stream _stream;
    private readonly bool _threaded;
    private readonly bool _blockingHandshake;
    private readonly NbdTlsCredentials? _tls;
    private PipeReader _input;
    private PipeWriter _output;
    private readonly NbdExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _aborted = new();
    private int _abortState;

    public NbdConnection(long id, Socket socket, bool tcp, NbdExportRegistry exports, NbdServerOptions options, ILogger logger)
    {
        Id = id;
        _socket = socket;
        _exports = exports;
        _options = options;
        _logger = logger;
        if (tcp && !OperatingSystem.IsWindows())
            _tls = options.TcpTls;
        // TLS lives in SslStream, so a TLS connection runs the async loop; a dedicated thread needs the raw socket.
        _threaded = options.ConnectionModel == NbdConnectionModel.DedicatedThread && _tls is null;
        // On TCP the handshake is async whatever the model: an idle or slow client holds a socket, not a thread.
        // The unix socket (0600, local clients only) keeps the thread from the start: one epoll-free fd.
        _blockingHandshake = _threaded && !tcp;
        // A blocking handshake never uses .NET's async socket operations (they would register the socket with epoll).
        _stream = _blockingHandshake ? new BlockingSocketStream(socket) : new NetworkStream(socket, ownsSocket: true);
        (_input, _output) = CreatePipes(_stream);
    }

    public long Id { get; }

    // Large read buffers: a 1 MiB WRITE arrives in a few reads rather than 256 pages.
    private static (PipeReader, PipeWriter) CreatePipes(Stream stream) => (
        PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true)),
        PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true)));

    /// <summary>Runs the connection to its end; never throws.</summary>
    public Task RunAsync() => _blockingHandshake ? OnOwnThread(static c => c.RunCoreAsync()) : RunCoreAsync();

    /// <summary>
    /// Runs <paramref name="body"/> on a new thread of the connection's own. Everything in it completes synchronously
    /// there (blocking stream and syscalls), except the final wait for replies still being sent by pool threads.
    /// </summary>
    private Task OnOwnThread(Func<NbdConnection, Task> body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(static state =>
        {
            var (connection, body, done) = ((NbdConnection, Func<NbdConnection, Task>, TaskCompletionSource))state!;
            try
            {
                body(connection).GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, maxStackSize: 256 * 1024) // shallow call chains; less than the default 1.5 MiB per connection
        {
            IsBackground = true,
            Name = $"nbd-conn-{Id}",
        };
        thread.Start((this, body, done));
        return done.Task;
    }

    private async Task RunCoreAsync()
    {
        try
        {
            using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token))
            {
                handshakeTimeout.CancelAfter(_options.HandshakeTimeout);
                // Blocking reads do not watch the token: on timeout close the socket, which wakes them.
                using var timeoutClose = _blockingHandshake
                    ? handshakeTimeout.Token.UnsafeRegister(static s => ((NbdConnection)s!).Abort(), this)
                    : default;
                if (!await HandshakeAsync(handshakeTimeout.Token))
                    return;
            }
            if (_threaded && !_blockingHandshake)
                await OnOwnThread(static c => c.TransmissionAsync()); // a thread only once the client is in transmission
            else
                await TransmissionAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Peer went away, export removed, server stopping, or handshake timeout: nothing to report.
        }
        catch (Exception e)
        {
            Log.ConnectionFailed(_logger, e, Id);
        }
        finally
        {
            _exportRegistration.Dispose();
            Abort();
            await CloseQuietlyAsync();
            _aborted.Dispose();
            Log.Closed(_logger, Id);
        }
    }

    private async Task CloseQuietlyAsync()
    {
        // The socket is already closed; completing the writer may try to flush leftovers into it.
        try
        {
            await _input.CompleteAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }
        try
        {
            await _output.CompleteAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }
        await _stream.DisposeAsync();
    }

    /// <summary>Closes the socket at once: pending reads and writes fail, the loops wind down.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _abortState, 1) != 0)
            return;
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        if (_threaded)
        {
            // Wakes a thread blocked in recv/poll/send on this socket (close alone does not, while it holds the fd).
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        _socket.Dispose();
    }
}
