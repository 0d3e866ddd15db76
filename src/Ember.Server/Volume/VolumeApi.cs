using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Volume;

/// <summary>The Cinder v3 subset under /volume: discovery, volumes, types, attachments, snapshots, quotas.</summary>
public static partial class VolumeApi
{
    private const string VersionKey = "ember.volume.version";

    public static void MapVolumeApi(this IEndpointRouteBuilder app)
    {
        // Routing treats a trailing slash as the same route, so "/volume/" (what cinderclient asks) lands here too.
        app.MapGet("/volume", (HttpContext http) => Json.Reply(VersionsBody(http), StatusCodes.Status300MultipleChoices));
        app.MapGet("/volume/v3", (HttpContext http) => Json.Reply(VersionsBody(http)));
        app.MapGet("/volume/v3/{project_id}", (HttpContext http) => Json.Reply(VersionsBody(http))).AddEndpointFilter(MicroversionFilterAsync);

        // The catalog URL carries the project id (/volume/v3/{project_id}); from 3.67 it may be left out.
        foreach (var prefix in new[] { "/volume/v3", "/volume/v3/{project_id}" })
        {
            var v3 = app.MapGroup(prefix).AddEndpointFilter(MicroversionFilterAsync);
            MapVolumes(v3);
            MapTypes(v3);
            MapGroupTypes(v3);
            MapQosSpecs(v3);
            MapEncryption(v3);
            MapAttachments(v3);
            MapSnapshots(v3);
            MapBackups(v3);
            MapTransfers(v3);
            MapQuotas(v3);
            MapPools(v3);
            MapDefaultTypes(v3);
            MapMessages(v3);
            MapServiceInfo(v3);
        }
    }

    /// <summary>The microversion of this request (3.0 when the client sent none).</summary>
    public static Microversion VolumeVersion(this HttpContext http) =>
        http.Items[VersionKey] is Microversion v ? v : VolumeVersions.Min;

    private static async ValueTask<object?> MicroversionFilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        http.Response.Headers.Vary = Microversion.HeaderName;
        var version = VolumeVersions.FromHeader(http.Request.Headers[Microversion.HeaderName].ToString());
        http.Items[VersionKey] = version;
        http.Response.Headers[Microversion.HeaderName] = $"volume {version}";
        RequireOwnProjectInUrl(http);
        return await next(context);
    }

    /// <summary>
    /// /volume/v3/{project_id}/... must name the token's own project: Cinder refuses any other with a 400, so a
    /// URL never reads as if it reached into another project.
    /// </summary>
    private static void RequireOwnProjectInUrl(HttpContext http)
    {
        if (http.GetRouteValue("project_id") is string inUrl && http.CurrentToken()?.Context.ProjectId is { } own && inUrl != own)
        {
            throw ApiException.BadRequest("Malformed request url");
        }
    }

    private static JsonObject VersionsBody(HttpContext http) => new()
    {
        ["versions"] = new JsonArray(new JsonObject
        {
            ["id"] = "v3.0",
            ["status"] = "CURRENT",
            ["version"] = VolumeVersions.Max.ToString(),
            ["min_version"] = VolumeVersions.Min.ToString(),
            ["updated"] = "2018-07-17T00:00:00Z",
            ["links"] = new JsonArray(
                new JsonObject { ["rel"] = "describedby", ["type"] = "text/html", ["href"] = "https://docs.openstack.org/" },
                new JsonObject { ["rel"] = "self", ["href"] = $"{http.BaseUrl()}/volume/v3/" }),
            ["media-types"] = new JsonArray(new JsonObject
            {
                ["base"] = "application/json",
                ["type"] = "application/vnd.openstack.volume+json;version=3",
            }),
        }),
    };

    private static RequestContext Authorize(HttpContext http, string action)
    {
        var context = http.RequireProjectContext();
        http.Enforce(context, action);
        return context;
    }

    /// <summary>Routes that exist only from a microversion on answer 404 below it, as Cinder's do.</summary>
    private static void RequireVersion(HttpContext http, Microversion min)
    {
        if (http.VolumeVersion() < min)
        {
            throw ApiException.NotFound($"The resource could not be found.");
        }
    }

    private static bool IsTrue(HttpRequest request, string key) =>
        request.Query.TryGetValue(key, out var value) && Json.ParseBoolean(value.ToString()) == true;

    private static VolumeService Service(HttpContext http) => http.RequestServices.GetRequiredService<VolumeService>();

    /// <summary>
    /// Cinder's paging and sorting parameters, shared by the lists: limit, marker, offset, and sort=key[:dir],...
    /// or sort_key/sort_dir (desc unless asc). Which keys a list may sort on is its store's to say.
    /// </summary>
    private static PageRequest PageRequestOf(HttpRequest request)
    {
        var query = request.Query;
        var sort = new List<SortKey>();
        if (query["sort"].FirstOrDefault() is { Length: > 0 } keys)
        {
            foreach (var part in keys.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var bits = part.Split(':', 2);
                sort.Add(new SortKey(bits[0], IsDescending(bits.Length < 2 ? null : bits[1])));
            }
        }
        else if (query["sort_key"].FirstOrDefault() is { Length: > 0 } key)
        {
            sort.Add(new SortKey(key, IsDescending(query["sort_dir"].FirstOrDefault())));
        }

        var offset = query.TryGetValue("offset", out var offsetText) && int.TryParse(offsetText, out var skip) && skip > 0 ? skip : 0;
        return new PageRequest(sort, query["marker"].FirstOrDefault() is { Length: > 0 } marker ? marker : null, QueryParams.Limit(query), offset);
    }

    private static bool IsDescending(string? direction) => direction switch
    {
        null or "" or "desc" => true,
        "asc" => false,
        _ => throw ApiException.BadRequest("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'."),
    };
}
