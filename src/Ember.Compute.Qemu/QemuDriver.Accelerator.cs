using System.Collections.Concurrent;
using CliWrap;
using Ember.Processes;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

public sealed partial class QemuDriver
{
    private const string ProbeOk = "EMBER-KVM-OK";

    /// <summary>
    /// A boot sector assembled from KvmProbe.S: protected mode, an <c>iretl</c>, then <see cref="ProbeOk"/> on
    /// port 0x402. On the development machines KVM runs SeaBIOS but dies with "KVM internal error. Suberror: 1"
    /// on exactly this iretl inside syslinux, so a probe that stops at the BIOS would wrongly say KVM works.
    /// </summary>
    private static readonly byte[] s_probeBootSector =
    [
        0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0x66, 0x0f, 0x01, 0x16, 0x78, 0x7c,
        0x0f, 0x20, 0xc0, 0x66, 0x83, 0xc8, 0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x22, 0x7c, 0x00, 0x00,
        0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x70, 0x00,
        0x00, 0x9c, 0x0e, 0x68, 0x39, 0x7c, 0x00, 0x00, 0xcf, 0x66, 0xba, 0x02, 0x04, 0xbe, 0x4d, 0x7c,
        0x00, 0x00, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd, 0x45, 0x4d, 0x42,
        0x45, 0x52, 0x2d, 0x4b, 0x56, 0x4d, 0x2d, 0x4f, 0x4b, 0x0a, 0x00, 0x8d, 0x74, 0x26, 0x00, 0x90,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
        0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, 0x17, 0x00, 0x60, 0x7c, 0x00, 0x00,
    ];

    /// <summary>
    /// The accelerator <see cref="StartAsync"/> uses: the configured one, or for auto the result of
    /// <see cref="DetectAcceleratorAsync"/> (probed once, then cached).
    /// </summary>
    public Task<string> ResolveAcceleratorAsync(CancellationToken cancellationToken)
    {
        var configured = _options.Accelerator?.Trim().ToLowerInvariant();
        if (configured is "kvm" or "tcg")
        {
            return Task.FromResult(configured);
        }

        if (configured is not (null or "" or "auto"))
        {
            throw new QemuException($"unknown accelerator '{_options.Accelerator}' (kvm, tcg or auto)");
        }

        // The probe is shared; one caller's cancellation must not poison it for the others.
        var probe = LazyInitializer.EnsureInitialized(ref _accelerator, () => DetectAcceleratorAsync(CancellationToken.None));
        return probe.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Probes KVM: <c>/dev/kvm</c> must open read-write, and a throw-away QEMU with <c>-accel kvm</c> must boot a
    /// tiny boot sector through SeaBIOS and run its protected-mode code to the end within
    /// <see cref="QemuDriverOptions.AcceleratorProbeTimeout"/>. Anything else, including a hang, means <c>tcg</c>.
    /// </summary>
    public async Task<string> DetectAcceleratorAsync(CancellationToken cancellationToken)
    {
        var (accelerator, reason) = await ProbeKvmAsync(cancellationToken);
        Log.AcceleratorDetected(_logger, accelerator, reason);
        return accelerator;
    }

    private async Task<(string Accelerator, string Reason)> ProbeKvmAsync(CancellationToken cancellationToken)
    {
        const string device = "/dev/kvm";
        if (!File.Exists(device))
        {
            return ("tcg", device + " does not exist");
        }

        try
        {
            using var handle = File.OpenHandle(device, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ("tcg", $"cannot open {device}: {ex.Message}");
        }

        var disk = Path.Combine(Path.GetTempPath(), $"ember-kvm-probe-{Guid.NewGuid():N}.img");
        try
        {
            // SeaBIOS will not boot a disk smaller than about a megabyte (no usable geometry).
            using (var file = File.Create(disk))
            {
                file.Write(s_probeBootSector);
                file.Position = 510;
                file.Write([0x55, 0xaa]);
                file.SetLength(1024 * 1024);
            }

            return await RunProbeAsync(disk, cancellationToken);
        }
        finally
        {
            File.Delete(disk);
        }
    }

    /// <summary>
    /// Runs the probe QEMU until a verdict: the boot sector's message on stdout (KVM works), an error line on stderr
    /// (a failed emulation pauses the guest instead of exiting QEMU), its exit, or the timeout. QEMU is then killed.
    /// </summary>
    private async Task<(string Accelerator, string Reason)> RunProbeAsync(string disk, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(_options.AcceleratorProbeTimeout);
        var gate = new Lock();
        (string Accelerator, string Reason)? verdict = null;
        void Decide(string accelerator, string reason)
        {
            lock (gate)
            {
                verdict ??= (accelerator, reason);
            }

            stop.Cancel();
        }

        var stderr = new ConcurrentQueue<string>();
        var probe = ProcessRunner.Command(_options.QemuBinary,
            [
                "-accel", "kvm", "-machine", "pc", "-m", "32", "-nodefaults", "-no-user-config", "-display", "none",
                "-chardev", "stdio,id=dbg", "-device", "isa-debugcon,iobase=0x402,chardev=dbg",
                "-blockdev", $"driver=raw,node-name=probe,read-only=on,file.driver=file,file.filename={QemuCommandLine.Escape(disk)}",
                "-device", "virtio-blk-pci,drive=probe,bootindex=0",
            ])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line =>
            {
                if (line.Contains(ProbeOk, StringComparison.Ordinal))
                {
                    Decide("kvm", "a KVM guest ran the probe boot sector");
                }
            }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line =>
            {
                if (line.Contains("internal error", StringComparison.OrdinalIgnoreCase) || line.Contains("error:", StringComparison.OrdinalIgnoreCase))
                {
                    Decide("tcg", "KVM cannot run the probe: " + line.Trim());
                }
                else
                {
                    // The last few lines say why it exited; a probe that chatters must not grow this without end.
                    stderr.Enqueue(line.Trim());
                    while (stderr.Count > 20 && stderr.TryDequeue(out _))
                    {
                    }
                }
            }));
        try
        {
            await ProcessRunner.Start(probe, stop.Token);
        }
        catch (ProcessFailedException ex)
        {
            return ("tcg", ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A verdict stopped the probe, or the timeout did.
        }

        lock (gate)
        {
            return verdict
                ?? (stop.IsCancellationRequested
                    ? ("tcg", $"KVM probe gave no sign of life within {_options.AcceleratorProbeTimeout.TotalSeconds:0} s")
                    : ("tcg", $"KVM probe exited: {(stderr.IsEmpty ? "no error output" : string.Join("; ", stderr))}"));
        }
    }
}
