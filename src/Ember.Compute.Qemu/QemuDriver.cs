using System.Collections.Concurrent;
using System.Diagnostics;
using Ember.Compute.Qemu.Qmp;
using Ember.Image.Format;
using Ember.Processes;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

/// <summary>
/// Runs servers as QEMU processes. Each QEMU is a child process of this one; it is not tied to our lifetime
/// (no PR_SET_PDEATHSIG), so after an Ember restart <see cref="AdoptAsync"/> reconnects to it through the
/// pidfile and QMP socket in its instance directory. Disposing a <see cref="QemuMachine"/> kills it.
/// </summary>
public sealed partial class QemuDriver
{
    private readonly QemuDriverOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private Task<string>? _accelerator;

    public QemuDriver(QemuDriverOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<QemuDriver>();
    }

    /// <summary>
    /// Creates a qcow2 overlay backed by <paramref name="baseImage"/>, grown to <paramref name="sizeBytes"/> if given.
    /// The base is inspected first and refused if its bytes are not <paramref name="baseFormat"/> or name any other
    /// file; the overlay then names the base and its format (<c>-F</c>), and qemu-img does not open the base (<c>-u</c>).
    /// </summary>
    /// <exception cref="QemuException">The base is refused, qemu-img failed, or the requested size is smaller than the image.</exception>
    public async Task CreateOverlayAsync(string baseImage, string baseFormat, string overlayPath, long? sizeBytes, CancellationToken cancellationToken)
    {
        var backing = Path.GetFullPath(baseImage);
        var format = ImageFiles.QemuFormat(baseFormat);
        var inspection = await ImageFiles.VerifyAsync(backing, baseFormat, cancellationToken);
        var virtualSize = inspection.VirtualSize ?? throw new QemuException($"the virtual size of {baseFormat} image {backing} is unknown");
        if (sizeBytes is > 0 && sizeBytes < virtualSize)
        {
            throw new QemuException($"disk size {sizeBytes} bytes is smaller than the image's virtual size {virtualSize} bytes");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(overlayPath))!);
        var size = sizeBytes is > 0 ? sizeBytes.Value : virtualSize;
        List<string> args = ["create", "-q", "-f", "qcow2", "-u", "-F", format, "-b", backing, overlayPath,
            size.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        try
        {
            (await ProcessRunner.RunAsync(_options.QemuImgBinary, args, TimeSpan.FromMinutes(2), cancellationToken: cancellationToken)).EnsureSuccess();
        }
        catch (ProcessFailedException ex)
        {
            throw new QemuException($"qemu-img create failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Copies a server's root disk, an overlay on its image, into one flattened qcow2 at <paramref name="target"/> (a
    /// snapshot image: no backing file, so it boots on any host). The disk stays in use by QEMU: <c>-U</c> reads it without
    /// its lock, so the caller stops the guest's vCPUs first for a consistent copy. The overlay is ours and names its base
    /// and format, so following its backing chain opens only the image it was made from.
    /// </summary>
    /// <exception cref="QemuException">qemu-img failed or did not finish within <paramref name="timeout"/>.</exception>
    public async Task ConvertToImageAsync(string disk, string target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        List<string> args = ["convert", "-q", "-U", "-f", "qcow2", "-O", "qcow2", Path.GetFullPath(disk), Path.GetFullPath(target)];
        try
        {
            (await ProcessRunner.RunAsync(_options.QemuImgBinary, args, timeout, cancellationToken: cancellationToken)).EnsureSuccess();
        }
        catch (Exception ex) when (ex is ProcessFailedException or TimeoutException)
        {
            File.Delete(target);
            throw new QemuException($"qemu-img convert failed: {ex.Message}", ex);
        }
    }

    /// <summary>Grows a qcow2 disk (a resize to a flavor with a larger root disk); the guest sees the new size at its next boot.</summary>
    /// <exception cref="QemuException">qemu-img failed.</exception>
    public async Task GrowDiskAsync(string disk, long sizeBytes, CancellationToken cancellationToken)
    {
        List<string> args = ["resize", "-q", "-f", "qcow2", Path.GetFullPath(disk), sizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        try
        {
            (await ProcessRunner.RunAsync(_options.QemuImgBinary, args, TimeSpan.FromMinutes(2), cancellationToken: cancellationToken)).EnsureSuccess();
        }
        catch (Exception ex) when (ex is ProcessFailedException or TimeoutException)
        {
            throw new QemuException($"qemu-img resize failed: {ex.Message}", ex);
        }
    }

    /// <summary>The virtual (guest-visible) size of an image, from its header (no qemu-img, nothing else opened).</summary>
    public async Task<long> GetVirtualSizeAsync(string image, string format, CancellationToken cancellationToken)
    {
        ImageFiles.QemuFormat(format);
        var inspection = DiskFormats.Judge(format, await ImageFiles.InspectAsync(image, cancellationToken)).Inspection;
        return inspection.VirtualSize ?? throw new QemuException($"the virtual size of {format} image {image} is unknown");
    }

    /// <summary>
    /// Starts QEMU for <paramref name="spec"/> and returns once QMP is connected and the guest CPUs run.
    /// On failure no process is left behind and the exception carries QEMU's own error text.
    /// </summary>
    public async Task<QemuMachine> StartAsync(QemuMachineSpec spec, CancellationToken cancellationToken)
    {
        Validate(spec);
        var dir = Path.GetFullPath(spec.InstanceDir);
        spec = spec with { InstanceDir = dir };
        Directory.CreateDirectory(dir);
        var qmpPath = Path.Combine(dir, QemuCommandLine.QmpSocketName);
        QemuCommandLine.ValidateSocketPath(qmpPath);
        QemuCommandLine.ValidateSocketPath(Path.Combine(dir, QemuCommandLine.ConsoleSocketName));
        QemuCommandLine.ValidateSocketPath(Path.Combine(dir, QemuCommandLine.AgentSocketName));
        if (FindRunningQemu(dir) is { } running)
        {
            throw new QemuException($"QEMU for {spec.Id} is already running (pid {running})");
        }

        RemoveRuntimeFiles(dir);

        var accelerator = await ResolveAcceleratorAsync(cancellationToken);
        var args = QemuCommandLine.Build(spec, accelerator);
        Log.Starting(_logger, spec.Id, _options.QemuBinary + " " + QemuCommandLine.ForLog(args));

        var startInfo = new ProcessStartInfo(_options.QemuBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        var started = Stopwatch.StartNew(); // boot trace (bench/boot): exec -> QMP -> CPUs running
        var process = StartQemu(startInfo);
        var stderrTail = new ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                Log.QemuStderr(_logger, spec.Id, line);
                stderrTail.Enqueue(line);
                while (stderrTail.Count > 20 && stderrTail.TryDequeue(out string? _))
                {
                }
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        process.StandardInput.Close();

        QmpClient? qmp = null;
        try
        {
            qmp = await ConnectWhileStartingAsync(process, qmpPath, () => string.Join("; ", stderrTail), cancellationToken);
            var qmpMs = started.ElapsedMilliseconds;
            var machine = new QemuMachine(spec.Id, dir, process.Id, process, qmp, _loggerFactory);
            qmp = null; // owned by the machine now
            try
            {
                await machine.AddBootDisksAsync(spec, cancellationToken);
                await machine.Qmp.ExecuteAsync("cont", null, cancellationToken);
                var status = await machine.QueryStatusAsync(cancellationToken);
                if (status != "running")
                {
                    throw new QemuException($"QEMU started but the guest is '{status}', not running");
                }
            }
            catch
            {
                await machine.DisposeAsync();
                throw;
            }

            Log.Started(_logger, spec.Id, process.Id, qmpMs, started.ElapsedMilliseconds);
            return machine;
        }
        catch (Exception ex)
        {
            if (qmp is not null)
            {
                await qmp.DisposeAsync();
            }

            KillQuietly(process);
            await process.WaitForExitAsync(CancellationToken.None);
            process.Dispose();
            RemoveRuntimeFiles(dir);
            if (ex is QemuException or OperationCanceledException)
            {
                throw;
            }

            var tail = string.Join("; ", stderrTail);
            throw new QemuException($"QEMU failed to start: {ex.Message}{(tail.Length > 0 ? " (" + tail + ")" : "")}", ex);
        }
    }

    /// <summary>
    /// Reconnects to a QEMU started by an earlier Ember process, through the instance directory's pidfile and
    /// QMP socket. Returns null (and removes stale sockets) when no QEMU runs for that directory.
    /// </summary>
    public async Task<QemuMachine?> AdoptAsync(string id, string instanceDir, CancellationToken cancellationToken)
    {
        var dir = Path.GetFullPath(instanceDir);
        if (FindRunningQemu(dir) is not { } pid)
        {
            RemoveRuntimeFiles(dir);
            return null;
        }

        var qmp = await QmpClient.ConnectAsync(
            Path.Combine(dir, QemuCommandLine.QmpSocketName), _loggerFactory.CreateLogger<QmpClient>(), cancellationToken);
        Log.Adopted(_logger, id, pid);
        return new QemuMachine(id, dir, pid, process: null, qmp, _loggerFactory);
    }

    private async Task<QmpClient> ConnectWhileStartingAsync(Process process, string qmpPath, Func<string> stderr, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                await process.WaitForExitAsync(cancellationToken); // drains stderr
                var message = stderr();
                throw new QemuException($"QEMU exited with code {process.ExitCode} during start-up: {(message.Length > 0 ? message : "no error output")}");
            }

            if (File.Exists(qmpPath))
            {
                try
                {
                    return await QmpClient.ConnectAsync(qmpPath, _loggerFactory.CreateLogger<QmpClient>(), cancellationToken);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // Socket file exists but QEMU is not listening yet.
                }
                catch (QmpDisconnectedException)
                {
                    // QEMU opens its QMP socket before its disks, so it may accept and then exit on a bad disk:
                    // the next turn reports that exit with QEMU's own error (or retries until the deadline).
                }
            }

            if (deadline.Elapsed > _options.StartTimeout)
            {
                throw new QemuException($"QEMU did not open its QMP socket within {_options.StartTimeout.TotalSeconds:0} s: {stderr()}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// QEMU itself runs on <see cref="Process"/>, not <see cref="ProcessRunner"/>: it outlives the call that starts it
    /// (and may outlive us, to be adopted after a restart), and <see cref="QemuMachine"/> owns its exit and its kill.
    /// </summary>
    private static Process StartQemu(ProcessStartInfo startInfo)
    {
        try
        {
            return Process.Start(startInfo) ?? throw new QemuException($"could not start {startInfo.FileName}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new QemuException($"could not start {startInfo.FileName}: {ex.Message}", ex);
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    private static void Validate(QemuMachineSpec spec)
    {
        if (spec.MemoryMiB <= 0 || spec.Vcpus <= 0)
        {
            throw new QemuException($"invalid machine size: {spec.MemoryMiB} MiB, {spec.Vcpus} vCPUs");
        }

        if (spec.Kernel is { } kernel
            && (kernel.CommandLine.Length > KernelBoot.MaxCommandLineLength || kernel.CommandLine.Any(char.IsControl)))
        {
            throw new QemuException($"the kernel command line must be at most {KernelBoot.MaxCommandLineLength} characters without control characters");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var disk in spec.Disks.Prepend(spec.RootDisk))
        {
            ValidateDeviceName(disk.DeviceName);
            if (!names.Add(disk.DeviceName))
            {
                throw new QemuException($"device name {disk.DeviceName} is used twice");
            }
        }
    }

    internal static void ValidateDeviceName(string name)
    {
        // QOM ids: a letter, then letters, digits, '-', '_', '.'.
        if (name.Length == 0 || name.Length > 32 || !char.IsAsciiLetter(name[0])
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new QemuException($"invalid device name '{name}'");
        }
    }

    /// <summary>The pid of a live QEMU whose command line names this instance directory's QMP socket, or null.</summary>
    internal static int? FindRunningQemu(string dir)
    {
        var pidFile = Path.Combine(dir, QemuCommandLine.PidFileName);
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
        {
            return null;
        }

        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains(Path.Combine(dir, QemuCommandLine.QmpSocketName), StringComparison.Ordinal) && !ProcessWatch.IsZombie(pid)
                ? pid
                : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static void RemoveRuntimeFiles(string dir)
    {
        foreach (var name in new[] { QemuCommandLine.QmpSocketName, QemuCommandLine.AgentSocketName, QemuCommandLine.ConsoleSocketName, QemuCommandLine.PidFileName })
        {
            try
            {
                File.Delete(Path.Combine(dir, name));
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
