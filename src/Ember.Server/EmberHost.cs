using System.Net;
using Ember.Server.Common;
using Ember.Server.Compute;
using Ember.Server.Dashboard;
using Ember.Server.Data;
using Ember.Server.Identity;
using Ember.Server.Image;
using Ember.Server.Metrics;
using Ember.Server.Network;
using Ember.Server.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server;

/// <summary>
/// The all-in-one Ember host or a controller: every API on one listener, state in the data directory or PostgreSQL.
/// A compute host of its own is a <see cref="ComputeNode"/>.
/// </summary>
public sealed partial class EmberHost : IAsyncDisposable
{
    private EmberHost(WebApplication app, string baseUrl)
    {
        App = app;
        BaseUrl = baseUrl;
    }

    public WebApplication App { get; }

    /// <summary>http://host:port of the running listener (the real port when 0 was asked for).</summary>
    public string BaseUrl { get; }

    public string AuthUrl => BaseUrl + "/identity/v3";

    public IServiceProvider Services => App.Services;

    /// <summary>Passwords this start generated (the first start without EMBER_*_PASSWORD): to be shown once.</summary>
    public IReadOnlyList<GeneratedPassword> GeneratedPasswords { get; private set; } = [];

    /// <summary>Migrates the database, starts listening, bootstraps identity; returns once requests are served.</summary>
    /// <param name="services">Last word on the services, for tests that swap a driver (e.g. a QEMU that always fails).</param>
    public static async Task<EmberHost> StartAsync(EmberOptions options, Action<ILoggingBuilder>? logging = null,
        CancellationToken cancellationToken = default, Action<IServiceCollection>? services = null)
    {
        EmberConfiguration.Validate(options);
        if (options.Role == EmberRole.Compute)
        {
            throw new ArgumentException("A compute host has no API listener: start it with ComputeNode.StartAsync.", nameof(options));
        }

        // Before anything creates a file in it: a data dir other users could read is made private first.
        var tightened = DataDirectory.CreateOrTighten(options.DataDir);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        ConfigureLogging(builder.Logging, logging);

        var endPoint = ParseEndPoint(options.Listen);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(endPoint);
            k.Limits.MaxRequestBodySize = null; // image uploads are streamed to disk
        });
        AddSettings(builder.Services, options);
        builder.Services.AddRouting();

        var database = Database.Open(options.Database, options.DataDir);
        builder.Services.AddSingleton(_ => database); // created by a factory, so the container disposes it (the connection pool)
        builder.Services.AddBackgroundWork();
        builder.Services.AddSingleton<Policy>(); // the table: each area adds its PolicyRules below
        builder.Services.AddIdentityServices();
        builder.Services.AddImageServices();
        builder.Services.AddVolumeServices();
        builder.Services.AddComputeServices(options.Role);
        builder.Services.AddNetworkServices();
        builder.Services.AddEmberMetrics(options);
        builder.Services.AddDashboard();
        services?.Invoke(builder.Services);

        var app = builder.Build();
        if (tightened.Count > 0)
        {
            LogTightened(app.Services.GetRequiredService<ILogger<EmberHost>>(), tightened.Count, options.DataDir, tightened[0]);
        }

        await database.MigrateAsync(Migrations, cancellationToken);

        app.UseEmberPipeline();
        app.MapEmberMetrics();
        app.MapIdentityApi();
        app.MapImageApi();
        app.MapVolumeApi();
        app.MapComputeApi();
        if (options.Network.Enabled)
        {
            app.MapNetworkApi();
        }

        app.MapDashboard();
        // A browser asking for / gets the dashboard; API clients (JSON) keep the service list.
        app.MapGet("/", (Microsoft.AspNetCore.Http.HttpContext http) => DashboardApi.WantsHtml(http.Request) ? Microsoft.AspNetCore.Http.Results.Redirect(DashboardApi.Prefix) : Json.Reply(new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = "ember",
            ["services"] = new System.Text.Json.Nodes.JsonArray([.. new[] { "/identity", "/image", "/compute", "/volume", "/network" }.Where(p => p != "/network" || options.Network.Enabled).Select(p => (System.Text.Json.Nodes.JsonNode)p)]),
        }));

        await app.Services.GetRequiredService<IImageData>().StartAsync(cancellationToken);
        // Stages and imports a stop interrupted are undone before a new one can begin.
        await app.Services.GetRequiredService<ImageStore>().RecoverStagingAsync();
        await app.Services.GetRequiredService<ImageService>().FailInterruptedTasksAsync();
        // Volume crash recovery runs before compute recovers its servers and before any request is served.
        await app.Services.GetRequiredService<VolumeBootstrap>().RunAsync();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var baseUrl = (options.PublicUrl ?? address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)
            .Replace("[::]", "[::1]", StringComparison.Ordinal)).TrimEnd('/');
        var host = new EmberHost(app, baseUrl);
        host.GeneratedPasswords = await app.Services.GetRequiredService<IdentityBootstrap>().RunAsync(options, host.AuthUrl);
        await app.Services.GetRequiredService<ImageBootstrap>().RunAsync(options, cancellationToken);
        await app.Services.GetRequiredService<ComputeBootstrap>().RunAsync();
        await app.Services.GetRequiredService<NetworkBootstrap>().RunAsync(cancellationToken);
        return host;
    }

    /// <summary>The schema of every subsystem, in order: every role migrates the shared database the same way.</summary>
    internal static IEnumerable<Migration> Migrations =>
        [.. IdentitySchema.Migrations, .. ImageSchema.Migrations, .. VolumeSchema.Migrations, .. ComputeSchema.Migrations, .. NetworkSchema.Migrations];

    /// <summary>One line per event with its scopes (request id, server id), framework chatter at Warning.</summary>
    internal static void ConfigureLogging(ILoggingBuilder logging, Action<ILoggingBuilder>? overrides)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.None);
        overrides?.Invoke(logging);
    }

    /// <summary>The host-wide settings, and each subsystem's section as its own IOptions&lt;T&gt;.</summary>
    internal static void AddSettings(IServiceCollection services, EmberOptions options)
    {
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(Options.Create(options.Identity));
        services.AddSingleton(Options.Create(options.Image));
        services.AddSingleton(Options.Create(options.Nbd));
        services.AddSingleton(Options.Create(options.Volume));
        services.AddSingleton(Options.Create(options.Compute));
        services.AddSingleton(Options.Create(options.Network));
        services.AddSingleton(Options.Create(options.Metrics));
    }

    public Task WaitForShutdownAsync() => App.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }

    /// <summary>"HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces).</summary>
    public static IPEndPoint ParseEndPoint(string text)
    {
        if (text.StartsWith(':'))
        {
            text = "0.0.0.0" + text;
        }

        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port != 0 || text.EndsWith(":0", StringComparison.Ordinal) && IPEndPoint.TryParse(text, out endPoint))
        {
            return endPoint;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], out var port) && text[..colon] == "localhost")
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        throw new ArgumentException($"Cannot parse listen address '{text}': expected HOST:PORT, e.g. 127.0.0.1:5000.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data directory {DataDir} was readable by other users: took group and other permissions off {Count} paths (first: {First})")]
    private static partial void LogTightened(ILogger logger, int count, string dataDir, string first);
}
