using System.Net;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>The wire of the calls from a controller to a compute host (<see cref="HostCallServer"/>, <see cref="RemoteComputeHost"/>).</summary>
public static class HostCalls
{
    public const string ConsoleOutput = "/console-output";
    public const string Exec = "/exec";
    public const string SetPassword = "/set-password";
    public const string BootPassword = "/boot-password";
    public const string AttachInterface = "/attach-interface";
    public const string Diagnostics = "/diagnostics";

    /// <summary>The websocket of a server's serial port: this prefix and the server id.</summary>
    public const string SerialConsole = "/serial-console/";

    public const string RequestIdHeader = "X-OpenStack-Request-Id";

    /// <summary>
    /// The message of a failed call, percent-encoded; the status code is the <see cref="ApiException"/>'s kind. A header,
    /// not a body, because a client whose websocket upgrade is refused sees the status and headers only.
    /// </summary>
    public const string ErrorHeader = "Ember-Error";

    /// <summary>Largest call body a host reads (exec's stdin is the big one; the public API takes 1 MiB of JSON).</summary>
    public const long MaxRequestBytes = 4 << 20;

    /// <summary>Largest reply a controller reads (the console log is kept under 4 MiB; exec output is bounded by the agent).</summary>
    public const long MaxReplyBytes = 16 << 20;
}

/// <summary>
/// A compute host's call listener, on when <see cref="ComputeOptions.HostListen"/> is set: serves the local
/// <see cref="ComputeHostManager"/>'s calls (console output, exec, passwords, the serial console) to the controllers
/// over mutual TLS. Started before the service registry reports, so its URL is in the first heartbeat.
/// </summary>
public sealed class ComputeHostListener(
    ComputeHostManager host,
    BootPasswords bootPasswords,
    ServiceCertificate certificate,
    RegisteredCallers callers,
    IOptions<ComputeOptions> options,
    ILoggerFactory loggers) : IHostedService
{
    private HostCallServer? _server;

    /// <summary>The bound address (the real port when 0 was asked for); null when the listener is off.</summary>
    public IPEndPoint? EndPoint => _server?.EndPoint;

    /// <summary>
    /// https://IP:PORT for the registry; a listener on all interfaces is published with <paramref name="hostIp"/>
    /// (the address the registry reports for this host). Null when off, or when there is no address to give.
    /// </summary>
    public string? CallUrl(string? hostIp)
    {
        if (EndPoint is not { } bound)
        {
            return null;
        }

        var address = bound.Address;
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            if (!IPAddress.TryParse(hostIp, out var reported))
            {
                return null;
            }

            address = reported;
        }

        return "https://" + new IPEndPoint(address, bound.Port);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.HostListen is { } listen)
        {
            _server = await HostCallServer.StartAsync(EmberHost.ParseEndPoint(listen), host, bootPasswords, certificate, callers, loggers, cancellationToken);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            await server.DisposeAsync();
        }
    }
}

