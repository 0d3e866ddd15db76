using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ember.Tests.Support;

/// <summary>
/// A real `ember serve` child process on a free loopback port: its banner, its log, SIGTERM on dispose. It stays on
/// <see cref="Process"/> rather than <see cref="Cli"/>: the test reads its banner while it runs and stops it with SIGTERM.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _drain;

    private ServeProcess(Process process, string banner, int port)
    {
        _process = process;
        Banner = banner;
        Port = port;
        BaseUrl = $"http://127.0.0.1:{port}";
        _drain = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        });
    }

    /// <summary>Everything printed up to and including the banner (start-up log lines come first).</summary>
    public string Banner { get; }

    public string BaseUrl { get; }

    public int Port { get; }

    public int Pid => _process.Id;

    /// <summary>Starts `ember serve --data-dir <paramref name="dataDir"/>` with exactly the EMBER_*_PASSWORD variables given.</summary>
    public static async Task<ServeProcess> StartAsync(string dataDir, string? adminPassword, string? demoPassword = null)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ember"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "serve", "--data-dir", dataDir, "--listen", $"127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(arg);
        }

        SetOrRemove(start, "EMBER_ADMIN_PASSWORD", adminPassword);
        SetOrRemove(start, "EMBER_DEMO_PASSWORD", demoPassword);
        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start ember serve");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var seen = new StringBuilder();
            var afterMarker = -1;
            while (afterMarker < 3)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token)
                    ?? throw new InvalidOperationException($"ember serve exited before its banner: {seen}");
                seen.AppendLine(line);
                afterMarker = afterMarker >= 0 || line.Contains("Ember is running.", StringComparison.Ordinal) ? afterMarker + 1 : -1;
            }

            return new ServeProcess(process, seen.ToString(), port);
        }
        catch
        {
            process.Kill();
            process.Dispose();
            throw;
        }
    }

    /// <summary>What the process printed after its banner so far (generated passwords follow it at once).</summary>
    public string OutputSoFar()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    /// <summary>Sends SIGTERM and waits for the process to exit (a minute at most); returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            (await Cli.RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])).EnsureSuccess();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _process.WaitForExitAsync(timeout.Token);
        await _drain;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    private static void SetOrRemove(ProcessStartInfo start, string name, string? value)
    {
        if (value is null)
        {
            start.Environment.Remove(name);
        }
        else
        {
            start.Environment[name] = value;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
