namespace Ember.Testing;

/// <summary>The project's small guest image: $EMBER_GUEST_IMAGE (test.sh sets it), else built by tools/guest-image/build.sh.</summary>
public static class GuestImage
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static string? s_path;

    /// <summary>The qcow2 path; building it once per test process when the environment does not name one.</summary>
    public static async Task<string> PathAsync()
    {
        await s_gate.WaitAsync();
        try
        {
            if (s_path is not null)
            {
                return s_path;
            }

            var fromEnv = Environment.GetEnvironmentVariable("EMBER_GUEST_IMAGE");
            if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv))
            {
                return s_path = fromEnv;
            }

            var script = Path.Combine(RepoRoot(), "tools", "guest-image", "build.sh");
            var result = await Cli.RunAsync(script, [], timeout: TimeSpan.FromMinutes(15));
            var path = result.StdOut.Trim().Split('\n').LastOrDefault()?.Trim();
            if (result.ExitCode != 0 || string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                var err = result.StdErr;
                throw new InvalidOperationException(
                    $"{script} failed (exit {result.ExitCode}, last stdout line '{path}'): {err[Math.Max(0, err.Length - 2000)..]}");
            }

            return s_path = path;
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>The checkout's root: the directory holding Ember.slnx above the test binaries.</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ember.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Ember.slnx not found above " + AppContext.BaseDirectory);
    }
}
