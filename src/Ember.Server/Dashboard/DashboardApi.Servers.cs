using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Dashboard;

// Servers: list, detail, create, power actions, console log and the serial console (xterm.js over the API's websocket).
public static partial class DashboardApi
{
    private const string Compute = "/compute/v2.1";

    private static void MapServerPages(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/servers", (Delegate)((HttpContext http) => WithSessionAsync(http, s => ServerListAsync(http, s))));
        app.MapGet(Prefix + "/servers/new", (Delegate)((HttpContext http) => WithSessionAsync(http, s => NewServerAsync(http, s))));
        app.MapPost(Prefix + "/servers", (Delegate)((HttpContext http) => WithSessionAsync(http, s => CreateServerAsync(http, s))));
        app.MapGet(Prefix + "/servers/{id}", (HttpContext http, string id) => WithSessionAsync(http, s => ServerDetailAsync(http, s, PathId(id))));
        app.MapPost(Prefix + "/servers/{id}/action", (HttpContext http, string id) => WithSessionAsync(http, s => ServerActionAsync(http, s, PathId(id))));
        app.MapGet(Prefix + "/servers/{id}/console", (HttpContext http, string id) => WithSessionAsync(http, s => ConsolePageAsync(http, s, PathId(id))));
        app.MapPost(Prefix + "/servers/{id}/console-url", (HttpContext http, string id) => WithSessionAsync(http, s => ConsoleUrlAsync(http, s, PathId(id))));
    }

    private static CloudApi Cloud(HttpContext http) => http.RequestServices.GetRequiredService<CloudApi>();

    private static Task<JsonNode?> GetAsync(HttpContext http, DashboardSession session, string path, string? version = null) =>
        Cloud(http).SendAsync(http, HttpMethod.Get, path, session.Token, version: version);

    private static Task<JsonNode?> PostAsync(HttpContext http, DashboardSession session, string path, JsonNode body, string? version = null) =>
        Cloud(http).SendAsync(http, HttpMethod.Post, path, session.Token, body, version);

    /// <summary>"?all_tenants=1" for a cloud admin (every project), nothing for a member (its own project).</summary>
    private static string AllProjects(DashboardSession session, char first = '?') => session.IsCloudAdmin ? first + "all_tenants=1" : "";

    internal static async Task<JsonArray> ServersAsync(HttpContext http, DashboardSession session) =>
        (await GetAsync(http, session, Compute + "/servers/detail" + AllProjects(session), CloudApi.ComputeVersion))!["servers"]!.AsArray();

