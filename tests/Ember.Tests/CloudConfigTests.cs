using Ember.Client;

namespace Ember.Tests;

/// <summary>Credential sources and their precedence: flags, then OS_* variables, then clouds.yaml (+ secure.yaml).</summary>
public sealed class CloudConfigTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ember-cloudcfg-" + Guid.NewGuid().ToString("N")[..12]);

    public CloudConfigTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, ".config", "openstack"));
        File.WriteAllText(Path.Combine(_dir, ".config", "openstack", "clouds.yaml"), """
            # comment
            clouds:
              home:
                auth:
                  auth_url: http://home.example/identity
                  username: "alice"
                  project_name: 'proj # not a comment'
                  user_domain_name: Default
                region_name: RegionTwo
                interface: internal
              other:
                auth: {}
            """);
        File.WriteAllText(Path.Combine(_dir, ".config", "openstack", "secure.yaml"), """
            clouds:
              home:
                auth:
                  password: s3cret
            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CliContext Context(Dictionary<string, string> env) => new()
    {
        GetEnv = n => env.TryGetValue(n, out var v) ? v : null,
        Out = TextWriter.Null,
        Err = TextWriter.Null,
        HomeDirectory = _dir,
        CurrentDirectory = _dir,
    };

    [Fact]
    public void Named_cloud_comes_from_the_home_clouds_yaml_with_secure_yaml_merged()
    {
        var credentials = CloudConfig.Resolve(Context(new() { ["OS_CLOUD"] = "home" }), null, new Dictionary<string, string?>());
        Assert.Equal("http://home.example/identity", credentials.AuthUrl);
        Assert.Equal("alice", credentials.Username);
        Assert.Equal("s3cret", credentials.Password);
        Assert.Equal("proj # not a comment", credentials.ProjectName);
        Assert.Equal("RegionTwo", credentials.RegionName);
        Assert.Equal("internal", credentials.Interface);
    }

    [Fact]
    public void Flags_beat_environment_and_environment_beats_clouds_yaml()
    {
        var env = new Dictionary<string, string> { ["OS_USERNAME"] = "bob", ["OS_PASSWORD"] = "env-pw" };
        var credentials = CloudConfig.Resolve(Context(env), "home", new Dictionary<string, string?> { ["password"] = "flag-pw" });
        Assert.Equal("bob", credentials.Username);
        Assert.Equal("flag-pw", credentials.Password);
        Assert.Equal("http://home.example/identity", credentials.AuthUrl);
    }

    [Fact]
    public void OS_CLIENT_CONFIG_FILE_comes_first_and_legacy_tenant_name_works()
    {
        var file = Path.Combine(_dir, "mine.yaml");
        File.WriteAllText(file, "clouds:\n  home:\n    auth:\n      auth_url: http://mine.example/v3\n");
        var env = new Dictionary<string, string> { ["OS_CLIENT_CONFIG_FILE"] = file, ["OS_TENANT_NAME"] = "t1" };
        var credentials = CloudConfig.Resolve(Context(env), "home", new Dictionary<string, string?>());
        Assert.Equal("http://mine.example/v3", credentials.AuthUrl);
        Assert.Equal("t1", credentials.ProjectName);
    }

    [Fact]
    public void Unknown_cloud_is_an_error_naming_the_cloud()
    {
        var error = Assert.Throws<CliException>(() => CloudConfig.Resolve(Context([]), "nope", new Dictionary<string, string?>()));
        Assert.Contains("nope", error.Message, StringComparison.Ordinal);
    }
}
