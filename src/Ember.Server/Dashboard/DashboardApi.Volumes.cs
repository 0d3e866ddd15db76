using System.Text.Json.Nodes;
using Ember.Server.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Dashboard;

// Volumes: list, create (by type: multiattach is one choice), extend, snapshot, attach, detach, delete, live I/O per attachment.
public static partial class DashboardApi
{
    private const string Volume = "/volume/v3";

    private static void MapVolumePages(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/volumes", (Delegate)((HttpContext http) => WithSessionAsync(http, s => VolumeListAsync(http, s))));
        app.MapPost(Prefix + "/volumes", (Delegate)((HttpContext http) => WithSessionAsync(http, s => CreateVolumeAsync(http, s))));
        app.MapGet(Prefix + "/volumes/{id}", (HttpContext http, string id) => WithSessionAsync(http, s => VolumeDetailAsync(http, s, PathId(id))));
        app.MapPost(Prefix + "/volumes/{id}/action", (HttpContext http, string id) => WithSessionAsync(http, s => VolumeActionAsync(http, s, PathId(id))));
        app.MapGet(Prefix + "/volumes/{id}/io", (HttpContext http, string id) => WithSessionAsync(http, async s =>
        {
            await ShowVolumeAsync(http, s, PathId(id));
            return Results.Json(VolumeIo(http, id));
        }));
        app.MapGet(Prefix + "/volumes/{id}/io/events", (HttpContext http, string id) => WithSessionAsync(http, async s =>
        {
            await ShowVolumeAsync(http, s, PathId(id));
            return LiveEvents(http, s, () => Task.FromResult(VolumeIo(http, id)), onlyChanges: false);
        }));
    }

    internal static async Task<JsonArray> VolumesAsync(HttpContext http, DashboardSession session) =>
        (await GetAsync(http, session, Volume + "/volumes/detail" + AllProjects(session), CloudApi.VolumeVersion))!["volumes"]!.AsArray();

    private static async Task<IResult> VolumeListAsync(HttpContext http, DashboardSession session)
    {
        var volumesTask = VolumesAsync(http, session);
        var typesTask = GetAsync(http, session, Volume + "/types", CloudApi.VolumeVersion);
        var volumes = await volumesTask;
        var types = (await typesTask)!["volume_types"]!.AsArray();
        var html = new Html().Raw("<form method=\"post\" action=\"/dashboard/volumes\" class=\"row\" id=\"create-volume\">").Csrf(session)
            .Raw("<input name=\"name\" placeholder=\"name\" maxlength=\"255\" required><input name=\"size\" type=\"number\" min=\"1\" max=\"1024\" value=\"1\"> GiB <select name=\"type\">");
        foreach (var t in types)
        {
            html.Raw("<option value=\"").Text(S(t, "name")).Raw("\">").Text(S(t, "name")).Raw("</option>");
        }

        html.Raw("</select><button>Create volume</button></form>");
        html.Raw("<table id=\"volumes\"><thead><tr><th>Name</th><th>Status</th><th>Size</th><th>Type</th><th>Multi-attach</th><th>Attached to</th>")
            .Raw(session.IsCloudAdmin ? "<th>Project</th>" : "").Raw("</tr></thead><tbody>");
        foreach (var v in volumes)
        {
            html.Raw("<tr><td><a href=\"/dashboard/volumes/").Text(S(v, "id")).Raw("\">").Text(S(v, "name") ?? S(v, "id")).Raw("</a></td><td class=\"status\">")
                .Text(S(v, "status")).Raw("</td><td>").Text(S(v, "size")).Raw(" GiB</td><td>").Text(S(v, "volume_type")).Raw("</td><td>")
                .Text(v!["multiattach"]?.GetValue<bool>() == true ? "yes" : "no").Raw("</td><td>")
                .Text(string.Join(", ", (v["attachments"] as JsonArray ?? []).Select(a => S(a, "server_id")))).Raw("</td>");
            if (session.IsCloudAdmin)
            {
                html.Raw("<td>").Text(S(v, "os-vol-tenant-attr:tenant_id")).Raw("</td>");
            }

            html.Raw("</tr>");
        }

        return Page(http, session, "Volumes", html.Raw("</tbody></table>"));
    }

