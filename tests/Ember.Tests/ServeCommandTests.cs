using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

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
            var port = FreePort();
            using var serve = StartServe(port);
            var banner = await ReadUntilAsync(serve, "Ember is running.", TimeSpan.FromMinutes(1));
            Assert.Contains($"http://127.0.0.1:{port}/identity/v3", banner);
            Assert.Contains(Path.Combine(_dataDir, "clouds.yaml"), banner);
            var drain = serve.StandardOutput.ReadToEndAsync(); // keep the log flowing so the server never blocks on stdout

            // The second start reuses the database and the generated demo password from the first.
            var token = await Cli.RunAsync("openstack", ["--os-cloud", "ember-demo", "token", "issue", "-f", "value", "-c", "project_id"],
                new Dictionary<string, string> { ["OS_CLIENT_CONFIG_FILE"] = Path.Combine(_dataDir, "clouds.yaml") });
            Assert.True(token.ExitCode == 0, token.StdErr);
            Assert.Matches("^[0-9a-f]{32}$", token.StdOut.Trim());

            (await Cli.RunAsync("kill", ["-TERM", serve.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])).EnsureSuccess();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await serve.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, serve.ExitCode);
            await drain;
        }
    }

    private Process StartServe(int port)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ember"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "serve", "--data-dir", _dataDir, "--listen", $"127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(arg);
        }

        // Only the admin password is given: the demo one is generated on the first start and must be kept.
        start.Environment["EMBER_ADMIN_PASSWORD"] = "serve-test-admin";
        start.Environment.Remove("EMBER_DEMO_PASSWORD");
        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start ember serve");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<string> ReadUntilAsync(Process process, string marker, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var seen = new System.Text.StringBuilder();
        while (!seen.ToString().Contains(marker, StringComparison.Ordinal))
        {
            var line = await process.StandardOutput.ReadLineAsync(cts.Token)
                ?? throw new InvalidOperationException($"ember serve exited before printing '{marker}': {seen}");
            seen.AppendLine(line);
        }

        // The banner's remaining lines follow at once.
        for (var i = 0; i < 3; i++)
        {
            seen.AppendLine(await process.StandardOutput.ReadLineAsync(cts.Token));
        }

        return seen.ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
