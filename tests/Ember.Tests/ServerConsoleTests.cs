using System.Diagnostics;
using System.Text;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>`ember server console` against a real VM: input reaches the root shell on the guest's serial port, from a pipe and from a terminal.</summary>
[Collection(GuestVms.Collection)]
public sealed class ServerConsoleTests(ServerConsoleTests.VmFixture cloud) : IClassFixture<ServerConsoleTests.VmFixture>, IDisposable
{
    private const string Vm = "console-vm";

    private readonly LinkedCli _cli = new(cloud.Env());

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Piped_input_runs_in_the_guest_shell_and_its_output_comes_back()
    {
        // The guest's shell expands $((6*7)); the echo of the typed line still shows it unexpanded.
        var console = (await _cli.RunAsync("ember", ["server", "console", Vm], stdin: "echo console-$((6*7))\n")).EnsureSuccess();
        Assert.Contains("console-42", console.StdOut, StringComparison.Ordinal);
        // stdin was a pipe: no raw mode and no escape-key banner.
        Assert.DoesNotContain("Escape character", console.StdErr, StringComparison.Ordinal);

        // The subcommand next to it still works, and QEMU's console log recorded the session.
        var log = (await _cli.RunAsync("ember", "server", "console", "log", Vm)).EnsureSuccess();
        Assert.Contains("console-42", log.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_a_terminal_keys_go_to_the_guest_raw_and_ctrl_bracket_quits()
    {
        // script(1) (util-linux, essential in Debian) runs the console on a pseudo-terminal fed from our pipe.
        var start = _cli.StartInfo("/usr/bin/script", "-qfec", $"{Path.Combine(_cli.Bin, "ember")} server console {Vm}", "/dev/null");
        using var process = Process.Start(start)!;
        var screen = new StringBuilder();
        var reading = Task.WhenAll(CopyAsync(process.StandardOutput, screen), CopyAsync(process.StandardError, screen));
        try
        {
            await WaitForAsync(screen, "Escape character is '^]'");
            await TypeAsync(process, "\r");
            await WaitForAsync(screen, "ember-tiny:/#");
            await TypeAsync(process, "sleep 600\r");
            await WaitForAsync(screen, "sleep 600");
            // Ctrl-C: in raw mode a byte for the guest (it interrupts the sleep), not a SIGINT for the client.
            var prompts = Occurrences(screen, "ember-tiny:/#").Count;
            await TypeAsync(process, "\u0003");
            // Type the next line at the new prompt: keys typed ahead of it are echoed twice by the guest itself
            // (by its tty while cooked, then by ash's line editor).
            await WaitForAsync(screen, "ember-tiny:/#", prompts + 1);
            await TypeAsync(process, "echo after-$((2+3))\r");
            await WaitForAsync(screen, "after-5");
            // Only the guest echoes what we type: the local terminal's echo is off.
            Assert.Single(Occurrences(screen, "echo after-$((2+3))"));

            await TypeAsync(process, "\u001d");
            using var exit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(exit.Token);
            await reading;
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("Console closed.", Text(screen), StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task TypeAsync(Process process, string keys)
    {
        await process.StandardInput.WriteAsync(keys);
        await process.StandardInput.FlushAsync();
    }

    private static async Task CopyAsync(StreamReader reader, StringBuilder screen)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (screen)
            {
                screen.Append(buffer, 0, read);
            }
        }
    }

    private static string Text(StringBuilder screen)
    {
        lock (screen)
        {
            return screen.ToString();
        }
    }

    private static List<int> Occurrences(StringBuilder screen, string text)
    {
        var all = Text(screen);
        var found = new List<int>();
        for (var i = all.IndexOf(text, StringComparison.Ordinal); i >= 0; i = all.IndexOf(text, i + 1, StringComparison.Ordinal))
        {
            found.Add(i);
        }

        return found;
    }

    /// <summary>Waits until <paramref name="text"/> is on the screen (generous: a loaded 2-core machine under TCG).</summary>
    private static async Task WaitForAsync(StringBuilder screen, string text, int times = 1)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (Occurrences(screen, text).Count < times)
        {
            Assert.True(DateTime.UtcNow < deadline, $"'{text}' never appeared; the screen:\n{Text(screen)}");
            await Task.Delay(100);
        }
    }

    /// <summary>A cloud with ember-tiny and one running server whose guest agent (and so its serial shell) is up.</summary>
    public sealed class VmFixture : GuestCloudFixture
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            (await RunAsync("ember", "flavor", "create", "console.tiny", "--ram", "256", "--disk", "1", "--vcpus", "1")).EnsureSuccess();
            (await RunAsync("ember", "server", "create", Vm, "--flavor", "console.tiny", "--image", "ember-tiny", "--nic", "none", "--wait")).EnsureSuccess();
            using var cli = new LinkedCli(Env());
            // The agent answering means init has run, and with it the root shell on ttyS0.
            Assert.Equal("ready", (await cli.ExecAsync(Vm, "echo ready")).EnsureSuccess().StdOut.Trim());
        }

        public override async Task DisposeAsync()
        {
            try
            {
                (await RunAsync("ember", "server", "delete", Vm, "--wait")).EnsureSuccess();
            }
            finally
            {
                await base.DisposeAsync();
            }
        }
    }
}
