using System.Collections.Concurrent;
using System.Net;
using Ember.Nbd;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume;

/// <summary>
/// Owns Ember's NBD server (unix socket DATA/nbd.sock, TCP when Nbd:Listen is set) and the exports of attached
/// volumes. Exports live in memory only, so start-up re-creates those of attachments the database still has.
/// </summary>
public sealed partial class VolumeDataPlane(
    IOptions<EmberOptions> host, IOptions<NbdOptions> options, VolumeStore store, IVolumeBackend backend, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<VolumeDataPlane>();
    private readonly ConcurrentDictionary<string, ExportTotals> _totals = new(StringComparer.Ordinal);
    private NbdServer? _server;
    private NbdTlsCredentials? _tls;

    public string? UnixSocketPath => _server?.UnixSocketPath;

    public IPEndPoint? TcpEndPoint => _server?.BoundTcpEndPoint;

    /// <summary>The server (for tests and diagnostics); null before start.</summary>
    public NbdServer? Server => _server;

    /// <summary>DATA/nbd-tls: the CA, the server's certificate and, in client/, what a compute host needs.</summary>
    public string TlsDirectory => Path.Combine(host.Value.DataDir, "nbd-tls");

    /// <summary>The request totals of every live export, with the volume and attachment it serves (for /metrics; never the export name).</summary>
    public IReadOnlyCollection<ExportTotals> Totals => [.. _totals.Values];

    /// <summary>The TLS credentials of the TCP listener; null without TCP or with <see cref="NbdOptions.Insecure"/>.</summary>
    public NbdTlsCredentials? Tls => _tls;

    /// <summary>Names a client may use to reach the TCP listener: loopback, this host's name, the listen address.</summary>
    private static IEnumerable<string> ServerNames(IPEndPoint endPoint)
    {
        yield return "localhost";
        yield return IPAddress.Loopback.ToString();
        yield return IPAddress.IPv6Loopback.ToString();
        yield return Dns.GetHostName();
        if (!endPoint.Address.Equals(IPAddress.Any) && !endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            yield return endPoint.Address.ToString();
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var nbdOptions = new NbdServerOptions
        {
            UnixSocketPath = Path.Combine(host.Value.DataDir, "nbd.sock"),
            MaxTcpConnections = options.Value.MaxConnections,
            MaxTcpConnectionsPerSource = options.Value.MaxConnectionsPerSource,
        };
        if (!string.IsNullOrEmpty(options.Value.Listen))
        {
            var endPoint = EmberHost.ParseEndPoint(options.Value.Listen);
            nbdOptions.TcpEndPoint = endPoint;
            if (options.Value.Insecure)
            {
                LogInsecure(_logger, options.Value.Listen);
            }
            else
            {
                _tls = NbdTlsCredentials.LoadOrCreate(TlsDirectory, ServerNames(endPoint));
                nbdOptions.TcpTls = _tls;
            }
        }

        _server = new NbdServer(nbdOptions, loggerFactory);
        await _server.StartAsync(cancellationToken);
        foreach (var attachment in await store.ListExportedAttachmentsAsync())
        {
            var volume = await store.FindVolumeAsync(attachment.VolumeId);
            if (volume is not null && TryAdd(attachment.ExportName!, volume.Id, attachment.AttachMode == "ro", attachment.Id))
            {
                LogRestored(_logger, attachment.ExportName![..8], volume.Id);
            }
        }

        foreach (var volume in await store.ListVolumesWithLegacyExportAsync())
        {
            TryAdd(volume.LegacyExport!, volume.Id, volume.Readonly, attachmentId: null);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            _totals.Clear();
            await server.DisposeAsync();
        }

        _tls?.Dispose();
        _tls = null;
    }

    /// <summary>
    /// Exports the volume's file under <paramref name="exportName"/> unless that export already exists.
    /// <paramref name="attachmentId"/> labels its totals (null for a legacy os-initialize_connection export).
    /// </summary>
    /// <exception cref="InvalidOperationException">The backend's volumes are not served over NBD (RBD).</exception>
    public void Export(string exportName, string volumeId, bool readOnly, string? attachmentId)
    {
        var server = _server ?? throw new InvalidOperationException("The NBD server is not running.");
        if (!server.Exports.Contains(exportName))
        {
            var path = backend.AccessOf(volumeId, readOnly, multiattach: false) is ServedOverNbd served
                ? served.Path
                : throw new InvalidOperationException($"Volume {volumeId} is not served over NBD.");
            var stats = server.Exports.Add(exportName, path, readOnly);
            _totals[exportName] = new ExportTotals(volumeId, attachmentId, readOnly, stats);
            LogExported(_logger, exportName[..8], volumeId, readOnly);
        }
    }

    /// <summary>Removes the export and closes its connections at once.</summary>
    public void Unexport(string? exportName)
    {
        if (exportName is not null)
        {
            _totals.TryRemove(exportName, out _);
        }

        if (exportName is not null && _server is { } server && server.Exports.Remove(exportName))
        {
            LogUnexported(_logger, exportName[..Math.Min(8, exportName.Length)]);
        }
    }

    /// <summary>
    /// How a connector on <paramref name="connectorHost"/> reaches an export: the unix socket when it runs on this
    /// host (or when there is no TCP listener, the only way in), else the TCP listener, with TLS unless insecure.
    /// </summary>
    public NbdConnection ConnectionOf(string exportName, bool readOnly, bool multiattach, string? connectorHost)
    {
        var socket = UnixSocketPath ?? throw new InvalidOperationException("The NBD server is not running.");
        if (TcpEndPoint is not { } tcp || string.Equals(connectorHost, host.Value.HostName, StringComparison.OrdinalIgnoreCase))
        {
            return new NbdUnixConnection(exportName, socket, readOnly, multiattach);
        }

        return new NbdTcpConnection(exportName, tcp.Address.ToString(), tcp.Port, Tls: _tls is not null, readOnly, multiattach);
    }

    private bool TryAdd(string exportName, string volumeId, bool readOnly, string? attachmentId)
    {
        try
        {
            Export(exportName, volumeId, readOnly, attachmentId);
            return true;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogRestoreFailed(_logger, volumeId, ex);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Exported volume {VolumeId} as {ExportPrefix}… (read-only: {ReadOnly})")]
    private static partial void LogExported(ILogger logger, string exportPrefix, string volumeId, bool readOnly);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed export {ExportPrefix}…")]
    private static partial void LogUnexported(ILogger logger, string exportPrefix);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored export {ExportPrefix}… of volume {VolumeId}")]
    private static partial void LogRestored(ILogger logger, string exportPrefix, string volumeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NBD on {Endpoint} is plain TCP (--nbd-insecure): anyone who reaches it and knows an export name reads and writes that volume")]
    private static partial void LogInsecure(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not restore the export of volume {VolumeId}")]
    private static partial void LogRestoreFailed(ILogger logger, string volumeId, Exception exception);
}

/// <summary>One live export's request totals and what it serves: one series per export on /metrics.</summary>
public sealed record ExportTotals(string VolumeId, string? AttachmentId, bool ReadOnly, NbdExportStats Stats);
