using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Metrics;

/// <summary>/metrics on the API listener (docs/metrics.md).</summary>
public sealed class MetricsOptions
{
    /// <summary>Serve /metrics; off, the path is a 404 and no meter is read.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A bearer token a scraper sends as <c>Authorization: Bearer TOKEN</c> instead of a Keystone token. Unset: only a
    /// cloud admin's X-Auth-Token is accepted. Keep it in a 0600 settings file or EMBER_Metrics__ScrapeToken, never on a command line.
    /// </summary>
    [MinLength(16)]
    [MaxLength(4096)]
    public string? ScrapeToken { get; set; }

    /// <summary>How long the database counts (volumes and servers by status) and QEMU memory figures are reused between scrapes.</summary>
    [Range(1, 3600)]
    public int CacheSeconds { get; set; } = 5;
}
