using Microsoft.Extensions.Logging;

namespace Ember.Network;

/// <summary>Source-generated log messages of the network data plane.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Started dnsmasq {Pid} for network {NetworkId}")]
    public static partial void DnsmasqStarted(ILogger logger, int pid, Guid networkId);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Reloaded dnsmasq {Pid} for network {NetworkId}")]
    public static partial void DnsmasqReloaded(ILogger logger, int pid, Guid networkId);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Information, Message = "Stopped dnsmasq {Pid} for network {NetworkId}")]
    public static partial void DnsmasqStopped(ILogger logger, int pid, Guid networkId);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Warning, Message = "dnsmasq {Pid} ignored SIGTERM; killed it")]
    public static partial void DnsmasqKilled(ILogger logger, int pid);

    [LoggerMessage(EventId = 5304, Level = LogLevel.Information, Message = "Removed {Name}: it belongs to no live network or port")]
    public static partial void RemovedStale(ILogger logger, string name);
}
