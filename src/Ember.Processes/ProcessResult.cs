namespace Ember.Processes;

/// <summary>How a program run by <see cref="ProcessRunner"/> ended: its exit code and the (bounded) text it printed.</summary>
public sealed record ProcessResult(string Program, int ExitCode, string StdOut, string StdErr)
{
    /// <summary>This result if the program exited 0.</summary>
    /// <exception cref="ProcessFailedException">It exited with another code.</exception>
    public ProcessResult EnsureSuccess() => ExitCode == 0 ? this : throw new ProcessFailedException(Program, ExitCode, StdErr);
}
