namespace Ember.Compute.Qemu;

/// <summary>Where the QEMU binaries are and which accelerator to use.</summary>
public sealed class QemuDriverOptions
{
    /// <summary>The system emulator; a bare name is looked up on PATH.</summary>
    public string QemuBinary { get; set; } = "qemu-system-x86_64";

    /// <summary>The image tool used for copy-on-write overlays.</summary>
    public string QemuImgBinary { get; set; } = "qemu-img";

    /// <summary><c>kvm</c>, <c>tcg</c>, or null/<c>auto</c>: KVM only if a probe proves it runs guest code, else TCG.</summary>
    public string? Accelerator { get; set; }

    /// <summary>How long <see cref="QemuDriver.StartAsync"/> waits for QEMU to open its QMP socket.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Upper bound of the KVM probe; the probe is killed when it runs out.</summary>
    public TimeSpan AcceleratorProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
