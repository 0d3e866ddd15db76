using Ember.Server.Identity;

namespace Ember.Server.Tests.Identity;

/// <summary>Changes the process umask: runs alone, so no other test creates files meanwhile.</summary>
[CollectionDefinition(nameof(UmaskCollection), DisableParallelization = true)]
public sealed class UmaskCollection;

/// <summary>The files holding passwords are 0600 from their creation on, even where the umask would allow more.</summary>
[Collection(nameof(UmaskCollection))]
public sealed class PrivateFileTests : IDisposable
{
    private const UnixFileMode GroupAndOther = (UnixFileMode)0b000_111_111;

    private readonly string _dir = Directory.CreateTempSubdirectory("ember-private-files").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Client_files_are_never_readable_by_others_even_with_umask_000()
    {
        // A stale temp file from a crash, world-readable: it must not lend its mode to the new one.
        File.WriteAllText(Path.Combine(_dir, "clouds.yaml.tmp"), "stale");
        File.SetUnixFileMode(Path.Combine(_dir, "clouds.yaml.tmp"), (UnixFileMode)0b110_110_110);

        var previous = DataDirectory.SetUmask(0);
        var seenLoose = new List<string>();
        using var stop = new CancellationTokenSource();
        try
        {
            // The first write replaces the stale file; the watcher starts after it, so it never sees the stale one.
            ClientFiles.Write(_dir, "http://127.0.0.1:1/identity/v3", "admin-first", "demo-first");
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(_dir, "clouds.yaml")));
            Assert.False(File.Exists(Path.Combine(_dir, "clouds.yaml.tmp")));

            // A watcher polls the temp files while they are written over and over: with write-then-chmod it sees
            // a 0666 file; with the create mode it never does.
            var watcher = Task.Run(() =>
            {
                var sightings = 0;
                while (!stop.IsCancellationRequested)
                {
                    foreach (var name in new[] { "clouds.yaml.tmp", "admin-openrc.tmp", "demo-openrc.tmp" })
                    {
                        try
                        {
                            var mode = File.GetUnixFileMode(Path.Combine(_dir, name));
                            sightings++;
                            if ((mode & GroupAndOther) != 0)
                            {
                                lock (seenLoose)
                                {
                                    seenLoose.Add($"{name} {mode}");
                                }
                            }
                        }
                        catch (IOException)
                        {
                            // Not there at this instant.
                        }
                    }
                }

                return sightings;
            });

            for (var i = 0; i < 200; i++)
            {
                ClientFiles.Write(_dir, "http://127.0.0.1:1/identity/v3", "admin-" + i, "demo-" + i);
            }

            await stop.CancelAsync();
            await watcher;
        }
        finally
        {
            DataDirectory.SetUmask(previous);
        }

        Assert.Empty(seenLoose);
        foreach (var name in new[] { "clouds.yaml", "admin-openrc", "demo-openrc" })
        {
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(Path.Combine(_dir, name)));
        }

        Assert.Equal("admin-199", ClientFiles.ReadPassword(_dir, ClientFiles.AdminCloud));
        Assert.Equal("demo-199", ClientFiles.ReadPassword(_dir, ClientFiles.DemoCloud));
    }

    [Fact]
    public void Passwords_with_quotes_survive_the_round_trip_through_clouds_yaml()
    {
        ClientFiles.Write(_dir, "http://127.0.0.1:1/identity/v3", "it's \"quoted\" $HOME", "plain");
        Assert.Equal("it's \"quoted\" $HOME", ClientFiles.ReadPassword(_dir, ClientFiles.AdminCloud));
        Assert.Contains("OS_PASSWORD='it'\\''s \"quoted\" $HOME'", File.ReadAllText(Path.Combine(_dir, "admin-openrc")));
    }

    [Fact]
    public async Task An_openrc_sources_in_bash_without_a_word_on_stderr_and_sets_the_password()
    {
        ClientFiles.Write(_dir, "http://127.0.0.1:1/identity/v3", "it's $HOME", "plain");
        var sourced = await Cli.RunAsync("bash", ["-c", ". \"$1\" && printf %s \"$OS_PASSWORD\"", "bash", Path.Combine(_dir, "admin-openrc")]);
        Assert.Equal("", sourced.StdErr);
        Assert.Equal("it's $HOME", sourced.EnsureSuccess().StdOut);
    }

    /// <summary>The openstack client reads clouds.yaml with PyYAML: it must see the very strings Ember wrote.</summary>
    [Theory]
    [InlineData("123456")]
    [InlineData("yes")]
    [InlineData("null")]
    [InlineData("key: value # not a comment")]
    [InlineData("- [&*!|>%@`")]
    [InlineData(" spaced ")]
    [InlineData("two\nlines")]
    [InlineData("ünïcødé 密码")]
    public async Task Passwords_that_look_like_yaml_read_back_the_same_in_ember_and_in_pyyaml(string password)
    {
        ClientFiles.Write(_dir, "http://127.0.0.1:1/identity/v3", password, "plain");
        Assert.Equal(password, ClientFiles.ReadPassword(_dir, ClientFiles.AdminCloud));

        var read = await Ember.Testing.Cli.RunAsync("python3", ["-c",
            "import sys, yaml; sys.stdout.buffer.write(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))['clouds']['ember']['auth']['password'].encode())",
            Path.Combine(_dir, "clouds.yaml")]);
        Assert.Equal(password, read.EnsureSuccess().StdOut);
    }
}
