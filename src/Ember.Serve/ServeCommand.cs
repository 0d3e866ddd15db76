using System.CommandLine;
using Ember.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Serve;

/// <summary>`ember serve`: runs every service in this process, or one role of the cloud, until SIGINT/SIGTERM.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Settings file (YAML, or JSON by its extension): EmberOptions' names, sections as maps (Identity, Image). Environment variables EMBER_Name / EMBER_Section__Name override it, flags override both." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory for the database, images, volumes and instances (default: $EMBER_DATA_DIR or ~/.local/share/ember)." };
        var listen = new Option<string?>("--listen") { Description = "HOST:PORT for the HTTP API (default 127.0.0.1:5000)." };
        var publicUrl = new Option<string?>("--public-url") { Description = "Base URL to put in the service catalog (default: as the client reached us)." };
        var nbdListen = new Option<string?>("--nbd-listen") { Description = "Also serve NBD on this HOST:PORT, with TLS and client certificates of the CA in DATA/nbd-tls (the unix socket in the data dir is always on)." };
        var nbdInsecure = new Option<bool?>("--nbd-insecure") { Description = "Serve --nbd-listen as plain TCP without TLS (only on a network you trust completely)." };
        var lockoutAttempts = new Option<int?>("--lockout-failure-attempts") { Description = "Lock a user after this many failed logins in a row (Keystone's lockout_failure_attempts; default 0: off)." };
        var lockoutDuration = new Option<int?>("--lockout-duration") { Description = "Seconds a locked user stays locked after the last failure (Keystone's lockout_duration; default 1800)." };
        var hostName = new Option<string?>("--host-name") { Description = "This node's name as compute host (servers.host, OS-EXT-SRV-ATTR:host) and volume host (default: the machine name)." };
        var database = new Option<string?>("--database")
        {
            Description = "State store: postgresql://USER@HOST:PORT/DB or postgresql://USER@/DB?host=/socket/dir (default: SQLite in the data dir). "
                + "No password in the URL: PostgreSQL's password comes from PGPASSWORD or a passfile (~/.pgpass, or ?passfile=PATH).",
        };
        var role = new Option<string?>("--role") { Description = "all (default): everything in one process; controller: the APIs, scheduler and volume service, no VMs; compute: VMs only, working for the controller through the shared PostgreSQL database (docs/multi-host.md)." };
        role.AcceptOnlyFromAmong("all", "controller", "compute");
        var controller = new Option<string?>("--controller") { Description = "With --role compute: the controller's Keystone URL (http://HOST:PORT/identity/v3). The user is Compute:Controller:UserName, its password EMBER_Compute__Controller__Password or Compute:Controller:PasswordFile." };
        var hostListen = new Option<string?>("--host-listen") { Description = "With --role compute: IP:PORT where this host takes the controller's calls (console, exec, passwords, serial console) over mutual TLS." };
        var image = new Option<string?>("--default-image") { Description = "qcow2 file to register as the public image 'ember-tiny' on start." };
        var command = new Command("serve", "Run the cloud: identity, image, compute, block storage and the NBD server in one process, or one role of it.")
        {
            config, role, controller, hostListen, dataDir, database, listen, publicUrl, nbdListen, nbdInsecure, hostName, image, lockoutAttempts, lockoutDuration,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // First, before any file, socket or child process exists: everything Ember creates is owner-only.
            DataDirectory.UsePrivateUmask();
            // Only the flags given: a flag left out must not hide the file's or the environment's value.
            var flags = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            void Flag<T>(Option<T> option, string key)
            {
                if (parse.GetResult(option) is not null && parse.GetValue(option) is { } value)
                {
                    flags[key] = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            Flag(role, nameof(EmberOptions.Role));
            Flag(controller, "Compute:Controller:AuthUrl");
            Flag(hostListen, "Compute:HostListen");
            Flag(dataDir, nameof(EmberOptions.DataDir));
            Flag(database, nameof(EmberOptions.Database));
            Flag(listen, nameof(EmberOptions.Listen));
            Flag(publicUrl, nameof(EmberOptions.PublicUrl));
            Flag(nbdListen, "Nbd:Listen");
            Flag(nbdInsecure, "Nbd:Insecure");
            Flag(hostName, nameof(EmberOptions.HostName));
            Flag(image, "Image:DefaultImagePath");
            Flag(lockoutAttempts, "Identity:LockoutFailureAttempts");
            Flag(lockoutDuration, "Identity:LockoutDurationSeconds");
            EmberOptions options;
            try
            {
                options = EmberConfiguration.Load(parse.GetValue(config), Environment.GetEnvironmentVariables(), flags);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync("ember serve: " + e.Message);
                return 2;
            }

            if (options.Database is { } url)
            {
                try
                {
                    Server.Data.PostgresUrl.Parse(url);
                }
                catch (ArgumentException ex)
                {
                    await Console.Error.WriteLineAsync($"ember serve: Database (--database): {ex.Message}");
                    return 2;
                }
            }

            try
            {
                return options.Role == EmberRole.Compute
                    ? await RunComputeHostAsync(options, cancellationToken)
                    : await RunApiHostAsync(options, cancellationToken);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync("ember serve: " + e.Message);
                return 2;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException || Server.Data.Database.IsUnavailable(ex))
            {
                // Unreachable, or refused us (no password in PGPASSWORD or a passfile, wrong user): one line, no stack trace.
                await Console.Error.WriteLineAsync($"ember serve: cannot use the database: {ex.Message}");
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunApiHostAsync(EmberOptions options, CancellationToken cancellationToken)
    {
        await using var host = await EmberHost.StartAsync(options, cancellationToken: cancellationToken);
        var clouds = Path.Combine(options.DataDir, "clouds.yaml");
        Console.WriteLine($"""
            Ember is running{(options.Role == EmberRole.Controller ? " as a controller" : "")}.
              endpoint:    {host.AuthUrl}
              dashboard:   {host.BaseUrl}/dashboard (log in with a user of clouds.yaml)
              state:       {host.Services.GetRequiredService<Server.Data.Database>().Description}
              clouds.yaml: {clouds}
              try:         OS_CLIENT_CONFIG_FILE={clouds} openstack --os-cloud ember token issue
            """);
        foreach (var generated in host.GeneratedPasswords)
        {
            // Shown this once; afterwards only clouds.yaml and the openrc files (0600) hold it.
            Console.WriteLine($"  generated password for {generated.User}: {generated.Password}");
        }

        await host.WaitForShutdownAsync();
        return 0;
    }

    private static async Task<int> RunComputeHostAsync(EmberOptions options, CancellationToken cancellationToken)
    {
        await using var node = await Server.Compute.ComputeNode.StartAsync(options, cancellationToken: cancellationToken);
        Console.WriteLine($"""
            Ember compute host {node.Name} is running.
              controller: {options.Compute.Controller.AuthUrl}
              state:      {node.Services.GetRequiredService<Server.Data.Database>().Description}
            """);
        await node.WaitForShutdownAsync();
        return 0;
    }
}
