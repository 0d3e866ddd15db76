using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// GET /servers/{id}/diagnostics (admin): the live QEMU's counters from its host. From 2.48 in Nova's standard shape;
// before it, in the flat shape Nova's libvirt driver gave (cpu0_time, memory, vda_read, <tap>_rx...). Nova's driver
// field is an enum without a QEMU-only value: Ember answers "libvirt", the driver Nova runs QEMU with, and
// hypervisor kvm or qemu as libvirt's virt_type would say.
public static partial class ComputeApi
{
    private const int StandardDiagnosticsVersion = 48;

    private static void MapDiagnostics(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/diagnostics", async (HttpContext http, ComputeStore store, IComputeHosts hosts, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-server-diagnostics");
            var server = await FindServerAsync(store, context, id);
            if (server.TaskState is "deleting" or "migrating")
            {
                throw ApiException.Conflict($"Cannot 'get_diagnostics' instance {server.Id} while it is in task_state {server.TaskState}");
            }

            if (server.Host.Length == 0)
            {
                throw ApiException.Conflict($"Instance {server.Id} is not ready");
            }

            var host = await hosts.GetAsync(server.Host, http.RequestAborted);
            var reply = await host.GetDiagnosticsAsync(new DiagnosticsRequest(RequestId(http), server.Id), http.RequestAborted);
            return Json.Reply(ComputeVersion.Of(http).AtLeast(StandardDiagnosticsVersion) ? StandardDiagnostics(server, reply) : LegacyDiagnostics(reply));
        });
    }

    private static JsonObject StandardDiagnostics(ServerRow server, DiagnosticsReply d) => new()
    {
        ["state"] = d.State switch
        {
            "running" => "running",
            "paused" or "suspended" when server.VmState == VmStates.Suspended => "suspended",
            "paused" or "suspended" => "paused",
            "shutdown" => "shutdown",
            "internal-error" or "guest-panicked" or "io-error" => "crashed",
            _ => "pending",
        },
        ["driver"] = "libvirt",
        ["hypervisor"] = d.Hypervisor,
        ["hypervisor_os"] = "linux",
        ["uptime"] = d.UptimeSeconds,
        ["config_drive"] = server.ConfigDrive == "True",
        ["num_cpus"] = d.Cpus.Count,
        ["num_nics"] = d.Nics.Count,
        ["num_disks"] = d.Disks.Count,
        ["memory_details"] = new JsonObject { ["maximum"] = d.MemoryMaximumMiB, ["used"] = d.MemoryUsedMiB },
        ["cpu_details"] = new JsonArray([.. d.Cpus.Select(c => (JsonNode)new JsonObject { ["id"] = c.Id, ["time"] = c.TimeNanoseconds, ["utilisation"] = null })]),
        ["nic_details"] = new JsonArray([.. d.Nics.Select(n => (JsonNode)new JsonObject
        {
            ["mac_address"] = n.MacAddress,
            ["rx_octets"] = n.RxOctets,
            ["rx_errors"] = n.RxErrors,
            ["rx_drop"] = n.RxDrop,
            ["rx_packets"] = n.RxPackets,
            ["rx_rate"] = null,
            ["tx_octets"] = n.TxOctets,
            ["tx_errors"] = n.TxErrors,
            ["tx_drop"] = n.TxDrop,
            ["tx_packets"] = n.TxPackets,
            ["tx_rate"] = null,
        })]),
        ["disk_details"] = new JsonArray([.. d.Disks.Select(k => (JsonNode)new JsonObject
        {
            ["read_bytes"] = k.ReadBytes,
            ["read_requests"] = k.ReadRequests,
            ["write_bytes"] = k.WriteBytes,
            ["write_requests"] = k.WriteRequests,
            ["errors_count"] = k.Errors,
        })]),
    };

    /// <summary>The libvirt driver's flat dictionary of before 2.48 (memory in KiB, times in nanoseconds).</summary>
    private static JsonObject LegacyDiagnostics(DiagnosticsReply d)
    {
        var flat = new JsonObject();
        foreach (var cpu in d.Cpus)
        {
            flat[$"cpu{cpu.Id}_time"] = cpu.TimeNanoseconds;
        }

        flat["memory"] = d.MemoryMaximumMiB * 1024;
        foreach (var disk in d.Disks)
        {
            flat[$"{disk.Device}_read"] = disk.ReadBytes;
            flat[$"{disk.Device}_read_req"] = disk.ReadRequests;
            flat[$"{disk.Device}_write"] = disk.WriteBytes;
            flat[$"{disk.Device}_write_req"] = disk.WriteRequests;
            flat[$"{disk.Device}_errors"] = disk.Errors;
        }

        foreach (var nic in d.Nics)
        {
            flat[$"{nic.Tap}_rx"] = nic.RxOctets;
            flat[$"{nic.Tap}_rx_drop"] = nic.RxDrop;
            flat[$"{nic.Tap}_rx_errors"] = nic.RxErrors;
            flat[$"{nic.Tap}_rx_packets"] = nic.RxPackets;
            flat[$"{nic.Tap}_tx"] = nic.TxOctets;
            flat[$"{nic.Tap}_tx_drop"] = nic.TxDrop;
            flat[$"{nic.Tap}_tx_errors"] = nic.TxErrors;
            flat[$"{nic.Tap}_tx_packets"] = nic.TxPackets;
        }

        return flat;
    }
}
