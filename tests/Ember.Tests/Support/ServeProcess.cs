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
    public static Task<ServeProcess> StartAsync(string dataDir, string? adminPassword, string? demoPassword = null)
    {
        var port = FreePort(IPAddress.Loopback);
        return StartAsync(new ServeLaunch(["--data-dir", dataDir, "--listen", $"127.0.0.1:{port}"],
            new Dictionary<string, string?> { ["EMBER_ADMIN_PASSWORD"] = adminPassword, ["EMBER_DEMO_PASSWORD"] = demoPassword }), port);
    }

    /// <summary>Starts `ember serve` with <paramref name="launch"/>'s flags and environment; returns after its banner.</summary>
    public static async Task<ServeProcess> StartAsync(ServeLaunch launch, int port = 0)
    {
        var ember = Path.Combine(AppContext.BaseDirectory, "ember");
        // `ip netns exec` execs the program after entering the namespace: the pid is ember's own.
        var start = launch.Namespace is null ? new ProcessStartInfo(ember) : new ProcessStartInfo("ip");
        if (launch.Namespace is not null)
        {
            foreach (var arg in new[] { "netns", "exec", launch.Namespace, ember })
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.ArgumentList.Add("serve");
        foreach (var arg in launch.Args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in launch.Env)
        {
            SetOrRemove(start, name, value);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start ember serve");
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var seen = new StringBuilder();
            var afterMarker = -1;
            while (afterMarker < launch.LinesAfterBanner)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token);
                if (line is null)
                {
                    lock (errors)
                    {
                        throw new InvalidOperationException($"ember serve exited before its banner: {seen}{errors}");
                    }
                }

                seen.AppendLine(line);
                afterMarker = afterMarker >= 0 || line.Contains(launch.Banner, StringComparison.Ordinal) ? afterMarker + 1 : -1;
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

    /// <summary>SIGKILL, as a crash or a power cut: nothing of ember's shutdown runs; its QEMU children live on.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
        await _drain;
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

    public static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>How to start one `ember serve`: its flags, its environment (null removes a variable), the network namespace
/// to run in, and the banner line that says it is up, followed by <see cref="LinesAfterBanner"/> more lines.</summary>
public sealed record ServeLaunch(IReadOnlyList<string> Args, IReadOnlyDictionary<string, string?> Env, string? Namespace = null,
    string Banner = "Ember is running", int LinesAfterBanner = 4);
