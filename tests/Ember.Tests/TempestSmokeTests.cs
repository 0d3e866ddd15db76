using System.Text.RegularExpressions;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>
/// OpenStack's own API tests against a real `ember serve`: the fast identity + volume subset of conformance/tempest.sh
/// (conformance/tempest-smoke.txt), run as a user runs it. The full run and its results are in docs/conformance.md.
/// </summary>
public sealed partial class TempestSmokeTests : IDisposable
{
    private const string AdminPassword = "tempest-smoke-admin";

    private readonly string _dir = Directory.CreateTempSubdirectory("ember-tempest-smoke").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Tempest_identity_and_volume_smoke_subset_passes_with_no_failure()
    {
        // Keystone's admin_project_name unset, as conformance/tempest.sh runs its own Ember: Tempest's dynamic admins
        // hold the admin role on fresh projects.
        var config = Path.Combine(_dir, "ember.yaml");
        await File.WriteAllTextAsync(config, "Identity:\n  AdminProjectName: \"\"\n");
        var port = ServeProcess.FreePort(System.Net.IPAddress.Loopback);
        await using var serve = await ServeProcess.StartAsync(new ServeLaunch(
            ["--config", config, "--data-dir", Path.Combine(_dir, "data"), "--listen", $"127.0.0.1:{port}"],
            new Dictionary<string, string?> { ["EMBER_ADMIN_PASSWORD"] = AdminPassword, ["EMBER_DEMO_PASSWORD"] = "tempest-smoke-demo" }), port);

        var script = Path.Combine(GuestImage.RepoRoot(), "conformance", "tempest.sh");
        var run = await Cli.RunAsync(script, ["--url", serve.BaseUrl, "--subset", "smoke", "--workspace", Path.Combine(_dir, "workspace")],
            new Dictionary<string, string> { ["EMBER_ADMIN_PASSWORD"] = AdminPassword }, TimeSpan.FromMinutes(5));

        Assert.True(run.ExitCode == 0, run.ToString());
        var total = TotalLine().Match(run.StdOut);
        Assert.True(total.Success, run.ToString());
        Assert.True(int.Parse(total.Groups["pass"].Value) >= 20, run.StdOut);
        Assert.Equal("0", total.Groups["fail"].Value);
    }

    [GeneratedRegex(@"^total\s+(?<excluded>\d+)\s+(?<run>\d+)\s+(?<pass>\d+)\s+(?<skip>\d+)\s+(?<fail>\d+)$", RegexOptions.Multiline)]
    private static partial Regex TotalLine();
}