    private static async Task<IResult> CreateVolumeAsync(HttpContext http, DashboardSession session)
    {
        var form = await ReadFormAsync(http);
        var volume = new JsonObject
        {
            ["name"] = Field(form, "name", "Name"),
            ["size"] = IntField(form, "size", "Size", 1, 1024 * 1024),
            ["volume_type"] = OptionalField(form, "type", "Type"),
        };
        var reply = await PostAsync(http, session, Volume + "/volumes", new JsonObject { ["volume"] = volume }, CloudApi.VolumeVersion);
        return Results.Redirect(Prefix + "/volumes/" + Uri.EscapeDataString(S(reply!["volume"], "id") ?? ""));
    }

    private static async Task<IResult> VolumeDetailAsync(HttpContext http, DashboardSession session, string id)
    {
        var volumeTask = GetAsync(http, session, $"{Volume}/volumes/{id}", CloudApi.VolumeVersion);
        var serversTask = ServersAsync(http, session);
        var volume = (await volumeTask)!["volume"]!;
        var servers = await serversTask;
        var names = servers.ToDictionary(s => S(s, "id") ?? "", s => S(s, "name") ?? "");
        var html = new Html().Raw("<dl class=\"facts\">");
        foreach (var (label, value) in new[]
        {
            ("ID", S(volume, "id")), ("Status", S(volume, "status")), ("Size", S(volume, "size") + " GiB"), ("Type", S(volume, "volume_type")),
            ("Multi-attach", volume["multiattach"]?.GetValue<bool>() == true ? "yes" : "no"), ("Project", S(volume, "os-vol-tenant-attr:tenant_id")),
        })
        {
            if (value is not null)
            {
                html.Raw("<dt>").Text(label).Raw("</dt><dd id=\"volume-").Text(label.ToLowerInvariant()).Raw("\">").Text(value).Raw("</dd>");
            }
        }

        var action = $"{Prefix}/volumes/{id}/action";
        html.Raw("</dl><h2>Attachments</h2><table id=\"attachments\"><thead><tr><th>Server</th><th>Device</th><th>Host</th><th></th></tr></thead><tbody>");
        foreach (var a in volume["attachments"] as JsonArray ?? [])
        {
            var server = S(a, "server_id") ?? "";
            html.Raw("<tr><td><a href=\"/dashboard/servers/").Text(server).Raw("\">").Text(names.GetValueOrDefault(server, server)).Raw("</a></td><td>")
                .Text(S(a, "device")).Raw("</td><td>").Text(S(a, "host_name") ?? "—").Raw("</td><td>")
                .Button(session, action, "detach", ("op", "detach"), ("server", server)).Raw("</td></tr>");
        }

        html.Raw("</tbody></table><form method=\"post\" class=\"row\" action=\"").Text(action).Raw("\">").Csrf(session)
            .Raw("<input type=\"hidden\" name=\"op\" value=\"attach\"><select name=\"server\" id=\"attach-server\">");
        foreach (var s in servers)
        {
            html.Raw("<option value=\"").Text(S(s, "id")).Raw("\">").Text(S(s, "name")).Raw("</option>");
        }

        html.Raw("</select><button>Attach</button></form>");
        html.Raw("<h2>Live I/O per attachment</h2><div id=\"io\" data-volume=\"").Text(id).Raw("\"><p class=\"muted\">waiting for counters…</p></div>");
        html.Raw("<h2>Actions</h2><form method=\"post\" class=\"row\" action=\"").Text(action).Raw("\">").Csrf(session)
            .Raw("<input type=\"hidden\" name=\"op\" value=\"extend\"><input name=\"size\" type=\"number\" min=\"1\" required placeholder=\"new size (GiB)\"><button>Extend</button></form>")
            .Raw("<form method=\"post\" class=\"row\" action=\"").Text(action).Raw("\">").Csrf(session)
            .Raw("<input type=\"hidden\" name=\"op\" value=\"snapshot\"><input name=\"name\" maxlength=\"255\" required placeholder=\"snapshot name\"><button>Snapshot</button></form>")
            .Button(session, action, "Delete volume", ("op", "delete"));
        return Page(http, session, S(volume, "name") ?? id, html);
    }

