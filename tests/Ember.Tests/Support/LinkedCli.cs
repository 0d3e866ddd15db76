using System.Diagnostics;

namespace Ember.Tests.Support;

/// <summary>
/// The built executable as a user runs it: a temp bin/ with ember, cinder, nova and glance as symlinks to the
/// apphost the build copies next to the tests (the personality comes from argv[0]), run as separate processes
/// with the cloud's clouds.yaml, OS_CLOUD and a private token cache.
/// </summary>
public sealed class LinkedCli : IDisposable
{
    private readonly IReadOnlyDictionary<string, string> _env;

    public LinkedCli(IReadOnlyDictionary<string, string> env)
    {
        _env = env;
        Directory.CreateDirectory(Bin);
        foreach (var name in new[] { "ember", "cinder", "nova", "glance" })
        {
            File.CreateSymbolicLink(Path.Combine(Bin, name), Path.Combine(AppContext.BaseDirectory, "ember"));
        }
    }

    public string Bin { get; } = Path.Combine(Path.GetTempPath(), "ember-bin-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(Bin, recursive: true);

    /// <summary>
    /// How to start <paramref name="file"/> (a program in bin/ when not a path) with the cloud's environment and no other OS_*
    /// variables, for a test that types into it as it runs (a <see cref="Process"/>; everything run to completion goes through <see cref="Cli"/>).
    /// </summary>
    public ProcessStartInfo StartInfo(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file.Contains('/', StringComparison.Ordinal) ? file : Path.Combine(Bin, file))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("OS_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in _env)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    /// <summary>Runs bin/<paramref name="program"/> with <paramref name="args"/>; <paramref name="stdin"/>, when given, is piped in and closed.</summary>
    public async Task<CliOutput> RunAsync(string program, string[] args, string? stdin = null, TimeSpan? timeout = null)
    {
        var run = await Cli.RunAsync(Path.Combine(Bin, program), args, _env, timeout ?? TimeSpan.FromMinutes(3), stdin);
        return new CliOutput(run.ExitCode, run.StdOut, run.StdErr, System.Text.Encoding.UTF8.GetBytes(run.StdOut));
    }

    public Task<CliOutput> RunAsync(string program, params string[] args) => RunAsync(program, args, null, null);

    /// <summary>`ember server exec SERVER -- sh -c SCRIPT`, retried while the guest agent is not up yet (HTTP 409), for up to 3 minutes.</summary>
    public async Task<CliOutput> ExecAsync(string server, string script)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (true)
        {
            var result = await RunAsync("ember", ["server", "exec", server, "--timeout", "180", "--", "sh", "-c", script], timeout: TimeSpan.FromMinutes(4));
            if (result.ExitCode == 0 || !result.StdErr.Contains("(HTTP 409)", StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return result;
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }
}
