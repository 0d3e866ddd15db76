using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>`ember server console` against a real VM: piped input reaches the root shell on the guest's serial port.</summary>
[Collection(GuestVms.Collection)]
public sealed class ServerConsoleTests(GuestCloudFixture cloud) : IClassFixture<GuestCloudFixture>, IDisposable
{
    private readonly LinkedCli _cli = new(cloud.Env());

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Piped_input_runs_in_the_guest_shell_and_its_output_comes_back()
    {
        (await _cli.RunAsync("ember", "flavor", "create", "console.tiny", "--ram", "256", "--disk", "1", "--vcpus", "1")).EnsureSuccess();
        (await _cli.RunAsync("ember", ["server", "create", "console-vm", "--flavor", "console.tiny", "--image", "ember-tiny", "--nic", "none", "--wait"],
            timeout: TimeSpan.FromMinutes(5))).EnsureSuccess();
        try
        {
            // The agent answering means init has run, and with it the root shell on ttyS0.
            Assert.Equal("ready", (await _cli.ExecAsync("console-vm", "echo ready")).EnsureSuccess().StdOut.Trim());

            // The guest's shell expands $((6*7)); the echo of the typed line still shows it unexpanded.
            var console = (await _cli.RunAsync("ember", ["server", "console", "console-vm"], stdin: "echo console-$((6*7))\n")).EnsureSuccess();
            Assert.Contains("console-42", console.StdOut, StringComparison.Ordinal);
            // stdin was a pipe: no raw mode and no escape-key banner.
            Assert.DoesNotContain("Escape character", console.StdErr, StringComparison.Ordinal);

            // The subcommand next to it still works, and QEMU's console log recorded the session.
            var log = (await _cli.RunAsync("ember", "server", "console", "log", "console-vm")).EnsureSuccess();
            Assert.Contains("console-42", log.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            (await _cli.RunAsync("ember", ["server", "delete", "console-vm", "--wait"], timeout: TimeSpan.FromMinutes(3))).EnsureSuccess();
        }

        Assert.Equal(1, (await _cli.RunAsync("ember", "server", "show", "console-vm")).ExitCode);
    }

    [Fact]
    public async Task Console_of_a_missing_server_fails_with_a_message()
    {
        var result = await _cli.RunAsync("ember", "server", "console", "no-such-server");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no-such-server", result.StdErr, StringComparison.Ordinal);
    }
}
