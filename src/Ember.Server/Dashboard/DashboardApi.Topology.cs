using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Dashboard;

// The topology: volumes and servers as nodes, attachments as edges (mode and host), redrawn by the page every 2 s.
public static partial class DashboardApi
{
    private static void MapTopology(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/topology", (Delegate)((HttpContext http) => WithSessionAsync(http, s => Task.FromResult(Page(http, s, "Topology",
            new Html().Raw("<p class=\"muted\">Volumes on the left, servers on the right; an edge per attachment, labelled with its mode and host. Updated every 2 s.</p>")
                .Raw("<svg id=\"topology\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"attachments\"></svg>"))))));
        app.MapGet(Prefix + "/topology.json", (Delegate)((HttpContext http) => WithSessionAsync(http, async s => Results.Json(await TopologyAsync(http, s)))));
        app.MapGet(Prefix + "/topology/events", (Delegate)((HttpContext http) => WithSessionAsync(http, s =>
            Task.FromResult(LiveEvents(http, s, () => TopologyAsync(http, s), onlyChanges: true)))));
    }

    /// <summary>Three list calls whatever the size of the cloud: volumes, servers and attachments (for the mode), joined here.</summary>
    private static async Task<JsonObject> TopologyAsync(HttpContext http, DashboardSession session)
    {
        var volumesTask = VolumesAsync(http, session);
        var serversTask = ServersAsync(http, session);
        var attachmentsTask = GetAsync(http, session, Volume + "/attachments/detail" + AllProjects(session), CloudApi.VolumeVersion);
        var (volumes, servers, attachments) = (await volumesTask, await serversTask, (await attachmentsTask)!["attachments"]!.AsArray());
        var modes = attachments.Where(a => S(a, "id") is not null).ToDictionary(a => S(a, "id")!, a => S(a, "attach_mode") ?? "rw");
        var hosts = servers.ToDictionary(s => S(s, "id") ?? "", s => S(s, "OS-EXT-SRV-ATTR:host"));
        var edges = new JsonArray();
        foreach (var v in volumes)
        {
            foreach (var a in v!["attachments"] as JsonArray ?? [])
            {
                var server = S(a, "server_id") ?? "";
                edges.Add(new JsonObject
                {
                    ["volume"] = S(v, "id"),
                    ["server"] = server,
                    ["mode"] = modes.GetValueOrDefault(S(a, "attachment_id") ?? "", "rw"),
                    ["host"] = S(a, "host_name") ?? hosts.GetValueOrDefault(server),
                });
            }
        }

        return new JsonObject
        {
            ["volumes"] = new JsonArray([.. volumes.Select(v => (JsonNode)new JsonObject
            {
                ["id"] = S(v, "id"), ["name"] = S(v, "name"), ["status"] = S(v, "status"), ["multiattach"] = v!["multiattach"]?.GetValue<bool>() == true,
            })]),
            ["servers"] = new JsonArray([.. servers.Select(s => (JsonNode)new JsonObject
            {
                ["id"] = S(s, "id"), ["name"] = S(s, "name"), ["status"] = S(s, "status"), ["host"] = S(s, "OS-EXT-SRV-ATTR:host"),
            })]),
            ["edges"] = edges,
        };
    }
}
