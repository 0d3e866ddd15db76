using System.Net;

namespace Ember.Nbd;

/// <summary>Where the NBD server listens and how much each connection may have in flight.</summary>
public sealed class NbdServerOptions
{
    /// <summary>Unix socket path (created with mode 0600; a stale file is replaced).</summary>
    public string? UnixSocketPath { get; set; }

    /// <summary>Optional TCP endpoint; port 0 picks an ephemeral port (see <see cref="NbdServer.BoundTcpEndPoint"/>).</summary>
    public IPEndPoint? TcpEndPoint { get; set; }

    /// <summary>Requests read but not yet replied per connection; beyond it the server stops reading (back-pressure).</summary>
    public int MaxInFlightPerConnection { get; set; } = 64;

    /// <summary>
    /// READ/WRITE buffer bytes per connection (at least 32 MiB, one maximal request): with 64 requests of
    /// 32 MiB a single client could otherwise pin 2 GiB.
    /// </summary>
    public long MaxInFlightBytesPerConnection { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Do small non-FUA WRITEs (up to 64 KiB) synchronously on the request loop when the file system refuses
    /// RWF_NOWAIT writes. Saves a thread-pool round trip per write, but a write that blocks (dirty-page
    /// throttling, a stalled disk) then stalls that connection's loop, or with inline socket completions an
    /// epoll thread. Off by default.
    /// </summary>
    public bool InlineBufferedWrites { get; set; }

    /// <summary>A client that has not finished the handshake by then is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
