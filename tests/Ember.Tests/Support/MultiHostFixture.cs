using System.Net;
using System.Text.Json.Nodes;
using Ember.Server;

namespace Ember.Tests.Support;

/// <summary>
/// Three machines on a private network, as docs/multi-host.md deploys them: PostgreSQL and the controller
/// (`ember serve --role controller`) in this namespace on the bridge's address, and two compute hosts
/// (`ember serve --role compute`) each in a network namespace of its own, so that the API, the database and the NBD
/// data all cross a real TCP link. Real processes: a test may kill -9 one and start it again. Made with onCeph, the
/// volumes are RBD images in a throwaway Ceph cluster on the bridge's address instead (<see cref="RbdMultiHostFixture"/>).
/// </summary>
public class MultiHostFixture : IAsyncLifetime
{
    public const string AdminPassword = "multi-host-admin";

    /// <summary>Each compute host's call listener, on its own address: one port serves them all.</summary>
    private const int CallPort = 8775;
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(3);
    private readonly string _postgresPassword = Guid.NewGuid().ToString("N");
    private readonly Dictionary<string, (string Namespace, string Address)> _machines = [];
    private readonly Dictionary<string, ServeProcess> _computes = [];
    private PostgresCluster? _postgres;
    private TestNetwork? _network;
    private string _databaseUrl = "";
    private ServeLaunch? _controllerLaunch;
    private int _apiPort;

    /// <summary>More EMBER_* variables of the controller (e.g. the external network a derived fixture wants).</summary>
    private readonly IReadOnlyDictionary<string, string> _controllerSettings;

    public MultiHostFixture()
        : this(onCeph: false)
    {
    }

    protected MultiHostFixture(bool onCeph, bool hostNetworking = false, IReadOnlyDictionary<string, string>? controllerSettings = null)
    {
        OnCeph = onCeph;
        HostNetworking = hostNetworking;
        _controllerSettings = controllerSettings ?? new Dictionary<string, string>();
    }

    /// <summary>
    /// Servers get network interfaces (Network:HostNetworking): each compute host makes its bridges, taps and DHCP
    /// namespaces in its own namespace, the DHCP namespaces named after <see cref="NamespacePrefixOf"/>.
    /// </summary>
    public bool HostNetworking { get; }

    /// <summary>The prefix of the DHCP namespaces a compute host makes: the test network's, so clean-up finds them.</summary>
    public string NamespacePrefixOf(string host) => $"{_network!.Prefix}-{host}";

    /// <summary>The network namespace a compute host runs in (its "machine").</summary>
    public string NamespaceOf(string host) => _machines[host].Namespace;

    /// <summary>Volumes are RBD images in <see cref="Ceph"/>'s pool (Volume:Backend rbd), which each host's QEMU opens itself.</summary>
    public bool OnCeph { get; }

    /// <summary>The cluster holding the volumes when <see cref="OnCeph"/>, bound to the bridge's address like PostgreSQL.</summary>
    public CephCluster? Ceph { get; private set; }

    public static readonly string[] ComputeHosts = ["host-1", "host-2"];

    public string Root { get; } = Directory.CreateTempSubdirectory("ember-multihost-").FullName;

    public ServeProcess Controller { get; private set; } = null!;

    public string ControllerDataDir => Path.Combine(Root, "controller");

    /// <summary>The controller's Keystone URL on the bridge, as the compute hosts reach it.</summary>
    public string AuthUrl { get; private set; } = "";

    /// <summary>The address of a compute host's end of the network.</summary>
    public string AddressOf(string host) => _machines[host].Address;

