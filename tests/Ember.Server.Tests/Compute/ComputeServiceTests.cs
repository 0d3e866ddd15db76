using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// A host whose QEMU always fails (servers reach the host and go to ERROR there, no VM runs) and whose services
/// report on a clock the tests move: heartbeats come only from <see cref="ReportAsync"/>, never from the timer.
/// </summary>
public class RegistryFixture : FuzzFixture
{
    public RegistryFixture()
        : this(onPostgres: false)
    {
    }

    protected RegistryFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public const int DownTimeSeconds = 60;

    public ComputeServiceRegistry Registry => Host.Services.GetRequiredService<ComputeServiceRegistry>();

    public string HostName => Registry.Host;

    /// <summary>One heartbeat of every service of the host, at the fake clock's time.</summary>
    public Task ReportAsync() => Registry.ReportAsync();

    protected override Task ConfigureAsync(EmberOptions options)
    {
        options.Compute.ReportIntervalSeconds = 86400; // the timer never fires while a test moves the clock by minutes
        options.Compute.ServiceDownTimeSeconds = DownTimeSeconds;
        return Task.CompletedTask;
    }

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton<TimeProvider>(Clock);
    }
}

/// <summary>A <see cref="RegistryFixture"/> whose state is in PostgreSQL.</summary>
public sealed class PostgresRegistryFixture() : RegistryFixture(onPostgres: true);

/// <summary>Runs <see cref="ComputeServiceCases"/> on SQLite.</summary>
public sealed class ComputeServiceTests(RegistryFixture fixture) : ComputeServiceCases(fixture), IClassFixture<RegistryFixture>;

/// <summary>Runs <see cref="ComputeServiceCases"/> on PostgreSQL.</summary>
public sealed class PostgresComputeServiceTests(PostgresRegistryFixture fixture) : ComputeServiceCases(fixture), IClassFixture<PostgresRegistryFixture>;

/// <summary>The service registry through os-services and os-hypervisors, and what the scheduler makes of it.</summary>
public abstract class ComputeServiceCases(RegistryFixture fixture)
{
    private const string V211 = "compute 2.11";
    private const string V253 = "compute 2.53";
    private const string NoValidHost = "No valid host was found. There are not enough hosts available.";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task List_shows_the_three_services_of_this_host_up_with_ids_per_microversion()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var legacy = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-services"))["services"]!.AsArray();
        Assert.Equal(["nova-compute", "nova-scheduler", "nova-conductor"], legacy.Where(s => Str(s, "host") == fixture.HostName).Select(s => Str(s, "binary")));
        foreach (var service in legacy)
        {
            Assert.Equal("up", Str(service, "state"));
            Assert.Equal("enabled", Str(service, "status"));
            Assert.True(service!["id"]!.GetValueKind() == System.Text.Json.JsonValueKind.Number);
            Assert.Null(service["forced_down"]);
        }

        Assert.Equal("nova", Str(legacy[0], "zone"));
        Assert.Equal("internal", Str(legacy[1], "zone"));

