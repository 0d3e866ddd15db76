using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

public sealed partial class QemuDriver
{
    /// <summary>SeaBIOS prints this on its debug port when it finds the KVM CPUID signature.</summary>
    private const string KvmBanner = "Running on KVM";

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
    /// Probes KVM: <c>/dev/kvm</c> must open read-write, and a throw-away QEMU with <c>-accel kvm</c> must
    /// actually execute guest code (SeaBIOS reaching its "Running on KVM" line on the debug port) within
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

        var startInfo = new ProcessStartInfo(_options.QemuBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "-accel", "kvm", "-machine", "pc", "-m", "32", "-nodefaults", "-no-user-config", "-display", "none",
            "-chardev", "stdio,id=dbg", "-device", "isa-debugcon,iobase=0x402,chardev=dbg",
        })
        {
            startInfo.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = ProcessRunner.Start(startInfo);
        }
        catch (QemuException ex)
        {
            return ("tcg", ex.Message);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.AcceleratorProbeTimeout);
            try
            {
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    if (line.Contains(KvmBanner, StringComparison.Ordinal))
                    {
                        return ("kvm", "a KVM guest ran SeaBIOS");
                    }
                }

                await process.WaitForExitAsync(timeout.Token);
                return ("tcg", $"KVM probe exited with code {process.ExitCode}: {(await stderr).Trim()}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return ("tcg", $"KVM probe gave no sign of life within {_options.AcceleratorProbeTimeout.TotalSeconds:0} s");
            }
            finally
            {
                ProcessRunner.KillQuietly(process);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }
    }
}
