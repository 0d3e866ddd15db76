using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using Ember.Processes;

namespace Ember.Testing;

/// <summary>
/// A throwaway single-node Ceph cluster from Debian's packages: one mon, one mgr (the pool statistics that capacity
/// comes from are the mgr's), one OSD on memstore, cephx on, bound to one address (loopback unless told), in a temporary
/// directory. It has an RBD pool and a client user for Ember, <c>client.ember</c>, with the caps Cinder's docs give
/// (<c>mon 'profile rbd' osd 'profile rbd pool=POOL'</c>) and its own keyring. No systemd: the daemons run in the
/// foreground as children of the test, and dispose kills exactly those processes and deletes the directory.
/// </summary>
/// <remarks>
/// Facts that cost time (see docs/ceph.md): the mgr's devicehealth module must be turned off before the mgr starts or
/// it creates a pool of its own; <c>paxos propose interval</c> 0.1 makes the mon commit pool and auth changes at once;
/// a CLI that connects before the mon listens backs off for ~3 s, so the mon's port is awaited first; the mgr imports
/// every module it finds, so it gets a directory with only the always-on ones (starts ~2 s faster); clones need
/// <c>require-min-compat-client mimic</c>.
/// </remarks>
public sealed class CephCluster : IAsyncDisposable
{
    /// <summary>The cephx user Ember connects as (client.ember).</summary>
    public const string User = "ember";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);

    /// <summary>The mgr modules the mgr cannot run without (leaving one out is HEALTH_ERR), plus iostat.</summary>
    private static readonly string[] s_mgrModules =
        ["mgr_module.py", "mgr_util.py", "balancer", "crash", "devicehealth", "orchestrator", "pg_autoscaler",
         "progress", "rbd_support", "status", "telemetry", "volumes", "iostat"];

    private readonly List<Daemon> _daemons = [];
    private readonly List<string> _pools = [];

    private CephCluster(string dir, string address, int monV2Port, int monV1Port, string pool)
    {
        Dir = dir;
        Address = address;
        MonV2Port = monV2Port;
        MonV1Port = monV1Port;
        Pool = pool;
        _pools.Add(pool);
    }

    /// <summary>Holds the configuration, keyrings, the daemons' data (mon/, mgr/, osd/) and logs (log/).</summary>
    public string Dir { get; }

    /// <summary>The one address every daemon binds to.</summary>
    public string Address { get; }

    public int MonV2Port { get; }

    public int MonV1Port { get; }

    /// <summary>The RBD pool (initialised with <c>rbd pool init</c>).</summary>
    public string Pool { get; }

    /// <summary>The monitors as <c>host:port</c> (messenger v1, which every client speaks).</summary>
    public IReadOnlyList<string> Monitors => [$"{Address}:{MonV1Port}"];

    /// <summary>A ceph.conf for clients: fsid, monitors, cephx; no keyring (each client names its own).</summary>
    public string ConfPath => Path.Combine(Dir, "client.conf");

    /// <summary>client.ember's keyring (0600), its only key.</summary>
    public string KeyringPath => Path.Combine(Dir, "ceph.client.ember.keyring");

    /// <summary>The cluster's own ceph.conf, whose keyring holds client.admin's key: for <c>ceph</c>/<c>rbd</c> checks.</summary>
    public string AdminConfPath => Path.Combine(Dir, "ceph.conf");

    /// <summary>The keyring with every daemon's key and client.admin's.</summary>
    public string AdminKeyringPath => Path.Combine(Dir, "keyring");

    /// <summary>The OSD's PID while it runs (for failure tests).</summary>
    public int? OsdPid => _daemons.LastOrDefault(d => d.Name == "osd" && !d.Task.Task.IsCompleted)?.Task.ProcessId;

    /// <summary>
    /// Creates and starts the cluster on <paramref name="address"/> (free ports, so several clusters can run at once)
    /// and returns when <paramref name="pool"/> is usable and the mgr reports capacity. Throws with what to install
    /// when Ceph is missing, and with the daemons' logs when one fails.
    /// </summary>
    /// <param name="durable">
    /// The OSD on bluestore (a sparse file) instead of memstore: slower to start (~10 s), but what was written survives
    /// the OSD being killed and started again, for failure tests.
    /// </param>
    public static async Task<CephCluster> CreateAsync(string address = "127.0.0.1", string pool = "volumes", long osdBytes = 4L << 30,
        bool durable = false)
    {
        if (!File.Exists("/usr/bin/ceph-mon") || !File.Exists("/usr/bin/ceph-osd") || !File.Exists("/usr/bin/rbd"))
        {
            throw new InvalidOperationException("Ceph is not installed: run tools/install-deps.sh (Debian packages ceph-mon ceph-osd ceph-mgr ceph-common).");
        }

        var dir = Directory.CreateTempSubdirectory("ember-ceph-").FullName; // 0700
        var cluster = new CephCluster(dir, address, FreePort(address), FreePort(address), pool);
        try
        {
            await cluster.StartAsync(osdBytes, durable);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Creates and initialises another RBD pool and lets client.ember use it as it uses <see cref="Pool"/> (a Glance
    /// images pool beside Cinder's, for one user standing for both services).
    /// </summary>
    public async Task AddPoolAsync(string pool)
    {
        _pools.Add(pool);
        await CephAsync("osd", "pool", "create", pool, "8", "8");
        await RbdAsync("pool", "init", pool);
        await CephAsync("auth", "caps", "client." + User, "mon", "profile rbd", "osd", string.Join(", ", _pools.Select(p => $"profile rbd pool={p}")));
    }

    /// <summary>Runs <c>rbd</c> as client.admin against this cluster; fails unless it exits 0 and returns stdout.</summary>
    public Task<string> RbdAsync(params string[] args) => AdminAsync("rbd", args);

    /// <summary>Runs <c>ceph</c> as client.admin against this cluster; fails unless it exits 0 and returns stdout.</summary>
    public Task<string> CephAsync(params string[] args) => AdminAsync("ceph", args);

    /// <summary>Kills the OSD (SIGKILL): I/O to the pool blocks until <see cref="StartOsd"/>.</summary>
    public async Task KillOsdAsync()
    {
        var osd = _daemons.Last(d => d.Name == "osd");
        await osd.KillAsync();
        _daemons.Remove(osd);
    }

    /// <summary>Starts the OSD again (memstore keeps nothing across a kill: a durable cluster is for failure tests).</summary>
    public void StartOsd() => Start("osd", "ceph-osd", "-i", "0");

    public async ValueTask DisposeAsync()
    {
        // Reverse start order: OSD, mgr, mon. SIGKILL: a throwaway cluster has nothing to flush.
        for (var i = _daemons.Count - 1; i >= 0; i--)
        {
            await _daemons[i].KillAsync();
        }

        _daemons.Clear();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Nothing should hold the directory once the daemons are gone; a temp dir is not worth failing a test for.
        }
    }

    private async Task StartAsync(long osdBytes, bool durable)
    {
        foreach (var sub in new[] { "run", "log", "crash", "mon/ceph-a", "mgr/ceph-x", "osd/ceph-0", "mgr-modules" })
        {
            Directory.CreateDirectory(Path.Combine(Dir, sub));
        }

        foreach (var module in s_mgrModules)
        {
            File.CreateSymbolicLink(Path.Combine(Dir, "mgr-modules", module), Path.Combine("/usr/share/ceph/mgr", module));
        }

        var fsid = Guid.NewGuid().ToString();
        var osdUuid = Guid.NewGuid().ToString();
        var monAddress = $"[v2:{Address}:{MonV2Port},v1:{Address}:{MonV1Port}]";
        await File.WriteAllTextAsync(AdminConfPath, DaemonConf(fsid, monAddress, osdBytes, durable));
        await File.WriteAllTextAsync(ConfPath, ClientConf(fsid, monAddress));

        // One keyring with every key: ceph-mon --mkfs imports them all, with their caps, into the auth database.
        // client.ember's key is made in its own file and imported, as an operator would hand it to a client.
        var keyring = AdminKeyringPath;
        await ToolAsync("ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *");
        await ToolAsync("ceph-authtool", keyring, "--gen-key", "-n", "client.admin",
            "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *", "--cap", "mds", "allow *");
        await ToolAsync("ceph-authtool", keyring, "--gen-key", "-n", "mgr.x", "--cap", "mon", "allow profile mgr", "--cap", "osd", "allow *", "--cap", "mds", "allow *");
        await ToolAsync("ceph-authtool", keyring, "--gen-key", "-n", "osd.0",
            "--cap", "mon", "allow profile osd", "--cap", "mgr", "allow profile osd", "--cap", "osd", "allow *");
        await ToolAsync("ceph-authtool", "--create-keyring", KeyringPath, "--gen-key", "-n", "client." + User,
            "--cap", "mon", "profile rbd", "--cap", "osd", $"profile rbd pool={Pool}");
        File.SetUnixFileMode(KeyringPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await ToolAsync("ceph-authtool", keyring, "--import-keyring", KeyringPath);

        var monmap = Path.Combine(Dir, "monmap");
        await ToolAsync("monmaptool", "--create", "--fsid", fsid, "--addv", "a", monAddress, monmap);
        await ToolAsync("ceph-mon", "-c", AdminConfPath, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring);

        var mon = Start("mon", "ceph-mon", "-i", "a");
        await WaitForPortAsync(mon, MonV2Port);
        // Several mon commands in one CLI run (it reads them from stdin). devicehealth off before the mgr starts.
        await AdminAsync("ceph", ["--connect-timeout", "30"], stdin:
            "config set mgr mgr/devicehealth/enable_monitoring false --force\n" +
            $"osd new {osdUuid} 0\n" +
            $"osd pool create {Pool} 8 8\n");
        Start("mgr", "ceph-mgr", "-i", "x");
        await ToolAsync("ceph-osd", "-c", AdminConfPath, "-i", "0", "--mkfs", "--osd-uuid", osdUuid);
        Start("osd", "ceph-osd", "-i", "0");
        // Blocks until the OSD is up and the pool's placement groups are active.
        await RbdAsync("pool", "init", Pool);
        await WaitForCapacityAsync();
    }

    /// <summary>Capacity (ceph df, the pool's max_avail) comes from the mgr's statistics: wait until it has sent some.</summary>
    private async Task WaitForCapacityAsync()
    {
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (true)
        {
            var df = System.Text.Json.Nodes.JsonNode.Parse(await CephAsync("df", "--format", "json"));
            var total = df?["stats"]?["total_bytes"]?.GetValue<long>() ?? 0;
            var available = df?["pools"]?.AsArray().FirstOrDefault(p => (string?)p?["name"] == Pool)?["stats"]?["max_avail"]?.GetValue<long>() ?? 0;
            if (total > 0 && available > 0)
            {
                return;
            }

            await FailIfDeadAsync(deadline, "the mgr to report capacity");
            await Task.Delay(100);
        }
    }

    private string DaemonConf(string fsid, string monAddress, long osdBytes, bool durable) => $"""
        [global]
        {Common(fsid, monAddress)}
        keyring = {AdminKeyringPath}
        run dir = {Dir}/run
        crash dir = {Dir}/crash
        public addr = {Address}
        cluster addr = {Address}
        osd pool default size = 1
        osd pool default min size = 1
        osd pool default pg autoscale mode = off
        osd crush chooseleaf type = 0
        mon allow pool size one = true
        mon allow pool delete = true
        mon warn on pool no redundancy = false
        mon data avail warn = 2
        mon data avail crit = 1
        mon osd initial require min compat client = mimic
        mgr initial modules = iostat
        paxos propose interval = 0.1
        mgr stats period = 1
        mon mgr digest period = 1

        [mon]
        mon data = {Dir}/mon/$cluster-$id
        log file = {Dir}/log/$cluster-$name.log
        mon cluster log file = {Dir}/log/$cluster.log

        [mgr]
        mgr data = {Dir}/mgr/$cluster-$id
        log file = {Dir}/log/$cluster-$name.log
        mgr module path = {Dir}/mgr-modules

        [osd]
        osd data = {Dir}/osd/$cluster-$id
        log file = {Dir}/log/$cluster-$name.log
        {(durable ? Bluestore(osdBytes) : Memstore(osdBytes))}

        """;

    private static string Memstore(long osdBytes) => $"""
        osd objectstore = memstore
        memstore device bytes = {osdBytes.ToString(CultureInfo.InvariantCulture)}
        memstore page set = true
        """;

    /// <summary>Bluestore on a sparse file, which must live outside the OSD's directory; no separate DB/WAL devices.</summary>
    private string Bluestore(long osdBytes) => $"""
        osd objectstore = bluestore
        bluestore block path = {Dir}/osd/ceph-0.block
        bluestore block create = true
        bluestore block size = {osdBytes.ToString(CultureInfo.InvariantCulture)}
        bluestore block db create = false
        bluestore block wal create = false
        bluestore fsck on mkfs = false
        osd memory target = 1073741824
        """;

    private static string ClientConf(string fsid, string monAddress) => $"""
        [global]
        {Common(fsid, monAddress)}

        """;

    private static string Common(string fsid, string monAddress) => $"""
        fsid = {fsid}
        mon host = {monAddress}
        ms bind ipv4 = true
        ms bind ipv6 = false
        auth cluster required = cephx
        auth service required = cephx
        auth client required = cephx
        auth allow insecure global id reclaim = false
        """;

    /// <summary>A daemon in the foreground (-f), a child of this process; its PID is the one dispose kills.</summary>
    private Daemon Start(string name, string program, params string[] args)
    {
        var stop = new CancellationTokenSource();
        var log = Path.Combine(Dir, "log", name);
        var command = ProcessRunner.Command(program, [.. args, "-c", AdminConfPath, "-f"])
            .WithStandardOutputPipe(PipeTarget.ToFile(log + ".stdout"))
            .WithStandardErrorPipe(PipeTarget.ToFile(log + ".stderr"));
        var daemon = new Daemon(name, stop, ProcessRunner.Start(command, stop.Token));
        _daemons.Add(daemon);
        return daemon;
    }

    private async Task WaitForPortAsync(Daemon daemon, int port)
    {
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (true)
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Parse(Address), port);
                return;
            }
            catch (SocketException)
            {
                await FailIfDeadAsync(deadline, $"{daemon.Name} to listen on {Address}:{port}");
                await Task.Delay(20);
            }
        }
    }

    private async Task FailIfDeadAsync(DateTime deadline, string waitingFor)
    {
        var dead = _daemons.FirstOrDefault(d => d.Task.Task.IsCompleted);
        if (dead is not null || DateTime.UtcNow > deadline)
        {
            throw new InvalidOperationException(
                (dead is null ? $"timed out waiting for {waitingFor}" : $"ceph-{dead.Name} exited while waiting for {waitingFor}") + "\n" + await LogsAsync());
        }
    }

    private async Task<string> AdminAsync(string program, string[] args, string? stdin = null)
    {
        var result = await Cli.RunAsync(program, ["-c", AdminConfPath, .. args], timeout: s_startTimeout, stdin: stdin);
        return result.ExitCode == 0
            ? result.StdOut
            : throw new InvalidOperationException($"{program} {string.Join(' ', args)}: {result}\n{await LogsAsync()}");
    }

    private async Task ToolAsync(string program, params string[] args)
    {
        var result = await Cli.RunAsync(program, args, timeout: s_startTimeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed: {result}\n{await LogsAsync()}");
        }
    }

    /// <summary>The end of each daemon's log, for a failure message.</summary>
    private async Task<string> LogsAsync()
    {
        var text = new System.Text.StringBuilder();
        foreach (var file in Directory.Exists(Path.Combine(Dir, "log")) ? Directory.GetFiles(Path.Combine(Dir, "log")) : [])
        {
            var content = await File.ReadAllTextAsync(file);
            text.Append(CultureInfo.InvariantCulture, $"--- {Path.GetFileName(file)}\n{(content.Length > 3000 ? content[^3000..] : content)}\n");
        }

        return text.ToString();
    }

    private static int FreePort(string address)
    {
        using var listener = new TcpListener(IPAddress.Parse(address), 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Daemon(string name, CancellationTokenSource stop, CommandTask<CommandResult> task)
    {
        public string Name => name;

        public CommandTask<CommandResult> Task => task;

        /// <summary>Kills exactly this process (CliWrap kills the process it started) and waits for it.</summary>
        public async System.Threading.Tasks.Task KillAsync()
        {
            await stop.CancelAsync();
            try
            {
                await task;
            }
            catch (OperationCanceledException)
            {
                // What a killed daemon's task ends with.
            }

            stop.Dispose();
        }
    }
}
