using System.Net;
using Microsoft.Extensions.Logging.Abstractions;

// The tests drive Linux tools (qemu-io, nbdinfo, fio) and Linux file semantics (holes).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Ember.Nbd.Tests;

/// <summary>A real <see cref="NbdServer"/> on a unix socket and loopback TCP, with one export over a temp file.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(string directory, NbdServer server, string exportName, string filePath)
    {
        Directory = directory;
        Server = server;
        ExportName = exportName;
        FilePath = filePath;
    }

    public string Directory { get; }
    public NbdServer Server { get; }
    public string ExportName { get; }
    public string FilePath { get; }

    /// <summary>The server's default, or the model named by EMBER_NBD_TEST_MODEL (to run the whole suite on the other one).</summary>
    public static NbdConnectionModel ConnectionModel { get; } =
        Enum.TryParse<NbdConnectionModel>(Environment.GetEnvironmentVariable("EMBER_NBD_TEST_MODEL"), out var model) ? model : new NbdServerOptions().ConnectionModel;

    public static async Task<TestServer> StartAsync(long size = 16 * 1024 * 1024, bool readOnly = false, int maxInFlight = 64, long maxInFlightBytes = 256L << 20, bool inlineWrites = false,
        Action<NbdServerOptions>? configure = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ember-nbd-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, "volume.raw");
        using (var f = File.Create(file))
            f.SetLength(size);
        var options = new NbdServerOptions
        {
            UnixSocketPath = Path.Combine(directory, "nbd.sock"),
            TcpEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            MaxInFlightPerConnection = maxInFlight,
            MaxInFlightBytesPerConnection = maxInFlightBytes,
            InlineBufferedWrites = inlineWrites,
            ConnectionModel = ConnectionModel,
        };
        configure?.Invoke(options);
        var server = new NbdServer(options, NullLoggerFactory.Instance);
        var name = NbdExportRegistry.NewExportName();
        server.Exports.Add(name, file, readOnly);
        await server.StartAsync(CancellationToken.None);
        return new TestServer(directory, server, name, file);
    }

    /// <summary>The NBD URI of an export over the given transport ("unix" or "tcp").</summary>
    public string Uri(string transport, string? exportName = null)
    {
        exportName ??= ExportName;
        return transport switch
        {
            "unix" => $"nbd+unix:///{exportName}?socket={Server.UnixSocketPath}",
            "tcp" => $"nbd://127.0.0.1:{Server.BoundTcpEndPoint!.Port}/{exportName}",
            _ => throw new ArgumentOutOfRangeException(nameof(transport)),
        };
    }

    public Task<NbdTestClient> ConnectAsync(string transport) => NbdTestClient.ConnectAsync(this, transport);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Theory data: every test body runs over both transports.</summary>
public static class Transports
{
    public static TheoryData<string> All => new() { "unix", "tcp" };
}
