using System.Text.Json;
using Ember.Processes;

namespace Ember.Network;

/// <summary>The DHCP server of a network: namespace, veth to the bridge, dnsmasq and its files.</summary>
public sealed partial class NetworkDataPlane
{
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The dnsmasq each network's files were last loaded into by this process (under the lock).</summary>
    private readonly Dictionary<Guid, int> _reloaded = [];

    /// <summary>
    /// Brings the network's DHCP server to <paramref name="config"/>: namespace <c>{NamespacePrefix}-qdhcp-{networkId}</c>
    /// joined to the bridge (created if missing) by a veth whose inner end has the DHCP port's MAC and addresses, and a
    /// dnsmasq in it serving only the listed hosts. A change of hosts or options reloads dnsmasq (SIGHUP, same process);
    /// a change of subnets or port addresses restarts it; a dnsmasq left by an earlier Ember is adopted. A config with no
    /// IPv4 subnet removes the DHCP server.
    /// </summary>
    /// <exception cref="ArgumentException">The config is malformed or out of bounds; nothing was changed.</exception>
    public async Task SyncDhcpAsync(string networkId, DhcpConfig config, CancellationToken cancellationToken = default)
    {
        var id = DataPlaneNames.ParseId(networkId, nameof(networkId));
        var directory = NetworkDirectory(id);
        var inside = DataPlaneNames.DhcpInside(id);
        var files = DnsmasqFiles.Render(config, inside, directory);
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (!files.Serves)
            {
                await RemoveDhcpAsync(id, cancellationToken);
                return;
            }

            await EnsureBridgeAsync(id, config.Mtu, cancellationToken);
            var ns = _names.DhcpNamespace(id);
            if (!(await ListNamespacesAsync(cancellationToken)).Contains(ns))
            {
                await IpOkAsync(null, ["netns", "add", ns], cancellationToken);
            }

            await IpOkAsync(ns, ["link", "set", "dev", "lo", "up"], cancellationToken);
            var veth = _names.DhcpVeth(id);
            if (!await LinkExistsAsync(_options.HostNamespace, veth, cancellationToken))
            {
                await IpOkAsync(_options.HostNamespace, ["link", "add", "name", veth, "type", "veth", "peer", "name", inside, "netns", ns], cancellationToken);
            }

            var mtu = Text(config.Mtu);
            await IpOkAsync(_options.HostNamespace, ["link", "set", "dev", veth, "mtu", mtu, "master", _names.Bridge(id), "up"], cancellationToken);
            await IpOkAsync(ns, ["link", "set", "dev", inside, "address", DataPlaneNames.ParseMac(config.PortMac, ""), "mtu", mtu, "up"], cancellationToken);
            await SyncAddressesAsync(ns, inside, config.MetadataAddress ? [.. files.PortAddresses, MetadataEndpoint.Address + "/32"] : files.PortAddresses,
                cancellationToken);
            await RunDnsmasqAsync(id, ns, directory, files, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The name of the network's DHCP namespace (whether or not it exists).</summary>
    public string DhcpNamespace(string networkId) => _names.DhcpNamespace(DataPlaneNames.ParseId(networkId, nameof(networkId)));

    /// <summary>The inner veth end has exactly the DHCP port's IPv4 addresses.</summary>
    private async Task SyncAddressesAsync(string? ns, string inside, IReadOnlyList<string> wanted, CancellationToken cancellationToken)
    {
        var json = (await IpOkAsync(ns, ["-j", "-4", "addr", "show", "dev", inside], cancellationToken)).StdOut;
        var present = new List<string>();
        using (var document = JsonDocument.Parse(json))
        {
            foreach (var link in document.RootElement.EnumerateArray())
            {
                foreach (var address in link.GetProperty("addr_info").EnumerateArray())
                {
                    present.Add($"{address.GetProperty("local").GetString()}/{address.GetProperty("prefixlen").GetInt32()}");
                }
            }
        }

        foreach (var extra in present.Except(wanted))
        {
            await IpOkAsync(ns, ["addr", "delete", extra, "dev", inside], cancellationToken);
        }

        foreach (var missing in wanted.Except(present))
        {
            await IpOkAsync(ns, ["addr", "add", missing, "dev", inside], cancellationToken);
        }
    }

    private async Task RunDnsmasqAsync(Guid networkId, string ns, string directory, DnsmasqFiles files, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_stateDirectory, PrivateDirectory);
        Directory.CreateDirectory(directory, PrivateDirectory);
        File.SetUnixFileMode(directory, PrivateDirectory);
        var configPath = Path.Combine(directory, DnsmasqFiles.ConfigName);
        var hostsChanged = await WriteIfChangedAsync(Path.Combine(directory, DnsmasqFiles.HostsName), files.Hosts, cancellationToken);
        var optionsChanged = await WriteIfChangedAsync(Path.Combine(directory, DnsmasqFiles.OptionsName), files.Options, cancellationToken);
        var pid = Dnsmasq.Running(directory, configPath);
        if (pid is { } old && !await HoldsAsync(configPath, files.Config, cancellationToken))
        {
            // Ranges and the interface are read only at start. The new config is written after the stop, so a crash
            // in between leaves no dnsmasq running on a config file that says otherwise.
            await StopDnsmasqAsync(old, networkId, cancellationToken);
            pid = null;
        }

        await WriteIfChangedAsync(configPath, files.Config, cancellationToken);
        if (pid is { } running)
        {
            // A dnsmasq this process has not reloaded yet (adopted after a restart) may predate the files.
            if (hostsChanged || optionsChanged || !_reloaded.TryGetValue(networkId, out var known) || known != running)
            {
                Dnsmasq.Reload(running);
                _reloaded[networkId] = running;
                Log.DnsmasqReloaded(_logger, running, networkId);
            }

            return;
        }

        // dnsmasq opens these as they are; created here they are private from the start.
        foreach (var name in new[] { DnsmasqFiles.LeasesName, DnsmasqFiles.LogName })
        {
            using var _ = new FileStream(Path.Combine(directory, name), new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = PrivateFile });
        }

        // dnsmasq forks and its first process exits only once the daemon is ready (0) or has failed (its error on
        // stderr); the daemon points its stdio at /dev/null, so nothing here waits on it.
        (await ProcessRunner.RunAsync(_options.IpBinary, ["netns", "exec", ns, _options.DnsmasqBinary, Dnsmasq.ConfigArgument(configPath)],
            s_commandTimeout, cancellationToken: cancellationToken)).EnsureSuccess();
        var started = Dnsmasq.Running(directory, configPath)
            ?? throw new InvalidOperationException($"dnsmasq for network {networkId} started but its pid file names no running dnsmasq.");
        _reloaded[networkId] = started;
        Log.DnsmasqStarted(_logger, started, networkId);
    }

