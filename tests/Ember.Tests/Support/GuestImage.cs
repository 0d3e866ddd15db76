using System.Diagnostics;
using Ember.Server;

namespace Ember.Tests.Support;

/// <summary>The project's small guest image: $EMBER_GUEST_IMAGE (test.sh sets it), else built by tools/guest-image/build.sh.</summary>
public static class GuestImage
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static string? s_path;

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

            var start = new ProcessStartInfo(Path.Combine(RepoRoot(), "tools", "guest-image", "build.sh"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(15));
            await process.WaitForExitAsync(cts.Token);
            var path = (await stdout).Trim().Split('\n').LastOrDefault()?.Trim();
            if (process.ExitCode != 0 || path is null || !File.Exists(path))
            {
                throw new InvalidOperationException($"tools/guest-image/build.sh failed (exit {process.ExitCode}): {await stderr}");
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

/// <summary>An Ember host with the guest image registered as the public image ember-tiny, for tests that boot VMs.</summary>
public class GuestCloudFixture : CliFixture
{
    protected override async Task ConfigureAsync(EmberOptions options) => options.DefaultImagePath = await GuestImage.PathAsync();
}

/// <summary>Test classes that boot guest VMs share one xUnit collection, so they run one after another: two cores do not carry several TCG guests well.</summary>
public static class GuestVms
{
    public const string Collection = "guest VMs";
}
