namespace Ember.Client;

/// <summary>What a client command reads from and writes to: environment, output streams, terminal.</summary>
/// <remarks>Injected rather than read from <see cref="Environment"/> and <see cref="Console"/> so tests can run commands in parallel in one process.</remarks>
public sealed class CliContext
{
    public required Func<string, string?> GetEnv { get; init; }

    public required TextWriter Out { get; init; }

    public required TextWriter Err { get; init; }

    /// <summary>Standard output as bytes, for downloads written to stdout.</summary>
    public Func<Stream>? OpenStdout { get; init; }

    /// <summary>Standard input as bytes, for the interactive console.</summary>
    public Func<Stream>? OpenStdin { get; init; }

    /// <summary>True when stdin is a terminal: the console then switches it to raw mode.</summary>
    public bool InIsTerminal { get; init; }

    /// <summary>True when stderr is a terminal: progress bars are drawn only then.</summary>
    public bool ErrIsTerminal { get; init; }

    public string HomeDirectory { get; init; } = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    public string CurrentDirectory { get; init; } = Environment.CurrentDirectory;

    public static CliContext FromProcess() => new()
    {
        GetEnv = Environment.GetEnvironmentVariable,
        Out = Console.Out,
        Err = Console.Error,
        OpenStdout = Console.OpenStandardOutput,
        // fd 0 itself: Console.OpenStandardInput on a terminal reads through .NET's line editor, which echoes and
        // waits for Enter whatever the terminal mode is.
        OpenStdin = () => new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0),
        InIsTerminal = !Console.IsInputRedirected,
        ErrIsTerminal = !Console.IsErrorRedirected,
    };

    public string? Env(string name) => GetEnv(name) is { Length: > 0 } value ? value : null;
}
