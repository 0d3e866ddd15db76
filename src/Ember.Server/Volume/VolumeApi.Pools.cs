using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Volume;

// Back-end storage pools (cinder/api/contrib/scheduler_stats.py): admin only; Ember has one pool, its backend's.
public static partial class VolumeApi
{
    private static void MapPools(RouteGroupBuilder v3) => v3.MapGet("/scheduler-stats/get_pools", (Delegate)(GetPoolsAsync));

    /// <summary>
    /// The pool's name, and with detail=true its capabilities as Cinder's volume stats give them, read now (free space
    /// of the filesystem, or the RBD pool's max_avail). A backend that cannot answer shows "unknown" and backend_state down.
    /// </summary>
    private static async Task<IResult> GetPoolsAsync(HttpContext http)
    {
        Authorize(http, "scheduler_extension:scheduler_stats:get_pools");
        var backend = Service(http).Backend;
        var pool = new JsonObject { ["name"] = backend.HostName };
        if (IsTrue(http.Request, "detail"))
        {
            PoolCapacity? capacity = null;
            try
            {
                capacity = await backend.CapacityAsync(http.RequestAborted);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCapacityFailed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(VolumeApi)), e);
            }

            var description = backend.Description;
            // The pool is Ember's alone (Cinder's rbd_exclusive_cinder_pool), so provisioned is allocated, as Cinder's scheduler then takes it.
            var allocated = await Service(http).AllocatedGigabytesAsync();
            pool["capabilities"] = new JsonObject
            {
                ["updated"] = Ids.CinderTime(Ids.Now()),
                ["total_capacity_gb"] = capacity is null ? "unknown" : Gib(capacity.TotalBytes),
                ["free_capacity_gb"] = capacity is null ? "unknown" : Gib(capacity.FreeBytes),
                ["allocated_capacity_gb"] = allocated,
                ["provisioned_capacity_gb"] = allocated,
                ["max_over_subscription_ratio"] = MaxOverSubscriptionRatio,
                ["reserved_percentage"] = 0,
                ["volume_backend_name"] = description.BackendName,
                ["driver_version"] = description.DriverVersion,
                ["vendor_name"] = description.VendorName,
                ["storage_protocol"] = description.StorageProtocol,
                ["QoS_support"] = false,
                ["multiattach"] = true,
                ["thin_provisioning_support"] = true,
                ["backend_state"] = capacity is null ? "down" : "up",
            };
        }

        return Json.Reply(new JsonObject { ["pools"] = new JsonArray(pool) });
    }

    /// <summary>
    /// Cinder's default max_over_subscription_ratio, reported as Cinder's drivers report the option (a string). Ember's
    /// creates are not refused for capacity, so it limits nothing here; it is shown for tools that read it.
    /// </summary>
    private const string MaxOverSubscriptionRatio = "20.0";

    /// <summary>Cinder rounds capacities to two decimals of a GiB.</summary>
    private static JsonNode Gib(long bytes) => JsonValue.Create(Math.Round(bytes / (double)VolumeService.GiB, 2));

    [LoggerMessage(Level = LogLevel.Warning, Message = "The volume backend could not report its capacity")]
    private static partial void LogCapacityFailed(ILogger logger, Exception exception);
}
