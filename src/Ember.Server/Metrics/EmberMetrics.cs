using System.Diagnostics.Metrics;
using System.Globalization;
using Ember.Nbd.Protocol;
using Ember.Server.Compute;
using Ember.Server.Volume;
using Microsoft.Extensions.Options;

namespace Ember.Server.Metrics;

/// <summary>
/// Ember's own instruments (meter "Ember"), all observable: the exporter reads them at a scrape. NBD figures come
/// from each live export's running totals (one series per export, gone with it); database counts and QEMU memory
/// from a snapshot that <see cref="RefreshAsync"/> renews at most every Metrics:CacheSeconds, so a scrape storm
/// costs the database one grouped count per interval. docs/metrics.md lists every instrument.
/// </summary>
public sealed class EmberMetrics
{
    public const string MeterName = "Ember";

    private readonly VolumeStore _volumes;
    private readonly ComputeStore _servers;
    private readonly ComputeServiceStore _hosts;
    private readonly ComputeServiceRegistry _registry;
    private readonly HostInventory _inventory;
    private readonly VirtHost? _virtHost;
    private readonly VolumeDataPlane _dataPlane;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheFor;
    private readonly string _hostName;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private Snapshot _snapshot = Snapshot.Empty;

    // Every status seen since start stays a series, at 0 when no volume or server has it any more: an alert on
    // "error volumes > 0" then sees the figure fall instead of the series vanish. Statuses are a fixed, small set.
    private readonly HashSet<string> _volumeStatuses = new(StringComparer.Ordinal) { "available", "in-use", "error" };
    private readonly HashSet<(string Host, string Status)> _serverStates = [];

    /// <param name="virtHost">This process's QEMU machines; null on a controller, which runs none.</param>
    public EmberMetrics(IMeterFactory meters, VolumeStore volumes, ComputeStore servers, ComputeServiceStore hosts, ComputeServiceRegistry registry,
        HostInventory inventory, VolumeDataPlane dataPlane, IOptions<EmberOptions> host, IOptions<MetricsOptions> options, TimeProvider time,
        VirtHost? virtHost = null)
    {
        // Counts with no rules to apply: read from the stores directly, every project at once.
        _volumes = volumes;
        _servers = servers;
        _hosts = hosts;
        _registry = registry;
        _inventory = inventory;
        _virtHost = virtHost;
        _dataPlane = dataPlane;
        _time = time;
        _cacheFor = TimeSpan.FromSeconds(options.Value.CacheSeconds);
        _hostName = host.Value.HostName;

        // From the DI factory, so this host's exporter can tell its meter from another host's in the same process (tests).
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("ember.volumes", () => _snapshot.Volumes, "{volume}", "Volumes by status, every project's.");
        meter.CreateObservableGauge("ember.servers", () => _snapshot.Servers, "{server}", "Servers by compute host and API status, every project's.");
        meter.CreateObservableGauge("ember.qemu.processes", () => _snapshot.QemuProcesses, "{process}", "QEMU processes this host runs.");
        meter.CreateObservableGauge("ember.qemu.memory.resident", () => _snapshot.QemuResident, "By", "Resident memory (VmRSS) of each QEMU process of this host.");
        // Per compute host, the figures os-hypervisors shows (one series each per registered nova-compute service).
        meter.CreateObservableGauge("ember.host.up", () => _snapshot.Hosts.Select(h => h.Up), null, "1 when the compute host's service is up (heartbeat recent, not forced down), else 0.");
        meter.CreateObservableGauge("ember.host.servers", () => _snapshot.Hosts.Select(h => h.Servers), "{server}", "Servers placed on the compute host (ERROR ones too), every project's.");
        meter.CreateObservableGauge("ember.host.vcpus", () => _snapshot.Hosts.Select(h => h.Vcpus), "{vcpu}", "vCPUs the compute host reported.");
        meter.CreateObservableGauge("ember.host.vcpus.used", () => _snapshot.Hosts.Select(h => h.VcpusUsed), "{vcpu}", "vCPUs of the flavors of its servers.");
        meter.CreateObservableGauge("ember.host.memory", () => _snapshot.Hosts.Select(h => h.Memory), "By", "Memory the compute host reported.");
        meter.CreateObservableGauge("ember.host.memory.used", () => _snapshot.Hosts.Select(h => h.MemoryUsed), "By",
            "Memory of the flavors of its servers plus the host's reserved memory, as os-hypervisors counts memory_mb_used.");
        meter.CreateObservableGauge("ember.nbd.exports", () => new Measurement<long>(_dataPlane.Totals.Count), "{export}", "Live NBD exports (one per attachment of a file volume).");
        meter.CreateObservableCounter("ember.nbd.read", () => PerExport(t => t.Stats.BytesRead), "By", "Bytes read through an NBD export.");
        meter.CreateObservableCounter("ember.nbd.written", () => PerExport(t => t.Stats.BytesWritten), "By", "Bytes written through an NBD export.");
        meter.CreateObservableCounter("ember.nbd.errors", () => PerExport(t => t.Stats.Errors), "{request}", "NBD requests answered with an error.");
        meter.CreateObservableCounter("ember.nbd.operations", PerOperation, "{request}", "NBD requests answered, by command.");
        meter.CreateObservableCounter("ember.nbd.operation.time", PerOperationTime, "s",
            "Time from reading an NBD request to queueing its reply, summed; divided by the operations it is the mean latency.");
    }

