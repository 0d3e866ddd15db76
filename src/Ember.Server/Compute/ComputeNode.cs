using Ember.OpenStack;
using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Network;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// `ember serve --role compute`: a compute host on its own machine. It runs the VMs of the servers whose host is
/// its name and nothing else: no HTTP API. It registers nova-compute and heartbeats in the shared PostgreSQL
/// database, takes its casts from the database (<see cref="HostMessagePump"/>), and reaches volumes and images
/// through the controller's Block Storage and Image APIs as the Keystone user of <see cref="ControllerOptions"/>.
/// </summary>
public sealed class ComputeNode : IAsyncDisposable
{
    private readonly IHost _host;

    private ComputeNode(IHost host, string name)
    {
        _host = host;
        Name = name;
    }

    /// <summary>This host's name, as the servers it runs carry it.</summary>
    public string Name { get; }

    public IServiceProvider Services => _host.Services;

    /// <summary>Migrates the shared database if it is behind, registers the host, recovers its servers, starts taking work.</summary>
    /// <exception cref="ConfigurationException">A setting a compute host needs is missing, or its password file is not private.</exception>
    public static async Task<ComputeNode> StartAsync(EmberOptions options, Action<ILoggingBuilder>? logging = null,
        CancellationToken cancellationToken = default, Action<IServiceCollection>? services = null)
    {
        EmberConfiguration.Validate(options);
        if (options.Role != EmberRole.Compute)
        {
            throw new ArgumentException("ComputeNode runs the compute role only.", nameof(options));
        }

        var access = AccessOf(options.Compute.Controller);
        DataDirectory.CreateOrTighten(options.DataDir);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        EmberHost.ConfigureLogging(builder.Logging, logging);
        EmberHost.AddSettings(builder.Services, options);

        var database = Database.Open(options.Database, options.DataDir);
        builder.Services.AddSingleton(_ => database);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddBackgroundWork();
        builder.Services.AddSingleton(_ => new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }));
        // Renewed well before expiry, so that a long image download does not start on a dying token.
        builder.Services.AddSingleton(sp => new OpenStackClient(sp.GetRequiredService<HttpClient>(), access, sp.GetRequiredService<TimeProvider>())
        {
            RenewBefore = TimeSpan.FromMinutes(5),
        });
        builder.Services.AddSingleton<IVolumeService, VolumeApiClient>();
        builder.Services.AddImageCache().AddSingleton<IHostImageSource, ImageApiSource>();
        builder.Services.AddComputeHost();
        // The host reads its servers' ports and networks from the shared database (it plugs them; the controller owns them).
        builder.Services.AddNetworkServices();
        builder.Services.AddSingleton<HostMessageQueue>();
        builder.Services.AddComputeServiceRegistry();
        builder.Services.AddHostedService<HostMessagePump>();
        services?.Invoke(builder.Services);

        var host = builder.Build();
        await database.MigrateAsync(EmberHost.Migrations, cancellationToken);
        await host.StartAsync(cancellationToken);
        return new ComputeNode(host, options.HostName);
    }

    /// <summary>The controller user's credentials; a password file must be readable by its owner only, as ssh insists for keys.</summary>
    private static OpenStackCredentials AccessOf(ControllerOptions controller)
    {
        var password = controller.Password;
        if (controller.PasswordFile is { } file)
        {
            try
            {
                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & DataDirectory.GroupAndOther) != 0)
                {
                    throw new ConfigurationException($"Compute:Controller:PasswordFile {file} is readable by other users: chmod 600 it.");
                }

                password = File.ReadLines(file).FirstOrDefault() ?? "";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException($"Cannot read Compute:Controller:PasswordFile {file}: {ex.Message}");
            }
        }

        return new OpenStackCredentials
        {
            AuthUrl = new Uri(controller.AuthUrl!).AbsoluteUri, // a malformed URL fails here, at start
            Username = controller.UserName,
            Password = password,
            ProjectName = controller.ProjectName,
            UserDomainName = controller.DomainName,
            ProjectDomainName = controller.DomainName,
        };
    }

    public Task WaitForShutdownAsync() => _host.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
