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

    [Fact]
    public void A_compute_host_is_refused_without_the_database_and_the_controller_it_works_for()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            EmberConfiguration.Load(null, new Hashtable { ["EMBER_DATA_DIR"] = _dir }, new Dictionary<string, string?> { ["Role"] = "compute" }));
        Assert.Contains("Database", error.Message);
        Assert.Contains("Compute:Controller:AuthUrl", error.Message);
        Assert.Contains("Compute:Controller:UserName", error.Message);
        Assert.Contains("PasswordFile", error.Message);
    }

    [Fact]
    public void A_compute_host_reads_its_controller_from_file_environment_and_flags()
    {
        var file = File("compute.yaml", """
            Role: compute
            Database: postgresql://ember@db.example.org/ember
            Compute:
              Controller:
                UserName: ember-compute
                ProjectName: service
              NbdClientCertificateDir: /etc/ember/nbd-client
            """);
        var options = EmberConfiguration.Load(file,
            new Hashtable { ["EMBER_DATA_DIR"] = _dir, ["EMBER_Compute__Controller__Password"] = "from-the-environment" },
            new Dictionary<string, string?> { ["Compute:Controller:AuthUrl"] = "http://10.0.0.1:5000/identity/v3" });
        Assert.Equal(EmberRole.Compute, options.Role);
        Assert.Equal("http://10.0.0.1:5000/identity/v3", options.Compute.Controller.AuthUrl);
        Assert.Equal(("ember-compute", "service", "from-the-environment"),
            (options.Compute.Controller.UserName, options.Compute.Controller.ProjectName, options.Compute.Controller.Password));
        Assert.Equal("/etc/ember/nbd-client", options.Compute.NbdClientCertificateDir);
    }

    [Fact]
    public async Task A_compute_host_refuses_a_password_file_other_users_can_read()
    {
        var password = File("password", "secret\n");
        System.IO.File.SetUnixFileMode(password, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var options = new EmberOptions
        {
            Role = EmberRole.Compute,
            DataDir = Path.Combine(_dir, "data"),
            Database = "postgresql://ember@127.0.0.1:1/ember",
            Compute = { Controller = { AuthUrl = "http://127.0.0.1:1/identity/v3", UserName = "admin", PasswordFile = password } },
        };
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => Ember.Server.Compute.ComputeNode.StartAsync(options));
        Assert.Contains("chmod 600", error.Message);
        Assert.False(Directory.Exists(options.DataDir)); // refused before anything was created
    }
}
