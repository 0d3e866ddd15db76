using System.Collections;

namespace Ember.Server.Tests;

/// <summary>ember serve's settings: a YAML or JSON file, then EMBER_* variables, then flags; refused with a clear message when wrong.</summary>
public sealed class EmberConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ember-config").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private static Dictionary<string, string?> NoFlags => [];

    [Fact]
    public void The_file_sets_sections_the_environment_overrides_it_and_flags_override_both()
    {
        var file = File("ember.yaml", """
            # Settings of one node
            Listen: 127.0.0.1:6000
            HostName: node-a
            Identity:
              LockoutFailureAttempts: 5
              LockoutDurationSeconds: 600
            Image:
              TagQuota: 16
            """);
        var environment = new Hashtable
        {
            ["EMBER_Identity__LockoutDurationSeconds"] = "900",
            ["EMBER_Listen"] = "127.0.0.1:6001",
            ["EMBER_DATA_DIR"] = _dir,
            ["EMBER_GUEST_IMAGE"] = "/not/a/setting", // other EMBER_ variables are not settings and are left alone
        };
        var options = EmberConfiguration.Load(file, environment, new Dictionary<string, string?> { ["Listen"] = "127.0.0.1:6002" });

        Assert.Equal("127.0.0.1:6002", options.Listen);
        Assert.Equal("node-a", options.HostName);
        Assert.Equal(5, options.Identity.LockoutFailureAttempts);
        Assert.Equal(900, options.Identity.LockoutDurationSeconds);
        Assert.Equal(16, options.Image.TagQuota);
        Assert.Equal(128, options.Image.PropertyQuota); // untouched defaults stay
        Assert.Equal(_dir, options.DataDir);
    }

    [Fact]
    public void A_json_file_is_read_as_json()
    {
        var file = File("ember.json", """{"Identity": {"LockoutFailureAttempts": 3}, "Nbd": {"Insecure": true}}""");
        var options = EmberConfiguration.Load(file, new Hashtable(), NoFlags);
        Assert.Equal(3, options.Identity.LockoutFailureAttempts);
        Assert.True(options.Nbd.Insecure);
    }

    [Theory]
    [InlineData("Identity:\n  LockoutDurationSecnds: 5\n", "LockoutDurationSecnds")]
    [InlineData("Image:\n  TagQuota: many\n", "Image:TagQuota")]
    [InlineData("Identity:\n  LockoutDurationSeconds: 0\n", "Identity:LockoutDurationSeconds")]
    [InlineData("HostName: 'two words'\n", "HostName")]
    [InlineData("Listen: [unclosed\n", "Cannot read configuration file")]
    [InlineData("NbdListen: 127.0.0.1:10809\n", "NbdListen")] // a top-level key from before the Nbd section
    [InlineData("Nbd:\n  MaxConnections: 0\n", "Nbd:MaxConnections")]
    public void A_wrong_setting_is_refused_with_its_name(string yaml, string named)
    {
        var file = File("bad.yaml", yaml);
        var error = Assert.Throws<ConfigurationException>(() => EmberConfiguration.Load(file, new Hashtable(), NoFlags));
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void A_wrong_value_in_the_environment_or_a_flag_is_refused_too()
    {
        var fromEnvironment = Assert.Throws<ConfigurationException>(() =>
            EmberConfiguration.Load(null, new Hashtable { ["EMBER_MaxJsonDepth"] = "1" }, NoFlags));
        Assert.Contains("MaxJsonDepth", fromEnvironment.Message);

        var fromFlag = Assert.Throws<ConfigurationException>(() =>
            EmberConfiguration.Load(null, new Hashtable(), new Dictionary<string, string?> { ["Identity:LockoutFailureAttempts"] = "-1" }));
        Assert.Contains("LockoutFailureAttempts", fromFlag.Message);
    }
}
