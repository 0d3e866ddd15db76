using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Runs <see cref="Microversion275Cases"/> on SQLite.</summary>
public sealed class Microversion275Tests(FuzzFixture fixture) : Microversion275Cases(fixture), IClassFixture<FuzzFixture>;

/// <summary>Runs <see cref="Microversion275Cases"/> on PostgreSQL.</summary>
public sealed class PostgresMicroversion275Tests(PostgresFuzzFixture fixture) : Microversion275Cases(fixture), IClassFixture<PostgresFuzzFixture>;

/// <summary>
/// 2.75's strictness, each at 2.74 and 2.75: the query schemas Nova's change names (flavors, keypairs, limits, quota
/// sets, server groups, services, volume attachments, the server list's sort keys), and the update body, which Nova
/// has refused unknown fields in on every version. (The response changes are in <see cref="MicroversionApiCases"/>.)
/// </summary>
public abstract class Microversion275Cases(FuzzFixture fixture)
{
    private const string V274 = "compute 2.74";
    private const string V275 = "compute 2.75";

    private static string Message(JsonNode? json) => json!.AsObject().First().Value!["message"]!.GetValue<string>();

    [Fact]
    public async Task Unknown_query_parameters_are_ignored_at_2_74_and_refused_at_2_75_on_every_schema_nova_names()
    {
        using var own = await fixture.NewProjectClientAsync("mv275");
        using var admin = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv275");
        var server = (await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = "q275", ["imageRef"] = image, ["flavorRef"] = flavor, ["networks"] = "none" } },
            HttpStatusCode.Accepted, V274))["server"]!["id"]!.GetValue<string>();
        var keypair = "kp275-" + Guid.NewGuid().ToString("N")[..6];
        await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/os-keypairs", new JsonObject { ["keypair"] = new JsonObject { ["name"] = keypair } },
            HttpStatusCode.Created, V274);

        (ApiClient Client, HttpMethod Method, string Path, JsonObject? Body)[] calls =
        [
            (own.Api, HttpMethod.Get, "/compute/v2.1/flavors", null),
            (own.Api, HttpMethod.Get, "/compute/v2.1/flavors/detail", null),
            (own.Api, HttpMethod.Get, "/compute/v2.1/os-keypairs", null),
            (own.Api, HttpMethod.Get, $"/compute/v2.1/os-keypairs/{keypair}", null),
            (own.Api, HttpMethod.Get, "/compute/v2.1/limits", null),
            (own.Api, HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", null),
            (own.Api, HttpMethod.Get, $"/compute/v2.1/os-quota-sets/{own.ProjectId}/detail", null),
            (admin, HttpMethod.Put, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", new JsonObject { ["quota_set"] = new JsonObject { ["cores"] = 40 } }),
            (own.Api, HttpMethod.Get, "/compute/v2.1/os-server-groups", null),
            (admin, HttpMethod.Get, "/compute/v2.1/os-services", null),
            (own.Api, HttpMethod.Get, $"/compute/v2.1/servers/{server}/os-volume_attachments", null),
            (admin, HttpMethod.Delete, $"/compute/v2.1/os-quota-sets/{own.ProjectId}", null),
            (own.Api, HttpMethod.Delete, $"/compute/v2.1/os-keypairs/{keypair}", null),
        ];
        foreach (var (client, method, path, body) in calls)
        {
            var (refused, json, text) = await client.TrySendAsync(method, path + "?bogus=1", body, V275);
            Assert.True(refused == HttpStatusCode.BadRequest, $"{method} {path} at 2.75: {(int)refused} {text}");
            Assert.Equal("Invalid input for query parameters bogus. Additional properties are not allowed ('bogus' was unexpected)", Message(json));

            var (taken, _, answer) = await client.TrySendAsync(method, path + "?bogus=1", body, V274);
            Assert.True(taken is HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.NoContent, $"{method} {path} at 2.74: {(int)taken} {answer}");
        }

        // The parameters the schemas name are still taken at 2.75.
        await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/flavors?limit=1&sort_key=name&sort_dir=asc&minRam=0", apiVersion: V275);
        await admin.SendAsync(HttpMethod.Get, "/compute/v2.1/os-services?binary=nova-compute", apiVersion: V275);
        await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/os-server-groups?limit=5&offset=0", apiVersion: V275);

        // The server list's sort keys: one Nova ignored is taken at 2.74 and refused at 2.75; one it never knew is refused on both.
        await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers?sort_key=id", apiVersion: V274);
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/servers?sort_key=id", apiVersion: V275)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Get, "/compute/v2.1/servers?sort_key=bogus", apiVersion: V274)).Status);
        await own.Api.SendAsync(HttpMethod.Get, "/compute/v2.1/servers/detail?sort_key=display_name&sort_dir=asc", apiVersion: V275);
        await own.Api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Update_refuses_fields_outside_novas_schema_at_2_74_and_2_75()
    {
        using var own = await fixture.NewProjectClientAsync("mv275u");
        var (image, flavor) = await fixture.ImageAndFlavorAsync(own.Api, "mv275u");
        var server = (await own.Api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
            new JsonObject { ["server"] = new JsonObject { ["name"] = "u275", ["imageRef"] = image, ["flavorRef"] = flavor, ["networks"] = "none" } },
            HttpStatusCode.Accepted, V274))["server"]!["id"]!.GetValue<string>();
        var path = $"/compute/v2.1/servers/{server}";

        foreach (var version in new[] { V274, V275 })
        {
            var (status, json, _) = await own.Api.TrySendAsync(HttpMethod.Put, path,
                new JsonObject { ["server"] = new JsonObject { ["name"] = "renamed", ["imageRef"] = image } }, version);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("Invalid input for field/attribute server. Additional properties are not allowed ('imageRef' was unexpected)", Message(json));
            (status, _, _) = await own.Api.TrySendAsync(HttpMethod.Put, path,
                new JsonObject { ["server"] = new JsonObject { ["name"] = "renamed" }, ["metadata"] = new JsonObject() }, version);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            // Nothing was changed by a refused update.
            Assert.Equal("u275", (await own.Api.SendAsync(HttpMethod.Get, path, apiVersion: version))["server"]!["name"]!.GetValue<string>());
        }

        // description is a field from 2.19 (before, Nova's schema has none: 400, not silently dropped).
        Assert.Equal(HttpStatusCode.BadRequest, (await own.Api.TrySendAsync(HttpMethod.Put, path,
            new JsonObject { ["server"] = new JsonObject { ["description"] = "d" } }, "compute 2.18")).Status);
        var updated = await own.Api.SendAsync(HttpMethod.Put, path,
            new JsonObject { ["server"] = new JsonObject { ["name"] = "u275b", ["description"] = "d", ["OS-DCF:diskConfig"] = "AUTO" } }, apiVersion: V275);
        Assert.Equal("u275b", updated["server"]!["name"]!.GetValue<string>());
        Assert.Equal("d", updated["server"]!["description"]!.GetValue<string>());
        await own.Api.SendAsync(HttpMethod.Delete, path, expect: HttpStatusCode.NoContent);
    }
}