/// <summary>
/// The call listener itself: a small Kestrel app of its own (not the public API pipeline) over HTTPS that requires a
/// client certificate and lets in only the fingerprints <see cref="RegisteredCallers"/> knows, then serves one
/// <see cref="IComputeHost"/>. Errors go back as the <see cref="ApiException"/>'s status and message.
/// </summary>
public sealed partial class HostCallServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HostCallServer(WebApplication app, IPEndPoint endPoint)
    {
        _app = app;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public static async Task<HostCallServer> StartAsync(IPEndPoint listen, IComputeHost host, BootPasswords bootPasswords, ServiceCertificate certificate,
        RegisteredCallers callers, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger<HostCallServer>();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggers);
        builder.Services.AddRouting();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = HostCalls.MaxRequestBytes;
            kestrel.Listen(listen, endPoint =>
            {
                var https = new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate.Certificate,
                    ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                    SslProtocols = SslProtocols.Tls13,
                };
                // Any certificate passes the handshake itself: deciding needs the registry (a database read), which the
                // synchronous TLS callback cannot await. The check below runs before a byte of HTTP is read.
                https.AllowAnyClientCertificate();
                endPoint.UseHttps(https);
                endPoint.Use(next => connection => AdmitAsync(connection, next, callers, logger));
            });
        });

        var app = builder.Build();
        app.UseWebSockets();
        app.Use((http, next) => AnswerErrorsAsync(http, next, host.Name, logger));
        app.MapPost(HostCalls.ConsoleOutput, async http =>
        {
            var request = await ReadAsync(http, ComputeHostJson.Default.ConsoleOutputRequest);
            await http.Response.WriteAsJsonAsync(await host.GetConsoleOutputAsync(request, http.RequestAborted), ComputeHostJson.Default.ConsoleOutputReply,
                cancellationToken: http.RequestAborted);
        });
        app.MapPost(HostCalls.Exec, async http =>
        {
            var request = await ReadAsync(http, ComputeHostJson.Default.ExecRequest);
            await http.Response.WriteAsJsonAsync(await host.ExecAsync(request, http.RequestAborted), ComputeHostJson.Default.ExecReply,
                cancellationToken: http.RequestAborted);
        });
        app.MapPost(HostCalls.Diagnostics, async http =>
        {
            var request = await ReadAsync(http, ComputeHostJson.Default.DiagnosticsRequest);
            await http.Response.WriteAsJsonAsync(await host.GetDiagnosticsAsync(request, http.RequestAborted), ComputeHostJson.Default.DiagnosticsReply,
                cancellationToken: http.RequestAborted);
        });
        app.MapPost(HostCalls.SetPassword, async http =>
        {
            await host.SetPasswordAsync(await ReadAsync(http, ComputeHostJson.Default.SetPasswordRequest), http.RequestAborted);
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        });
        app.MapPost(HostCalls.AttachInterface, async http =>
        {
            await host.AttachInterfaceAsync(await ReadAsync(http, ComputeHostJson.Default.AttachInterface), http.RequestAborted);
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        });
        app.MapPost(HostCalls.BootPassword, async http =>
        {
            var request = await ReadAsync(http, ComputeHostJson.Default.SetPasswordRequest);
            bootPasswords.Hold(request.ServerId, request.Password);
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        });
        app.MapGet(HostCalls.SerialConsole + "{serverId}", http => SpliceSerialConsoleAsync(http, host));

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var port = new Uri(address).Port;
        LogListening(logger, host.Name, listen.Address.ToString(), port, certificate.Sha256);
        return new HostCallServer(app, new IPEndPoint(listen.Address, port));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Lets the connection on to HTTP only when its client certificate is a registered controller's.</summary>
    private static async Task AdmitAsync(ConnectionContext connection, ConnectionDelegate next, RegisteredCallers callers, ILogger logger)
    {
        var presented = connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        var sha256 = presented is null ? null : ServiceCertificate.FingerprintOf(presented);
        bool allowed;
        try
        {
            allowed = sha256 is not null && await callers.IsAllowedAsync(sha256, connection.ConnectionClosed);
        }
        catch (Exception ex) when (Data.Database.IsUnavailable(ex))
        {
            LogRegistryUnavailable(logger, ex.Message);
            allowed = false;
        }

        if (!allowed)
        {
            // Returning without calling next closes the connection: nothing of HTTP was read or answered.
            LogRefused(logger, connection.RemoteEndPoint?.ToString() ?? "?", sha256 ?? "none");
            return;
        }

        await next(connection);
    }

    private static async Task AnswerErrorsAsync(HttpContext http, RequestDelegate next, string hostName, ILogger logger)
    {
        var requestId = http.Request.Headers[HostCalls.RequestIdHeader].ToString();
        using var scope = logger.BeginScope("RequestId:{RequestId}", requestId);
        try
        {
            await next(http);
        }
        catch (ApiException ex) when (!http.Response.HasStarted)
        {
            Refuse(http, ex.StatusCode, ex.Message);
        }
        catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
        {
            Refuse(http, ex.StatusCode, ex.Message); // e.g. 413 for a body over MaxRequestBytes
        }
        catch (JsonException ex) when (!http.Response.HasStarted)
        {
            Refuse(http, StatusCodes.Status400BadRequest, "Malformed call: " + ex.Message);
        }
        catch (Exception ex) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            LogCallFailed(logger, http.Request.Path, ex);
            Refuse(http, StatusCodes.Status500InternalServerError, $"Compute host {hostName} could not serve the call; its log has the details.");
        }
    }

    private static void Refuse(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.Headers[HostCalls.ErrorHeader] = Uri.EscapeDataString(message);
    }

    private static async Task<T> ReadAsync<T>(HttpContext http, JsonTypeInfo<T> type) =>
        await JsonSerializer.DeserializeAsync(http.Request.Body, type, http.RequestAborted) ?? throw ApiException.BadRequest("The call has no body.");

    /// <summary>The serial port as a websocket: each websocket message is bytes for the guest, each read from the guest one message back.</summary>
    private static async Task SpliceSerialConsoleAsync(HttpContext http, IComputeHost host)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            throw ApiException.BadRequest("This URL serves a websocket.");
        }

        var serverId = (string)http.Request.RouteValues["serverId"]!;
        var requestId = http.Request.Headers[HostCalls.RequestIdHeader].ToString();
        // Opened before the upgrade, so a server that is not running here is refused with its status and message.
        await using var serial = await host.OpenSerialConsoleAsync(new SerialConsoleRequest(requestId, serverId), http.RequestAborted);
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        await using var controller = WebSocketStream.Create(socket, WebSocketMessageType.Binary, closeTimeout: TimeSpan.FromSeconds(5));
        using var done = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var toGuest = controller.CopyToAsync(serial, done.Token);
        var toController = serial.CopyToAsync(controller, done.Token);
        await Task.WhenAny(toGuest, toController);
        await done.CancelAsync();
        try
        {
            await Task.WhenAll(toGuest, toController);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or WebSocketException)
        {
            // One side ended; the other was cut short on purpose.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Compute host {Host} serves calls on https://{Address}:{Port} (certificate sha256 {Sha256})")]
    private static partial void LogListening(ILogger logger, string host, string address, int port, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call connection from {Remote} refused: certificate sha256 {Sha256} is not a registered controller's")]
    private static partial void LogRefused(ILogger logger, string remote, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call connection refused: the service registry is unavailable ({Reason})")]
    private static partial void LogRegistryUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Call {Path} failed")]
    private static partial void LogCallFailed(ILogger logger, string path, Exception exception);
}