    private static string? S(JsonNode? node, string name) => node?[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?[name]?.ToJsonString();

    private static string Addresses(JsonNode server) =>
        string.Join(", ", (server["addresses"] as JsonObject ?? []).SelectMany(n => (n.Value as JsonArray ?? []).Select(a => $"{n.Key}={S(a, "addr")}")));

    private static async Task<IResult> ServerListAsync(HttpContext http, DashboardSession session)
    {
        var servers = await ServersAsync(http, session);
        var html = new Html().Raw("<p><a class=\"button\" href=\"/dashboard/servers/new\" id=\"new-server\">Create server</a></p>");
        html.Raw("<table id=\"servers\"><thead><tr><th>Name</th><th>Status</th><th>Host</th><th>Addresses</th><th>Flavor</th>")
            .Raw(session.IsCloudAdmin ? "<th>Project</th>" : "").Raw("</tr></thead><tbody>");
        foreach (var server in servers)
        {
            var id = S(server, "id");
            html.Raw("<tr><td><a href=\"/dashboard/servers/").Text(id).Raw("\">").Text(S(server, "name")).Raw("</a></td>")
                .Raw("<td class=\"status\">").Text(S(server, "status")).Raw("</td><td>").Text(S(server, "OS-EXT-SRV-ATTR:host") ?? "—")
                .Raw("</td><td>").Text(Addresses(server!)).Raw("</td><td>").Text(S(server!["flavor"], "original_name")).Raw("</td>");
            if (session.IsCloudAdmin)
            {
                html.Raw("<td>").Text(S(server, "tenant_id")).Raw("</td>");
            }

            html.Raw("</tr>");
        }

        return Page(http, session, "Servers", html.Raw("</tbody></table>"));
    }

    private static async Task<IResult> NewServerAsync(HttpContext http, DashboardSession session)
    {
        var flavors = (await GetAsync(http, session, Compute + "/flavors/detail", CloudApi.ComputeVersion))!["flavors"]!.AsArray();
        var images = (await GetAsync(http, session, "/image/v2/images?limit=200"))!["images"]!.AsArray();
        var volumes = (await GetAsync(http, session, Volume + "/volumes/detail", CloudApi.VolumeVersion))!["volumes"]!.AsArray();
        var networks = await NetworksAsync(http, session);
        var html = new Html().Raw("<form method=\"post\" action=\"/dashboard/servers\" class=\"stack\">").Csrf(session)
            .Raw("<label>Name <input name=\"name\" required maxlength=\"255\"></label><label>Flavor <select name=\"flavor\">");
        foreach (var f in flavors)
        {
            html.Raw("<option value=\"").Text(S(f, "id")).Raw("\">").Text($"{S(f, "name")} ({S(f, "vcpus")} vCPU, {S(f, "ram")} MiB, {S(f, "disk")} GiB)").Raw("</option>");
        }

        html.Raw("</select></label><label>Image <select name=\"image\">");
        foreach (var i in images)
        {
            html.Raw("<option value=\"").Text(S(i, "id")).Raw("\">").Text(S(i, "name")).Raw("</option>");
        }

        html.Raw("</select></label><fieldset><legend>Volumes at boot</legend>");
        foreach (var v in volumes.Where(v => S(v, "status") == "available"
            || S(v, "status") is "in-use" or "reserved" or "attaching" && v!["multiattach"]?.GetValue<bool>() == true))
        {
            html.Raw("<label class=\"check\"><input type=\"checkbox\" name=\"volume\" value=\"").Text(S(v, "id")).Raw("\"> ")
                .Text($"{S(v, "name")} ({S(v, "size")} GiB, {S(v, "volume_type")})").Raw("</label>");
        }

        html.Raw("</fieldset>");
        if (networks is not null)
        {
            html.Raw("<label>Network <select name=\"network\"><option value=\"\">none</option>");
            foreach (var n in networks)
            {
                html.Raw("<option value=\"").Text(S(n, "id")).Raw("\">").Text(S(n, "name")).Raw("</option>");
            }

            html.Raw("</select></label>");
        }

        return Page(http, session, "Create server", html.Raw("<button id=\"create-server\">Create</button></form>"));
    }

    /// <summary>The project's networks, or null when this cloud has no network service.</summary>
    private static async Task<JsonArray?> NetworksAsync(HttpContext http, DashboardSession session)
    {
        try
        {
            return (await GetAsync(http, session, "/network/v2.0/networks"))?["networks"]?.AsArray();
        }
        catch (CloudApiException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private static async Task<IResult> CreateServerAsync(HttpContext http, DashboardSession session)
    {
        var form = await ReadFormAsync(http);
        var image = PathId(Field(form, "image", "Image"));
        var volumes = form["volume"].Select(v => PathId(v ?? "")).Distinct().ToList();
        if (volumes.Count > 8)
        {
            throw new FormException("At most 8 volumes at boot.");
        }

        var mappings = new JsonArray(new JsonObject { ["boot_index"] = 0, ["uuid"] = image, ["source_type"] = "image", ["destination_type"] = "local" });
        foreach (var volume in volumes)
        {
            mappings.Add(new JsonObject { ["boot_index"] = -1, ["uuid"] = volume, ["source_type"] = "volume", ["destination_type"] = "volume" });
        }

        var network = OptionalField(form, "network", "Network");
        var server = new JsonObject
        {
            ["name"] = Field(form, "name", "Name"),
            ["flavorRef"] = PathId(Field(form, "flavor", "Flavor")),
            ["imageRef"] = image,
            ["block_device_mapping_v2"] = mappings,
            ["networks"] = network is null ? "none" : new JsonArray(new JsonObject { ["uuid"] = PathId(network) }),
        };
        var reply = await PostAsync(http, session, Compute + "/servers", new JsonObject { ["server"] = server }, CloudApi.ComputeVersion);
        return Results.Redirect(Prefix + "/servers/" + Uri.EscapeDataString(S(reply!["server"], "id") ?? ""));
    }

    private static async Task<IResult> ServerDetailAsync(HttpContext http, DashboardSession session, string id)
    {
        var server = (await GetAsync(http, session, Compute + "/servers/" + id, CloudApi.ComputeVersion))!["server"]!;
        var html = new Html().Raw("<dl class=\"facts\">");
        foreach (var (label, value) in new[]
        {
            ("ID", S(server, "id")), ("Status", S(server, "status")), ("Power", S(server, "OS-EXT-STS:power_state")),
            ("Host", S(server, "OS-EXT-SRV-ATTR:host") ?? "— (admins only)"), ("Addresses", Addresses(server)),
            ("Flavor", S(server["flavor"], "original_name")), ("Project", S(server, "tenant_id")), ("Created", S(server, "created")),
            ("Fault", S(server["fault"], "message")),
        })
        {
            if (value is not null)
            {
                html.Raw("<dt>").Text(label).Raw("</dt><dd id=\"server-").Text(label.ToLowerInvariant()).Raw("\">").Text(value).Raw("</dd>");
            }
        }

        html.Raw("</dl><p class=\"actions\">");
        var action = $"{Prefix}/servers/{id}/action";
        foreach (var op in new[] { "start", "stop", "reboot", "pause", "unpause", "suspend", "resume", "lock", "unlock", "delete" })
        {
            html.Button(session, action, op, ("op", op));
        }

        html.Raw(" <a class=\"button\" id=\"open-console\" href=\"/dashboard/servers/").Text(id).Raw("/console\">Serial console</a></p><h2>Volumes</h2><ul>");
        foreach (var v in server["os-extended-volumes:volumes_attached"] as JsonArray ?? [])
        {
            html.Raw("<li><a href=\"/dashboard/volumes/").Text(S(v, "id")).Raw("\">").Text(S(v, "id")).Raw("</a></li>");
        }

        html.Raw("</ul><h2>Console log</h2>");
        try
        {
            var log = await PostAsync(http, session, $"{Compute}/servers/{id}/action", new JsonObject { ["os-getConsoleOutput"] = new JsonObject { ["length"] = 50 } },
                CloudApi.ComputeVersion);
            html.Raw("<pre class=\"log\">").Text(S(log, "output")).Raw("</pre>");
        }
        catch (CloudApiException ex) when (ex.Status is 409 or 404)
        {
            html.Raw("<p class=\"muted\">").Text(ex.Message).Raw("</p>");
        }

        await ActionLogAsync(http, session, id, html);
        return Page(http, session, S(server, "name") ?? id, html);
    }

    /// <summary>
    /// Nova's instance actions, newest first (os-instance-actions at 2.58: the last change of each): what was done, by
    /// whom, and "Error" when a step of it failed on the host.
    /// </summary>
    private static async Task ActionLogAsync(HttpContext http, DashboardSession session, string id, Html html)
    {
        var actions = (await GetAsync(http, session, $"{Compute}/servers/{id}/os-instance-actions?limit=50", "compute 2.58"))!["instanceActions"] as JsonArray ?? [];
        html.Raw("<h2>Action log</h2><table id=\"actions\"><thead><tr><th>Action</th><th>Started</th><th>Updated</th><th>User</th><th>Request</th><th>Result</th></tr></thead><tbody>");
        foreach (var a in actions)
        {
            html.Raw("<tr><td>").Text(S(a, "action")).Raw("</td><td>").Text(S(a, "start_time")).Raw("</td><td>").Text(S(a, "updated_at"))
                .Raw("</td><td>").Text(S(a, "user_id")).Raw("</td><td>").Text(S(a, "request_id")).Raw("</td><td>").Text(S(a, "message") ?? "—").Raw("</td></tr>");
        }

        html.Raw("</tbody></table>");
    }

    private static async Task<IResult> ServerActionAsync(HttpContext http, DashboardSession session, string id)
    {
        var op = Field(await ReadFormAsync(http), "op", "Action");
        var path = $"{Compute}/servers/{id}/action";
        switch (op)
        {
            case "start":
                await PostAsync(http, session, path, new JsonObject { ["os-start"] = null }, CloudApi.ComputeVersion);
                break;
            case "stop":
                await PostAsync(http, session, path, new JsonObject { ["os-stop"] = null }, CloudApi.ComputeVersion);
                break;
            case "reboot":
                await PostAsync(http, session, path, new JsonObject { ["reboot"] = new JsonObject { ["type"] = "SOFT" } }, CloudApi.ComputeVersion);
                break;
            case "pause" or "unpause" or "suspend" or "resume" or "lock" or "unlock":
                await PostAsync(http, session, path, new JsonObject { [op] = null }, CloudApi.ComputeVersion);
                break;
            case "delete":
                await Cloud(http).SendAsync(http, HttpMethod.Delete, $"{Compute}/servers/{id}", session.Token, version: CloudApi.ComputeVersion);
                return Results.Redirect(Prefix + "/servers");
            default:
                throw new FormException($"Unknown action {op}.");
        }

        return Results.Redirect($"{Prefix}/servers/{id}");
    }

    private static async Task<IResult> ConsolePageAsync(HttpContext http, DashboardSession session, string id)
    {
        var server = (await GetAsync(http, session, Compute + "/servers/" + id, CloudApi.ComputeVersion))!["server"]!;
        var html = new Html().Raw("<link rel=\"stylesheet\" href=\"/dashboard/assets/xterm.css\"><script src=\"/dashboard/assets/xterm.js\" defer></script>")
            .Raw("<script src=\"/dashboard/assets/console.js\" defer></script>")
            .Raw("<p class=\"muted\">The guest's serial port (ttyS0). One browser at a time: QEMU takes one console client. <span id=\"console-state\">connecting…</span></p>")
            .Raw("<div id=\"terminal\" data-server=\"").Text(id).Raw("\"></div>");
        return Page(http, session, "Console: " + (S(server, "name") ?? id), html);
    }

    /// <summary>POST …/console-url (fetch with the CSRF header): the API's one-use console URL, as a path on this listener.</summary>
    private static async Task<IResult> ConsoleUrlAsync(HttpContext http, DashboardSession session, string id)
    {
        var reply = await PostAsync(http, session, $"{Compute}/servers/{id}/action", new JsonObject { ["os-getSerialConsole"] = new JsonObject { ["type"] = "serial" } },
            CloudApi.ComputeVersion);
        var url = new Uri(S(reply!["console"], "url")!);
        return Results.Json(new JsonObject { ["path"] = url.PathAndQuery });
    }
}
