using System.Runtime.InteropServices;

namespace Ember.Commands;

/// <summary>
/// `ember serve` and `ember admin` run in `ember-server`, the executable beside this one: the CLI is compiled ahead of
/// time without the server's code so that client commands start in milliseconds. The hand-over is an exec, so the
/// process id, signals, standard streams and exit code stay exactly those of `ember serve`.
/// </summary>
public static partial class ServerVerbs
{
    public static bool Handles(string[] args) => args.Length > 0 && args[0] is "serve" or "admin";

    /// <summary>The one-line help entries of the verbs, for `ember --help`.</summary>
    public static IEnumerable<(string Name, string Description)> Entries { get; } =
    [
        ("serve", "Run the cloud (identity, image, compute, block storage, network, NBD) or one role of it; `ember serve --help` for its options."),
        ("admin", "Operator actions on the data directory of `ember serve` (reset-password)."),
    ];

    /// <summary>Replaces this process with ember-server; returns only when that fails.</summary>
    public static int Exec(string[] args)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "ember-server");
        if (!File.Exists(program))
        {
            Console.Error.WriteLine($"ember {args[0]}: {program} is missing (build it with ./run.sh --setup-only)");
            return 127;
        }

        var argv = new nint[args.Length + 2];
        try
        {
            argv[0] = Marshal.StringToCoTaskMemUTF8(program);
            for (var i = 0; i < args.Length; i++)
            {
                argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
            }

            execv(program, argv);
            Console.Error.WriteLine($"ember {args[0]}: cannot run {program}: {Marshal.GetLastPInvokeErrorMessage()}");
            return 126;
        }
        finally
        {
            foreach (var arg in argv)
            {
                Marshal.FreeCoTaskMem(arg);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execv(string path, nint[] argv);
}
