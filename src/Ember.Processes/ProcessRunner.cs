using System.ComponentModel;
using System.Text;
using CliWrap;

namespace Ember.Processes;

/// <summary>
/// Runs helper programs the one way Ember runs them: an argument list (never a shell line), stdout and stderr kept
/// up to a bound, and the child with all its children killed on cancellation or timeout.
/// </summary>
public static class ProcessRunner
{
    /// <summary>How much of each output stream a run keeps unless told otherwise: any error text, not a runaway child's output.</summary>
    public const int DefaultOutputLimit = 1 << 20;

    /// <summary>Runs <paramref name="program"/> to completion and returns its exit code and output; a non-zero exit is not an error here.</summary>
    /// <param name="timeout">How long the program may run; null for no limit but <paramref name="cancellationToken"/>.</param>
    /// <param name="environment">Variables to set for the child; a null value removes one it would otherwise inherit.</param>
    /// <param name="stdin">Text piped to the child's stdin, which is then closed; without it stdin is empty.</param>
    /// <param name="outputLimit">Characters kept of each of stdout and stderr (the last ones).</param>
    /// <exception cref="ProcessFailedException">The program could not be started.</exception>
    /// <exception cref="TimeoutException">The program ran past <paramref name="timeout"/> and was killed.</exception>
    public static async Task<ProcessResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string?>? environment = null, string? stdin = null, int outputLimit = DefaultOutputLimit,
        CancellationToken cancellationToken = default)
    {
        var stdout = new OutputTail(outputLimit);
        var stderr = new OutputTail(outputLimit);
        var command = Command(program, arguments)
            .WithEnvironmentVariables(environment ?? new Dictionary<string, string?>())
            .WithStandardInputPipe(stdin is null ? PipeSource.Null : PipeSource.FromString(stdin, Encoding.UTF8))
            .WithStandardOutputPipe(stdout.Target)
            .WithStandardErrorPipe(stderr.Target);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }

        try
        {
            var result = await Start(command, deadline.Token);
            return new ProcessResult(NameOf(program), result.ExitCode, stdout.Text, stderr.Text);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout is { } allowed)
        {
            throw new TimeoutException($"{NameOf(program)} did not finish within {allowed.TotalSeconds:0.#} s");
        }
    }

    /// <summary>A command for <paramref name="program"/>, each argument one argv entry; its exit code is the caller's to judge.</summary>
    public static Command Command(string program, IEnumerable<string> arguments) =>
        Cli.Wrap(program).WithArguments(arguments).WithValidation(CommandResultValidation.None);

    /// <summary>Starts <paramref name="command"/>; cancelling <paramref name="cancellationToken"/> kills its process tree.</summary>
    /// <exception cref="ProcessFailedException">The program could not be started.</exception>
    public static CommandTask<CommandResult> Start(Command command, CancellationToken cancellationToken)
    {
        try
        {
            return command.ExecuteAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException)
        {
            throw new ProcessFailedException(NameOf(command.TargetFilePath), ex);
        }
    }

    /// <summary>The program's file name: what messages show (never the arguments, which may name private paths).</summary>
    internal static string NameOf(string program) => Path.GetFileName(program);
}
