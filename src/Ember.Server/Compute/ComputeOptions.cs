using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Compute;

/// <summary>The compute service registry: how often services report, and when a silent one counts as down (Nova's names).</summary>
public sealed class ComputeOptions
{
    /// <summary>Seconds between two heartbeats of a service (Nova's report_interval).</summary>
    [Range(1, 86400)]
    public int ReportIntervalSeconds { get; set; } = 10;

    /// <summary>A service whose last heartbeat is older than this is down (Nova's service_down_time).</summary>
    [Range(1, 86400)]
    public int ServiceDownTimeSeconds { get; set; } = 60;
}
