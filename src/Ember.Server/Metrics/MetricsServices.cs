using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Ember.Server.Metrics;

/// <summary>
/// /metrics: the OpenTelemetry SDK reads Ember's meter, ASP.NET Core's request and connection meters and the runtime's,
/// and its Prometheus exporter answers the scrape. Only a cloud admin or the configured scrape token gets an answer.
/// </summary>
public static class MetricsServices
{
    public const string Path = "/metrics";

    /// <summary>The policy action a Keystone token needs for /metrics (cloud admin; docs/security.md).</summary>
    public const string ReadAction = "ember:metrics:read";

    /// <summary>Meters besides Ember's: request durations per route (ASP.NET Core), connections (Kestrel), GC/CPU/memory (runtime).</summary>
    private static readonly string[] s_platformMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime"];

    public static IServiceCollection AddEmberMetrics(this IServiceCollection services, EmberOptions options)
    {
        services.AddSingleton(new PolicyRules([new(ReadAction, PolicyRule.Admin)]));
        if (!options.Metrics.Enabled)
        {
            return services;
        }

        services.AddSingleton<EmberMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("ember", serviceInstanceId: options.HostName))
            .WithMetrics(metrics => metrics
                .AddMeter([EmberMetrics.MeterName, .. s_platformMeters])
                .AddPrometheusExporter(o => o.ScopeInfoEnabled = false));
        services.ConfigureOpenTelemetryMeterProvider((sp, builder) => builder.AddView(OnlyThisHost(sp.GetRequiredService<IMeterFactory>())));
        return services;
    }

    /// <summary>Answers /metrics (after <see cref="ApiPipeline.UseEmberPipeline"/>, so a refusal gets an API error body).</summary>
    public static void MapEmberMetrics(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.Enabled)
        {
            return;
        }

        var metrics = app.Services.GetRequiredService<EmberMetrics>();
        var scrapeToken = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.ScrapeToken;
        var scrapeHash = scrapeToken is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(scrapeToken));
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: http => http.Request.Path.Equals(Path, StringComparison.Ordinal),
            path: null,
            configureBranchedPipeline: branch => branch.Use(async (http, next) =>
            {
                if (!IsScraper(http, scrapeHash))
                {
                    http.Enforce(http.RequireContext(), ReadAction); // 401 without a token, 403 for anyone but the cloud admin
                }

                await metrics.RefreshAsync(http.RequestAborted);
                await next(http);
            }),
            optionsName: null);
    }

    /// <summary>
    /// Whether the request carries <c>Authorization: Bearer</c> with the scrape token. The hashes are compared in
    /// constant time (hashing first also hides the token's length).
    /// </summary>
    private static bool IsScraper(HttpContext http, byte[]? scrapeHash)
    {
        const string scheme = "Bearer ";
        var header = http.Request.Headers.Authorization.ToString();
        if (scrapeHash is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, scrapeHash);
    }

    /// <summary>
    /// Series an NBD instrument may have had over the process's life. The SDK keeps a slot for every label set it has
    /// seen (cumulative counters cannot forget one), allocated up front; past the limit new attachments fold into one
    /// <c>otel_metric_overflow="true"</c> series until restart (docs/metrics.md). The SDK's default is 2000.
    /// </summary>
    private const int NbdSeriesLimit = 10_000;

    /// <summary>
    /// Keeps the meters made by this host's factory (and process-wide ones such as the runtime's), drops those of
    /// another host in the same process: the SDK matches meters by name only, and tests run several hosts at once.
    /// The per-attachment NBD instruments get a higher series limit.
    /// </summary>
    private static Func<Instrument, MetricStreamConfiguration?> OnlyThisHost(IMeterFactory factory) => instrument =>
        instrument.Meter.Scope is not null && !ReferenceEquals(instrument.Meter.Scope, factory) ? MetricStreamConfiguration.Drop
        : instrument.Meter.Name == EmberMetrics.MeterName && instrument.Name.StartsWith("ember.nbd.", StringComparison.Ordinal)
            ? new MetricStreamConfiguration { CardinalityLimit = NbdSeriesLimit }
            : null;
}
