using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute.Metadata;

/// <summary>
/// A small HTTP/1.1 server on one network's metadata socket (169.254.169.254:80 inside its DHCP namespace): GET and HEAD,
/// one request per connection. The caller is the packet's source address on this network, which the answer function
/// maps to an instance; the guest's headers are ignored. Bounded: the request head (<see cref="MaxRequestBytes"/>), the
/// time to send it, the connections served at once and the requests per source address per second.
/// </summary>
public sealed partial class MetadataListener : IAsyncDisposable
{
    public const int MaxRequestBytes = 8 * 1024;
    public const int MaxConnections = 32;

    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly Func<IPAddress, string, CancellationToken, Task<MetadataReply>> _answer;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _connections = new(MaxConnections, MaxConnections);

    // Per guest address: 20 requests a second, bursts of 100 (cloud-init walks the whole tree at boot).
    private readonly PartitionedRateLimiter<IPAddress> _rate = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
        RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 100,
            TokensPerPeriod = 20,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    private readonly Task _accepting;

    /// <param name="socket">A listening socket; the listener owns it from now on.</param>
    /// <param name="answer">The reply to (source address, path).</param>
    public MetadataListener(string namespaceIdentity, Socket socket, Func<IPAddress, string, CancellationToken, Task<MetadataReply>> answer, ILogger logger)
    {
        NamespaceIdentity = namespaceIdentity;
        _socket = socket;
        _answer = answer;
        _logger = logger;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The namespace the socket was opened in (<c>net:[inode]</c>).</summary>
    public string NamespaceIdentity { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(_logger, ex.Message);
                continue;
            }

            if (!_connections.Wait(0))
            {
                // Full: the guest retries; a slow client must not hold more than its share.
                client.Dispose();
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(s_requestTimeout);
            var source = ((IPEndPoint)client.RemoteEndPoint!).Address.MapToIPv4();
            var (method, path) = await ReadRequestAsync(client, timeout.Token);
            MetadataReply reply;
            if (method is null || path is null)
            {
                reply = MetadataReply.Text(400, "400 Bad Request\n");
            }
            else if (method is not "GET" and not "HEAD")
            {
                reply = MetadataReply.Text(405, "405 Method Not Allowed\n");
            }
            else
            {
                using var lease = _rate.AttemptAcquire(source);
                reply = lease.IsAcquired
                    ? await _answer(source, path, timeout.Token)
                    : MetadataReply.Text(429, "429 Too Many Requests\n");
            }

            await WriteReplyAsync(client, reply, method == "HEAD", timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // A client that went away or was too slow: nothing to answer.
        }
        catch (Exception ex)
        {
            LogRequestFailed(_logger, ex);
            try
            {
                await WriteReplyAsync(client, MetadataReply.Text(500, "500 Internal Server Error\n"), head: false, CancellationToken.None);
            }
            catch (Exception inner) when (inner is SocketException or IOException or ObjectDisposedException)
            {
            }
        }
        finally
        {
            client.Dispose();
            _connections.Release();
        }
    }

    /// <summary>The method and path (query and fragment cut off) of the request line; nulls when the head is malformed or too big.</summary>
    private static async Task<(string? Method, string? Path)> ReadRequestAsync(Socket client, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxRequestBytes);
        try
        {
            var length = 0;
            while (true)
            {
                var read = await client.ReceiveAsync(buffer.AsMemory(length, MaxRequestBytes - length), SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return (null, null);
                }

                length += read;
                if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0 || buffer.AsSpan(0, length).IndexOf("\n\n"u8) >= 0)
                {
                    break;
                }

                if (length == MaxRequestBytes)
                {
                    return (null, null);
                }
            }

            var head = Encoding.ASCII.GetString(buffer, 0, length);
            var line = head[..head.IndexOf('\n', StringComparison.Ordinal)].TrimEnd('\r').Split(' ');
            if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !line[1].StartsWith('/'))
            {
                return (null, null);
            }

            var path = line[1].Split('?', '#')[0];
            return (line[0], Uri.UnescapeDataString(path));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteReplyAsync(Socket client, MetadataReply reply, bool head, CancellationToken cancellationToken)
    {
        var reason = reply.Status switch
        {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            429 => "Too Many Requests",
            _ => "Internal Server Error",
        };
        var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {reply.Status} {reason}\r\nContent-Type: {reply.ContentType}\r\nContent-Length: {reply.Body.Length}\r\nConnection: close\r\n\r\n"));
        await client.SendAsync(header, SocketFlags.None, cancellationToken);
        if (!head)
        {
            await client.SendAsync(reply.Body, SocketFlags.None, cancellationToken);
        }

        client.Shutdown(SocketShutdown.Send);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _accepting;
        _rate.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Metadata service: accept failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Metadata service: request failed")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception);
}
