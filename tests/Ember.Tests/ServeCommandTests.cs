using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>`ember serve` as a user runs it: a real process, its banner, a real client, SIGTERM, and a restart on the same data.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("ember-serve-test").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Serve_refuses_a_settings_file_with_a_misspelt_key_before_it_creates_anything()
    {
        var config = Path.Combine(_dataDir, "ember.yaml");
        await File.WriteAllTextAsync(config, "Identity:\n  LockoutFailureAtempts: 3\n");
        var data = Path.Combine(_dataDir, "data");
        var run = await Cli.RunAsync(Path.Combine(AppContext.BaseDirectory, "ember"), ["serve", "--config", config, "--data-dir", data]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("LockoutFailureAtempts", run.StdErr);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task Serve_prints_its_endpoint_answers_openstack_stops_cleanly_on_sigterm_and_restarts_on_the_same_data()
    {
        for (var run = 0; run < 2; run++)
        {
            // Only the admin password is given: the demo one is generated on the first start and must be kept.
            await using var serve = await ServeProcess.StartAsync(_dataDir, "serve-test-admin");
            Assert.Contains($"{serve.BaseUrl}/identity/v3", serve.Banner);
            Assert.Contains(Path.Combine(_dataDir, "clouds.yaml"), serve.Banner);

            // The second start reuses the database and the generated demo password from the first.
            var token = await Cli.RunAsync("openstack", ["--os-cloud", "ember-demo", "token", "issue", "-f", "value", "-c", "project_id"],
                new Dictionary<string, string> { ["OS_CLIENT_CONFIG_FILE"] = Path.Combine(_dataDir, "clouds.yaml") });
            Assert.True(token.ExitCode == 0, token.StdErr);
            Assert.Matches("^[0-9a-f]{32}$", token.StdOut.Trim());

            Assert.Equal(0, await serve.StopAsync());
        }
    }
}
