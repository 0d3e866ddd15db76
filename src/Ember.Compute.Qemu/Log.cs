using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

/// <summary>Source-generated log messages of the QEMU driver.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Warning, Message = "QMP reader loop failed")]
    public static partial void QmpReaderFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "QMP sent a line that is not JSON: {Line}")]
    public static partial void QmpBadMessage(ILogger logger, string line, Exception exception);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "QMP reply without id: {Message}")]
    public static partial void QmpUncorrelated(ILogger logger, string message);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Debug, Message = "QMP event {Event} {Data}")]
    public static partial void QmpEvent(ILogger logger, string @event, string data);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "QMP event handler for {Event} failed")]
    public static partial void QmpEventHandlerFailed(ILogger logger, string @event, Exception exception);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Information, Message = "Accelerator probe: {Accelerator} ({Reason})")]
    public static partial void AcceleratorDetected(ILogger logger, string accelerator, string reason);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "Starting QEMU for {ServerId}: {CommandLine}")]
    public static partial void Starting(ILogger logger, string serverId, string commandLine);

    [LoggerMessage(EventId = 5112, Level = LogLevel.Information,
        Message = "QEMU for {ServerId} running as pid {Pid}: QMP answered {QmpMs} ms after the exec, CPUs started {CpusMs} ms after it")]
    public static partial void Started(ILogger logger, string serverId, int pid, long qmpMs, long cpusMs);

    [LoggerMessage(EventId = 5113, Level = LogLevel.Information, Message = "QEMU for {ServerId} (pid {Pid}) exited")]
    public static partial void Exited(ILogger logger, string serverId, int pid);

    [LoggerMessage(EventId = 5114, Level = LogLevel.Warning, Message = "QEMU {ServerId} stderr: {Line}")]
    public static partial void QemuStderr(ILogger logger, string serverId, string line);

    [LoggerMessage(EventId = 5115, Level = LogLevel.Information, Message = "Adopted running QEMU for {ServerId} (pid {Pid})")]
    public static partial void Adopted(ILogger logger, string serverId, int pid);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Information, Message = "Attached {Device} ({Source}) to {ServerId}")]
    public static partial void DiskAttached(ILogger logger, string serverId, string device, string source);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Information, Message = "Detached {Device} from {ServerId}")]
    public static partial void DiskDetached(ILogger logger, string serverId, string device);

    [LoggerMessage(EventId = 5122, Level = LogLevel.Warning, Message = "Rolling back block node {Node} of {ServerId} failed")]
    public static partial void RollbackFailed(ILogger logger, string serverId, string node, Exception exception);

    [LoggerMessage(EventId = 5123, Level = LogLevel.Information, Message = "Attached NIC {Device} (tap {Tap}) to {ServerId}")]
    public static partial void NicAttached(ILogger logger, string serverId, string device, string tap);

    [LoggerMessage(EventId = 5124, Level = LogLevel.Information, Message = "Detached NIC {Device} from {ServerId}")]
    public static partial void NicDetached(ILogger logger, string serverId, string device);

    [LoggerMessage(EventId = 5125, Level = LogLevel.Information, Message = "Swapped disk {Device} of {ServerId} onto node {Node}")]
    public static partial void DiskSwapped(ILogger logger, string serverId, string device, string node);

    [LoggerMessage(EventId = 5130, Level = LogLevel.Information, Message = "{ServerId}: {Action}")]
    public static partial void PowerAction(ILogger logger, string serverId, string action);

    [LoggerMessage(EventId = 5140, Level = LogLevel.Debug, Message = "Guest agent of {ServerId}: {What}")]
    public static partial void Agent(ILogger logger, string serverId, string what);
}
