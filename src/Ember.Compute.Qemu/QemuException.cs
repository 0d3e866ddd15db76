namespace Ember.Compute.Qemu;

/// <summary>A QEMU operation failed; the message says why in words fit for a server fault.</summary>
public class QemuException : Exception
{
    public QemuException(string message) : base(message) { }

    public QemuException(string message, Exception? inner) : base(message, inner) { }

    public QemuException() { }
}

/// <summary>The guest did not release a hot-plugged device in time (no ACPI handler, or it refused).</summary>
public sealed class QemuUnplugTimeoutException : QemuException
{
    public QemuUnplugTimeoutException(string message) : base(message) { }

    public QemuUnplugTimeoutException(string message, Exception? inner) : base(message, inner) { }

    public QemuUnplugTimeoutException() { }
}

/// <summary>The guest agent did not answer: the guest has none, it is not up yet, or it is wedged.</summary>
public sealed class GuestAgentUnavailableException : QemuException
{
    public GuestAgentUnavailableException(string message) : base(message) { }

    public GuestAgentUnavailableException(string message, Exception? inner) : base(message, inner) { }

    public GuestAgentUnavailableException() { }
}
