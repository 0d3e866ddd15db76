using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Compute;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Ember.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

public sealed class AggregateTests(FuzzFixture fixture) : AggregateCases(fixture), IClassFixture<FuzzFixture>;

public sealed class PostgresAggregateTests(PostgresFuzzFixture fixture) : AggregateCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// os-availability-zone and os-aggregates: the zones of the registered services, aggregates with Nova's rules, a zone
/// given to hosts through an aggregate and honoured by the scheduler. Extra compute hosts are fake ones registered in
/// the database (nothing runs them: a server placed on one stays BUILD), as in <see cref="CapacitySchedulingCases"/>.
/// </summary>
public abstract class AggregateCases(FuzzFixture fixture)
{
    private const string Aggregates = "/compute/v2.1/os-aggregates";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Zones_are_listed_to_members_and_detailed_to_admins()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("az");
        var zones = (await member.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-availability-zone"))["availabilityZoneInfo"]!.AsArray();
        var nova = zones.Single(z => Str(z, "zoneName") == "nova")!;
        Assert.True(nova["zoneState"]!["available"]!.GetValue<bool>());
        Assert.Null(nova["hosts"]);
        Assert.DoesNotContain(zones, z => Str(z, "zoneName") == "internal");
        await member.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-availability-zone/detail", expect: HttpStatusCode.Forbidden);

        var detail = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-availability-zone/detail"))["availabilityZoneInfo"]!.AsArray();
        var host = fixture.Host.Services.GetRequiredService<ComputeServiceRegistry>().Host;
        var compute = detail.Single(z => Str(z, "zoneName") == "nova")!["hosts"]![host]!["nova-compute"]!;
        Assert.True(compute["available"]!.GetValue<bool>());
        Assert.True(compute["active"]!.GetValue<bool>());
        Assert.NotNull(compute["updated_at"]);
        var internalHosts = detail.Single(z => Str(z, "zoneName") == "internal")!["hosts"]![host]!.AsObject();
        Assert.True(internalHosts.ContainsKey("nova-scheduler") && internalHosts.ContainsKey("nova-conductor"));
    }

    [Fact]
    public async Task Aggregates_are_created_shown_updated_and_deleted_with_novas_rules()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var member = await fixture.NewProjectClientAsync("agg");
        var name = "agg-" + Guid.NewGuid().ToString("N")[..8];
        var created = (await admin.SendAsync(HttpMethod.Post, Aggregates, Body("aggregate", new JsonObject { ["name"] = name })))["aggregate"]!.AsObject();
        var id = created["id"]!.GetValue<long>();
        Assert.Null(created["availability_zone"]);
        Assert.False(created.ContainsKey("hosts") || created.ContainsKey("metadata") || created.ContainsKey("uuid"));
        Assert.False(created["deleted"]!.GetValue<bool>());

        await ExpectAsync(admin, HttpMethod.Post, Aggregates, Body("aggregate", new JsonObject { ["name"] = name }), HttpStatusCode.Conflict,
            $"Aggregate {name} already exists.");
        await ExpectAsync(admin, HttpMethod.Post, Aggregates, Body("aggregate", new JsonObject { ["name"] = "" }), HttpStatusCode.BadRequest, null);
        await ExpectAsync(admin, HttpMethod.Post, Aggregates, Body("aggregate", new JsonObject { ["name"] = new string('a', 256) }), HttpStatusCode.BadRequest, null);
        await member.Api.SendAsync(HttpMethod.Get, Aggregates, expect: HttpStatusCode.Forbidden);
        await member.Api.SendAsync(HttpMethod.Post, Aggregates, Body("aggregate", new JsonObject { ["name"] = name + "x" }), HttpStatusCode.Forbidden);

        var shown = (await admin.SendAsync(HttpMethod.Get, $"{Aggregates}/{id}", apiVersion: "compute 2.41"))["aggregate"]!;
        Assert.Empty(shown["hosts"]!.AsArray());
        Assert.Empty(shown["metadata"]!.AsObject());
        Assert.True(Guid.TryParse(Str(shown, "uuid"), out _));
        Assert.Contains((await admin.SendAsync(HttpMethod.Get, Aggregates))["aggregates"]!.AsArray(), a => a!["id"]!.GetValue<long>() == id);

