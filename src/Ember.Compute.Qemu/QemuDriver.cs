namespace Ember.Compute.Qemu;

/// <summary>Runs servers as QEMU processes.</summary>
public sealed class QemuDriver
{
}
