using Microsoft.Extensions.Logging;

namespace Ember.Server.Tests.Support;

/// <summary>One data directory that hosts are started on one after another, as restarts of `ember serve` are; removed on dispose.</summary>
public sealed class RestartableDataDir(string prefix) : IDisposable
{
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), $"ember-{prefix}-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A host on this directory with the fixture's passwords; <paramref name="configure"/> sets anything else.</summary>
    public Task<EmberHost> StartAsync(Action<EmberOptions>? configure = null)
    {
        var options = new EmberOptions
        {
            DataDir = DataDir,
            Listen = "127.0.0.1:0",
            Identity = { AdminPassword = EmberFixture.AdminPassword, DemoPassword = EmberFixture.DemoPassword },
        };
        configure?.Invoke(options);
        return EmberHost.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning));
    }

    /// <summary>A client with a token of the cloud admin on <paramref name="host"/>.</summary>
    public static async Task<ApiClient> AdminClientAsync(EmberHost host)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{host.BaseUrl}/identity/v3/auth/tokens", EmberFixture.PasswordAuth("admin", EmberFixture.AdminPassword, "admin"));
        var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        client.DefaultRequestHeaders.Add("X-Auth-Token", response.Headers.GetValues("X-Subject-Token").Single());
        return new ApiClient(client);
    }

    public void Dispose()
    {
        if (Directory.Exists(DataDir))
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }
}
