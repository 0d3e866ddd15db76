using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Ember.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class MigrationListTests(FuzzFixture fixture) : MigrationListCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresMigrationListTests(PostgresFuzzFixture fixture) : MigrationListCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// os-migrations with the resize records Ember makes (QEMU fails here, so the server is reset to active and resized
/// while off, as in <see cref="ServerActionApiCases"/>), /servers/{id}/migrations, os-hosts and os-instance_usage_audit_log.
/// </summary>
public abstract class MigrationListCases(FuzzFixture fixture)
{
    private const string Migrations = "/compute/v2.1/os-migrations";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private string LocalHost => fixture.Host.Services.GetRequiredService<ComputeServiceRegistry>().Host;

    [Fact]
    public async Task Resizes_are_listed_as_nova_lists_migrations_with_filters_paging_and_versioned_fields()
    {
        using var own = await fixture.NewProjectClientAsync("mig");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var server = await ResizedTwiceAsync(own, admin);

        var listed = (await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}", apiVersion: "compute 2.80"))["migrations"]!.AsArray();
        Assert.Equal(new[] { "confirmed", "reverted" }, listed.Select(m => Str(m, "status")));
        Assert.All(listed, m =>
        {
            Assert.Equal("resize", Str(m, "migration_type"));
            Assert.Equal(LocalHost, Str(m, "source_compute"));
            Assert.Equal(LocalHost, Str(m, "dest_compute"));
            Assert.Equal(LocalHost, Str(m, "dest_node"));
            Assert.Equal(server, Str(m, "instance_uuid"));
            Assert.Equal(own.ProjectId, Str(m, "project_id"));
            Assert.True(Guid.TryParse(Str(m, "uuid"), out _));
            Assert.Null(m!["old_instance_type_id"]); // the test's flavor ids are not integers
            Assert.NotNull(m["updated_at"]);
        });

        var old = (await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}"))["migrations"]!.AsArray();
        Assert.Equal(2, old.Count);
        Assert.All(old, m => Assert.False(m!.AsObject().ContainsKey("migration_type") || m.AsObject().ContainsKey("uuid") || m.AsObject().ContainsKey("user_id")));
        Assert.Single((await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}&status=reverted"))["migrations"]!.AsArray());
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}&source_compute=elsewhere"))["migrations"]!.AsArray());
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}&migration_type=evacuation", apiVersion: "compute 2.23"))["migrations"]!.AsArray());
        Assert.Equal(2, (await admin.SendAsync(HttpMethod.Get, $"{Migrations}?project_id={own.ProjectId}", apiVersion: "compute 2.80"))["migrations"]!.AsArray().Count);

