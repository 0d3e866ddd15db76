using System.Text.Json.Nodes;
using Ember.Processes;

namespace Ember.Testing;

/// <summary>What a finished program printed, and its exit code.</summary>
public sealed record CliResult(int ExitCode, string StdOut, string StdErr)
{
    public JsonNode Json() => JsonNode.Parse(StdOut) ?? throw new InvalidOperationException("empty output");

    public CliResult EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"exit {ExitCode}\nstdout: {StdOut}\nstderr: {StdErr}");

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
}

/// <summary>Runs real programs (clients, qemu-img, the build script) the way a user would, through <see cref="ProcessRunner"/>.</summary>
public static class Cli
{
    /// <summary>A test keeps all a program prints that it could assert on.</summary>
    private const int OutputLimit = 64 << 20;

    /// <summary>
    /// Runs a program to completion (killing it after <paramref name="timeout"/>, 2 minutes unless given) and captures
    /// its output. The caller's OS_* variables are left out: each test says which cloud it talks to.
    /// </summary>
    public static async Task<CliResult> RunAsync(string program, IEnumerable<string> args, IEnumerable<KeyValuePair<string, string>>? env = null,
        TimeSpan? timeout = null, string? stdin = null)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("OS_", StringComparison.Ordinal)))
        {
            environment[name] = null;
        }

        foreach (var (name, value) in env ?? [])
        {
            environment[name] = value;
        }

        var result = await ProcessRunner.RunAsync(program, args, timeout ?? TimeSpan.FromMinutes(2), environment, stdin, OutputLimit);
        return new CliResult(result.ExitCode, result.StdOut, result.StdErr);
    }

    /// <summary>Runs a program and fails unless it exits 0, returning its stdout.</summary>
    public static async Task<string> RunOkAsync(string program, params IEnumerable<string> args) =>
        (await RunAsync(program, args)).EnsureSuccess().StdOut;
}