        var modern = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={fixture.HostName}&binary=nova-compute", apiVersion: V253))["services"]!.AsArray();
        var compute = Assert.Single(modern);
        Assert.True(Guid.TryParse(Str(compute, "id"), out _));
        Assert.False(compute!["forced_down"]!.GetValue<bool>());
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-services?host=no-such-host"))["services"]!.AsArray());
    }

    [Fact]
    public async Task A_disabled_compute_service_gets_no_new_servers_and_gets_them_again_once_enabled()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var id = await ComputeServiceIdAsync(admin);
        var disabled = await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{id}",
            new JsonObject { ["status"] = "disabled", ["disabled_reason"] = "maintenance" }, apiVersion: V253);
        try
        {
            Assert.Equal("disabled", Str(disabled["service"], "status"));
            Assert.Equal("maintenance", Str(disabled["service"], "disabled_reason"));
            Assert.Equal("up", Str(disabled["service"], "state"));

            var refused = await BootAsync(admin);
            Assert.Equal(NoValidHost, Str(refused["fault"], "message"));
            Assert.Equal(500, refused["fault"]!["code"]!.GetValue<int>());
            Assert.Null(refused["OS-EXT-SRV-ATTR:host"]);
            await DeleteServerAsync(admin, Str(refused, "id"));
        }
        finally
        {
            var enabled = await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{id}", new JsonObject { ["status"] = "enabled" }, apiVersion: V253);
            Assert.Equal("enabled", Str(enabled["service"], "status"));
            Assert.Null(enabled["service"]!["disabled_reason"]);
        }

        var placed = await BootAsync(admin);
        Assert.Equal(fixture.HostName, Str(placed, "OS-EXT-SRV-ATTR:host"));
        Assert.NotEqual(NoValidHost, Str(placed["fault"], "message")); // it reached the host, whose QEMU fails
        await DeleteServerAsync(admin, Str(placed, "id"));
    }

    [Fact]
    public async Task A_silent_service_is_down_after_service_down_time_and_is_not_scheduled_to()
    {
        using var admin = await AdminAsync();
        await fixture.ReportAsync();
        fixture.Clock.Advance(TimeSpan.FromSeconds(RegistryFixture.DownTimeSeconds));
        Assert.All(await ServicesOfHostAsync(admin), s => Assert.Equal("up", Str(s, "state")));

        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        try
        {
            Assert.All(await ServicesOfHostAsync(admin), s => Assert.Equal("down", Str(s, "state")));
            var hypervisor = await HypervisorAsync(admin, "compute 2.1");
            Assert.Equal("down", Str(hypervisor, "state"));
            var refused = await BootAsync(admin);
            Assert.Equal(NoValidHost, Str(refused["fault"], "message"));
            await DeleteServerAsync(admin, Str(refused, "id"));
        }
        finally
        {
            await fixture.ReportAsync();
        }

        Assert.All(await ServicesOfHostAsync(admin), s => Assert.Equal("up", Str(s, "state")));
    }

    [Fact]
    public async Task A_forced_down_service_stays_down_through_heartbeats_until_the_flag_is_cleared()
    {
        using var admin = await AdminAsync();
        var id = await ComputeServiceIdAsync(admin);
        var forced = await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{id}", new JsonObject { ["forced_down"] = true }, apiVersion: V253);
        try
        {
            Assert.True(forced["service"]!["forced_down"]!.GetValue<bool>());
            await fixture.ReportAsync();
            var compute = (await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-compute");
            Assert.Equal("down", Str(compute, "state"));
            Assert.Equal("enabled", Str(compute, "status"));
        }
        finally
        {
            await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{id}", new JsonObject { ["forced_down"] = false }, apiVersion: V253);
        }

        await fixture.ReportAsync();
        Assert.Equal("up", Str((await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-compute"), "state"));

        // The same through 2.11's force-down action.
        var body = new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-compute", ["forced_down"] = true };
        var legacy = await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/force-down", body, apiVersion: V211);
        Assert.True(legacy["service"]!["forced_down"]!.GetValue<bool>());
        Assert.Equal("down", Str((await ServicesOfHostAsync(admin, V211)).Single(s => Str(s, "binary") == "nova-compute"), "state"));
        body["forced_down"] = false;
        await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/force-down", body, apiVersion: V211);
        Assert.Equal("up", Str((await ServicesOfHostAsync(admin, V211)).Single(s => Str(s, "binary") == "nova-compute"), "state"));
    }

    [Fact]
    public async Task Before_2_53_services_change_through_the_action_urls()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var target = new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-compute" };
        var disabled = await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/disable", target.DeepClone());
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-compute", ["status"] = "disabled" }, disabled["service"]));

        var logged = target.DeepClone().AsObject();
        logged["disabled_reason"] = "disk swap";
        var withReason = await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/disable-log-reason", logged);
        Assert.Equal("disk swap", Str(withReason["service"], "disabled_reason"));
        var compute = (await ServicesOfHostAsync(admin)).Single(s => Str(s, "binary") == "nova-compute");
        Assert.Equal("disabled", Str(compute, "status"));
        Assert.Equal("disk swap", Str(compute, "disabled_reason"));

        var enabled = await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/enable", target.DeepClone());
        Assert.Equal("enabled", Str(enabled["service"], "status"));
        Assert.Equal("enabled", Str((await ServicesOfHostAsync(admin)).Single(s => Str(s, "binary") == "nova-compute"), "status"));

        // force-down exists from 2.11; a reason is required by disable-log-reason; only nova-compute changes.
        await ExpectErrorAsync(admin, HttpMethod.Put, "/compute/v2.1/os-services/force-down", target, HttpStatusCode.NotFound, "Unknown action");
        await ExpectErrorAsync(admin, HttpMethod.Put, "/compute/v2.1/os-services/disable-log-reason", target, HttpStatusCode.BadRequest, "Missing disabled reason field");
        await ExpectErrorAsync(admin, HttpMethod.Put, "/compute/v2.1/os-services/disable",
            new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-scheduler" }, HttpStatusCode.BadRequest,
            "Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.");
        await ExpectErrorAsync(admin, HttpMethod.Put, "/compute/v2.1/os-services/disable",
            new JsonObject { ["host"] = "no-such-host", ["binary"] = "nova-compute" }, HttpStatusCode.NotFound, "Could not find binary nova-compute on host no-such-host.");
        // From 2.53 the id is a uuid, so an action name is not one.
        await ExpectErrorAsync(admin, HttpMethod.Put, "/compute/v2.1/os-services/disable", new JsonObject { ["status"] = "disabled" }, HttpStatusCode.BadRequest,
            "Invalid uuid disable", V253);
    }

    [Fact]
    public async Task The_2_53_update_checks_its_body_and_the_service()
    {
        using var admin = await AdminAsync();
        var id = await ComputeServiceIdAsync(admin);
        var path = $"/compute/v2.1/os-services/{id}";
        await ExpectErrorAsync(admin, HttpMethod.Put, path, new JsonObject(), HttpStatusCode.BadRequest,
            "No updates were requested. Fields 'status' or 'forced_down' should be specified.", V253);
        await ExpectErrorAsync(admin, HttpMethod.Put, path, new JsonObject { ["status"] = "enabled", ["disabled_reason"] = "x" }, HttpStatusCode.BadRequest,
            "Specifying 'disabled_reason' with status 'enabled' is invalid.", V253);
        await ExpectErrorAsync(admin, HttpMethod.Put, path, new JsonObject { ["status"] = "off" }, HttpStatusCode.BadRequest, null, V253);
        await ExpectErrorAsync(admin, HttpMethod.Put, path, new JsonObject { ["status"] = "enabled", ["host"] = "x" }, HttpStatusCode.BadRequest, null, V253);
        var unknown = Guid.NewGuid().ToString();
        await ExpectErrorAsync(admin, HttpMethod.Put, $"/compute/v2.1/os-services/{unknown}", new JsonObject { ["status"] = "enabled" }, HttpStatusCode.NotFound,
            $"Service {unknown} could not be found.", V253);
        var scheduler = Str((await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-scheduler"), "id");
        await ExpectErrorAsync(admin, HttpMethod.Put, $"/compute/v2.1/os-services/{scheduler}", new JsonObject { ["status"] = "disabled" },
            HttpStatusCode.BadRequest, "Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.", V253);
    }

    [Fact]
    public async Task Deleting_a_compute_service_that_hosts_servers_is_409_and_a_deleted_service_registers_again_at_its_next_heartbeat()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var server = await BootAsync(admin);
        var id = await ComputeServiceIdAsync(admin);
        await ExpectErrorAsync(admin, HttpMethod.Delete, $"/compute/v2.1/os-services/{id}", null, HttpStatusCode.Conflict,
            "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.", V253);
        await DeleteServerAsync(admin, Str(server, "id"));

        var unknown = Guid.NewGuid().ToString();
        await ExpectErrorAsync(admin, HttpMethod.Delete, $"/compute/v2.1/os-services/{unknown}", null, HttpStatusCode.NotFound, $"Service {unknown} could not be found.", V253);
        await ExpectErrorAsync(admin, HttpMethod.Delete, "/compute/v2.1/os-services/999999", null, HttpStatusCode.NotFound, "Service 999999 could not be found.");
        await ExpectErrorAsync(admin, HttpMethod.Delete, "/compute/v2.1/os-services/abc", null, HttpStatusCode.BadRequest, null);
        await ExpectErrorAsync(admin, HttpMethod.Delete, "/compute/v2.1/os-services/12", null, HttpStatusCode.BadRequest, "Invalid uuid 12", V253);

        // Before 2.53 by its integer id: the conductor goes, and comes back (a new uuid) when the host reports again.
        var uuid = Str((await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-conductor"), "id");
        var conductor = (await ServicesOfHostAsync(admin)).Single(s => Str(s, "binary") == "nova-conductor")!["id"]!.GetValue<int>();
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/os-services/{conductor}", expect: HttpStatusCode.NoContent);
        Assert.DoesNotContain(await ServicesOfHostAsync(admin), s => Str(s, "binary") == "nova-conductor");
        await fixture.ReportAsync();
        Assert.NotEqual(uuid, Str((await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-conductor"), "id"));
    }

    [Fact]
    public async Task Hypervisor_figures_are_the_host_capacity_and_the_flavors_of_the_servers_placed_on_it()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var flavor = "hv-" + Guid.NewGuid().ToString("N")[..8];
        await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            // Two vCPUs: placement refuses a flavor with more vCPUs than the host has cores (max_unit), and CI has two.
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = flavor, ["id"] = flavor, ["ram"] = 96, ["vcpus"] = 2, ["disk"] = 2 } });
        var before = await HypervisorAsync(admin, "compute 2.1");
        var statsBefore = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics"))["hypervisor_statistics"]!;
        var servers = new[] { await BootAsync(admin, flavor), await BootAsync(admin, flavor) };
        try
        {
            var after = await HypervisorAsync(admin, "compute 2.1");
            Assert.Equal(Int(before, "vcpus_used") + 4, Int(after, "vcpus_used"));
            Assert.Equal(Int(before, "memory_mb_used") + 192, Int(after, "memory_mb_used"));
            Assert.Equal(Int(before, "local_gb_used") + 4, Int(after, "local_gb_used"));
            Assert.Equal(Int(before, "running_vms") + 2, Int(after, "running_vms"));
            Assert.Equal(Int(after, "memory_mb") - Int(after, "memory_mb_used"), Int(after, "free_ram_mb"));
            Assert.Equal(Int(after, "local_gb") - Int(after, "local_gb_used"), Int(after, "free_disk_gb"));
            Assert.Equal(Environment.ProcessorCount, Int(after, "vcpus"));
            Assert.True(Int(after, "memory_mb") > 0 && Int(after, "local_gb") > 0);
            Assert.Equal("QEMU", Str(after, "hypervisor_type"));
            Assert.Equal(fixture.HostName, Str(after, "hypervisor_hostname"));
            Assert.Equal(fixture.HostName, Str(after["service"], "host"));
            Assert.Equal(System.Text.Json.JsonValueKind.String, after["cpu_info"]!.GetValueKind()); // a JSON string before 2.28

            var stats = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics"))["hypervisor_statistics"]!;
            Assert.Equal(1, Int(stats, "count"));
            Assert.Equal(Int(statsBefore, "vcpus_used") + 4, Int(stats, "vcpus_used"));
            Assert.Equal(Int(statsBefore, "memory_mb_used") + 192, Int(stats, "memory_mb_used"));
            Assert.Equal(Int(statsBefore, "running_vms") + 2, Int(stats, "running_vms"));

            // The list, show and the 2.53 forms: uuid ids, servers on request, a hostname pattern.
            var summary = Assert.Single((await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors"))["hypervisors"]!.AsArray());
            Assert.Equal(after["id"]!.GetValue<int>(), summary!["id"]!.GetValue<int>());
            Assert.Equal("up", Str(summary, "state"));
            Assert.Null(summary["vcpus"]);
            var shown = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{after["id"]}"))["hypervisor"]!;
            Assert.Equal(Int(after, "vcpus_used"), Int(shown, "vcpus_used"));

            var modern = Assert.Single((await admin.SendAsync(HttpMethod.Get,
                $"/compute/v2.1/os-hypervisors/detail?with_servers=true&hypervisor_hostname_pattern={fixture.HostName[..2]}", apiVersion: V253))["hypervisors"]!.AsArray())!;
            var uuid = Str(modern, "id");
            Assert.True(Guid.TryParse(uuid, out _));
            Assert.Equal(System.Text.Json.JsonValueKind.Object, modern["cpu_info"]!.GetValueKind());
            var listed = modern["servers"]!.AsArray().Select(s => Str(s, "uuid")).ToList();
            Assert.All(servers, s => Assert.Contains(Str(s, "id"), listed));
            var shownModern = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{uuid}?with_servers=1", apiVersion: V253))["hypervisor"]!;
            Assert.Equal(listed, shownModern["servers"]!.AsArray().Select(s => Str(s, "uuid")));
            await ExpectErrorAsync(admin, HttpMethod.Get, "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern=no-such-host", null, HttpStatusCode.NotFound,
                "No hypervisor matching 'no-such-host' could be found.", V253);

            // Before 2.53: search and servers by pattern; from 2.53 they are gone.
            var searched = Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{fixture.HostName}/search"))["hypervisors"]!.AsArray());
            Assert.Null(searched!["servers"]);
            var withServers = Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{fixture.HostName}/servers"))["hypervisors"]!.AsArray());
            Assert.Equal(listed, withServers!["servers"]!.AsArray().Select(s => Str(s, "uuid")));
            await ExpectErrorAsync(admin, HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{fixture.HostName}/search", null, HttpStatusCode.NotFound, null, V253);
            await ExpectErrorAsync(admin, HttpMethod.Get, "/compute/v2.1/os-hypervisors/no-such-host/search", null, HttpStatusCode.NotFound,
                "No hypervisor matching 'no-such-host' could be found.");

            // Unknown ids: 404; a non-uuid from 2.53: 400.
            await ExpectErrorAsync(admin, HttpMethod.Get, "/compute/v2.1/os-hypervisors/999999", null, HttpStatusCode.NotFound, "Hypervisor with ID 999999 could not be found.");
            var unknown = Guid.NewGuid().ToString();
            await ExpectErrorAsync(admin, HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{unknown}", null, HttpStatusCode.NotFound,
                $"Hypervisor with ID {unknown} could not be found.", V253);
            await ExpectErrorAsync(admin, HttpMethod.Get, "/compute/v2.1/os-hypervisors/7", null, HttpStatusCode.BadRequest, "Invalid uuid 7", V253);
        }
        finally
        {
            foreach (var server in servers)
            {
                await DeleteServerAsync(admin, Str(server, "id"));
            }
        }

        Assert.Equal(Int(before, "vcpus_used"), Int(await HypervisorAsync(admin, "compute 2.1"), "vcpus_used"));
    }

    [Fact]
    public async Task Statistics_leave_out_a_disabled_hypervisor_which_shows_as_disabled()
    {
        await fixture.ReportAsync();
        using var admin = await AdminAsync();
        var target = new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-compute" };
        await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/disable", target.DeepClone());
        try
        {
            Assert.Equal(0, Int((await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics"))["hypervisor_statistics"], "count"));
            Assert.Equal("disabled", Str(await HypervisorAsync(admin, "compute 2.1"), "status"));
        }
        finally
        {
            await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-services/enable", target.DeepClone());
        }
    }

    [Fact]
    public async Task Only_the_cloud_admin_sees_or_changes_services_and_hypervisors()
    {
        using var demo = new ApiClient(await fixture.ClientAsync("demo"));
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/compute/v2.1/os-services"),
            (HttpMethod.Put, "/compute/v2.1/os-services/disable"),
            (HttpMethod.Delete, "/compute/v2.1/os-services/1"),
            (HttpMethod.Get, "/compute/v2.1/os-hypervisors"),
            (HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail"),
            (HttpMethod.Get, "/compute/v2.1/os-hypervisors/statistics"),
            (HttpMethod.Get, "/compute/v2.1/os-hypervisors/1"),
        })
        {
            var body = method == HttpMethod.Put ? new JsonObject { ["host"] = fixture.HostName, ["binary"] = "nova-compute" } : null;
            var (status, json, text) = await demo.TrySendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.Forbidden, $"{method} {path}: {text}");
            Assert.StartsWith("Policy doesn't allow os_compute_api:os-", json!["forbidden"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    private async Task<ApiClient> AdminAsync() => new(await fixture.ClientAsync());

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();

    private static long Int(JsonNode? node, string key) => node![key]!.GetValue<long>();

    private async Task<List<JsonNode?>> ServicesOfHostAsync(ApiClient admin, string? version = null) =>
        [.. (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={fixture.HostName}", apiVersion: version))["services"]!.AsArray()];

    private async Task<string> ComputeServiceIdAsync(ApiClient admin) =>
        Str((await ServicesOfHostAsync(admin, V253)).Single(s => Str(s, "binary") == "nova-compute"), "id");

    private async Task<JsonNode> HypervisorAsync(ApiClient admin, string version) =>
        (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors/detail", apiVersion: version))["hypervisors"]!.AsArray()
            .Single(h => Str(h, "hypervisor_hostname") == fixture.HostName)!;

    /// <summary>POST /servers (202 whether or not a host takes it), then the server once it is ERROR, as the admin sees it.</summary>
    private async Task<JsonNode> BootAsync(ApiClient admin, string flavor = "1")
    {
        var created = await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = "registry", ["imageRef"] = await ImageAsync(admin), ["flavorRef"] = flavor } },
            HttpStatusCode.Accepted);
        var id = Str(created["server"], "id");
        return (await admin.WaitForAsync($"/compute/v2.1/servers/{id}", j => Str(j["server"], "status") == "ERROR", s_wait))["server"]!;
    }

    private async Task DeleteServerAsync(ApiClient admin, string id)
    {
        await admin.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{id}", expect: HttpStatusCode.NoContent);
        await admin.WaitGoneAsync($"/compute/v2.1/servers/{id}", s_wait);
    }

    private string? _image;

    /// <summary>A 4 KiB raw image of the admin project: enough for the API to accept a boot.</summary>
    private async Task<string> ImageAsync(ApiClient admin)
    {
        if (_image is { } known)
        {
            return known;
        }

        var image = Str(await admin.SendAsync(HttpMethod.Post, "/image/v2/images",
            new JsonObject { ["name"] = "registry", ["disk_format"] = "raw", ["container_format"] = "bare" }, HttpStatusCode.Created), "id");
        using var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{image}/file") { Content = new ByteArrayContent(new byte[4096]) };
        upload.Content.Headers.ContentType = new("application/octet-stream");
        (await admin.Http.SendAsync(upload)).EnsureSuccessStatusCode();
        return _image = image;
    }

    private static async Task ExpectErrorAsync(ApiClient admin, HttpMethod method, string path, JsonNode? body, HttpStatusCode expected, string? message,
        string? version = null)
    {
        var (status, json, text) = await admin.TrySendAsync(method, path, body?.DeepClone(), version);
        Assert.True(status == expected, $"{method} {path}: expected {(int)expected}, got {(int)status}: {text}");
        if (message is not null)
        {
            Assert.Equal(message, json!.AsObject().Single().Value!["message"]!.GetValue<string>());
        }
    }
}
