namespace Ember.Compute.Qemu.Qmp;

/// <summary>QEMU answered a command with an error (<c>{"error": {"class": ..., "desc": ...}}</c>).</summary>
public sealed class QmpErrorException : QemuException
{
    public QmpErrorException(string command, string errorClass, string description)
        : base($"QMP {command} failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    public QmpErrorException() : this("", "", "") { }

    public QmpErrorException(string message) : this("", "", message) { }

    public QmpErrorException(string message, Exception? inner) : base(message, inner)
    {
        Command = "";
        ErrorClass = "";
        Description = message;
    }

    public string Command { get; }

    /// <summary>GenericError, CommandNotFound, DeviceNotFound, ...</summary>
    public string ErrorClass { get; }

    public string Description { get; }
}

/// <summary>The QMP connection closed (QEMU exited or the client was disposed) before a reply or event arrived.</summary>
public sealed class QmpDisconnectedException : QemuException
{
    public QmpDisconnectedException(string message) : base(message) { }

    public QmpDisconnectedException(string message, Exception? inner) : base(message, inner) { }

    public QmpDisconnectedException() : base("QMP connection closed") { }
}