        var updated = (await admin.SendAsync(HttpMethod.Put, $"{Aggregates}/{id}",
            Body("aggregate", new JsonObject { ["name"] = name + "-new", ["availability_zone"] = name + "-az" })))["aggregate"]!;
        Assert.Equal(name + "-new", Str(updated, "name"));
        Assert.Equal(name + "-az", Str(updated, "availability_zone"));
        Assert.Equal(name + "-az", Str(updated["metadata"], "availability_zone"));
        Assert.NotNull(updated["updated_at"]);
        await ExpectAsync(admin, HttpMethod.Put, $"{Aggregates}/{id}", Body("aggregate", new JsonObject { ["availability_zone"] = "a:b" }), HttpStatusCode.BadRequest, null);

        var meta = (await admin.SendAsync(HttpMethod.Post, $"{Aggregates}/{id}/action",
            Body("set_metadata", new JsonObject { ["metadata"] = new JsonObject { ["ssd"] = "true", ["rack"] = "r1" } })))["aggregate"]!["metadata"]!;
        Assert.Equal("true", Str(meta, "ssd"));
        meta = (await admin.SendAsync(HttpMethod.Post, $"{Aggregates}/{id}/action",
            Body("set_metadata", new JsonObject { ["metadata"] = new JsonObject { ["ssd"] = null } })))["aggregate"]!["metadata"]!;
        Assert.Equal(new[] { "availability_zone", "rack" }, meta.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{id}/action",
            Body("set_metadata", new JsonObject { ["metadata"] = new JsonObject { ["availability_zone"] = null } }), HttpStatusCode.BadRequest,
            $"Cannot update metadata of aggregate {id}. Reason: Aggregate {name}-new does not support empty named availability zone.");

