using System.Globalization;
using System.Runtime.InteropServices;
using Ember.Testing;

// Usage: EmberStorageBench --env FILE [--memstore] [--osd-gib N] [--parent PID]
// Starts the tests' throwaway single-node Ceph cluster (tests/Ember.Testing/CephCluster.cs) on 127.0.0.1, writes where
// its client conf and keyrings are to FILE as shell assignments (paths only, no key), prints "ready", and disposes the
// cluster (its daemons killed, its directory removed) on SIGINT/SIGTERM or when the parent process is gone.
string? envFile = null;
var durable = true;
var osdGib = 8;
int? parent = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--env": envFile = args[++i]; break;
        case "--memstore": durable = false; break;
        case "--osd-gib": osdGib = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--parent": parent = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (envFile is null)
{
    Console.Error.WriteLine("usage: EmberStorageBench --env FILE [--memstore] [--osd-gib N] [--parent PID]");
    return 2;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

// bluestore (durable) by default: its OSD writes to a file on the same disk as the file backend's volumes, so the two
// backends are compared on the same medium; memstore keeps the data in RAM.
await using var cluster = await CephCluster.CreateAsync(osdBytes: (long)osdGib << 30, durable: durable);
await cluster.AddPoolAsync("images"); // image data for the row with Image:Backend rbd

await File.WriteAllTextAsync(envFile, string.Join('\n',
    $"CEPH_DIR={cluster.Dir}",
    $"CEPH_CONF={cluster.ConfPath}",
    $"CEPH_KEYRING={cluster.KeyringPath}",
    $"CEPH_USER={CephCluster.User}",
    $"CEPH_POOL={cluster.Pool}",
    "CEPH_IMAGES_POOL=images",
    $"CEPH_ADMIN_CONF={cluster.AdminConfPath}",
    $"CEPH_OSD={(durable ? "bluestore" : "memstore")}",
    ""));
Console.WriteLine("ready");

// A script killed by SIGKILL cannot run its trap: polling the parent keeps the cluster from outliving it.
while (!stop.IsCancellationRequested)
{
    if (parent is { } pid && !Directory.Exists($"/proc/{pid}"))
    {
        break;
    }

    try
    {
        await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
}
return 0;
