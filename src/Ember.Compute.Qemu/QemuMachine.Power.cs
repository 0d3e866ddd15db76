using System.Text.Json.Nodes;
using Ember.Compute.Qemu.Qmp;

namespace Ember.Compute.Qemu;

public sealed partial class QemuMachine
{
    /// <summary>
    /// Clean power-off: ACPI power button (<c>system_powerdown</c>), wait up to <paramref name="grace"/> for the guest
    /// to power off (QEMU then exits), else <c>quit</c>, else kill. Returns true if the guest powered off by itself.
    /// </summary>
    public async Task<bool> ShutdownAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        if (Exited.IsCompleted)
        {
            return true;
        }

        Log.PowerAction(_logger, Id, "ACPI power-down");
        await TryExecuteAsync("system_powerdown", cancellationToken);
        if (await WaitExitedAsync(grace, cancellationToken))
        {
            return true;
        }

        Log.PowerAction(_logger, Id, $"guest did not power off within {grace.TotalSeconds:0} s, quitting QEMU");
        await QuitAsync(cancellationToken);
        return false;
    }

    /// <summary>
    /// Stops QEMU without asking the guest, as libvirt's destroy does (SIGTERM, then SIGKILL after 10 s): <c>quit</c>
    /// lets QEMU close its disks, so a network disk's server sees a clean close (an RBD image loses its watch at once,
    /// where a killed client's watch lingers ~30 s and keeps the image from being deleted); else kill.
    /// </summary>
    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        if (Exited.IsCompleted)
        {
            return;
        }

        await TryExecuteAsync("quit", cancellationToken);
        if (!await WaitExitedAsync(TimeSpan.FromSeconds(10), cancellationToken))
        {
            await KillAsync();
        }
    }

    /// <summary>Halts the vCPUs (<c>stop</c>); the guest's memory and devices stay as they are.</summary>
    public async Task PauseAsync(CancellationToken cancellationToken)
    {
        Log.PowerAction(_logger, Id, "pause");
        await Qmp.ExecuteAsync("stop", null, cancellationToken);
    }

    /// <summary>Runs the vCPUs again (<c>cont</c>) after <see cref="PauseAsync"/>.</summary>
    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        Log.PowerAction(_logger, Id, "resume");
        await Qmp.ExecuteAsync("cont", null, cancellationToken);
    }

    /// <summary>Hard or soft reboot with a 60 s soft grace period.</summary>
    public Task RebootAsync(bool hard, CancellationToken cancellationToken) =>
        RebootAsync(hard, TimeSpan.FromSeconds(60), cancellationToken);

    /// <summary>
    /// Hard: <c>system_reset</c>. Soft (Nova's SOFT): ACPI power-down with QEMU told to pause instead of exit
    /// (<c>set-action shutdown=pause</c>, libvirt's "fake reboot"), then reset and resume once the guest has shut
    /// down. Works without a guest agent; a guest that ignores ACPI for <paramref name="grace"/> gets a hard reset.
    /// </summary>
    public async Task RebootAsync(bool hard, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (hard)
        {
            Log.PowerAction(_logger, Id, "hard reboot");
            await ResetAsync(cancellationToken);
            return;
        }

        Log.PowerAction(_logger, Id, "soft reboot");
        await Qmp.ExecuteAsync("set-action", new JsonObject { ["shutdown"] = "pause" }, cancellationToken);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(grace);
            var shutdown = Qmp.WaitForEventAsync("SHUTDOWN", e => e.Data.TryGetProperty("guest", out var g) && g.GetBoolean(), timeout.Token);
            await Qmp.ExecuteAsync("system_powerdown", null, cancellationToken);
            try
            {
                await shutdown;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Log.PowerAction(_logger, Id, $"guest ignored ACPI for {grace.TotalSeconds:0} s, hard reset");
            }

            await ResetAsync(cancellationToken);
            if (await QueryStatusAsync(cancellationToken) != "running")
            {
                await Qmp.ExecuteAsync("cont", null, cancellationToken);
            }
        }
        finally
        {
            if (!Qmp.Completion.IsCompleted)
            {
                await Qmp.ExecuteAsync("set-action", new JsonObject { ["shutdown"] = "poweroff" }, CancellationToken.None);
            }
        }
    }

    /// <summary><c>system_reset</c>, returning once QEMU has done it (its RESET event; the agent then resyncs).</summary>
    private async Task ResetAsync(CancellationToken cancellationToken)
    {
        var reset = Qmp.WaitForEventAsync("RESET", null, cancellationToken);
        await Qmp.ExecuteAsync("system_reset", null, cancellationToken);
        await reset.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
    }

    private async Task<bool> WaitExitedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Exited.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task TryExecuteAsync(string command, CancellationToken cancellationToken)
    {
        try
        {
            await Qmp.ExecuteAsync(command, null, TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (Exception ex) when (ex is QmpDisconnectedException or QmpErrorException or TimeoutException)
        {
            // QEMU is going away or wedged; the caller's next step (wait, quit, kill) handles both.
        }
    }
}
