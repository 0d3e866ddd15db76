using System.Net;
using Ember.Nbd;
using Microsoft.Extensions.Logging;

// Usage: EmberNbdBench --file PATH --socket PATH [--name EXPORT] [--tcp PORT [--tls-dir DIR]] [--readonly] [--inline-writes] [--model DedicatedThread|Pipelines] [--verbose]
// --tls-dir: TLS with client certificates on the TCP port, the credentials made (or loaded) there as `ember serve` does.
// Serves one file and prints "ready" once listening; stops on SIGINT/SIGTERM.
string? file = null, socket = null, name = "bench", tlsDir = null;
int? tcpPort = null;
bool readOnly = false, verbose = false, inlineWrites = false;
var model = new NbdServerOptions().ConnectionModel;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--file": file = args[++i]; break;
        case "--socket": socket = args[++i]; break;
        case "--name": name = args[++i]; break;
        case "--tcp": tcpPort = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--tls-dir": tlsDir = args[++i]; break;
        case "--readonly": readOnly = true; break;
        case "--verbose": verbose = true; break;
        case "--inline-writes": inlineWrites = true; break;
        case "--model": model = Enum.Parse<NbdConnectionModel>(args[++i]); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (file is null || (socket is null && tcpPort is null))
{
    Console.Error.WriteLine("usage: EmberNbdBench --file PATH --socket PATH [--name EXPORT] [--tcp PORT] [--readonly] [--verbose]");
    return 2;
}

using var tls = tlsDir is null ? null : NbdTlsCredentials.LoadOrCreate(tlsDir, ["localhost", "127.0.0.1"]);
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning));
await using var server = new NbdServer(new NbdServerOptions
{
    UnixSocketPath = socket,
    TcpEndPoint = tcpPort is { } p ? new IPEndPoint(IPAddress.Loopback, p) : null,
    InlineBufferedWrites = inlineWrites,
    ConnectionModel = model,
    TcpTls = tls,
}, loggerFactory);
server.Exports.Add(name, file, readOnly);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
await server.StartAsync(stop.Token);
Console.WriteLine($"ready {server.UnixSocketPath} {server.BoundTcpEndPoint}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
return 0;
