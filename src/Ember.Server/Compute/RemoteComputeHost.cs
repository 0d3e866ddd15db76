using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization.Metadata;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// A compute host on another machine, as its registry row describes it. Casts are rows of <see cref="HostMessageQueue"/>
/// that the host claims; calls go over HTTPS to the host's call listener (<see cref="HostCallServer"/>) with this
/// process's certificate, and the host's certificate must have the fingerprint the host registered. A host without a
/// call URL (an older Ember, or no Compute:HostListen) answers calls with 409.
/// </summary>
public sealed class RemoteComputeHost(string name, HostMessageQueue queue, HostCallClient calls, string? callUrl, string? certificateSha256) : IComputeHost
{
    /// <summary>Nova's rpc_response_timeout: how long a call may take, but for exec (its own timeout and this margin).</summary>
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);

    public string Name => name;

    /// <summary>The boot password goes to the host by call first (never into the queue), then the spawn is queued.</summary>
    public async Task SpawnAsync(SpawnServer message, CancellationToken cancellationToken)
    {
        await HandOverPasswordAsync(message.RequestId, message.ServerId, message.AdminPass, cancellationToken);
        await queue.EnqueueAsync(name, message);
    }

    /// <summary>As for a spawn: the rebuild's new password goes by call, the rebuild into the queue without it.</summary>
    public async Task RebuildAsync(RebuildServer message, CancellationToken cancellationToken)
    {
        await HandOverPasswordAsync(message.RequestId, message.ServerId, message.AdminPass, cancellationToken);
        await queue.EnqueueAsync(name, message);
    }

    private async Task HandOverPasswordAsync(string requestId, string serverId, string? adminPass, CancellationToken cancellationToken)
    {
        if (adminPass is { } password)
        {
            try
            {
                using var held = await CallAsync(HostCalls.BootPassword, requestId, new SetPasswordRequest(requestId, serverId, password),
                    ComputeHostJson.Default.SetPasswordRequest, s_callTimeout, cancellationToken);
            }
            catch (ApiException ex)
            {
                // Best effort, as Nova's admin password injection is: the server is built and the guest keeps its own password.
                calls.BootPasswordNotHandedOver(name, ex.Message);
            }
        }
    }

    public Task AttachVolumeAsync(AttachVolume message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public Task DetachVolumeAsync(DetachVolume message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public async Task AttachInterfaceAsync(AttachInterface message, CancellationToken cancellationToken)
    {
        using var reply = await CallAsync(HostCalls.AttachInterface, message.RequestId, message, ComputeHostJson.Default.AttachInterface, s_callTimeout,
            cancellationToken);
    }

    public Task DetachInterfaceAsync(DetachInterface message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public Task PowerAsync(PowerAction message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public Task SnapshotAsync(SnapshotServer message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public Task ResizeAsync(ResizeServer message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public Task ShelveAsync(ShelveServer message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    /// <summary>As for a rebuild: the rescue password goes by call, the rescue into the queue without it.</summary>
    public async Task RescueAsync(RescueServer message, CancellationToken cancellationToken)
    {
        await HandOverPasswordAsync(message.RequestId, message.ServerId, message.AdminPass, cancellationToken);
        await queue.EnqueueAsync(name, message);
    }

    public Task DeleteAsync(DeleteServer message, CancellationToken cancellationToken) => queue.EnqueueAsync(name, message);

    public async Task<ConsoleOutputReply> GetConsoleOutputAsync(ConsoleOutputRequest message, CancellationToken cancellationToken)
    {
        using var reply = await CallAsync(HostCalls.ConsoleOutput, message.RequestId, message, ComputeHostJson.Default.ConsoleOutputRequest, s_callTimeout,
            cancellationToken);
        return await ReadAsync(reply, ComputeHostJson.Default.ConsoleOutputReply, cancellationToken);
    }

    public async Task<ExecReply> ExecAsync(ExecRequest message, CancellationToken cancellationToken)
    {
        // The host answers when the command ends or its timeout does; the margin covers the agent and the network.
        var timeout = TimeSpan.FromSeconds(message.TimeoutSeconds) + TimeSpan.FromSeconds(30);
        using var reply = await CallAsync(HostCalls.Exec, message.RequestId, message, ComputeHostJson.Default.ExecRequest, timeout, cancellationToken);
        return await ReadAsync(reply, ComputeHostJson.Default.ExecReply, cancellationToken);
    }

    public async Task<DiagnosticsReply> GetDiagnosticsAsync(DiagnosticsRequest message, CancellationToken cancellationToken)
    {
        using var reply = await CallAsync(HostCalls.Diagnostics, message.RequestId, message, ComputeHostJson.Default.DiagnosticsRequest, s_callTimeout,
            cancellationToken);
        return await ReadAsync(reply, ComputeHostJson.Default.DiagnosticsReply, cancellationToken);
    }

    public async Task SetPasswordAsync(SetPasswordRequest message, CancellationToken cancellationToken)
    {
        using var reply = await CallAsync(HostCalls.SetPassword, message.RequestId, message, ComputeHostJson.Default.SetPasswordRequest, s_callTimeout,
            cancellationToken);
    }

    /// <summary>A websocket to the host's listener, spliced there to the guest's serial port, read and written as a stream.</summary>
    public async Task<Stream> OpenSerialConsoleAsync(SerialConsoleRequest message, CancellationToken cancellationToken)
    {
        var channel = Channel();
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader(HostCalls.RequestIdHeader, message.RequestId);
        var url = new Uri("wss://" + channel.Http.BaseAddress!.Authority + HostCalls.SerialConsole + Uri.EscapeDataString(message.ServerId));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(s_callTimeout);
        try
        {
            await socket.ConnectAsync(url, channel.Invoker, deadline.Token);
            return WebSocketStream.Create(socket, WebSocketMessageType.Binary, closeTimeout: TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException or OperationCanceledException)
        {
            var refused = socket.HttpStatusCode is not 0 and not HttpStatusCode.SwitchingProtocols && socket.HttpResponseHeaders is { } headers
                ? Refusal(socket.HttpStatusCode, headers.TryGetValue(HostCalls.ErrorHeader, out var values) ? values.FirstOrDefault() : null)
                : Failure(ex is WebSocketException { InnerException: HttpRequestException inner } ? inner : ex, cancellationToken);
            socket.Dispose();
            throw refused;
        }
    }

    private HostChannel Channel() =>
        callUrl is not null && certificateSha256 is not null
            ? calls.ChannelTo(callUrl, certificateSha256)
            : throw ApiException.Conflict($"The server runs on compute host {name}, which has registered no call listener (Compute:HostListen).");

    /// <summary>Posts one call; a reply that is not a success is raised as the host's <see cref="ApiException"/>.</summary>
    private async Task<HttpResponseMessage> CallAsync<T>(string path, string requestId, T message, JsonTypeInfo<T> type, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var channel = Channel();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(message, type) };
        request.Headers.Add(HostCalls.RequestIdHeader, requestId);
        HttpResponseMessage reply;
        try
        {
            // Buffered (the default), so a reply over MaxResponseContentBufferSize is refused while it is read.
            reply = await channel.Http.SendAsync(request, deadline.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            throw Failure(ex, cancellationToken);
        }

        if (!reply.IsSuccessStatusCode)
        {
            using (reply)
            {
                throw Refusal(reply.StatusCode, reply.Headers.TryGetValues(HostCalls.ErrorHeader, out var values) ? values.FirstOrDefault() : null);
            }
        }

        return reply;
    }

    private async Task<T> ReadAsync<T>(HttpResponseMessage reply, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            return await reply.Content.ReadFromJsonAsync(type, cancellationToken) ?? throw new System.Text.Json.JsonException("null reply");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new ApiException(ErrorKind.Internal, $"Compute host {name} sent a reply that is not one: {ex.Message}");
        }
    }

    /// <summary>The host's own error: same kind, same message (an unknown status becomes an internal error).</summary>
    private ApiException Refusal(HttpStatusCode status, string? escapedMessage)
    {
        var message = escapedMessage is null ? $"Compute host {name} answered {(int)status}." : Uri.UnescapeDataString(escapedMessage);
        return Enum.IsDefined((ErrorKind)(int)status) ? new ApiException((ErrorKind)(int)status, message) : new ApiException(ErrorKind.Internal, message);
    }

    /// <summary>The call did not get an answer: unreachable, refused at TLS, too slow, or a reply too large.</summary>
    private ApiException Failure(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        OperationCanceledException when !cancellationToken.IsCancellationRequested =>
            ApiException.Conflict($"Compute host {name} did not answer in time."),
        OperationCanceledException => ApiException.Conflict($"The call to compute host {name} was cancelled."),
        HttpRequestException { HttpRequestError: HttpRequestError.ConfigurationLimitExceeded } =>
            new ApiException(ErrorKind.Internal, $"The reply of compute host {name} is larger than this controller reads."),
        HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } =>
            ApiException.Conflict($"Compute host {name} failed the TLS handshake (its certificate is not the one it registered, or it does not know this controller's)."),
        _ => ApiException.Conflict($"Compute host {name} is not reachable at {callUrl}: {ex.Message}"),
    };
}

/// <summary>A pinned HTTPS client to one host listener, and the same handler as a websocket's invoker.</summary>
public sealed record HostChannel(HttpClient Http, HttpMessageInvoker Invoker);

/// <summary>
/// The controller's side of the mutual TLS: one client per (call URL, fingerprint), presenting this process's
/// <see cref="ServiceCertificate"/> and accepting only a server certificate with the registered fingerprint (no CA, no
/// host name: the host is whoever holds the key it registered).
/// </summary>
public sealed partial class HostCallClient(ServiceCertificate certificate, ILogger<HostCallClient> logger) : IDisposable
{
    private readonly ConcurrentDictionary<(string Url, string Sha256), Lazy<HostChannel>> _channels = new();
    private readonly SslStreamCertificateContext _ownCertificate = SslStreamCertificateContext.Create(certificate.Certificate, additionalCertificates: null, offline: true);

    /// <summary>Largest reply read from a host; tests lower it.</summary>
    internal long MaxReplyBytes { get; init; } = HostCalls.MaxReplyBytes;

    public HostChannel ChannelTo(string callUrl, string sha256) =>
        _channels.GetOrAdd((callUrl, sha256), key => new Lazy<HostChannel>(() => Open(key.Url, key.Sha256))).Value;

    internal void BootPasswordNotHandedOver(string host, string reason) => LogBootPasswordNotHandedOver(logger, host, reason);

    private HostChannel Open(string url, string sha256)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificateContext = _ownCertificate,
                RemoteCertificateValidationCallback = (_, presented, _, _) => IsPinned(presented, sha256, url),
            },
        };
        return new HostChannel(
            new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri(url), MaxResponseContentBufferSize = MaxReplyBytes, Timeout = Timeout.InfiniteTimeSpan },
            new HttpMessageInvoker(handler, disposeHandler: true));
    }

    private bool IsPinned(X509Certificate? presented, string sha256, string url)
    {
        var actual = presented is null ? "none" : ServiceCertificate.FingerprintOf(presented);
        if (actual == sha256)
        {
            return true;
        }

        LogPinMismatch(logger, url, actual, sha256);
        return false;
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values.Where(c => c.IsValueCreated).Select(c => c.Value))
        {
            channel.Http.Dispose();
            channel.Invoker.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compute host call listener {Url} presented certificate sha256 {Actual}, not the registered {Expected}: refused")]
    private static partial void LogPinMismatch(ILogger logger, string url, string actual, string expected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The boot password could not be handed to compute host {Host} ({Reason}); the guest keeps its own")]
    private static partial void LogBootPasswordNotHandedOver(ILogger logger, string host, string reason);
}
