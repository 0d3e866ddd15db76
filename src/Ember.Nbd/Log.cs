using Microsoft.Extensions.Logging;

namespace Ember.Nbd;

/// <summary>Source-generated log messages of the NBD server.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "NBD server listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(2, LogLevel.Debug, "NBD connection {ConnectionId} accepted from {Remote}")]
    public static partial void Accepted(ILogger logger, long connectionId, string remote);

    [LoggerMessage(3, LogLevel.Debug, "NBD connection {ConnectionId} closed")]
    public static partial void Closed(ILogger logger, long connectionId);

    [LoggerMessage(4, LogLevel.Warning, "NBD connection {ConnectionId} dropped: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, long connectionId, string reason);

    [LoggerMessage(5, LogLevel.Information, "NBD connection {ConnectionId} attached to export {ExportPrefix}… (size {Size}, structured {Structured}, TLS {Tls})")]
    public static partial void Attached(ILogger logger, long connectionId, string exportPrefix, ulong size, bool structured, bool tls);

    [LoggerMessage(6, LogLevel.Debug, "NBD connection {ConnectionId} option {Option} refused: {Reply}")]
    public static partial void OptionRefused(ILogger logger, long connectionId, uint option, string reply);

    [LoggerMessage(7, LogLevel.Warning, "NBD connection {ConnectionId} {Command} at {Offset}+{Length} failed")]
    public static partial void RequestFailed(ILogger logger, Exception exception, long connectionId, string command, ulong offset, uint length);

    [LoggerMessage(8, LogLevel.Error, "NBD connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, long connectionId);

    [LoggerMessage(9, LogLevel.Error, "NBD accept loop on {Endpoint} failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception, string endpoint);

    [LoggerMessage(10, LogLevel.Information, "NBD connection {ConnectionId} closed because export {ExportPrefix}… was removed")]
    public static partial void ExportRemoved(ILogger logger, long connectionId, string exportPrefix);

    [LoggerMessage(11, LogLevel.Debug, "NBD connection from {Source} refused: connection limit reached")]
    public static partial void ConnectionRefused(ILogger logger, string source);

    [LoggerMessage(12, LogLevel.Warning, "NBD connection {ConnectionId} refused: TLS handshake failed ({Reason})")]
    public static partial void TlsFailed(ILogger logger, long connectionId, string reason);

    /// <summary>Export names are credentials: logs carry a short prefix only.</summary>
    public static string Prefix(string exportName) => exportName[..Math.Min(8, exportName.Length)];
}
