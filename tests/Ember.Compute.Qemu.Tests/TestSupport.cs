using System.Text;
using CliWrap;
using Ember.Processes;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>A short temp directory (unix socket paths are limited to 107 bytes), removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine("/tmp", "emq-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Routes driver logs to the xUnit output of the running test (or nowhere once it has finished).</summary>
public sealed class TestLoggerProvider : ILoggerProvider
{
    private readonly StringBuilder _text = new();

    public ITestOutputHelper? Output { get; set; }

    /// <summary>Every message logged so far (Information and up), for assertions on what logs must not say.</summary>
    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new TestLogger(this, categoryName);

    public void Dispose() => Output = null;

    private sealed class TestLogger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.Now:HH:mm:ss.fff} {logLevel} {category.Split('.')[^1]}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}";
            lock (provider._text)
            {
                provider._text.AppendLine(line);
            }

            try
            {
                provider.Output?.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test that owned the output has finished.
            }
        }
    }
}

/// <summary>A qemu-nbd serving one raw file on a unix socket (persistent, up to 4 clients), killed on dispose.</summary>
public sealed class QemuNbd : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill;
    private readonly Task _run;

    private QemuNbd(CancellationTokenSource kill, Task run, string socketPath, string exportName)
    {
        _kill = kill;
        _run = run;
        SocketPath = socketPath;
        ExportName = exportName;
    }

    public string SocketPath { get; }

    public string ExportName { get; }

    public static async Task<QemuNbd> StartAsync(string file, string socketPath, string exportName)
    {
        var stderr = new StringBuilder();
        var command = ProcessRunner.Command("qemu-nbd",
                ["--socket=" + socketPath, "--format=raw", "--shared=4", "--persistent", "--export-name=" + exportName, file])
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr));
        var kill = new CancellationTokenSource();
        var run = ProcessRunner.Start(command, kill.Token).Task;
        for (var i = 0; i < 200 && !File.Exists(socketPath); i++)
        {
            if (run.IsCompleted)
            {
                kill.Dispose();
                throw new InvalidOperationException($"qemu-nbd exited: {stderr}");
            }

            await Task.Delay(50);
        }

        Assert.True(File.Exists(socketPath), "qemu-nbd did not create its socket");
        return new QemuNbd(kill, run, socketPath, exportName);
    }

    public async ValueTask DisposeAsync()
    {
        await _kill.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // Killed, as asked.
        }

        _kill.Dispose();
    }
}

internal static class Processes
{
    public static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}")
        && !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z');
}
