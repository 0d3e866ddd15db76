using System.Diagnostics;
using Ember.Compute.Qemu.Qmp;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu;

/// <summary>
/// One running QEMU process: QMP, guest agent, disks and power. Disposing it kills QEMU;
/// <see cref="ReleaseAsync"/> leaves it running for a later <see cref="QemuDriver.AdoptAsync"/>.
/// </summary>
public sealed partial class QemuMachine : IAsyncDisposable
{
    private readonly Process? _process;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _lifetime = new();
    private int _disposed;

    internal QemuMachine(string id, string instanceDir, int pid, Process? process, QmpClient qmp, ILoggerFactory loggerFactory)
    {
        Id = id;
        InstanceDir = instanceDir;
        Pid = pid;
        _process = process;
        _logger = loggerFactory.CreateLogger<QemuMachine>();
        Qmp = qmp;
        Agent = new GuestAgent(Path.Combine(instanceDir, QemuCommandLine.AgentSocketName), id, loggerFactory.CreateLogger<GuestAgent>());
        // A reset (ours or the guest's own reboot) restarts the agent inside: the connection synced with the old
        // one must be resynchronised, or a request would wait for an agent that is still booting.
        Qmp.EventReceived += e =>
        {
            if (e.Name == "RESET")
            {
                Agent.MarkGuestReset();
            }
        };
        Exited = WatchAsync();
    }

    /// <summary>The server id.</summary>
    public string Id { get; }

    public string InstanceDir { get; }

    public int Pid { get; }

    /// <summary>Everything the guest wrote to its serial port since QEMU started; readable while it runs.</summary>
    public string ConsoleLogPath => Path.Combine(InstanceDir, QemuCommandLine.ConsoleLogName);

    /// <summary>The serial console as a unix socket, for an interactive attach (one client at a time).</summary>
    public string ConsoleSocketPath => Path.Combine(InstanceDir, QemuCommandLine.ConsoleSocketName);

    /// <summary>Raw QMP, for queries the driver does not wrap.</summary>
    public QmpClient Qmp { get; }

    /// <summary>The qemu-guest-agent channel (virtio-serial port org.qemu.guest_agent.0).</summary>
    public GuestAgent Agent { get; }

    /// <summary>Completes when the QEMU process has exited, however that happened (guest power-off, crash, kill).</summary>
    public Task Exited { get; }

    /// <summary>QEMU's exit code once it has exited, if it was started by this process.</summary>
    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>QMP <c>query-status</c>: running, paused, shutdown, prelaunch, internal-error, ...</summary>
    public async Task<string> QueryStatusAsync(CancellationToken cancellationToken)
    {
        var status = await Qmp.ExecuteAsync("query-status", null, cancellationToken);
        return status.GetProperty("status").GetString() ?? "";
    }

    /// <summary>Kills QEMU (SIGKILL) and waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        if (Exited.IsCompleted)
        {
            return;
        }

        Log.PowerAction(_logger, Id, "kill");
        try
        {
            if (_process is not null)
            {
                _process.Kill();
            }
            else
            {
                using var process = Process.GetProcessById(Pid);
                process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (ArgumentException)
        {
            // No such process.
        }

        await Exited.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Closes our QMP and agent connections and leaves QEMU running.</summary>
    public async ValueTask ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync();
        await Qmp.DisposeAsync();
        await Agent.DisposeAsync();
        _process?.Dispose();
    }

    /// <summary>Kills QEMU if it still runs and releases everything.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            await KillAsync();
        }
        catch (TimeoutException)
        {
            // Reported by the process table; nothing else we can do.
        }

        await ReleaseAsync();
        if (QemuDriver.FindRunningQemu(InstanceDir) is null)
        {
            QemuDriver.RemoveRuntimeFiles(InstanceDir);
        }
    }

    // Cancelled (not completed) if we release the machine while QEMU still runs.
    private async Task WatchAsync()
    {
        if (_process is not null)
        {
            await _process.WaitForExitAsync(_lifetime.Token);
        }
        else
        {
            // Not our child: QMP closing is the prompt signal, /proc confirms.
            await Qmp.Completion.WaitAsync(_lifetime.Token);
            await ProcessWatch.WaitForExitAsync(Pid, _lifetime.Token);
        }

        Log.Exited(_logger, Id, Pid);
    }
}
