using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Nova's server list paging on SQLite (servers fail to boot at once here: rows without VMs).</summary>
public sealed class ServerListTests(FuzzFixture fixture) : ServerListCases(fixture), IClassFixture<FuzzFixture>;

/// <summary>Nova's server list paging on PostgreSQL.</summary>
public sealed class PostgresServerListTests(PostgresFuzzFixture fixture) : ServerListCases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// GET /servers pages in SQL by keyset; the name (a regular expression) and status filters run over SQL batches,
/// so a filtered page is still full and a marker walk still visits each match once.
/// </summary>
public abstract class ServerListCases(FuzzFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Marker_walks_with_and_without_filters_visit_every_server_once()
    {
        using var own = await fixture.NewProjectClientAsync("server-list");
        var api = own.Api;
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "list");
        var names = new[] { "web-1", "db-1", "web-2", "web-3", "db-2", "web-4", "x" };
        var ids = new List<string>();
        foreach (var name in names)
        {
            var created = await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
                new JsonObject { ["server"] = new JsonObject { ["name"] = name, ["imageRef"] = image, ["flavorRef"] = flavor } }, HttpStatusCode.Accepted);
            ids.Add(created["server"]!["id"]!.GetValue<string>());
        }

        foreach (var id in ids)
        {
            await api.WaitForAsync($"/compute/v2.1/servers/{id}", j => j["server"]!["status"]!.GetValue<string>() == "ERROR", s_wait);
        }

        var all = (await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers"))["servers"]!.AsArray().Select(IdOf).ToList();
        Assert.Equal(ids.AsEnumerable().Reverse(), all);
        Assert.Equal(all, await api.WalkPagesAsync("/compute/v2.1/servers?limit=2", "servers"));

        var web = all.Where(id => names[ids.IndexOf(id)].StartsWith("web-", StringComparison.Ordinal)).ToList();
        Assert.Equal(web, await api.WalkPagesAsync("/compute/v2.1/servers/detail?name=" + Uri.EscapeDataString("^web-") + "&status=error&limit=3", "servers"));
        var first = await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?name=web&limit=3");
        Assert.Equal(web.Take(3), first["servers"]!.AsArray().Select(IdOf));
        Assert.NotNull(first["servers_links"]);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?status=ACTIVE&limit=2"))["servers"]!.AsArray());

        var marker = Guid.NewGuid().ToString();
        var (unknown, json, _) = await api.TrySendAsync(HttpMethod.Get, $"/compute/v2.1/servers?marker={marker}");
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.Equal($"marker [{marker}] not found", json!["badRequest"]!["message"]!.GetValue<string>());

        foreach (var id in ids)
        {
            await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{id}", expect: HttpStatusCode.NoContent);
            await api.WaitGoneAsync($"/compute/v2.1/servers/{id}", s_wait);
        }
    }

    private static string IdOf(JsonNode? item) => item!["id"]!.GetValue<string>();
}
