using System.Text.Json.Nodes;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>
/// The CLI as `./run.sh` publishes it (Native AOT, artifacts/ember/ember; test.sh runs the set-up first): trimming and
/// ahead-of-time compilation must leave every path these commands take working, JSON output and the hand-over of
/// `ember serve` to ember-server included.
/// </summary>
public sealed class PublishedCliTests(CliFixture cloud) : IClassFixture<CliFixture>, IDisposable
{
    private static readonly string s_published = Path.Combine(GuestImage.RepoRoot(), "artifacts", "ember", "ember");
    private readonly string _bin = Path.Combine(Path.GetTempPath(), "ember-aot-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_bin))
        {
            Directory.Delete(_bin, recursive: true);
        }
    }

    private async Task<CliResult> RunAsync(string name, params string[] args)
    {
        Assert.True(File.Exists(s_published), $"{s_published} is missing: run ./run.sh --setup-only (test.sh does) before the tests");
        Directory.CreateDirectory(_bin);
        var link = Path.Combine(_bin, name);
        if (!File.Exists(link))
        {
            File.CreateSymbolicLink(link, s_published);
        }

        return await Cli.RunAsync(link, args, cloud.Env());
    }

    [Fact]
    public async Task Published_cli_creates_and_lists_volumes_as_cinder_and_as_ember_json()
    {
        var create = await RunAsync("cinder", "create", "--name", "aot-made", "1");
        Assert.True(create.ExitCode == 0, create.StdErr);

        var cinder = await RunAsync("cinder", "list");
        Assert.True(cinder.ExitCode == 0, cinder.StdErr);
        Assert.Contains("aot-made", cinder.StdOut, StringComparison.Ordinal);

        var json = await RunAsync("ember", "volume", "list", "-f", "json");
        Assert.True(json.ExitCode == 0, json.StdErr);
        var rows = JsonNode.Parse(json.StdOut)!.AsArray();
        Assert.Contains(rows, row => (string?)row!["Name"] == "aot-made");
    }

    [Fact]
    public async Task Published_cli_lists_servers_and_images_as_nova_and_glance()
    {
        var nova = await RunAsync("nova", "list");
        Assert.True(nova.ExitCode == 0, nova.StdErr);
        Assert.Contains("Status", nova.StdOut, StringComparison.Ordinal);

        var glance = await RunAsync("glance", "image-list");
        Assert.True(glance.ExitCode == 0, glance.StdErr);
        Assert.Contains("Name", glance.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Published_cli_hands_serve_to_ember_server()
    {
        var help = await RunAsync("ember", "serve", "--help");
        Assert.True(help.ExitCode == 0, help.StdErr);
        Assert.Contains("--data-dir", help.StdOut, StringComparison.Ordinal);

        var bad = await RunAsync("ember", "serve", "--role", "nonsense");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("nonsense", bad.StdErr, StringComparison.Ordinal);
    }
}