        // 2.59: pages of one, newest first, linked by the last uuid.
        var first = await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}&limit=1", apiVersion: "compute 2.59");
        Assert.Equal(Str(listed[0], "uuid"), Str(first["migrations"]![0], "uuid"));
        var next = new Uri(Str(first["migrations_links"]![0], "href")).PathAndQuery;
        var second = await admin.SendAsync(HttpMethod.Get, next, apiVersion: "compute 2.59");
        Assert.Equal(Str(listed[1], "uuid"), Str(second["migrations"]![0], "uuid"));
        var (status, _, _) = await admin.TrySendAsync(HttpMethod.Get, $"{Migrations}?marker={Guid.NewGuid()}", apiVersion: "compute 2.59");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        await own.Api.SendAsync(HttpMethod.Get, Migrations, expect: HttpStatusCode.Forbidden);

        // No live migration is ever in progress: an empty list from 2.23, none found.
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}/migrations", apiVersion: "compute 2.23"))["migrations"]!.AsArray());
        await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}/migrations", expect: HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}/migrations/1", expect: HttpStatusCode.NotFound, apiVersion: "compute 2.23");

        // The records go with the server, as Nova's are deleted with the instance.
        await own.Api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        await own.Api.WaitGoneAsync($"/compute/v2.1/servers/{server}", s_wait);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}"))["migrations"]!.AsArray());
    }

    [Fact]
    public async Task Openstack_and_nova_clients_list_migrations()
    {
        using var own = await fixture.NewProjectClientAsync("mig-cli");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var server = await ResizedTwiceAsync(own, admin);
        try
        {
            var listed = (await fixture.RunClientAsync("openstack", "ember", "--os-compute-api-version", "2.80", "server", "migration", "list",
                "--server", server, "-f", "json")).EnsureSuccess().Json().AsArray();
            Assert.Equal(2, listed.Count);
            Assert.Contains(listed, m => Str(m, "Status") == "reverted");
            var nova = (await Cli.RunAsync("nova", ["migration-list", "--instance-uuid", server], fixture.OpenRc())).EnsureSuccess().StdOut;
            Assert.Contains("confirmed", nova, StringComparison.Ordinal);
            Assert.Contains("resize", nova, StringComparison.Ordinal);
        }
        finally
        {
            await own.Api.TrySendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}");
        }
    }

    [Fact]
    public async Task Os_hosts_lists_shows_and_updates_hosts_up_to_2_42()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("hosts");
        var hosts = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts"))["hosts"]!.AsArray();
        var mine = hosts.Where(h => Str(h, "host_name") == LocalHost).ToDictionary(h => Str(h, "service"), h => Str(h, "zone"));
        Assert.Equal("nova", mine["compute"]);
        Assert.Equal("internal", mine["scheduler"]);
        Assert.Equal("internal", mine["conductor"]);
        Assert.All((await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts?zone=internal"))["hosts"]!.AsArray(), h => Assert.Equal("internal", Str(h, "zone")));
        Assert.Equal(hosts.Count, (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts?zone="))["hosts"]!.AsArray().Count);
        Assert.Empty((await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts?zone=xxx"))["hosts"]!.AsArray());
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts", expect: HttpStatusCode.NotFound, apiVersion: "compute 2.43");
        await member.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts", expect: HttpStatusCode.Forbidden);

        var resources = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hosts/{LocalHost}"))["host"]!.AsArray();
        Assert.Equal(new[] { "(total)", "(used_now)", "(used_max)" }, resources.Take(3).Select(r => Str(r!["resource"], "project")));
        Assert.All(resources, r => Assert.Equal(LocalHost, Str(r!["resource"], "host")));
        Assert.True(resources[0]!["resource"]!["cpu"]!.GetValue<int>() > 0);
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts/no-such-host", expect: HttpStatusCode.NotFound);

        // status disables and enables the host's nova-compute service; maintenance mode and power actions are 501, as with libvirt.
        var disabled = await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-hosts/{LocalHost}", new JsonObject { ["status"] = "disable" });
        Assert.Equal("disabled", Str(disabled, "status"));
        var service = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={LocalHost}&binary=nova-compute"))["services"]![0]!;
        Assert.Equal("disabled", Str(service, "status"));
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-hosts/{LocalHost}", new JsonObject { ["status"] = "enable" });
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-hosts/{LocalHost}", new JsonObject { ["status"] = "off" }, HttpStatusCode.BadRequest);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-hosts/{LocalHost}", new JsonObject(), HttpStatusCode.BadRequest);
        await admin.SendAsync(HttpMethod.Put, "/compute/v2.1/os-hosts/no-such-host", new JsonObject { ["status"] = "enable" }, HttpStatusCode.NotFound);
        await admin.SendAsync(HttpMethod.Put, $"/compute/v2.1/os-hosts/{LocalHost}", new JsonObject { ["maintenance_mode"] = "enable" }, HttpStatusCode.NotImplemented);
        await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hosts/{LocalHost}/reboot", expect: HttpStatusCode.NotImplemented);
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-hosts/no-such-host/startup", expect: HttpStatusCode.NotFound);
        await member.Api.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-hosts/{LocalHost}/shutdown", expect: HttpStatusCode.Forbidden);
        service = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={LocalHost}&binary=nova-compute"))["services"]![0]!;
        Assert.Equal("enabled", Str(service, "status"));
    }

    [Fact]
    public async Task The_usage_audit_log_reports_the_last_month_with_every_host_not_run()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("audit");
        var logs = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-instance_usage_audit_log"))["instance_usage_audit_logs"]!;
        Assert.Contains(LocalHost, logs["hosts_not_run"]!.AsArray().Select(h => h!.GetValue<string>()));
        Assert.Equal(logs["num_hosts"]!.GetValue<int>(), logs["num_hosts_not_run"]!.GetValue<int>());
        Assert.Equal(0, logs["num_hosts_done"]!.GetValue<int>());

        var log = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-instance_usage_audit_log/2026-03-15%2010:00:00"))["instance_usage_audit_log"]!;
        Assert.Equal("2026-02-01 00:00:00", Str(log, "period_beginning"));
        Assert.Equal("2026-03-01 00:00:00", Str(log, "period_ending"));
        Assert.EndsWith("hosts done. 0 errors.", Str(log, "overall_status"), StringComparison.Ordinal);
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-instance_usage_audit_log/yesterday", expect: HttpStatusCode.BadRequest);
        await member.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-instance_usage_audit_log", expect: HttpStatusCode.Forbidden);
    }

    /// <summary>A server of <paramref name="own"/> resized and reverted, then resized and confirmed (off: QEMU never ran).</summary>
    private async Task<string> ResizedTwiceAsync(ProjectClient own, ApiClient admin)
    {
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "mig");
        var bigger = "mig-big-" + Guid.NewGuid().ToString("N")[..8];
        await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = bigger, ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 2, ["id"] = bigger } });
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "mig", ["imageRef"] = image, ["flavorRef"] = flavor },
        }, HttpStatusCode.Accepted))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";
        await api.WaitForAsync(path, s => Str(s["server"], "status") == "ERROR", s_wait);
        await admin.SendAsync(HttpMethod.Post, path + "/action", new JsonObject { ["os-resetState"] = new JsonObject { ["state"] = "active" } }, HttpStatusCode.Accepted);
        foreach (var finish in new[] { "revertResize", "confirmResize" })
        {
            await api.SendAsync(HttpMethod.Post, path + "/action", new JsonObject { ["resize"] = new JsonObject { ["flavorRef"] = bigger } }, HttpStatusCode.Accepted);
            await api.WaitForAsync(path, s => Str(s["server"], "status") == "VERIFY_RESIZE" && s["server"]!["OS-EXT-STS:task_state"] is null, s_wait);
            var running = (await admin.SendAsync(HttpMethod.Get, $"{Migrations}?instance_uuid={server}&status=finished"))["migrations"]!.AsArray();
            Assert.Single(running);
            await api.SendAsync(HttpMethod.Post, path + "/action", new JsonObject { [finish] = null },
                finish == "confirmResize" ? HttpStatusCode.NoContent : HttpStatusCode.Accepted);
            await api.WaitForAsync(path, s => Str(s["server"], "status") == "SHUTOFF", s_wait);
        }

        return server;
    }

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();
}