    private static async Task<IResult> VolumeActionAsync(HttpContext http, DashboardSession session, string id)
    {
        var form = await ReadFormAsync(http);
        var op = Field(form, "op", "Action");
        var action = $"{Volume}/volumes/{id}/action";
        switch (op)
        {
            case "extend":
                await PostAsync(http, session, action, new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = IntField(form, "size", "New size", 1, 1024 * 1024) } },
                    CloudApi.VolumeVersion);
                break;
            case "snapshot":
                await PostAsync(http, session, Volume + "/snapshots", new JsonObject
                {
                    ["snapshot"] = new JsonObject { ["volume_id"] = id, ["name"] = Field(form, "name", "Snapshot name"), ["force"] = true },
                }, CloudApi.VolumeVersion);
                break;
            case "attach":
                // Through compute, as `openstack server add volume` does: Nova drives Cinder's attachment flow.
                await PostAsync(http, session, $"{Compute}/servers/{PathId(Field(form, "server", "Server"))}/os-volume_attachments",
                    new JsonObject { ["volumeAttachment"] = new JsonObject { ["volumeId"] = id } }, CloudApi.ComputeVersion);
                break;
            case "detach":
                await Cloud(http).SendAsync(http, HttpMethod.Delete, $"{Compute}/servers/{PathId(Field(form, "server", "Server"))}/os-volume_attachments/{id}",
                    session.Token, version: CloudApi.ComputeVersion);
                break;
            case "delete":
                await Cloud(http).SendAsync(http, HttpMethod.Delete, $"{Volume}/volumes/{id}", session.Token, version: CloudApi.VolumeVersion);
                return Results.Redirect(Prefix + "/volumes");
            default:
                throw new FormException($"Unknown action {op}.");
        }

        return Results.Redirect($"{Prefix}/volumes/{id}");
    }

    /// <summary>The API shows the volume to this session (a member only its own project's) or throws its refusal.</summary>
    private static Task ShowVolumeAsync(HttpContext http, DashboardSession session, string id) =>
        GetAsync(http, session, $"{Volume}/volumes/{id}", CloudApi.VolumeVersion);

    /// <summary>
    /// …/io: each attachment's NBD counters (the ones /metrics exports), read in-process once <see cref="ShowVolumeAsync"/>
    /// has let this session see the volume. The page turns them into rates.
    /// </summary>
    private static JsonObject VolumeIo(HttpContext http, string id)
    {
        var list = new JsonArray();
        foreach (var t in http.RequestServices.GetRequiredService<VolumeDataPlane>().Totals.Where(t => t.VolumeId == id))
        {
            var ops = OperationTotals(t.Stats);
            list.Add(new JsonObject
            {
                ["attachment_id"] = t.AttachmentId,
                ["mode"] = t.ReadOnly ? "ro" : "rw",
                ["bytes_read"] = t.Stats.BytesRead,
                ["bytes_written"] = t.Stats.BytesWritten,
                ["operations"] = ops.Count,
                ["busy_seconds"] = ops.Busy,
            });
        }

        return new JsonObject { ["at"] = DateTime.UtcNow.ToString("O"), ["attachments"] = list };
    }

    private static (long Count, double Busy) OperationTotals(Nbd.NbdExportStats stats) =>
        (Nbd.NbdExportStats.Commands.Sum(c => stats.Operations(c)), Nbd.NbdExportStats.Commands.Sum(c => stats.Busy(c).TotalSeconds));
}