    public async Task InitializeAsync()
    {
        _network = await TestNetwork.CreateAsync();
        _postgres = await PostgresCluster.CreateAsync(_network.HostAddress, _postgresPassword);
        await _postgres.CreateDatabaseAsync("ember");
        _databaseUrl = _postgres.TcpUrlOf("ember");
        var controllerEnv = new Dictionary<string, string?>
        {
            ["EMBER_ADMIN_PASSWORD"] = AdminPassword,
            ["EMBER_DEMO_PASSWORD"] = null,
            ["PGPASSWORD"] = _postgresPassword,
            // A killed host counts as down after 15 s rather than Nova's 60, so the fault test does not wait a minute.
            ["EMBER_Compute__ServiceDownTimeSeconds"] = "15",
            ["EMBER_Network__HostNetworking"] = HostNetworking ? "true" : "false",
        };
        foreach (var (key, value) in _controllerSettings)
        {
            controllerEnv[key] = value;
        }

        if (OnCeph)
        {
            // The compute hosts reach the monitors and the OSD from their namespaces across the bridge (docs/ceph.md).
            Ceph = await CephCluster.CreateAsync(address: _network.HostAddress);
            controllerEnv["EMBER_Volume__Backend"] = "rbd";
            controllerEnv["EMBER_Volume__Rbd__ConfPath"] = Ceph.ConfPath;
            controllerEnv["EMBER_Volume__Rbd__User"] = CephCluster.User;
            controllerEnv["EMBER_Volume__Rbd__KeyringPath"] = Ceph.KeyringPath;
            controllerEnv["EMBER_Volume__Rbd__Pool"] = Ceph.Pool;
            // The image data in the cluster too: the compute hosts download it over the Image API, streamed from librbd.
            await Ceph.AddPoolAsync("images");
            controllerEnv["EMBER_Image__Backend"] = "rbd";
            controllerEnv["EMBER_Image__Rbd__ConfPath"] = Ceph.ConfPath;
            controllerEnv["EMBER_Image__Rbd__User"] = CephCluster.User;
            controllerEnv["EMBER_Image__Rbd__KeyringPath"] = Ceph.KeyringPath;
            controllerEnv["EMBER_Image__Rbd__Pool"] = "images";
        }

        var apiPort = ServeProcess.FreePort(IPAddress.Parse(_network.HostAddress));
        var nbdPort = ServeProcess.FreePort(IPAddress.Parse(_network.HostAddress));
        AuthUrl = $"http://{_network.HostAddress}:{apiPort}/identity/v3";
        _controllerLaunch = new ServeLaunch(
            ["--role", "controller", "--host-name", "controller", "--data-dir", ControllerDataDir, "--database", _databaseUrl,
                "--listen", $"{_network.HostAddress}:{apiPort}", "--nbd-listen", $"{_network.HostAddress}:{nbdPort}",
                "--default-image", await GuestImage.PathAsync()],
            controllerEnv);
        _apiPort = apiPort;
        await StartControllerAsync();
        var number = 2;
        foreach (var host in ComputeHosts)
        {
            _machines[host] = await _network.AddMachineAsync(host, number++);
            await StartComputeAsync(host);
        }
    }

    /// <summary>Starts (or starts again) the controller with the same settings, port and data directory.</summary>
    public async Task StartControllerAsync() => Controller = await ServeProcess.StartAsync(_controllerLaunch!, _apiPort);

    /// <summary>kill -9 of the controller, which serves the NBD exports: the compute hosts and their QEMUs live on.</summary>
    public Task KillControllerAsync() => Controller.KillAsync();