        await admin.SendAsync(HttpMethod.Delete, $"{Aggregates}/{id}");
        await ExpectAsync(admin, HttpMethod.Get, $"{Aggregates}/{id}", null, HttpStatusCode.NotFound, $"Aggregate {id} could not be found.");
        await ExpectAsync(admin, HttpMethod.Delete, $"{Aggregates}/{id}", null, HttpStatusCode.NotFound, $"Aggregate {id} could not be found.");
        await ExpectAsync(admin, HttpMethod.Get, $"{Aggregates}/abc", null, HttpStatusCode.NotFound, "Aggregate abc could not be found.");
    }

    /// <summary>
    /// A host added to an aggregate with a zone is in that zone (os-services, os-availability-zone, the scheduler); a
    /// second zone for it, a non-empty delete and a zone change under servers are refused; removed, it is back in "nova".
    /// </summary>
    [Fact]
    public async Task A_zone_given_through_an_aggregate_places_servers_and_holds_novas_rules()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var host = await RegisterHostAsync();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var zone = "az-" + suffix;
        var first = await CreateAsync(admin, "first-" + suffix, zone);
        var second = await CreateAsync(admin, "second-" + suffix, "other-" + suffix);
        var plain = await CreateAsync(admin, "plain-" + suffix, null);
        var servers = new List<string>();
        var retired = false;
        try
        {
            await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{first}/action", Body("add_host", new JsonObject { ["host"] = "no-such-host" }),
                HttpStatusCode.NotFound, "Compute host no-such-host could not be found.");
            var added = (await admin.SendAsync(HttpMethod.Post, $"{Aggregates}/{first}/action", Body("add_host", new JsonObject { ["host"] = host })))["aggregate"]!;
            Assert.Equal(new[] { host }, added["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
            await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{first}/action", Body("add_host", new JsonObject { ["host"] = host }),
                HttpStatusCode.Conflict, $"Aggregate {first} already has host {host}.");
            await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{second}/action", Body("add_host", new JsonObject { ["host"] = host }),
                HttpStatusCode.Conflict, $"Cannot add host to aggregate {second}. Reason: One or more hosts already in availability zone(s) ['{zone}'].");
            // An aggregate without a zone takes any host; giving it another zone then is a 400.
            await admin.SendAsync(HttpMethod.Post, $"{Aggregates}/{plain}/action", Body("add_host", new JsonObject { ["host"] = host }));
            await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{plain}/action",
                Body("set_metadata", new JsonObject { ["metadata"] = new JsonObject { ["availability_zone"] = "third-" + suffix } }), HttpStatusCode.BadRequest,
                $"Cannot update metadata of aggregate {plain}. Reason: One or more hosts already in availability zone(s) ['{zone}'].");

            var services = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={host}"))["services"]!.AsArray();
            Assert.Equal(zone, Str(services.Single(), "zone"));
            var zones = (await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-availability-zone"))["availabilityZoneInfo"]!.AsArray();
            Assert.Contains(zones, z => Str(z, "zoneName") == zone);

            // The scheduler honours the zone: the server goes to the aggregate's host; an unknown zone is Nova's 400.
            var (image, flavor) = await fixture.ImageAndFlavorAsync(admin, "agg");
            var server = (await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", ServerBody(image, flavor, zone), HttpStatusCode.Accepted))["server"]!;
            servers.Add(Str(server, "id"));
            var placed = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{servers[0]}"))["server"]!;
            Assert.Equal(host, Str(placed, "OS-EXT-SRV-ATTR:host"));
            Assert.Equal(zone, Str(placed, "OS-EXT-AZ:availability_zone"));
            await ExpectAsync(admin, HttpMethod.Post, "/compute/v2.1/servers", ServerBody(image, flavor, "no-zone-" + suffix), HttpStatusCode.BadRequest,
                "The requested availability zone is not available");

            // The server keeps the zone it was placed in, so the zone of its host may not change under it.
            await ExpectAsync(admin, HttpMethod.Put, $"{Aggregates}/{first}", Body("aggregate", new JsonObject { ["availability_zone"] = "moved-" + suffix }),
                HttpStatusCode.BadRequest, $"Cannot update aggregate {first}. Reason: One or more hosts contain instances in this zone.");
            await ExpectAsync(admin, HttpMethod.Delete, $"{Aggregates}/{first}", null, HttpStatusCode.BadRequest,
                $"Cannot remove host from aggregate {first}. Reason: Host aggregate is not empty.");

            var removed = (await admin.SendAsync(HttpMethod.Post, $"{Aggregates}/{first}/action", Body("remove_host", new JsonObject { ["host"] = host })))["aggregate"]!;
            Assert.Empty(removed["hosts"]!.AsArray());
            await ExpectAsync(admin, HttpMethod.Post, $"{Aggregates}/{first}/action", Body("remove_host", new JsonObject { ["host"] = host }),
                HttpStatusCode.NotFound, $"Cannot remove host {host} in aggregate {first}");
            services = (await admin.SendAsync(HttpMethod.Get, $"/compute/v2.1/os-services?host={host}"))["services"]!.AsArray();
            Assert.Equal("nova", Str(services.Single(), "zone"));

            // Deleting the host's service takes it out of its other aggregate too, as Nova's service delete does.
            await RetireHostAsync(admin, host, servers);
            retired = true;
            Assert.Empty((await admin.SendAsync(HttpMethod.Get, $"{Aggregates}/{plain}"))["aggregate"]!["hosts"]!.AsArray());
        }
        finally
        {
            if (!retired)
            {
                await RetireHostAsync(admin, host, servers);
            }

            foreach (var id in new[] { first, second, plain })
            {
                await admin.TrySendAsync(HttpMethod.Delete, $"{Aggregates}/{id}");
            }
        }
    }

    [Fact]
    public async Task Openstack_and_nova_clients_list_zones_and_manage_aggregates()
    {
        var host = fixture.Host.Services.GetRequiredService<ComputeServiceRegistry>().Host;
        var zones = (await fixture.RunClientAsync("openstack", "ember", "availability", "zone", "list", "--compute", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(zones, z => Str(z, "Zone Name") == "nova" && Str(z, "Zone Status") == "available");
        var detail = (await fixture.RunClientAsync("openstack", "ember", "availability", "zone", "list", "--compute", "--long", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(detail, z => Str(z, "Zone Name") == "nova" && Str(z, "Host Name") == host && Str(z, "Service Name") == "nova-compute");
        var nova = (await Cli.RunAsync("nova", ["availability-zone-list"], fixture.OpenRc())).EnsureSuccess().StdOut;
        Assert.Contains("nova-compute", nova, StringComparison.Ordinal);
        Assert.Contains(host, nova, StringComparison.Ordinal);

        var name = "osc-agg-" + Guid.NewGuid().ToString("N")[..8];
        var fake = await RegisterHostAsync();
        try
        {
            (await fixture.RunClientAsync("openstack", "ember", "aggregate", "create", "--zone", name + "-az", "--property", "ssd=true", name)).EnsureSuccess();
            (await fixture.RunClientAsync("openstack", "ember", "aggregate", "add", "host", name, fake)).EnsureSuccess();
            var shown = (await fixture.RunClientAsync("openstack", "ember", "aggregate", "show", name, "-f", "json")).EnsureSuccess().StdOut;
            Assert.Contains(fake, shown, StringComparison.Ordinal);
            Assert.Contains("ssd", shown, StringComparison.Ordinal);
            Assert.Contains(name + "-az", shown, StringComparison.Ordinal);
            (await fixture.RunClientAsync("openstack", "ember", "aggregate", "unset", "--property", "ssd", name)).EnsureSuccess();
            Assert.DoesNotContain("ssd", (await fixture.RunClientAsync("openstack", "ember", "aggregate", "show", name, "-f", "json")).EnsureSuccess().StdOut,
                StringComparison.Ordinal);
            var listed = (await fixture.RunClientAsync("openstack", "ember", "aggregate", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
            Assert.Contains(listed, a => Str(a, "Name") == name);
            zones = (await fixture.RunClientAsync("openstack", "ember", "availability", "zone", "list", "--compute", "-f", "json")).EnsureSuccess().Json().AsArray();
            Assert.Contains(zones, z => Str(z, "Zone Name") == name + "-az");

            var refused = await fixture.RunClientAsync("openstack", "ember", "aggregate", "delete", name);
            Assert.NotEqual(0, refused.ExitCode);
            (await fixture.RunClientAsync("openstack", "ember", "aggregate", "remove", "host", name, fake)).EnsureSuccess();
            (await fixture.RunClientAsync("openstack", "ember", "aggregate", "delete", name)).EnsureSuccess();
            Assert.NotEqual(0, (await fixture.RunClientAsync("openstack", "ember", "aggregate", "show", name)).ExitCode);
        }
        finally
        {
            using var admin = new ApiClient(await fixture.ClientAsync());
            await RetireHostAsync(admin, fake, []);
        }
    }

    private async Task<long> CreateAsync(ApiClient admin, string name, string? zone)
    {
        var body = new JsonObject { ["name"] = name };
        if (zone is not null)
        {
            body["availability_zone"] = zone;
        }

        var created = (await admin.SendAsync(HttpMethod.Post, Aggregates, Body("aggregate", body)))["aggregate"]!;
        Assert.Equal(zone, created["availability_zone"]?.GetValue<string>());
        return created["id"]!.GetValue<long>();
    }

    /// <summary>A nova-compute host up as of now, registered in Nova's default zone with room for a few small servers.</summary>
    private async Task<string> RegisterHostAsync()
    {
        var name = "agg-host-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Host.Services.GetRequiredService<ComputeServiceStore>().ReportAsync(name, ComputeServiceStore.ComputeBinary, "nova",
            new HostCapacity(8, 65536, 100, 100, "192.0.2.40", "{}"), DateTime.UtcNow);
        return name;
    }

    /// <summary>Takes the fake host down, deletes its servers (locally, so at once) and its service.</summary>
    private async Task RetireHostAsync(ApiClient admin, string name, IEnumerable<string> servers)
    {
        var store = fixture.Host.Services.GetRequiredService<ComputeServiceStore>();
        await store.ReportAsync(name, ComputeServiceStore.ComputeBinary, "nova", null, DateTime.UtcNow.AddHours(-1));
        foreach (var id in servers)
        {
            await admin.TrySendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{id}");
            await admin.WaitGoneAsync($"/compute/v2.1/servers/{id}", s_wait);
        }

        if (await store.FindAsync(name, ComputeServiceStore.ComputeBinary) is { } gone)
        {
            await store.DeleteAsync(gone.Id);
        }
    }

    private static JsonObject ServerBody(string image, string flavor, string zone) => new()
    {
        ["server"] = new JsonObject { ["name"] = "in-zone", ["imageRef"] = image, ["flavorRef"] = flavor, ["availability_zone"] = zone },
    };

    private static JsonObject Body(string key, JsonObject value) => new() { [key] = value };

    private static async Task ExpectAsync(ApiClient api, HttpMethod method, string path, JsonObject? body, HttpStatusCode status, string? message)
    {
        var (actual, json, text) = await api.TrySendAsync(method, path, body);
        Assert.True(actual == status, $"{method} {path}: {(int)actual}: {text}");
        if (message is not null)
        {
            Assert.Equal(message, json!.AsObject().Single().Value!["message"]!.GetValue<string>());
        }
    }

    private static string Str(JsonNode? node, string key) => node![key]!.GetValue<string>();
}
