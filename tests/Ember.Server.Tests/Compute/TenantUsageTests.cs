using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Data;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Ember.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class TenantUsageTests(FuzzFixture fixture) : TenantUsageCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresTenantUsageTests(PostgresFuzzFixture fixture) : TenantUsageCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// os-simple-tenant-usage over a window in the past, so every figure is exact: one live server and one deleted one
/// whose launch and termination times are set in the database (QEMU fails here, so no server really launches).
/// </summary>
public abstract class TenantUsageCases(FuzzFixture fixture)
{
    private const string Usage = "/compute/v2.1/os-simple-tenant-usage";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    /// <summary>Both servers launched at T0; the deleted one ended at T0 + 2 h; the window is T0 - 1 h to T0 + 4 h.</summary>
    private static readonly DateTime s_t0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static string Window => "start=2025-12-31T23:00:00&end=2026-01-01T04:00:00";

    [Fact]
    public async Task Usage_counts_live_and_deleted_servers_hours_in_the_window_as_nova_does()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (own, live, gone) = await ProjectWithUsageAsync("usage");
        using var _ = own;

        var usage = (await own.Api.SendAsync(HttpMethod.Get, $"{Usage}/{own.ProjectId}?{Window}"))["tenant_usage"]!;
        Assert.Equal(own.ProjectId, Str(usage, "tenant_id"));
        Assert.Equal(6.0, Num(usage, "total_hours"), 6);
        Assert.Equal(6.0 * 64, Num(usage, "total_memory_mb_usage"), 6);
        Assert.Equal(6.0, Num(usage, "total_vcpus_usage"), 6);
        Assert.Equal(6.0, Num(usage, "total_local_gb_usage"), 6);
        Assert.Equal("2025-12-31T23:00:00.000000", Str(usage, "start"));
        Assert.Equal("2026-01-01T04:00:00.000000", Str(usage, "stop"));

        var servers = usage["server_usages"]!.AsArray().ToDictionary(s => Str(s, "instance_id"));
        Assert.Equal(4.0, Num(servers[live], "hours"), 6);
        Assert.Equal("error", Str(servers[live], "state"));
        Assert.Null(servers[live]!["ended_at"]);
        Assert.Equal("2026-01-01T00:00:00.000000", Str(servers[live], "started_at"));
        Assert.Equal(2.0, Num(servers[gone], "hours"), 6);
        Assert.Equal("terminated", Str(servers[gone], "state"));
        Assert.Equal("2026-01-01T02:00:00.000000", Str(servers[gone], "ended_at"));
        Assert.Equal(7200, servers[gone]!["uptime"]!.GetValue<long>());
        Assert.Equal(64, servers[gone]!["memory_mb"]!.GetValue<int>());
        Assert.Equal(1, servers[gone]!["local_gb"]!.GetValue<int>());
        Assert.Equal(1, servers[gone]!["vcpus"]!.GetValue<int>());

        // A window that ends before the deleted server's end, and one after it: each counts what fell inside.
        var early = (await own.Api.SendAsync(HttpMethod.Get, $"{Usage}/{own.ProjectId}?start=2026-01-01T01:00:00&end=2026-01-01T01:30:00"))["tenant_usage"]!;
        Assert.Equal(1.0, Num(early, "total_hours"), 6);
        var late = (await own.Api.SendAsync(HttpMethod.Get, $"{Usage}/{own.ProjectId}?start=2026-01-01T03:00:00.000000&end=2026-01-01 05:00:00.000000"))["tenant_usage"]!;
        Assert.Equal(new[] { live }, late["server_usages"]!.AsArray().Select(s => Str(s, "instance_id")));

        // The list is the admin's; detailed=1 adds the servers.
        var all = (await admin.SendAsync(HttpMethod.Get, $"{Usage}?{Window}"))["tenant_usages"]!.AsArray();
        var mine = all.Single(u => Str(u, "tenant_id") == own.ProjectId)!.AsObject();
        Assert.False(mine.ContainsKey("server_usages"));
        Assert.Equal(6.0, Num(mine, "total_hours"), 6);
        var detailed = (await admin.SendAsync(HttpMethod.Get, $"{Usage}?{Window}&detailed=1"))["tenant_usages"]!.AsArray();
        Assert.Equal(2, detailed.Single(u => Str(u, "tenant_id") == own.ProjectId)!["server_usages"]!.AsArray().Count);

