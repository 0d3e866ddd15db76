using System.Globalization;

namespace Ember.Processes.Tests;

/// <summary>The runner against real children (sh, sleep): what comes back, what is kept, and what is left running (nothing).</summary>
public sealed class ProcessRunnerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ember-processes").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Stdin_goes_in_and_the_exit_code_stdout_and_stderr_come_back()
    {
        var result = await ProcessRunner.RunAsync("sh", ["-c", "cat; echo oops >&2; exit 3"], stdin: "hello\n");

        Assert.Equal(("sh", 3, "hello\n", "oops\n"), (result.Program, result.ExitCode, result.StdOut, result.StdErr));
    }

    [Fact]
    public async Task Each_argument_reaches_the_child_as_it_is()
    {
        string[] odd = ["two words", "quote\"d", "back\\slash", "$HOME", "", "semi;colon", "new\nline"];

        var result = await ProcessRunner.RunAsync("sh", ["-c", "printf '%s|' \"$@\"", "sh", .. odd]);

        Assert.Equal(string.Join('|', odd) + "|", result.StdOut);
    }

    [Fact]
    public async Task A_chatty_child_is_read_to_the_end_but_only_the_tail_is_kept()
    {
        // 8 MB of output would be kept whole by a naive reader; the runner keeps the last 1000 characters.
        var result = await ProcessRunner.RunAsync("sh", ["-c", "head -c 8000000 /dev/zero | tr '\\0' a; echo END"], outputLimit: 1000);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("…" + new string('a', 996) + "END\n", result.StdOut);
    }

    [Fact]
    public async Task A_null_variable_removes_an_inherited_one_and_others_are_set()
    {
        const string inherited = "EMBER_PROCESSES_TEST_INHERITED";
        Environment.SetEnvironmentVariable(inherited, "from-parent");
        try
        {
            var result = await ProcessRunner.RunAsync("sh", ["-c", $"echo \"${{{inherited}:-unset}} $GIVEN\""],
                environment: new Dictionary<string, string?> { [inherited] = null, ["GIVEN"] = "given" });

            Assert.Equal("unset given\n", result.StdOut);
        }
        finally
        {
            Environment.SetEnvironmentVariable(inherited, null);
        }
    }

    [Fact]
    public async Task EnsureSuccess_names_the_program_its_exit_code_and_the_end_of_stderr()
    {
        var result = await ProcessRunner.RunAsync("sh", ["-c", "echo first >&2; echo 'the real reason' >&2; exit 5"]);

        var error = Assert.Throws<ProcessFailedException>(() => result.EnsureSuccess());
        Assert.Equal(("sh", 5), (error.Program, error.ExitCode));
        Assert.Equal("sh exited with code 5: first\nthe real reason", error.Message);
    }

    [Fact]
    public async Task A_program_that_does_not_exist_fails_to_start_with_its_name()
    {
        var error = await Assert.ThrowsAsync<ProcessFailedException>(() => ProcessRunner.RunAsync("/nonexistent/ember-no-such-tool", []));

        Assert.Equal("ember-no-such-tool", error.Program);
        Assert.Null(error.ExitCode);
        Assert.StartsWith("could not start ember-no-such-tool", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timeout_kills_the_child_and_its_children()
    {
        var pidFile = Path.Combine(_dir, "grandchild.pid");
        var run = ProcessRunner.RunAsync("sh", ["-c", $"sleep 300 & echo $! > {pidFile}; wait"], timeout: TimeSpan.FromSeconds(2));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => run);
        Assert.Equal("sh did not finish within 2 s", error.Message);
        await AssertGoneAsync(pidFile);
    }

    [Fact]
    public async Task Cancellation_kills_the_child_and_its_children()
    {
        var pidFile = Path.Combine(_dir, "grandchild.pid");
        using var cancel = new CancellationTokenSource();
        var run = ProcessRunner.RunAsync("sh", ["-c", $"sleep 300 & echo $! > {pidFile}; wait"], cancellationToken: cancel.Token);
        await WaitForFileAsync(pidFile);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await AssertGoneAsync(pidFile);
    }

    private static async Task WaitForFileAsync(string path)
    {
        for (var i = 0; i < 600 && !(File.Exists(path) && File.ReadAllText(path).EndsWith('\n')); i++)
        {
            await Task.Delay(50);
        }
    }

    /// <summary>The process whose pid the file holds is gone (or a zombie waiting for init to reap it).</summary>
    private static async Task AssertGoneAsync(string pidFile)
    {
        await WaitForFileAsync(pidFile);
        var pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        for (var i = 0; i < 200 && IsRunning(pid); i++)
        {
            await Task.Delay(50);
        }

        Assert.False(IsRunning(pid), $"sleep (pid {pid}) outlived its killed parent");
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
