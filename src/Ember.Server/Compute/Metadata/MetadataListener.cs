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
/// and POST of a small body (<see cref="MaxPostBytes"/>: the guest's encrypted password) when a post handler is given;
/// one request per connection. The caller is the packet's source address on this network, which the answer function
/// maps to an instance; the guest's headers are ignored. Bounded: the request head (<see cref="MaxRequestBytes"/>), the
/// time to send it, the connections served at once and the requests per source address per second.
/// </summary>
public sealed partial class MetadataListener : IAsyncDisposable
{
    public const int MaxRequestBytes = 8 * 1024;
    public const int MaxConnections = 32;

    /// <summary>The largest POST body: Nova's password limit (four chunks of 255 characters).</summary>
    public const int MaxPostBytes = 4 * 255;

    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly Func<IPAddress, string, CancellationToken, Task<MetadataReply>> _answer;
    private readonly Func<IPAddress, string, byte[], CancellationToken, Task<MetadataReply>>? _post;
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
    /// <param name="post">The reply to a POST (source address, path, body); without it a POST is a 405.</param>
    public MetadataListener(string namespaceIdentity, Socket socket, Func<IPAddress, string, CancellationToken, Task<MetadataReply>> answer, ILogger logger,
        Func<IPAddress, string, byte[], CancellationToken, Task<MetadataReply>>? post = null)
    {
        NamespaceIdentity = namespaceIdentity;
        _socket = socket;
        _answer = answer;
        _post = post;
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
            var (method, path, body) = await ReadRequestAsync(client, _post is not null, timeout.Token);
            MetadataReply reply;
            if (method is null || path is null)
            {
                reply = MetadataReply.Text(400, "400 Bad Request\n");
            }
            else if (method is not "GET" and not "HEAD" && (method != "POST" || _post is null))
            {
                reply = MetadataReply.Text(405, "405 Method Not Allowed\n");
            }
            else if (method == "POST" && body is null)
            {
                reply = MetadataReply.Text(400, "400 Bad Request\n\nRequest is too large.\n");
            }
            else
            {
                using var lease = _rate.AttemptAcquire(source);
                reply = !lease.IsAcquired ? MetadataReply.Text(429, "429 Too Many Requests\n")
                    : method == "POST" ? await _post!(source, path, body!, timeout.Token)
                    : await _answer(source, path, timeout.Token);
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

    /// <summary>
    /// The method and path (query and fragment cut off) of the request line; nulls when the head is malformed or too big.
    /// A POST's body (when <paramref name="readBody"/>) comes by its Content-Length, null when that is missing or over
    /// <see cref="MaxPostBytes"/>.
    /// </summary>
    private static async Task<(string? Method, string? Path, byte[]? Body)> ReadRequestAsync(Socket client, bool readBody, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxRequestBytes);
        try
        {
            var length = 0;
            int headEnd;
            while (true)
            {
                var read = await client.ReceiveAsync(buffer.AsMemory(length, MaxRequestBytes - length), SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return (null, null, null);
                }

                length += read;
                if ((headEnd = HeadEnd(buffer.AsSpan(0, length))) >= 0)
                {
                    break;
                }

                if (length == MaxRequestBytes)
                {
                    return (null, null, null);
                }
            }

            var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
            var lines = head.Split('\n');
            var line = lines[0].TrimEnd('\r').Split(' ');
            if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !line[1].StartsWith('/'))
            {
                return (null, null, null);
            }

            var path = Uri.UnescapeDataString(line[1].Split('?', '#')[0]);
            if (line[0] != "POST" || !readBody)
            {
                return (line[0], path, null);
            }

            var contentLength = lines.Skip(1).Select(l => l.Split(':', 2)).Where(h => h.Length == 2 && h[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                .Select(h => int.TryParse(h[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).FirstOrDefault(-1);
            if (contentLength is < 0 or > MaxPostBytes)
            {
                return (line[0], path, null);
            }

            var body = new byte[contentLength];
            var buffered = Math.Min(length - headEnd, contentLength);
            buffer.AsSpan(headEnd, buffered).CopyTo(body);
            for (var have = buffered; have < contentLength;)
            {
                var read = await client.ReceiveAsync(body.AsMemory(have), SocketFlags.None, cancellationToken);
                have += read > 0 ? read : throw new IOException("The client closed the connection before its body ended.");
            }

            return (line[0], path, body);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Where the head ends (past its blank line), or -1 while it has not.</summary>
    private static int HeadEnd(ReadOnlySpan<byte> received)
    {
        var crlf = received.IndexOf("\r\n\r\n"u8);
        var lf = received.IndexOf("\n\n"u8);
        return crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    }

    private static async Task WriteReplyAsync(Socket client, MetadataReply reply, bool head, CancellationToken cancellationToken)
    {
        var reason = reply.Status switch
        {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
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
