using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Fuzz;

/// <summary>
/// The real resources the fuzzer aims at: two projects' images, volumes, snapshots, servers and attachments, plus
/// identity objects of its own (so that a fuzzed PATCH or DELETE never locks the fuzzer itself out).
/// </summary>
public sealed class FuzzWorld
{
    public required string AdminToken { get; init; }

    public required string DemoToken { get; init; }

    public required string AdminProject { get; init; }

    public required string DemoProject { get; init; }

    /// <summary>Ids per kind ("volumes", "servers", ...); the first of each list belongs to demo, the others to admin.</summary>
    public Dictionary<string, List<string>> Ids { get; } = [];

    public void Add(string kind, string? id)
    {
        if (id is null)
        {
            return;
        }

        if (!Ids.TryGetValue(kind, out var list))
        {
            Ids[kind] = list = [];
        }

        lock (list)
        {
            if (list.Count < 64 && !list.Contains(id))
            {
                list.Add(id);
            }
        }
    }

    public string? Pick(string kind, Random random)
    {
        if (!Ids.TryGetValue(kind, out var list))
        {
            return null;
        }

        lock (list)
        {
            return list.Count == 0 ? null : list[random.Next(list.Count)];
        }
    }

    /// <summary>Builds the world through the API, as clients would.</summary>
    public static async Task<FuzzWorld> CreateAsync(EmberFixture fixture)
    {
        var admin = new ApiClient(await fixture.ClientAsync("admin"));
        var demo = new ApiClient(await fixture.ClientAsync("demo"));
        var adminToken = admin.Http.DefaultRequestHeaders.GetValues("X-Auth-Token").Single();
        var demoToken = demo.Http.DefaultRequestHeaders.GetValues("X-Auth-Token").Single();
        var world = new FuzzWorld
        {
            AdminToken = adminToken,
            DemoToken = demoToken,
            AdminProject = await ProjectOfAsync(admin, adminToken),
            DemoProject = await ProjectOfAsync(admin, demoToken),
        };

        // Identity objects of the fuzzer's own.
        var project = await admin.SendAsync(HttpMethod.Post, "/identity/v3/projects",
            new JsonObject { ["project"] = new JsonObject { ["name"] = "fuzz-project", ["domain_id"] = "default" } }, HttpStatusCode.Created);
        world.Add("projects", project["project"]!["id"]!.GetValue<string>());
        var user = await admin.SendAsync(HttpMethod.Post, "/identity/v3/users",
            new JsonObject { ["user"] = new JsonObject { ["name"] = "fuzz-user", ["password"] = "fuzz-password", ["domain_id"] = "default" } },
            HttpStatusCode.Created);
        world.Add("users", user["user"]!["id"]!.GetValue<string>());
        var role = await admin.SendAsync(HttpMethod.Post, "/identity/v3/roles",
            new JsonObject { ["role"] = new JsonObject { ["name"] = "fuzz-role" } }, HttpStatusCode.Created);
        world.Add("roles", role["role"]!["id"]!.GetValue<string>());
        world.Add("domains", "default");

        var flavor = await admin.SendAsync(HttpMethod.Post, "/compute/v2.1/flavors",
            new JsonObject { ["flavor"] = new JsonObject { ["name"] = "fuzz.small", ["ram"] = 64, ["vcpus"] = 1, ["disk"] = 1, ["id"] = "fuzz-1" } });
        world.Add("flavors", flavor["flavor"]!["id"]!.GetValue<string>());
        var type = await admin.SendAsync(HttpMethod.Post, "/volume/v3/types",
            new JsonObject { ["volume_type"] = new JsonObject { ["name"] = "fuzz-type", ["extra_specs"] = new JsonObject { ["k"] = "v" } } });
        world.Add("types", type["volume_type"]!["id"]!.GetValue<string>());

        foreach (var api in new[] { demo, admin })
        {
            var image = await api.SendAsync(HttpMethod.Post, "/image/v2/images",
                new JsonObject { ["name"] = "fuzz-image", ["disk_format"] = "raw", ["container_format"] = "bare", ["tags"] = new JsonArray("t1") },
                HttpStatusCode.Created);
            var imageId = image["id"]!.GetValue<string>();
            using (var upload = new HttpRequestMessage(HttpMethod.Put, $"/image/v2/images/{imageId}/file") { Content = new ByteArrayContent(new byte[64 * 1024]) })
            {
                upload.Content.Headers.ContentType = new("application/octet-stream");
                using var uploaded = await api.Http.SendAsync(upload);
                Assert.Equal(HttpStatusCode.NoContent, uploaded.StatusCode);
            }

            world.Add("images", imageId);
            var queued = await api.SendAsync(HttpMethod.Post, "/image/v2/images",
                new JsonObject { ["name"] = "fuzz-queued", ["disk_format"] = "qcow2", ["container_format"] = "bare" }, HttpStatusCode.Created);
            world.Add("images", queued["id"]!.GetValue<string>());

            var volume = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
                new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = "fuzz-volume", ["metadata"] = new JsonObject { ["k"] = "v" } } },
                HttpStatusCode.Accepted);
            var volumeId = volume["volume"]!["id"]!.GetValue<string>();
            world.Add("volumes", volumeId);
            await api.WaitForAsync($"/volume/v3/volumes/{volumeId}", j => j["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromSeconds(60));
            var snapshot = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
                new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volumeId, ["name"] = "fuzz-snapshot", ["metadata"] = new JsonObject { ["k"] = "v" } } },
                HttpStatusCode.Accepted);
            world.Add("snapshots", snapshot["snapshot"]!["id"]!.GetValue<string>());

            var server = await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers",
                new JsonObject { ["server"] = new JsonObject { ["name"] = "fuzz-server", ["imageRef"] = imageId, ["flavorRef"] = "fuzz-1" } },
                HttpStatusCode.Accepted);
            var serverId = server["server"]!["id"]!.GetValue<string>();
            world.Add("servers", serverId);
            var attachment = await api.SendAsync(HttpMethod.Post, "/volume/v3/attachments",
                new JsonObject { ["attachment"] = new JsonObject { ["volume_uuid"] = volumeId, ["instance_uuid"] = serverId } },
                HttpStatusCode.OK, apiVersion: "volume 3.27");
            world.Add("attachments", attachment["attachment"]!["id"]!.GetValue<string>());
        }

        admin.Dispose();
        demo.Dispose();
        return world;
    }

    private static async Task<string> ProjectOfAsync(ApiClient admin, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Subject-Token", token);
        using var response = await admin.Http.SendAsync(request);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return json["token"]!["project"]!["id"]!.GetValue<string>();
    }
}
