namespace Ember.Processes;

/// <summary>A helper program could not be started or exited non-zero; the message names it, its exit code and the end of its stderr.</summary>
public sealed class ProcessFailedException : Exception
{
    /// <summary>How much of stderr the message quotes: the end, where programs say what went wrong.</summary>
    private const int MessageTail = 2000;

    public ProcessFailedException(string program, int exitCode, string stdErr)
        : base($"{program} exited with code {exitCode}: {Tail(stdErr)}")
    {
        Program = program;
        ExitCode = exitCode;
        StdErrTail = Tail(stdErr);
    }

    /// <summary>The program did not start; the message quotes the operating system's reason, which CliWrap wraps in its own.</summary>
    public ProcessFailedException(string program, Exception inner)
        : base($"could not start {program}: {(inner.InnerException ?? inner).Message}", inner)
    {
        Program = program;
    }

    /// <summary>The program's file name.</summary>
    public string Program { get; } = "";

    /// <summary>The exit code, or null when the program never started.</summary>
    public int? ExitCode { get; }

    /// <summary>The last lines of what the program wrote to stderr.</summary>
    public string StdErrTail { get; } = "";

    private static string Tail(string stdErr)
    {
        var text = stdErr.Trim();
        return text.Length == 0 ? "no error output" : text.Length <= MessageTail ? text : "…" + text[^MessageTail..];
    }
}
