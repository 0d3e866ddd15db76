using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.Server.Common;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// Two Ember processes on one PostgreSQL database: the fixture's host is the controller, and a second host with a call
/// listener (Compute:HostListen) on a data directory of its own is compute host "compute-b". A server placed there has
/// its console output, exec, password and serial console answered by compute-b's own manager, through the listener,
/// with the TLS trust taken from the registry rows both processes wrote. Both QEMUs are /bin/false: no VM runs.
/// </summary>
public sealed class RemoteHostCallTests(PostgresFuzzFixture fixture) : IClassFixture<PostgresFuzzFixture>, IAsyncLifetime
{
    private readonly string _otherDataDir = Path.Combine(Path.GetTempPath(), "ember-compute-b-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _otherHost = "compute-b-" + Guid.NewGuid().ToString("N")[..6];
    private EmberHost _other = null!;

    private IServiceProvider Controller => fixture.Host.Services;

    public async Task InitializeAsync()
    {
        var options = new EmberOptions
        {
            DataDir = _otherDataDir,
            HostName = _otherHost,
            Listen = "127.0.0.1:0",
            Database = Controller.GetRequiredService<IOptions<EmberOptions>>().Value.Database,
            Identity = { AdminPassword = EmberFixture.AdminPassword, DemoPassword = EmberFixture.DemoPassword },
            Compute = { HostListen = "127.0.0.1:0" },
        };
        _other = await EmberHost.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning), services: services =>
            services.AddSingleton(sp => new QemuDriver(
                new QemuDriverOptions { QemuBinary = "/bin/false", Accelerator = "tcg", StartTimeout = TimeSpan.FromSeconds(5) },
                sp.GetRequiredService<ILoggerFactory>())));
    }

    public async Task DisposeAsync()
    {
        await _other.DisposeAsync();
        Directory.Delete(_otherDataDir, recursive: true);
    }

    [Fact]
    public async Task Calls_for_a_server_on_another_host_are_served_by_that_hosts_manager_through_its_listener()
    {
        var registry = Controller.GetRequiredService<ComputeServiceStore>();
        var row = await registry.FindAsync(_otherHost, ComputeServiceStore.ComputeBinary);
        Assert.Equal("https://" + _other.Services.GetRequiredService<ComputeHostListener>().EndPoint, row!.CallUrl);
        Assert.Equal(_other.Services.GetRequiredService<ServiceCertificate>().Sha256, row.CertificateSha256);

        // Only compute-b may take the server: this process's own nova-compute is disabled for the test.
        var local = (await registry.FindAsync(Controller.GetRequiredService<ComputeHostManager>().Name, ComputeServiceStore.ComputeBinary))!;
        await registry.SetDisabledAsync(local.Id, true, "remote call test", DateTime.UtcNow);
        string server;
        using var own = await fixture.NewProjectClientAsync("remote-calls");
        try
        {
            var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "remote-calls");
            server = (await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
            {
                ["server"] = new JsonObject { ["name"] = "on-b", ["imageRef"] = image, ["flavorRef"] = flavor, ["adminPass"] = "Boot-S3cret-b", ["networks"] = "none" },
            }, HttpStatusCode.Accepted, "compute 2.37"))["server"]!["id"]!.GetValue<string>();
        }
        finally
        {
            await registry.SetDisabledAsync(local.Id, false, null, DateTime.UtcNow);
        }

        using var admin = new ApiClient(await fixture.ClientAsync());
        Assert.Equal(_otherHost, (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}"))["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        // The boot password went to compute-b by call (the queued spawn has none), waiting there for the spawn.
        Assert.Equal("Boot-S3cret-b", _other.Services.GetRequiredService<BootPasswords>().Take(server));

        // As if compute-b had built it: its pump does not run here, and its QEMU could not have.
        await Controller.GetRequiredService<ComputeStore>().SetStateAsync(server, VmStates.Active, null, PowerStates.Running);
        var instanceDir = _other.Services.GetRequiredService<ComputeHostManager>().InstanceDir(server);
        Directory.CreateDirectory(instanceDir);
        await File.WriteAllTextAsync(Path.Combine(instanceDir, "console.log"), "boot\nlogin: from compute-b\n");

        var output = await own.Api.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action",
            new JsonObject { ["os-getConsoleOutput"] = new JsonObject { ["length"] = 2 } });
        Assert.Equal("login: from compute-b\n", output["output"]!.GetValue<string>());

        // compute-b's manager runs no QEMU for it, and says so: its 409 and message come back through the controller.
        var exec = await own.Api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action",
            new JsonObject { ["ember-exec"] = new JsonObject { ["command"] = new JsonArray("true") } });
        Assert.Equal(HttpStatusCode.Conflict, exec.Status);
        Assert.Equal($"Cannot 'exec in' instance {server}: it is not running on host {_otherHost}.", ConflictMessage(exec.Json));

        var password = await own.Api.TrySendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/action",
            new JsonObject { ["changePassword"] = new JsonObject { ["adminPass"] = "N3w-pass" } });
        Assert.Equal(HttpStatusCode.Conflict, password.Status);
        Assert.Equal($"Cannot 'changePassword' instance {server}: it is not running on host {_otherHost}.", ConflictMessage(password.Json));

        var url = (await own.Api.SendAsync(HttpMethod.Post, $"/compute/v2.1/servers/{server}/remote-consoles",
            new JsonObject { ["remote_console"] = new JsonObject { ["protocol"] = "serial", ["type"] = "serial" } }))["remote_console"]!["url"]!.GetValue<string>();
        using (var socket = new ClientWebSocket())
        {
            socket.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri(url), CancellationToken.None));
            Assert.Equal(HttpStatusCode.Conflict, socket.HttpStatusCode);
        }

        var remote = await Controller.GetRequiredService<IComputeHosts>().GetAsync(_otherHost, default);
        var serial = await Assert.ThrowsAsync<ApiException>(() => remote.OpenSerialConsoleAsync(new SerialConsoleRequest("req", server), default));
        Assert.Equal((ErrorKind.Conflict, $"Instance {server} is not running."), (serial.Kind, serial.Message));
    }

    private static string? ConflictMessage(JsonNode? body) => body?["conflictingRequest"]?["message"]?.GetValue<string>();
}
