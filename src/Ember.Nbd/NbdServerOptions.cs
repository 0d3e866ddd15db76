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

    /// <summary>
    /// How a connection does its socket I/O. <see cref="NbdConnectionModel.DedicatedThread"/> (the default) gives each
    /// connection its own thread with blocking reads and no thread-pool hop per request; <see cref="NbdConnectionModel.Pipelines"/>
    /// is the async loop over System.IO.Pipelines.
    /// </summary>
    public NbdConnectionModel ConnectionModel { get; set; } = NbdConnectionModel.DedicatedThread;

    /// <summary>A client that has not finished the handshake by then is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// TLS for the TCP listener. When set, TCP clients must negotiate NBD_OPT_STARTTLS and present a client
    /// certificate issued by its CA before anything else (the spec's FORCEDTLS mode). Null means plain TCP,
    /// which only trusted networks should see. The unix socket never uses TLS.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public NbdTlsCredentials? TcpTls { get; set; }

    /// <summary>Open TCP connections (any state); beyond it a new one is closed before the greeting.</summary>
    public int MaxTcpConnections { get; set; } = 1024;

    /// <summary>Open TCP connections from one source address; beyond it a new one is closed before the greeting.</summary>
    public int MaxTcpConnectionsPerSource { get; set; } = 256;
}

/// <summary>How an NBD connection runs (see docs/nbd.md, "Connection loop").</summary>
public enum NbdConnectionModel
{
    /// <summary>
    /// One thread per connection: handshake and requests with blocking syscalls (recv, poll), page-cache reads and
    /// small writes done on that thread, replies sent from it; only I/O that may wait for the disk goes to the pool.
    /// </summary>
    DedicatedThread,

    /// <summary>An async request loop over a <see cref="System.IO.Pipelines.PipeReader"/>; every socket read completes on the thread pool.</summary>
    Pipelines,
}