    /// <summary>Renews the snapshot when it is older than Metrics:CacheSeconds; concurrent scrapes wait for one refresh.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_time.GetUtcNow() - _snapshot.Taken < _cacheFor)
        {
            return;
        }

        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            if (_time.GetUtcNow() - _snapshot.Taken >= _cacheFor)
            {
                _snapshot = await TakeAsync();
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task<Snapshot> TakeAsync()
    {
        var volumes = await _volumes.CountVolumesByStatusAsync();
        var servers = await _servers.CountServersByStateAsync();
        var hosts = await HostFiguresAsync();
        var machines = _virtHost?.All ?? [];
        var resident = new List<Measurement<long>>(machines.Count);
        foreach (var machine in machines)
        {
            if (await ResidentBytesAsync(machine.Pid) is { } bytes)
            {
                resident.Add(new(bytes, new("host", _hostName), new("server_id", machine.Id)));
            }
        }

        var volumesByStatus = volumes.ToDictionary(v => v.Status, v => v.Count, StringComparer.Ordinal);
        var serversByState = servers.GroupBy(s => (s.Host, Status: ComputeJson.Status(s.VmState, s.TaskState)))
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Count));
        _volumeStatuses.UnionWith(volumesByStatus.Keys);
        _serverStates.UnionWith(serversByState.Keys);
        return new Snapshot(
            _time.GetUtcNow(),
            [.. _volumeStatuses.Select(status => new Measurement<long>(volumesByStatus.GetValueOrDefault(status), new KeyValuePair<string, object?>("status", status)))],
            [.. _serverStates.Select(key => new Measurement<long>(serversByState.GetValueOrDefault(key), new("host", key.Host), new("status", key.Status)))],
            [new(machines.Count, new KeyValuePair<string, object?>("host", _hostName))],
            resident,
            hosts);
    }

    /// <summary>Every nova-compute service's figures: its row and the servers' use, two queries for all hosts.</summary>
    private async Task<IReadOnlyList<HostFigures>> HostFiguresAsync()
    {
        var nodes = (await _hosts.ListComputeNodesAsync(new ComputeNodeQuery()))!.Items;
        var usage = await _hosts.UsageAsync();
        return [.. nodes.Select(node =>
        {
            var used = usage.GetValueOrDefault(node.Host) ?? HostUsage.None(node.Host);
            KeyValuePair<string, object?>[] tags = [new("host", node.Host)];
            return new HostFigures(
                new(_registry.IsUp(node) ? 1 : 0, tags),
                new(used.Servers, tags),
                new(node.Vcpus, tags),
                new(used.Vcpus, tags),
                new(node.MemoryMb * Mebibyte, tags),
                new((_inventory.ReservedMemoryMb + used.MemoryMb) * Mebibyte, tags));
        })];
    }

    private const long Mebibyte = 1024 * 1024;

    /// <summary>VmRSS of /proc/PID/status in bytes; null when the process is gone.</summary>
    private static async Task<long?> ResidentBytesAsync(int pid)
    {
        string[] lines;
        try
        {
            lines = await File.ReadAllLinesAsync($"/proc/{pid}/status");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "VmRSS:	   12345 kB"
        var line = lines.FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var parts = line?.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries);
        return parts is [_, var kib, "kB"] && long.TryParse(kib, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value * 1024 : null;
    }

    private IEnumerable<Measurement<long>> PerExport(Func<ExportTotals, long> value) =>
        _dataPlane.Totals.Select(t => new Measurement<long>(value(t), ExportTags(t)));

    // A command an export never served is left out (its series appears with its first request): fewer series,
    // and the SDK's slots (NbdSeriesLimit) last longer.
    private IEnumerable<Measurement<long>> PerOperation() =>
        _dataPlane.Totals.SelectMany(t => Nbd.NbdExportStats.Commands.Where(c => t.Stats.Operations(c) > 0).Select(c =>
            new Measurement<long>(t.Stats.Operations(c), [.. ExportTags(t), new("operation", OperationName(c))])));

    private IEnumerable<Measurement<double>> PerOperationTime() =>
        _dataPlane.Totals.SelectMany(t => Nbd.NbdExportStats.Commands.Where(c => t.Stats.Operations(c) > 0).Select(c =>
            new Measurement<double>(t.Stats.Busy(c).TotalSeconds, [.. ExportTags(t), new("operation", OperationName(c))])));

    private static KeyValuePair<string, object?>[] ExportTags(ExportTotals totals) =>
        [new("volume_id", totals.VolumeId), new("attachment_id", totals.AttachmentId ?? ""), new("mode", totals.ReadOnly ? "ro" : "rw")];

    /// <summary>The NBD spec's command names, lower case: read, write, flush, trim, cache, write_zeroes, block_status.</summary>
    private static string OperationName(NbdCommand command) => command switch
    {
        NbdCommand.WriteZeroes => "write_zeroes",
        NbdCommand.BlockStatus => "block_status",
        _ => command.ToString().ToLowerInvariant(),
    };

    private sealed record Snapshot(
        DateTimeOffset Taken,
        IReadOnlyList<Measurement<long>> Volumes,
        IReadOnlyList<Measurement<long>> Servers,
        IReadOnlyList<Measurement<long>> QemuProcesses,
        IReadOnlyList<Measurement<long>> QemuResident,
        IReadOnlyList<HostFigures> Hosts)
    {
        public static readonly Snapshot Empty = new(DateTimeOffset.MinValue, [], [], [], [], []);
    }

    private sealed record HostFigures(
        Measurement<long> Up, Measurement<long> Servers, Measurement<long> Vcpus, Measurement<long> VcpusUsed, Measurement<long> Memory, Measurement<long> MemoryUsed);
}
