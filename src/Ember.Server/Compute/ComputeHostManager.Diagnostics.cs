using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ember.Compute.Qemu;
using Ember.Server.Common;

namespace Ember.Server.Compute;

// Server diagnostics (Nova's get_instance_diagnostics): what QMP says of the running QEMU (run state, accelerator,
// memory, vCPU threads, block statistics) and what the kernel counts for its vCPU threads and taps.
public sealed partial class ComputeHostManager
{
    /// <summary>USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture Ember runs on.</summary>
    private const long ClockTicksPerSecond = 100;

    public async Task<DiagnosticsReply> GetDiagnosticsAsync(DiagnosticsRequest message, CancellationToken cancellationToken)
    {
        var machine = machines.Find(message.ServerId) ?? throw ApiException.Conflict($"Instance {message.ServerId} is not ready");
        try
        {
            var state = await machine.QueryStatusAsync(cancellationToken);
            var kvm = await machine.Qmp.ExecuteAsync("query-kvm", null, cancellationToken);
            var memory = await machine.Qmp.ExecuteAsync("query-memory-size-summary", null, cancellationToken);
            var maximumMiB = memory.GetProperty("base-memory").GetInt64() / (1024 * 1024);
            var cpus = await machine.Qmp.ExecuteAsync("query-cpus-fast", null, cancellationToken);
            var blocks = await machine.Qmp.ExecuteAsync("query-blockstats", null, cancellationToken);
            var nics = await networking.NicsOfAsync(message.ServerId, cancellationToken);
            return new DiagnosticsReply(
                state,
                kvm.GetProperty("enabled").GetBoolean() ? "kvm" : "qemu",
                UptimeSeconds(machine.Pid),
                maximumMiB,
                // No balloon device: the guest has all of its memory.
                maximumMiB,
                [.. cpus.EnumerateArray().Select(c => new CpuCounters(
                    c.GetProperty("cpu-index").GetInt32(), ThreadCpuNanoseconds(machine.Pid, c.GetProperty("thread-id").GetInt64())))],
                [.. blocks.EnumerateArray().Where(b => b.TryGetProperty("qdev", out var qdev) && qdev.GetString() is { Length: > 0 }).Select(DiskOf)],
                [.. nics.Select(NicOf)]);
        }
        catch (QemuException ex)
        {
            // QEMU exited between the lookup and the queries.
            throw ApiException.Conflict($"Instance {message.ServerId} is not ready: {ex.Message}");
        }
    }

    private static DiskCounters DiskOf(JsonElement block)
    {
        var stats = block.GetProperty("stats");
        long Stat(string name) => stats.TryGetProperty(name, out var value) ? value.GetInt64() : 0;
        // qdev is the device's QOM path: /machine/peripheral/disk-vda/virtio-backend for a virtio disk (our id "disk-vda"),
        // /machine/peripheral/config-drive for the config drive.
        var segments = block.GetProperty("qdev").GetString()!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var device = segments.FirstOrDefault(s => s.StartsWith("disk-", StringComparison.Ordinal)) is { } disk ? disk["disk-".Length..]
            : segments.Length > 2 ? segments[2] : string.Join('/', segments);
        return new DiskCounters(device, Stat("rd_bytes"), Stat("rd_operations"), Stat("wr_bytes"), Stat("wr_operations"),
            Stat("failed_rd_operations") + Stat("failed_wr_operations") + Stat("failed_flush_operations"));
    }

    /// <summary>The tap's counters turned round (what the tap transmits, the guest receives), as libvirt reports them.</summary>
    private static NicCounters NicOf(QemuNic nic)
    {
        long? Stat(string name) =>
            File.Exists($"/sys/class/net/{nic.TapName}/statistics/{name}")
            && long.TryParse(File.ReadAllText($"/sys/class/net/{nic.TapName}/statistics/{name}").Trim(), CultureInfo.InvariantCulture, out var value)
                ? value
                : null;
        return new NicCounters(nic.TapName, nic.MacAddress, Stat("tx_bytes"), Stat("tx_packets"), Stat("tx_errors"), Stat("tx_dropped"),
            Stat("rx_bytes"), Stat("rx_packets"), Stat("rx_errors"), Stat("rx_dropped"));
    }

    /// <summary>utime + stime of one QEMU thread (a vCPU), from /proc; null when the thread is gone.</summary>
    private static long? ThreadCpuNanoseconds(int pid, long threadId)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/task/{threadId}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) may hold spaces: the fields after it start past its closing parenthesis, and
        // fields 14 and 15 (utime, stime) are the 12th and 13th of those.
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 12
            && long.TryParse(fields[11], CultureInfo.InvariantCulture, out var user)
            && long.TryParse(fields[12], CultureInfo.InvariantCulture, out var system)
                ? (user + system) * (1_000_000_000 / ClockTicksPerSecond)
                : null;
    }

    private static long? UptimeSeconds(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return (long)(DateTime.Now - process.StartTime).TotalSeconds;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }
}
