using Ember.Commands.Legacy;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>The built executable behind symlinks named cinder and glance acts as those clients (argv[0] detection).</summary>
public sealed class SymlinkNameTests(CliFixture cloud) : IClassFixture<CliFixture>, IDisposable
{
    private readonly string _bin = Path.Combine(Path.GetTempPath(), "ember-bin-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(_bin, recursive: true);

    private async Task<(int Code, string Out, string Err)> RunAsync(string name, params string[] args)
    {
        Directory.CreateDirectory(_bin);
        var link = Path.Combine(_bin, name);
        if (!File.Exists(link))
        {
            // The apphost the build copies next to the tests; a symlink keeps its own name in argv[0].
            File.CreateSymbolicLink(link, Path.Combine(AppContext.BaseDirectory, "ember"));
        }

        var run = await Cli.RunAsync(link, args, cloud.Env());
        return (run.ExitCode, run.StdOut, run.StdErr);
    }

    [Fact]
    public async Task Cinder_symlink_runs_the_cinder_personality()
    {
        (await cloud.RunAsync("cinder", "create", "--name", "via-link", "1")).EnsureSuccess();
        var (code, stdout, stderr) = await RunAsync("cinder", "list");
        Assert.True(code == 0, stderr);
        Assert.Equal(CinderShell.ListColumns, Tables.Headers(stdout));
        // cinderclient 1.x centers values: size "1" under "Size" is "|  1   |" (prettytable puts the odd space right).
        Assert.Contains("|  1   |", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Glance_symlink_runs_the_glance_personality()
    {
        var (code, stdout, stderr) = await RunAsync("glance", "image-list");
        Assert.True(code == 0, stderr);
        Assert.Equal(Tables.Headers(SeedTables.GlanceImageList), Tables.Headers(stdout));
    }

    [Fact]
    public async Task Unknown_verb_under_a_personality_name_fails()
    {
        var (code, _, stderr) = await RunAsync("nova", "no-such-command");
        Assert.NotEqual(0, code);
        Assert.Contains("no-such-command", stderr, StringComparison.Ordinal);
    }
}
