using System.Globalization;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// This process's rows in the service registry: at start it registers the services it runs on its host (nova-compute
/// with the machine's capacity, and the API side's nova-scheduler and nova-conductor, as Nova lists them), then
/// reports every <see cref="ComputeOptions.ReportIntervalSeconds"/> on the injected clock. It also holds Nova's
/// up/down rule, so the API and the scheduler's <see cref="ComputeFilter"/> judge a service the same way.
/// </summary>
public sealed partial class ComputeServiceRegistry(
    ComputeServiceStore store,
    TimeProvider clock,
    IOptions<ComputeOptions> compute,
    IOptions<EmberOptions> ember,
    ServiceCertificate certificate,
    IEnumerable<ComputeHostListener> hostListener,
    ILogger<ComputeServiceRegistry> logger) : IHostedService
{
    /// <summary>The call listener of this process's compute host; none in a process without one.</summary>
    private readonly ComputeHostListener? _listener = hostListener.SingleOrDefault();

    private static readonly (string Binary, string Zone) s_compute = (ComputeServiceStore.ComputeBinary, "nova");
    private static readonly (string Binary, string Zone)[] s_controller = [("nova-scheduler", "internal"), ("nova-conductor", "internal")];

    /// <summary>The services this process runs, by its role: a compute host only nova-compute, a controller no nova-compute.</summary>
    private readonly (string Binary, string Zone)[] _services = ember.Value.Role switch
    {
        EmberRole.Compute => [s_compute],
        EmberRole.Controller => s_controller,
        _ => [s_compute, .. s_controller],
    };

    private readonly CancellationTokenSource _stopping = new();
    private Task? _heartbeats;

    public string Host { get; } = ember.Value.HostName;

    private TimeSpan DownTime => TimeSpan.FromSeconds(compute.Value.ServiceDownTimeSeconds);

    public DateTime Now() => Ids.Now(clock);

    /// <summary>Nova's servicegroup rule: up unless forced down or silent for longer than service_down_time.</summary>
    public bool IsUp(ServiceRow service) => !service.ForcedDown && Now() - Ids.AsUtc(service.LastSeenAt) <= DownTime;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReportAsync();
        _heartbeats = HeartbeatAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_heartbeats is not null)
        {
            await _heartbeats;
        }
    }

    /// <summary>
    /// Registers or refreshes every service of this process (one heartbeat); tests call it after moving the clock. Every
    /// row carries the process's certificate fingerprint; nova-compute's also the URL of its call listener, if any.
    /// </summary>
    public async Task ReportAsync()
    {
        var capacity = HostCapacityProbe.Measure(ember.Value.DataDir) with { Uptime = HostUptime.Read(clock.GetLocalNow()) };
        var now = Now();
        foreach (var (binary, zone) in _services)
        {
            var compute = binary == ComputeServiceStore.ComputeBinary;
            await store.ReportAsync(Host, binary, zone, compute ? capacity : null, now, compute ? _listener?.CallUrl(capacity.HostIp) : null, certificate.Sha256);
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(compute.Value.ReportIntervalSeconds), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await ReportAsync();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A database outage makes this host look down after service_down_time, which is the point of the rule.
                    LogHeartbeatFailed(logger, Host, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat of the services of host {Host} failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string host, string reason);
}

/// <summary>This machine's uptime line, as the uptime command prints it, for os-hypervisors/{id}/uptime.</summary>
public static class HostUptime
{
    /// <summary>From /proc/uptime and /proc/loadavg; null where they cannot be read (not Linux).</summary>
    public static string? Read(DateTimeOffset localNow)
    {
        try
        {
            var up = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);
            var loads = File.ReadAllText("/proc/loadavg").Split(' ');
            return Format(localNow, TimeSpan.FromSeconds(up),
                double.Parse(loads[0], CultureInfo.InvariantCulture), double.Parse(loads[1], CultureInfo.InvariantCulture), double.Parse(loads[2], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>
    /// procps' layout: the time, days if any, then h:mm (or "N min" under an hour), the users (Ember does not read
    /// utmp: always 0), the three load averages.
    /// </summary>
    public static string Format(DateTimeOffset localNow, TimeSpan up, double load1, double load5, double load15)
    {
        var days = up.Days > 0 ? string.Create(CultureInfo.InvariantCulture, $"{up.Days} day{(up.Days == 1 ? "" : "s")}, ") : "";
        var time = up.Hours > 0 ? string.Create(CultureInfo.InvariantCulture, $"{up.Hours,2}:{up.Minutes:00}, ") : string.Create(CultureInfo.InvariantCulture, $"{up.Minutes} min, ");
        return string.Create(CultureInfo.InvariantCulture,
            $" {localNow:HH:mm:ss} up {days}{time} 0 users,  load average: {load1:0.00}, {load5:0.00}, {load15:0.00}");
    }
}

/// <summary>What this machine offers to servers: processors, memory, and the data directory's file system.</summary>
public static class HostCapacityProbe
{
    public static HostCapacity Measure(string dataDir)
    {
        // statvfs of the data dir: instances and volume files live there.
        var disk = new DriveInfo(dataDir);
        var cores = Environment.ProcessorCount;
        var cpuInfo = new JsonObject
        {
            ["arch"] = Architecture(),
            ["topology"] = new JsonObject { ["sockets"] = 1, ["cores"] = cores, ["threads"] = 1 },
            ["features"] = new JsonArray(),
        };
        return new HostCapacity(cores, MemoryMb(), disk.TotalSize >> 30, disk.AvailableFreeSpace >> 30, HostIp(), cpuInfo.ToJsonString());
    }

    /// <summary>MemTotal from /proc/meminfo (kB), else what the runtime sees.</summary>
    private static long MemoryMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal)
                    && long.TryParse(line["MemTotal:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), out var kb))
                {
                    return kb / 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20;
    }

    /// <summary>The first IPv4 address of an interface that is up and not loopback; null when there is none.</summary>
    internal static string? HostIp()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork)?.Address.ToString();
        }
        catch (NetworkInformationException)
        {
            return null;
        }
    }

    private static string Architecture() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "x86_64",
        System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
        var other => other.ToString().ToLowerInvariant(),
    };
}
