using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Dashboard;

// Images, flavors (a cloud admin creates them) and the project switcher.
public static partial class DashboardApi
{
    private static void MapCatalogPages(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/images", (Delegate)((HttpContext http) => WithSessionAsync(http, s => ImagesAsync(http, s))));
        app.MapGet(Prefix + "/flavors", (Delegate)((HttpContext http) => WithSessionAsync(http, s => FlavorsAsync(http, s))));
        app.MapPost(Prefix + "/flavors", (Delegate)((HttpContext http) => WithSessionAsync(http, s => CreateFlavorAsync(http, s))));
        app.MapGet(Prefix + "/projects", (Delegate)((HttpContext http) => WithSessionAsync(http, s => ProjectsAsync(http, s))));
    }

    private static async Task<IResult> ImagesAsync(HttpContext http, DashboardSession session)
    {
        var images = (await GetAsync(http, session, "/image/v2/images?limit=200"))!["images"]!.AsArray();
        var html = new Html().Raw("<table id=\"images\"><thead><tr><th>Name</th><th>Status</th><th>Format</th><th>Size</th><th>Visibility</th></tr></thead><tbody>");
        foreach (var i in images)
        {
            html.Raw("<tr><td>").Text(S(i, "name")).Raw("</td><td>").Text(S(i, "status")).Raw("</td><td>").Text(S(i, "disk_format"))
                .Raw("</td><td>").Text(i!["size"] is JsonValue size ? $"{size.GetValue<long>() / 1048576.0:0.0} MiB" : "").Raw("</td><td>")
                .Text(S(i, "visibility")).Raw("</td></tr>");
        }

        html.Raw("</tbody></table><p class=\"muted\">Upload images with <code>openstack image create --file</code>: the dashboard has no upload yet.</p>");
        return Page(http, session, "Images", html);
    }

    private static async Task<IResult> FlavorsAsync(HttpContext http, DashboardSession session)
    {
        var flavors = (await GetAsync(http, session, Compute + "/flavors/detail", CloudApi.ComputeVersion))!["flavors"]!.AsArray();
        var html = new Html().Raw("<table id=\"flavors\"><thead><tr><th>Name</th><th>vCPUs</th><th>RAM</th><th>Disk</th></tr></thead><tbody>");
        foreach (var f in flavors)
        {
            html.Raw("<tr><td>").Text(S(f, "name")).Raw("</td><td>").Text(S(f, "vcpus")).Raw("</td><td>").Text(S(f, "ram")).Raw(" MiB</td><td>")
                .Text(S(f, "disk")).Raw(" GiB</td></tr>");
        }

        html.Raw("</tbody></table>");
        if (session.IsCloudAdmin)
        {
            html.Raw("<h2>Create flavor</h2><form method=\"post\" action=\"/dashboard/flavors\" class=\"row\">").Csrf(session)
                .Raw("<input name=\"name\" required maxlength=\"255\" placeholder=\"name\"><input name=\"vcpus\" type=\"number\" min=\"1\" max=\"64\" value=\"1\"> vCPU ")
                .Raw("<input name=\"ram\" type=\"number\" min=\"64\" max=\"1048576\" value=\"256\"> MiB <input name=\"disk\" type=\"number\" min=\"0\" max=\"65536\" value=\"1\"> GiB ")
                .Raw("<button>Create</button></form>");
        }

        return Page(http, session, "Flavors", html);
    }

    private static async Task<IResult> CreateFlavorAsync(HttpContext http, DashboardSession session)
    {
        var form = await ReadFormAsync(http);
        var flavor = new JsonObject
        {
            ["name"] = Field(form, "name", "Name"),
            ["vcpus"] = IntField(form, "vcpus", "vCPUs", 1, 64),
            ["ram"] = IntField(form, "ram", "RAM", 64, 1048576),
            ["disk"] = IntField(form, "disk", "Disk", 0, 65536),
        };
        await PostAsync(http, session, Compute + "/flavors", new JsonObject { ["flavor"] = flavor }, CloudApi.ComputeVersion);
        return Results.Redirect(Prefix + "/flavors");
    }

    private static async Task<IResult> ProjectsAsync(HttpContext http, DashboardSession session)
    {
        var projects = (await GetAsync(http, session, $"/identity/v3/users/{session.UserId}/projects"))!["projects"]!.AsArray();
        var html = new Html().Raw("<ul class=\"projects\">");
        foreach (var p in projects)
        {
            html.Raw("<li>").Text(S(p, "name")).Raw(" ");
            if (S(p, "id") == session.ProjectId)
            {
                html.Raw("<span class=\"badge\">current</span>");
            }
            else
            {
                html.Button(session, Prefix + "/project", "switch", ("project_id", S(p, "id") ?? ""));
            }

            html.Raw("</li>");
        }

        return Page(http, session, "Projects", html.Raw("</ul>"));
    }
}
