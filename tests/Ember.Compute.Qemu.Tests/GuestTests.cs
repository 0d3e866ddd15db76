using Xunit.Abstractions;

namespace Ember.Compute.Qemu.Tests;

[CollectionDefinition("guest", DisableParallelization = true)]
public sealed class GuestCollection;

/// <summary>A real Linux guest (ember-tiny under TCG) sharing one VM: guest exec, volumes seen by the guest, hot-plug round trip.</summary>
[Collection("guest")]
public sealed class GuestTests : IClassFixture<GuestFixture>, IDisposable
{
    private static readonly TimeSpan s_exec = TimeSpan.FromSeconds(60);
    private readonly GuestFixture _guest;
    private readonly ITestOutputHelper _output;

    public GuestTests(GuestFixture guest, ITestOutputHelper output)
    {
        _guest = guest;
        _output = output;
        guest.Logs.Output = output;
        output.WriteLine($"boot to agent under TCG: {guest.BootToAgent.TotalSeconds:0.0} s ({guest.ImagePath})");
    }

    public void Dispose() => _guest.Logs.Output = null;

    [Fact]
    public async Task Exec_uname_reports_a_linux_kernel()
    {
        var result = await _guest.Machine.Agent.ExecAsync("/bin/uname", ["-a"], null, s_exec, default);

        Assert.Equal(0, result.ExitCode);
        Assert.False(result.TimedOut);
        Assert.StartsWith("Linux", result.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exec_returns_exit_code_stdout_and_stderr()
    {
        var result = await _guest.Machine.Agent.ExecAsync("/bin/sh", ["-c", "echo hi; echo oops >&2; exit 3"], null, s_exec, default);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("hi\n", result.StdOut);
        Assert.Equal("oops\n", result.StdErr);
    }

    [Fact]
    public async Task Exec_passes_stdin()
    {
        var result = await _guest.Machine.Agent.ExecAsync("/bin/sh", ["-c", "tr a-z A-Z"], "hello\n", s_exec, default);

        Assert.Equal("HELLO\n", result.StdOut);
    }

    [Fact]
    public async Task Exec_that_outlives_its_timeout_reports_timed_out_and_the_agent_stays_usable()
    {
        var result = await _guest.Machine.Agent.ExecAsync("/bin/sleep", ["20"], null, TimeSpan.FromSeconds(1), default);
        Assert.True(result.TimedOut);

        var next = await _guest.Machine.Agent.ExecAsync("/bin/sh", ["-c", "echo still here"], null, s_exec, default);
        Assert.Equal("still here\n", next.StdOut);
    }

    [Fact]
    public async Task Boot_time_volume_is_vdb_with_the_truncated_serial()
    {
        var result = await ExecAsync("cat /sys/block/vdb/serial; echo; cat /sys/block/vdb/size");

        var lines = result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("vol-boot-0123456789-", lines[0]); // the first 20 chars of the id, as Nova does
        Assert.Equal((64L << 20) / 512, long.Parse(lines[1]));
    }

    [Fact]
    public async Task Hot_plugged_volume_appears_as_vdc_is_writable_and_unplugs_with_device_deleted()
    {
        var export = _guest.HotplugExport;
        await _guest.Machine.AttachDiskAsync(new NbdDisk("vdc", "vol-hot", export.ExportName, export.SocketPath, null, 0, ReadOnly: false, Shareable: true), default);

        var seen = await ExecAsync("for i in $(seq 100); do [ -b /dev/vdc ] && break; sleep 0.2; done; cat /sys/block/vdc/serial; "
            + "echo data-vdc | dd of=/dev/vdc bs=512 count=1 conv=sync,fsync 2>/dev/null; dd if=/dev/vdc bs=8 count=1 2>/dev/null");
        Assert.Equal("vol-hotdata-vdc", seen.Replace("\0", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

        await _guest.Machine.DetachDiskAsync("vdc", TimeSpan.FromSeconds(60), default);

        var gone = await ExecAsync("[ -e /sys/block/vdc ] && echo present || echo gone");
        Assert.Equal("gone\n", gone);
        var block = await _guest.Machine.Qmp.ExecuteAsync("query-block");
        Assert.DoesNotContain(block.EnumerateArray(), b => b.GetProperty("qdev").GetString()!.Contains("disk-vdc", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Console_log_shows_what_the_guest_writes_to_its_serial_port_while_it_runs()
    {
        var marker = "ember-console-" + Guid.NewGuid().ToString("N")[..8];
        await ExecAsync($"echo {marker} > /dev/ttyS0");

        string console = "";
        for (var i = 0; i < 100 && !console.Contains(marker, StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            console = _guest.ReadConsole();
        }

        Assert.Contains(marker, console, StringComparison.Ordinal);
    }

    private async Task<string> ExecAsync(string script)
    {
        var result = await _guest.Machine.Agent.ExecAsync("/bin/sh", ["-c", script], null, s_exec, default);
        _output.WriteLine($"$ {script}\n{result.StdOut}{result.StdErr}(exit {result.ExitCode})");
        Assert.Equal(0, result.ExitCode);
        return result.StdOut;
    }
}
