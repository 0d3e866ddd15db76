using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Ember.Server.Compute;
using Ember.Server.Data;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class HostStatusTests(FuzzFixture fixture) : HostStatusCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresHostStatusTests(PostgresFuzzFixture fixture) : HostStatusCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// What the API says about compute hosts registered in the database beside this process's own (fake ones: nothing runs
/// their casts): a server's host_status, os-hypervisors paged in SQL, and a hypervisor's uptime.
/// </summary>
public abstract class HostStatusCases(FuzzFixture fixture)
{
    private const string Servers = "/compute/v2.1/servers";
    private const string V216 = "compute 2.16";
    private const string V253 = "compute 2.53";
    private static readonly HostCapacity s_capacity = new(8, 16384, 100, 90, "192.0.2.40", "{}");

    [Fact]
    public async Task Host_status_follows_the_nova_compute_service_of_each_server_host()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(admin, "host-status");
        var hosts = new Dictionary<string, string>();
        foreach (var expected in new[] { "UP", "MAINTENANCE", "DOWN", "UNKNOWN", "" })
        {
            var host = await RegisterHostAsync(DateTime.UtcNow);
            hosts[expected] = await BootAsync(admin, image, flavor, $"nova:{host}");
            Assert.Equal(host, Str(await ShowAsync(admin, hosts[expected], V216), "OS-EXT-SRV-ATTR:host"));
        }

