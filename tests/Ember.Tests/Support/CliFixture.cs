using Ember.Client;
using Ember.Commands;
using Ember.Server;
using Microsoft.Extensions.Logging;

namespace Ember.Tests.Support;

/// <summary>A real Ember host on 127.0.0.1 (ephemeral port, temp data dir) and a way to run the CLI against it in-process.</summary>
public class CliFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "ember-cli-test-" + Guid.NewGuid().ToString("N")[..12]);

    public EmberHost Host { get; private set; } = null!;

    public string CloudsYaml => Path.Combine(Root, "data", "clouds.yaml");

    public string CacheHome => Path.Combine(Root, "cache");

    /// <summary>Lets a derived fixture change the options (e.g. a default image) before start.</summary>
    protected virtual Task ConfigureAsync(EmberOptions options) => Task.CompletedTask;

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        var options = new EmberOptions
        {
            DataDir = Path.Combine(Root, "data"),
            Listen = "127.0.0.1:0",
            Identity = { AdminPassword = "admin-secret", DemoPassword = "demo-secret" },
        };
        await ConfigureAsync(options);
        // EMBER_TEST_LOG=Information (or Debug) shows the host's log when chasing a failure.
        var level = Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("EMBER_TEST_LOG"), out var parsed) ? parsed : LogLevel.Warning;
        Host = await EmberHost.StartAsync(options, logging => logging.SetMinimumLevel(level));
    }

    public virtual async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held for a moment is not worth failing the run for.
        }
    }

    /// <summary>The environment a user of this cloud has: clouds.yaml, cloud "ember", a private token cache.</summary>
    public Dictionary<string, string> Env(string cloud = "ember") => new()
    {
        ["OS_CLIENT_CONFIG_FILE"] = CloudsYaml,
        ["OS_CLOUD"] = cloud,
        ["XDG_CACHE_HOME"] = CacheHome,
    };

    /// <summary>Runs one command line as <paramref name="program"/> (ember, cinder, nova, glance) with captured output.</summary>
    public async Task<CliOutput> RunAsync(string program, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        env ??= Env();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var bytes = new MemoryStream();
        var context = new CliContext
        {
            GetEnv = name => env.TryGetValue(name, out var value) ? value : null,
            Out = stdout,
            Err = stderr,
            OpenStdout = () => bytes,
            HomeDirectory = Root,
            CurrentDirectory = Root,
        };
        var code = await EmberCli.RunAsync(args, context, program);
        return new CliOutput(code, stdout.ToString(), stderr.ToString(), bytes.ToArray());
    }

    public Task<CliOutput> RunAsync(string program, params string[] args) => RunAsync(program, null, args);
}

public sealed record CliOutput(int ExitCode, string StdOut, string StdErr, byte[] StdOutBytes)
{
    public CliOutput EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"exit {ExitCode}\nstdout: {StdOut}\nstderr: {StdErr}");

    public System.Text.Json.Nodes.JsonNode Json() => System.Text.Json.Nodes.JsonNode.Parse(StdOut) ?? throw new InvalidOperationException("empty output");
}
