using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ember.Nbd;

/// <summary>One client connection: handshake, then the transmission loop, over a pair of pipes on the socket.</summary>
internal sealed partial class NbdConnection
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly bool _threaded;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly NbdExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _aborted = new();
    private int _abortState;

    public NbdConnection(long id, Socket socket, NbdExportRegistry exports, NbdServerOptions options, ILogger logger)
    {
        Id = id;
        _socket = socket;
        _exports = exports;
        _options = options;
        _logger = logger;
        _threaded = options.ConnectionModel == NbdConnectionModel.DedicatedThread;
        // A dedicated thread never uses .NET's async socket operations (they would register the socket with epoll).
        _stream = _threaded ? new BlockingSocketStream(socket) : new NetworkStream(socket, ownsSocket: true);
        // Large read buffers: a 1 MiB WRITE arrives in a few reads rather than 256 pages.
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
    }

    public long Id { get; }

    /// <summary>Runs the connection to its end; never throws.</summary>
    public Task RunAsync()
    {
        if (!_threaded)
            return RunCoreAsync();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(static state =>
        {
            var (connection, done) = ((NbdConnection, TaskCompletionSource))state!;
            // Everything below completes synchronously on this thread (blocking stream), except the final wait
            // for replies still being sent by pool threads.
            connection.RunCoreAsync().GetAwaiter().GetResult();
            done.SetResult();
        }, maxStackSize: 256 * 1024) // shallow call chains; less than the default 1.5 MiB per connection
        {
            IsBackground = true,
            Name = $"nbd-conn-{Id}",
        };
        thread.Start((this, done));
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
                using var timeoutClose = _threaded
                    ? handshakeTimeout.Token.UnsafeRegister(static s => ((NbdConnection)s!).Abort(), this)
                    : default;
                if (!await HandshakeAsync(handshakeTimeout.Token))
                    return;
            }
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