        await own.Api.SendAsync(HttpMethod.Get, $"{Usage}?{Window}", expect: HttpStatusCode.Forbidden);
        var adminProject = (await admin.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        await own.Api.SendAsync(HttpMethod.Get, $"{Usage}/{adminProject}?{Window}", expect: HttpStatusCode.Forbidden);
        await ExpectAsync(admin, $"{Usage}/{own.ProjectId}?start=2026-01-02T00:00:00&end=2026-01-01T00:00:00", HttpStatusCode.BadRequest,
            "Invalid start time. The start time cannot occur after the end time.");
        await ExpectAsync(admin, $"{Usage}/{own.ProjectId}?start=yesterday", HttpStatusCode.BadRequest, "Invalid datetime string: Datetime is in invalid format");
        await ExpectAsync(admin, $"{Usage}/?{Window}", HttpStatusCode.NotFound, null);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Usage}/{Guid.NewGuid():N}?{Window}"))["tenant_usage"]!.AsObject());
    }

    [Fact]
    public async Task Usage_pages_by_server_from_2_40()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (own, live, gone) = await ProjectWithUsageAsync("usage-page");
        using var _ = own;
        var first = await admin.SendAsync(HttpMethod.Get, $"{Usage}/{own.ProjectId}?{Window}&limit=1", apiVersion: "compute 2.40");
        var firstId = Str(first["tenant_usage"]!["server_usages"]![0], "instance_id");
        var next = Str(first["tenant_usage_links"]![0], "href");
        Assert.Contains($"marker={firstId}", next, StringComparison.Ordinal);
        var second = await admin.SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery, apiVersion: "compute 2.40");
        var secondId = Str(second["tenant_usage"]!["server_usages"]![0], "instance_id");
        Assert.Equal(new[] { live, gone }.Order(StringComparer.Ordinal), new[] { firstId, secondId });

        // Below 2.40 limit and marker are not read; an unknown marker is a 400.
        var old = await admin.SendAsync(HttpMethod.Get, $"{Usage}/{own.ProjectId}?{Window}&limit=1");
        Assert.Equal(2, old["tenant_usage"]!["server_usages"]!.AsArray().Count);
        Assert.Null(old["tenant_usage_links"]);
        await ExpectAsync(admin, $"{Usage}?{Window}&marker={Guid.NewGuid()}", HttpStatusCode.BadRequest, null, "compute 2.40");
    }

    [Fact]
    public async Task Openstack_and_nova_clients_show_and_list_usage()
    {
        var (own, _, _) = await ProjectWithUsageAsync("usage-cli");
        using var _ = own;
        // -f json gives the raw values: the server usages themselves and the hours unrounded.
        var shown = (await fixture.RunClientAsync("openstack", "ember", "usage", "show", "--project", own.ProjectId, "--start", "2025-12-31", "--end", "2026-01-02",
            "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(2, shown["Servers"]!.AsArray().Count);
        // From midnight on 2026-01-01: 2 h for the deleted server, and the live one's up to the window's end (or now).
        Assert.True(shown["CPU Hours"]!.GetValue<double>() > 2.0);
        var listed = (await fixture.RunClientAsync("openstack", "ember", "usage", "list", "--start", "2025-12-31", "--end", "2026-01-02", "-f", "json"))
            .EnsureSuccess().Json().AsArray();
        Assert.Contains(listed, u => Str(u, "Project") == own.ProjectId && u!["Servers"]!.AsArray().Count == 2);
        var nova = (await Cli.RunAsync("nova", ["usage-list", "--start", "2025-12-31", "--end", "2026-01-02"], fixture.OpenRc())).EnsureSuccess().StdOut;
        Assert.Contains(own.ProjectId, nova, StringComparison.Ordinal);
    }

    /// <summary>A new project with two servers launched at T0, one of them deleted and ended at T0 + 2 h.</summary>
    private async Task<(ProjectClient Own, string Live, string Gone)> ProjectWithUsageAsync(string prefix)
    {
        var own = await fixture.NewProjectClientAsync(prefix);
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, prefix);
        var ids = new List<string>();
        foreach (var name in new[] { "live", "gone" })
        {
            var id = (await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
            {
                ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor },
            }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
            await own.Api.WaitForAsync($"/compute/v2.1/servers/{id}", j => Str(j["server"], "status") == "ERROR", s_wait);
            ids.Add(id);
        }

        var db = fixture.Host.Services.GetRequiredService<Database>();
        await using (var c = await db.OpenAsync())
        {
            await c.ExecuteAsync("UPDATE servers SET launched_at = @T0 WHERE id = @A OR id = @B", new { T0 = s_t0, A = ids[0], B = ids[1] });
        }

        await own.Api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{ids[1]}", expect: HttpStatusCode.NoContent);
        await own.Api.WaitGoneAsync($"/compute/v2.1/servers/{ids[1]}", s_wait);
        await using (var c = await db.OpenAsync())
        {
            Assert.Equal(1, await c.ExecuteAsync("UPDATE terminated_servers SET terminated_at = @End WHERE id = @Id", new { End = s_t0.AddHours(2), Id = ids[1] }));
        }

        return (own, ids[0], ids[1]);
    }

    private static async Task ExpectAsync(ApiClient api, string path, HttpStatusCode status, string? message, string? apiVersion = null)
    {
        var (actual, json, text) = await api.TrySendAsync(HttpMethod.Get, path, apiVersion: apiVersion);
        Assert.True(actual == status, $"{path}: {(int)actual}: {text}");
        if (message is not null)
        {
            Assert.Equal(message, json!.AsObject().Single().Value!["message"]!.GetValue<string>());
        }
    }

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();

    private static double Num(JsonNode? node, string key) => node![key]!.GetValue<double>();
}
