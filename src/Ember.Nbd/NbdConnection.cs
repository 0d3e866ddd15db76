using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ember.Nbd;

/// <summary>One client connection: handshake, then the transmission loop, over a pair of pipes on the socket.</summary>
internal sealed partial class NbdConnection
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
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
        _stream = new NetworkStream(socket, ownsSocket: true);
        // Large read buffers: a 1 MiB WRITE arrives in a few reads rather than 256 pages.
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
    }

    public long Id { get; }

    /// <summary>Runs the connection to its end; never throws.</summary>
    public async Task RunAsync()
    {
        try
        {
            using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token))
            {
                handshakeTimeout.CancelAfter(_options.HandshakeTimeout);
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
        _socket.Dispose();
    }
}
