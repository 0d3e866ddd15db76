using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Dashboard;

// Images (upload with progress: the page creates the record, then streams the file), flavors (a cloud admin creates
// them) and the project switcher.
public static partial class DashboardApi
{
    private static readonly string[] s_diskFormats = ["qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "ari", "aki"];

    private static void MapCatalogPages(IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "/images", (Delegate)((HttpContext http) => WithSessionAsync(http, s => ImagesAsync(http, s))));
        app.MapPost(Prefix + "/images", (Delegate)((HttpContext http) => WithSessionAsync(http, s => JsonErrorsAsync(() => CreateImageAsync(http, s)))));
        app.MapPut(Prefix + "/images/{id}/file", (HttpContext http, string id) => WithSessionAsync(http, s => JsonErrorsAsync(() => UploadImageAsync(http, s, PathId(id)))));
        app.MapGet(Prefix + "/flavors", (Delegate)((HttpContext http) => WithSessionAsync(http, s => FlavorsAsync(http, s))));
        app.MapPost(Prefix + "/flavors", (Delegate)((HttpContext http) => WithSessionAsync(http, s => CreateFlavorAsync(http, s))));
        app.MapGet(Prefix + "/projects", (Delegate)((HttpContext http) => WithSessionAsync(http, s => ProjectsAsync(http, s))));
    }

    private static async Task<IResult> ImagesAsync(HttpContext http, DashboardSession session)
    {
        var images = (await GetAsync(http, session, "/image/v2/images?limit=200"))!["images"]!.AsArray();
        var html = new Html().Raw("<form id=\"upload-image\" class=\"row\" method=\"post\" action=\"/dashboard/images\">").Csrf(session)
            .Raw("<input name=\"name\" required maxlength=\"255\" placeholder=\"name\"><select name=\"disk_format\">");
        foreach (var format in s_diskFormats)
        {
            html.Raw("<option>").Raw(format).Raw("</option>");
        }

        // Glance lets only an admin publicize an image; anyone may keep one private, share it or offer it to the community.
        html.Raw("</select><select name=\"visibility\"><option>private</option><option>shared</option><option>community</option>")
            .Raw(session.IsCloudAdmin ? "<option>public</option>" : "")
            .Raw("</select><input name=\"file\" type=\"file\" required><button>Upload</button>")
            .Raw("<progress id=\"upload-progress\" max=\"100\" value=\"0\" hidden></progress><span id=\"upload-status\" class=\"muted\"></span></form>");
        html.Raw("<table id=\"images\"><thead><tr><th>Name</th><th>Status</th><th>Format</th><th>Size</th><th>Visibility</th></tr></thead><tbody>");
        foreach (var i in images)
        {
            html.Raw("<tr data-id=\"").Text(S(i, "id")).Raw("\"><td>").Text(S(i, "name")).Raw("</td><td>").Text(S(i, "status")).Raw("</td><td>").Text(S(i, "disk_format"))
                .Raw("</td><td>").Text(i!["size"] is JsonValue size ? $"{size.GetValue<long>() / 1048576.0:0.0} MiB" : "").Raw("</td><td>")
                .Text(S(i, "visibility")).Raw("</td></tr>");
        }

        html.Raw("</tbody></table>");
        return Page(http, session, "Images", html);
    }

    /// <summary>
    /// POST /dashboard/images (the upload form's fields, from the page's script): creates the Glance record and answers
    /// its id and where to PUT the file. Bare container, the disk format and visibility chosen.
    /// </summary>
    private static async Task<IResult> CreateImageAsync(HttpContext http, DashboardSession session)
    {
        var form = await ReadFormAsync(http);
        var format = Field(form, "disk_format", "Disk format");
        var image = new JsonObject
        {
            ["name"] = Field(form, "name", "Name"),
            ["disk_format"] = s_diskFormats.Contains(format) ? format : throw new FormException($"Unknown disk format {format}."),
            ["container_format"] = "bare",
            ["visibility"] = OptionalField(form, "visibility", "Visibility") ?? "private",
        };
        var created = await PostAsync(http, session, "/image/v2/images", image);
        var id = PathId(S(created, "id") ?? "");
        return Results.Json(new JsonObject { ["id"] = id, ["file"] = $"{Prefix}/images/{id}/file" }, statusCode: 201);
    }

    /// <summary>
    /// PUT /dashboard/images/{id}/file: the browser's body goes on to Glance's PUT …/file as it arrives (the pipeline
    /// lets it be as large as an image may be); answers the image's status, size and checksum once Glance has it.
    /// </summary>
    private static async Task<IResult> UploadImageAsync(HttpContext http, DashboardSession session, string id)
    {
        await Cloud(http).StreamAsync(http, HttpMethod.Put, $"/image/v2/images/{id}/file", session.Token, "application/octet-stream");
        var image = await GetAsync(http, session, $"/image/v2/images/{id}");
        return Results.Json(new JsonObject
        {
            ["id"] = id,
            ["status"] = S(image, "status"),
            ["size"] = image?["size"]?.DeepClone(),
            ["checksum"] = S(image, "checksum"),
        });
    }

    /// <summary>For the page's script: a refusal is a JSON {"message"} with the API's status, not a redirect.</summary>
    private static async Task<IResult> JsonErrorsAsync(Func<Task<IResult>> call)
    {
        try
        {
            return await call();
        }
        catch (CloudApiException ex) when (ex.Status != 401)
        {
            return Results.Json(new JsonObject { ["message"] = ex.Message }, statusCode: ex.Status);
        }
        catch (FormException ex)
        {
            return Results.Json(new JsonObject { ["message"] = ex.Message }, statusCode: 400);
        }
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