    /// <summary>Starts (or starts again) `ember serve --role compute` for <paramref name="host"/> in its namespace.</summary>
    public async Task StartComputeAsync(string host)
    {
        var dataDir = Path.Combine(Root, host);
        // docs/multi-host.md: a compute host gets a copy of the controller's NBD client certificate.
        var certificates = Path.Combine(dataDir, "nbd-tls", "client");
        Directory.CreateDirectory(certificates, DataDirectory.PrivateDirectory);
        foreach (var file in Directory.GetFiles(Path.Combine(ControllerDataDir, "nbd-tls", "client")))
        {
            File.Copy(file, Path.Combine(certificates, Path.GetFileName(file)), overwrite: true);
        }

        var env = new Dictionary<string, string?>
        {
            ["PGPASSWORD"] = _postgresPassword,
            ["EMBER_Compute__Controller__UserName"] = "admin",
            ["EMBER_Compute__Controller__Password"] = AdminPassword,
            ["EMBER_Compute__ReportIntervalSeconds"] = "3",
            ["EMBER_ADMIN_PASSWORD"] = null,
            ["EMBER_DEMO_PASSWORD"] = null,
            ["EMBER_Network__HostNetworking"] = HostNetworking ? "true" : "false",
            ["EMBER_Network__NamespacePrefix"] = NamespacePrefixOf(host),
        };
        if (Ceph is not null)
        {
            // docs/multi-host.md: a compute host gets its own copy of the volume user's keyring; the monitors come in
            // each attachment's connection_info, so no ceph.conf is needed on the host.
            var keyring = Path.Combine(dataDir, "ceph", Path.GetFileName(Ceph.KeyringPath));
            Directory.CreateDirectory(Path.GetDirectoryName(keyring)!, DataDirectory.PrivateDirectory);
            File.Copy(Ceph.KeyringPath, keyring, overwrite: true);
            File.SetUnixFileMode(keyring, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            env["EMBER_Compute__RbdKeyringPath"] = keyring;
        }

        var (ns, address) = _machines[host];
        _computes[host] = await ServeProcess.StartAsync(new ServeLaunch(
            ["--role", "compute", "--host-name", host, "--data-dir", dataDir, "--database", _databaseUrl, "--controller", AuthUrl,
                "--host-listen", $"{address}:{CallPort}"],
            env, ns, Banner: "Ember compute host", LinesAfterBanner: 2));
    }

    /// <summary>
    /// Runs <paramref name="command"/> in a network namespace <paramref name="host"/> made (a DHCP namespace). The host runs
    /// under `ip netns exec`, which gives it a mount namespace of its own, and its `ip netns add` mounts are only there:
    /// the command enters that mount namespace first.
    /// </summary>
    public Task<CliResult> InHostNamespaceAsync(string host, string ns, params string[] command) =>
        Cli.RunAsync("nsenter", ["-t", _computes[host].Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "ip", "netns", "exec", ns, .. command]);

    /// <summary>What a compute host's ember process printed after its banner so far (its log).</summary>
    public string ComputeOutput(string host) => _computes[host].OutputSoFar();

    /// <summary>kill -9 of a compute host's ember process; its QEMUs keep running.</summary>
    public Task KillComputeAsync(string host) => _computes[host].KillAsync();

    /// <summary>A compute host's power cut: its ember process and every QEMU it ran are killed with SIGKILL.</summary>
    public async Task PowerOffComputeAsync(string host)
    {
        await KillComputeAsync(host);
        await Cli.RunAsync("pkill", ["-KILL", "-f", $"qemu-system.*{Path.Combine(Root, host)}/"]);
    }

    /// <summary>The instance directory a compute host keeps for a server.</summary>
    public string InstanceDirOf(string host, string serverId) => Path.Combine(Root, host, "instances", serverId);

    public Task<CliResult> OpenStackAsync(params string[] args) => Cli.RunAsync("openstack", args, CloudEnv());

    /// <summary>novaclient reads no clouds.yaml: it gets the admin's openrc variables.</summary>
    public Task<CliResult> NovaAsync(params string[] args) => Cli.RunAsync("nova", args, new Dictionary<string, string>(CloudEnv())
    {
        ["OS_AUTH_URL"] = AuthUrl,
        ["OS_USERNAME"] = "admin",
        ["OS_PASSWORD"] = AdminPassword,
        ["OS_PROJECT_NAME"] = "admin",
        ["OS_USER_DOMAIN_NAME"] = "Default",
        ["OS_PROJECT_DOMAIN_NAME"] = "Default",
    });

    public Task<CliResult> EmberAsync(params string[] args) => Cli.RunAsync(Path.Combine(AppContext.BaseDirectory, "ember"), args, CloudEnv());

    /// <summary>`ember ARGS` with <paramref name="stdin"/> piped in (the serial console reads its keys from it).</summary>
    public Task<CliResult> EmberWithInputAsync(string stdin, params string[] args) =>
        Cli.RunAsync(Path.Combine(AppContext.BaseDirectory, "ember"), args, CloudEnv(), stdin: stdin);

    /// <summary>A user of this cloud: the controller's clouds.yaml, cloud "ember" (admin), compute API 2.60.</summary>
    private Dictionary<string, string> CloudEnv() => new()
    {
        ["OS_CLIENT_CONFIG_FILE"] = Path.Combine(ControllerDataDir, "clouds.yaml"),
        ["OS_CLOUD"] = "ember",
        ["OS_COMPUTE_API_VERSION"] = "2.60",
        ["XDG_CACHE_HOME"] = Path.Combine(Root, "cache"),
    };

    public async Task<JsonNode> VolumeAsync(string id) => (await OpenStackAsync("volume", "show", id, "-f", "json")).EnsureSuccess().Json();

    /// <summary>Runs a shell script in the guest through `ember server exec`, waiting for the guest agent first; returns stdout.</summary>
    public async Task<string> ExecAsync(string server, string script)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            var result = await EmberAsync("server", "exec", "--timeout", "120", server, "--", "sh", "-c", script);
            if (result.ExitCode == 0)
            {
                return result.StdOut.Trim();
            }

            // 409 while the guest agent is not answering yet; anything else, or too long, is a failure.
            Assert.True(result.StdErr.Contains("guest agent of instance", StringComparison.Ordinal) && DateTime.UtcNow < deadline, $"'{script}' in {server}: {result}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>The guest's device for a volume, found by its disk serial (the volume id's first 20 characters), as os-brick does.</summary>
    public Task<string> DeviceOfAsync(string server, string volumeId) =>
        ExecAsync(server, $"for i in $(seq 150); do for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = {volumeId[..20]} ] " +
            "&& echo /dev/$(basename $d) && exit 0; done; sleep 0.2; done; exit 1");

    /// <summary>
    /// Polls <paramref name="condition"/> every second until it holds; fails after <paramref name="timeout"/> (3 minutes),
    /// saying what <paramref name="lastSeen"/> saw at the last poll when given.
    /// </summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? lastSeen = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? s_wait);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, lastSeen is null ? $"timed out waiting for {what}" : $"timed out waiting for {what}; last seen: {lastSeen()}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    public static string Id(JsonNode node) => Text(node, "id");

    public static string Text(JsonNode? node, string key) => node?[key]?.GetValue<string>() ?? throw new InvalidOperationException($"no {key} in {node?.ToJsonString()}");

    public async Task DisposeAsync()
    {
        foreach (var compute in _computes.Values)
        {
            await compute.DisposeAsync();
        }

        if (Controller is not null)
        {
            await Controller.DisposeAsync();
        }

        // A test that failed between a kill and a restart leaves that host's QEMUs behind: they run from its data dir.
        await Cli.RunAsync("pkill", ["-KILL", "-f", "qemu-system.*" + Root]);
        // Likewise the DHCP servers of networks still in use (dnsmasq outlives Ember, as Neutron's does) and their namespaces.
        await Cli.RunAsync("pkill", ["-KILL", "-f", "dnsmasq.*" + Root]);
        if (_network is not null)
        {
            var namespaces = (await Cli.RunAsync("ip", ["netns", "list"])).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var ns in namespaces.Select(line => line.Split(' ')[0]).Where(ns => ns.StartsWith(_network.Prefix + "-", StringComparison.Ordinal)))
            {
                await Cli.RunAsync("ip", ["netns", "delete", ns]);
            }
        }

        if (Ceph is not null)
        {
            await Ceph.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        if (_network is not null)
        {
            await _network.DisposeAsync();
        }

        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>A <see cref="MultiHostFixture"/> whose volumes and image data are RBD images in a Ceph cluster on the bridge's address.</summary>
public sealed class RbdMultiHostFixture() : MultiHostFixture(onCeph: true);

/// <summary>A <see cref="MultiHostFixture"/> whose compute hosts wire servers' ports (bridges, taps, dnsmasq in their namespaces).</summary>
public sealed class NetworkMultiHostFixture() : MultiHostFixture(onCeph: false, hostNetworking: true);

/// <summary>A <see cref="NetworkMultiHostFixture"/> whose controller makes DevStack's external network <c>public</c> (172.24.4.0/24) at start.</summary>
public sealed class RouterMultiHostFixture() : MultiHostFixture(onCeph: false, hostNetworking: true,
    controllerSettings: new Dictionary<string, string> { ["EMBER_Network__External__Name"] = "public" });