        var services = fixture.Host.Services;
        var store = services.GetRequiredService<ComputeServiceStore>();
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{await ServiceIdAsync(admin, hosts["MAINTENANCE"])}",
            new JsonObject { ["status"] = "disabled", ["disabled_reason"] = "host-status" }, apiVersion: V253);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-services/{await ServiceIdAsync(admin, hosts["DOWN"])}",
            new JsonObject { ["forced_down"] = true }, apiVersion: V253);
        // Silent for longer than service_down_time (60 s).
        await store.ReportAsync(await HostOfAsync(admin, hosts["UNKNOWN"]), ComputeServiceStore.ComputeBinary, "nova", s_capacity, DateTime.UtcNow.AddMinutes(-10));
        // A host with servers and no nova-compute row any more (os-services refuses to delete it, so the test does).
        await using (var c = await services.GetRequiredService<Database>().OpenAsync())
        {
            await c.ExecuteAsync("DELETE FROM compute_services WHERE host = @Host", new { Host = await HostOfAsync(admin, hosts[""]) });
        }

        var noHost = await BootAsync(admin, image, flavor, "nova:no-such-host");
        Assert.Null((await ShowAsync(admin, noHost, V216))["OS-EXT-SRV-ATTR:host"]);

        var detail = (await admin.SendAsync(HttpMethod.Get, $"{Servers}/detail?all_tenants=1", apiVersion: V216))["servers"]!.AsArray()
            .ToDictionary(s => Str(s, "id"), s => Str(s, "host_status"));
        foreach (var (expected, id) in hosts.Append(KeyValuePair.Create("", noHost)))
        {
            Assert.Equal(expected, Str(await ShowAsync(admin, id, V216), "host_status"));
            Assert.Equal(expected, detail[id]);
        }

        // Not before 2.16, and not in an update's reply (Nova shows it there from 2.75 only).
        Assert.Null((await ShowAsync(admin, hosts["UP"], "compute 2.15"))["host_status"]);
        Assert.All((await admin.SendAsync(HttpMethod.Get, $"{Servers}/detail?all_tenants=1", apiVersion: "compute 2.15"))["servers"]!.AsArray(),
            s => Assert.Null(s!["host_status"]));
        var updated = await admin.SendAsync(HttpMethod.Put, $"{Servers}/{hosts["UP"]}", new JsonObject { ["server"] = new JsonObject { ["name"] = "renamed" } },
            apiVersion: V216);
        Assert.Null(updated["server"]!["host_status"]);
    }

    [Fact]
    public async Task Host_status_is_for_the_cloud_admin_only()
    {
        using var own = await fixture.NewProjectClientAsync("host-status-member");
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "host-status-member");
        var id = await BootAsync(own.Api, image, flavor, zone: null);
        Assert.Null((await ShowAsync(own.Api, id, V216))["host_status"]);
        var listed = Assert.Single((await own.Api.SendAsync(HttpMethod.Get, $"{Servers}/detail", apiVersion: V216))["servers"]!.AsArray());
        Assert.Equal(id, Str(listed, "id"));
        Assert.Null(listed!["host_status"]);
    }

    [Fact]
    public async Task Hypervisors_below_233_ignore_limit_and_link_to_no_page()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        await RegisterHostAsync(DateTime.UtcNow);
        var all = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors", apiVersion: "compute 2.32"))["hypervisors"]!.AsArray().Count;
        var body = await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors?limit=1", apiVersion: "compute 2.32");
        Assert.Equal(all, body["hypervisors"]!.AsArray().Count);
        Assert.Null(body["hypervisors_links"]);
    }

    [Theory]
    [InlineData("compute 2.33")]
    [InlineData(V253)]
    public async Task Hypervisors_page_by_limit_and_marker_with_next_links(string version)
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        for (var i = 0; i < 3; i++)
        {
            await RegisterHostAsync(DateTime.UtcNow);
        }

        foreach (var list in new[] { "/compute/v2.1/os-hypervisors", "/compute/v2.1/os-hypervisors/detail" })
        {
            var all = (await admin.SendAsync(HttpMethod.Get, list, apiVersion: version))["hypervisors"]!.AsArray().Select(h => Id(h)).ToList();
            Assert.True(all.Count >= 4, string.Join(", ", all));
            Assert.Equal(all, await WalkAsync(admin, $"{list}?limit=2", version));
            Assert.Equal(all[2..], await WalkAsync(admin, $"{list}?marker={all[1]}", version));

            var first = await admin.SendAsync(HttpMethod.Get, $"{list}?limit=1", apiVersion: version);
            var next = new Uri(first["hypervisors_links"]![0]!["href"]!.GetValue<string>());
            Assert.Equal("next", first["hypervisors_links"]![0]!["rel"]!.GetValue<string>());
            Assert.Equal(list, next.AbsolutePath);
            Assert.Contains($"marker={all[0]}", next.Query, StringComparison.Ordinal);
            // As in Nova, a full page links on (even to an empty page) and a short one does not.
            Assert.NotNull((await admin.SendAsync(HttpMethod.Get, $"{list}?marker={all[^2]}&limit=1", apiVersion: version))["hypervisors_links"]);
            Assert.Null((await admin.SendAsync(HttpMethod.Get, $"{list}?marker={all[^2]}&limit=2", apiVersion: version))["hypervisors_links"]);

            var unknown = version == V253 ? Guid.NewGuid().ToString() : "999999";
            foreach (var marker in new[] { unknown, "not-an-id" })
            {
                var (status, json, text) = await admin.TrySendAsync(HttpMethod.Get, $"{list}?marker={marker}", apiVersion: version);
                Assert.True(status == HttpStatusCode.BadRequest, text);
                Assert.Equal($"marker [{marker}] not found", json!["badRequest"]!["message"]!.GetValue<string>());
            }
        }

        // Before 2.33 there is no paging: limit and marker are ignored.
        var legacy = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors?limit=1&marker=nothing", apiVersion: "compute 2.32"))["hypervisors"]!.AsArray();
        Assert.True(legacy.Count >= 4);
    }

    [Fact]
    public async Task A_hostname_pattern_is_matched_literally_and_cannot_be_paged()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var host = await RegisterHostAsync(DateTime.UtcNow);
        var found = Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern={host[3..].ToUpperInvariant()}",
            apiVersion: V253))["hypervisors"]!.AsArray());
        Assert.Equal(host, Str(found, "hypervisor_hostname"));
        // LIKE's wildcards are plain characters here.
        var (status, _, text) = await admin.TrySendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern=%25", apiVersion: V253);
        Assert.True(status == HttpStatusCode.NotFound, text);
        (status, _, text) = await admin.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern={host}&limit=1", apiVersion: V253);
        Assert.True(status == HttpStatusCode.BadRequest, text);
    }

    [Fact]
    public async Task Uptime_is_what_the_host_reported_at_its_last_heartbeat()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var registry = fixture.Host.Services.GetRequiredService<ComputeServiceRegistry>();
        await registry.ReportAsync();
        var hypervisors = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors", apiVersion: V253))["hypervisors"]!.AsArray();
        var own = hypervisors.Single(h => Str(h, "hypervisor_hostname") == registry.Host)!;
        var shown = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{Id(own)}/uptime", apiVersion: V253))["hypervisor"]!;
        Assert.Equal(Id(own), Id(shown));
        Assert.Equal("up", Str(shown, "state"));
        Assert.Matches(new Regex(@"^ \d\d:\d\d:\d\d up .*, +0 users,  load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$"), Str(shown, "uptime"));
        Assert.Null(shown["vcpus"]);

        // The integer id before 2.53.
        var legacy = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hypervisors"))["hypervisors"]!.AsArray()
            .Single(h => Str(h, "hypervisor_hostname") == registry.Host)!;
        var legacyShown = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors/{legacy["id"]}/uptime"))["hypervisor"]!;
        Assert.Equal(legacy["id"]!.GetValue<int>(), legacyShown["id"]!.GetValue<int>());
        Assert.Contains(" load average: ", Str(legacyShown, "uptime"), StringComparison.Ordinal);

        // A host that reported no uptime (an older Ember): 501; a host that is down: 400; no such hypervisor: 404.
        var silent = await RegisterHostAsync(DateTime.UtcNow);
        var silentId = await HypervisorIdAsync(admin, silent);
        await ExpectErrorAsync(admin, $"/compute/v2.1/os-hypervisors/{silentId}/uptime", HttpStatusCode.NotImplemented,
            "The requested functionality is not supported.");
        await fixture.Host.Services.GetRequiredService<ComputeServiceStore>().ReportAsync(silent, ComputeServiceStore.ComputeBinary, "nova",
            s_capacity with { Uptime = " 10:00:00 up 1 min,  0 users,  load average: 0.00, 0.00, 0.00" }, DateTime.UtcNow.AddMinutes(-10));
        await ExpectErrorAsync(admin, $"/compute/v2.1/os-hypervisors/{silentId}/uptime", HttpStatusCode.BadRequest,
            $"Compute service of {silent} is unavailable at this time.");
        var unknown = Guid.NewGuid().ToString();
        await ExpectErrorAsync(admin, $"/compute/v2.1/os-hypervisors/{unknown}/uptime", HttpStatusCode.NotFound, $"Hypervisor with ID {unknown} could not be found.");
        await ExpectErrorAsync(admin, "/compute/v2.1/os-hypervisors/7/uptime", HttpStatusCode.BadRequest, "Invalid uuid 7");
    }

    /// <summary>A nova-compute host of a new name in the default zone, last seen at <paramref name="at"/>.</summary>
    private async Task<string> RegisterHostAsync(DateTime at)
    {
        var name = "hs-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Host.Services.GetRequiredService<ComputeServiceStore>().ReportAsync(name, ComputeServiceStore.ComputeBinary, "nova", s_capacity, at);
        return name;
    }

    private static async Task<string> BootAsync(ApiClient api, string image, string flavor, string? zone)
    {
        var server = new JsonObject { ["name"] = "host-status", ["imageRef"] = image, ["flavorRef"] = flavor };
        if (zone is not null)
        {
            server["availability_zone"] = zone;
        }

        return Str((await api.SendAsync(HttpMethod.Post, Servers, new JsonObject { ["server"] = server }, HttpStatusCode.Accepted))["server"], "id");
    }

    private static async Task<JsonNode> ShowAsync(ApiClient api, string id, string version) =>
        (await api.SendAsync(HttpMethod.Get, $"{Servers}/{id}", apiVersion: version))["server"]!;

    private static async Task<string> HostOfAsync(ApiClient admin, string server) => Str(await ShowAsync(admin, server, V216), "OS-EXT-SRV-ATTR:host");

    private static async Task<string> ServiceIdAsync(ApiClient admin, string server) =>
        Str(Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={await HostOfAsync(admin, server)}&binary=nova-compute",
            apiVersion: V253))["services"]!.AsArray()), "id");

    private static async Task<string> HypervisorIdAsync(ApiClient admin, string host) =>
        Id(Assert.Single((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern={host}", apiVersion: V253))["hypervisors"]!.AsArray()));

    /// <summary>The hypervisor ids of every page from <paramref name="path"/> on, following hypervisors_links.</summary>
    private static async Task<List<string>> WalkAsync(ApiClient admin, string path, string version)
    {
        var ids = new List<string>();
        string? page = path;
        for (var pages = 0; page is not null; pages++)
        {
            Assert.True(pages < 50, "the walk does not end");
            var body = await admin.SendAsync(HttpMethod.Get, page, apiVersion: version);
            ids.AddRange(body["hypervisors"]!.AsArray().Select(h => Id(h)));
            page = body["hypervisors_links"]?[0]?["href"]?.GetValue<string>() is { } next ? new Uri(next).PathAndQuery : null;
        }

        return ids;
    }

    private static async Task ExpectErrorAsync(ApiClient admin, string path, HttpStatusCode expected, string message)
    {
        var (status, json, text) = await admin.TrySendAsync(HttpMethod.Get, path, apiVersion: V253);
        Assert.True(status == expected, $"{path}: expected {(int)expected}, got {(int)status}: {text}");
        Assert.Equal(message, json!.AsObject().Single().Value!["message"]!.GetValue<string>());
    }

    /// <summary>A hypervisor id as text: an integer before 2.53, a uuid from 2.53.</summary>
    private static string Id(JsonNode? hypervisor) => hypervisor!["id"]!.ToString();

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();
}

/// <summary>The uptime line as procps' uptime lays it out.</summary>
public sealed class HostUptimeTests
{
    private static readonly DateTimeOffset s_at = new(2026, 1, 2, 10, 1, 2, TimeSpan.Zero);

    [Theory]
    [InlineData(3, 4, 5, " 10:01:02 up 3 days,  4:05,  0 users,  load average: 0.10, 0.20, 0.30")]
    [InlineData(1, 14, 0, " 10:01:02 up 1 day, 14:00,  0 users,  load average: 0.10, 0.20, 0.30")]
    [InlineData(0, 0, 7, " 10:01:02 up 7 min,  0 users,  load average: 0.10, 0.20, 0.30")]
    [InlineData(2, 0, 59, " 10:01:02 up 2 days, 59 min,  0 users,  load average: 0.10, 0.20, 0.30")]
    public void Formats_like_the_uptime_command(int days, int hours, int minutes, string expected) =>
        Assert.Equal(expected, HostUptime.Format(s_at, new TimeSpan(days, hours, minutes, 31), 0.1, 0.2, 0.3));

    [Fact]
    public void Reads_this_machine()
    {
        var line = HostUptime.Read(s_at);
        Assert.NotNull(line);
        Assert.StartsWith(" 10:01:02 up ", line, StringComparison.Ordinal);
    }
}