    /// <summary>Stops the network's dnsmasq and removes its namespace, veth and files; the bridge stays.</summary>
    private async Task RemoveDhcpAsync(Guid networkId, CancellationToken cancellationToken)
    {
        var directory = NetworkDirectory(networkId);
        if (Dnsmasq.Running(directory, Path.Combine(directory, DnsmasqFiles.ConfigName)) is { } pid)
        {
            await StopDnsmasqAsync(pid, networkId, cancellationToken);
        }

        var ns = _names.DhcpNamespace(networkId);
        if ((await ListNamespacesAsync(cancellationToken)).Contains(ns))
        {
            await IpOkAsync(null, ["netns", "delete", ns], cancellationToken);
        }

        // Deleting the namespace deleted the inner end and with it the pair; this catches a veth whose namespace was lost.
        await DeleteLinkAsync(_options.HostNamespace, _names.DhcpVeth(networkId), cancellationToken);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task StopDnsmasqAsync(int pid, Guid networkId, CancellationToken cancellationToken)
    {
        if (await Dnsmasq.StopAsync(pid, cancellationToken))
        {
            Log.DnsmasqKilled(_logger, pid);
        }

        Log.DnsmasqStopped(_logger, pid, networkId);
    }

    private string NetworkDirectory(Guid networkId) => Path.Combine(_stateDirectory, networkId.ToString("D"));

    private static async Task<bool> HoldsAsync(string path, string text, CancellationToken cancellationToken) =>
        File.Exists(path) && await File.ReadAllTextAsync(path, cancellationToken) == text;

    /// <summary>Replaces the file (0600, by rename, so dnsmasq never reads half of it) unless it already holds <paramref name="text"/>.</summary>
    private static async Task<bool> WriteIfChangedAsync(string path, string text, CancellationToken cancellationToken)
    {
        if (await HoldsAsync(path, text, cancellationToken))
        {
            return false;
        }

        var temporary = path + ".tmp";
        File.Delete(temporary);
        await using (var stream = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateFile }))
        await using (var writer = new StreamWriter(stream))
        {
            await writer.WriteAsync(text.AsMemory(), cancellationToken);
        }

        File.Move(temporary, path, overwrite: true);
        return true;
    }
}
