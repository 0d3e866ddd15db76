using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Image;

/// <summary>Glance's interoperable image import (API 2.6+): discovery, stage, import with glance-direct.</summary>
public static partial class ImageApi
{
    /// <summary>Glance's response header on image create that names the import methods (openstacksdk's --import needs it).</summary>
    private const string ImportMethodsHeader = "OpenStack-image-import-methods";

    private static void MapImport(RouteGroupBuilder v2)
    {
        v2.MapGet("/info/import", (HttpContext http) =>
        {
            http.RequireProjectContext();
            return Json.Reply(new JsonObject
            {
                ["import-methods"] = new JsonObject
                {
                    ["description"] = "Import methods available.",
                    ["type"] = "array",
                    ["value"] = new JsonArray([.. ImageService.ImportMethods.Select(m => (JsonNode)m)]),
                },
            });
        });
        // One store: Glance without enabled_backends answers this 404, and clients (glanceclient, Tempest) read it so.
        v2.MapGet("/info/stores", (HttpContext http) =>
        {
            http.RequireProjectContext();
            throw ApiException.NotFound("Multi backend is not supported at this site.");
        });
        v2.MapGet("/info/stores/detail", (HttpContext http) =>
        {
            http.RequireProjectContext();
            throw ApiException.NotFound("Multi backend is not supported at this site.");
        });
        v2.MapGet("/info/usage", UsageAsync);
        v2.MapPut("/images/{id}/stage", StageAsync);
        v2.MapPost("/images/{id}/import", ImportAsync);
    }

    /// <summary>PUT /v2/images/{id}/stage: the body (application/octet-stream) goes to the staging area; 204.</summary>
    private static async Task<IResult> StageAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:modify_image");
        if (!string.Equals(http.Request.ContentType?.Split(';')[0].Trim(), "application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorKind.UnsupportedMediaType, $"Unsupported Content-Type: {http.Request.ContentType}; use application/octet-stream.");
        }

        await images.StageAsync(context, id, http.Request.Body, http.Request.ContentLength, http.RequestAborted);
        return Results.NoContent();
    }

    /// <summary>POST /v2/images/{id}/import {"method": {"name": "glance-direct"}}: 202, the import runs on.</summary>
    private static async Task<IResult> ImportAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:modify_image");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var method = body["method"] as JsonObject ?? throw ApiException.BadRequest("Import request requires a 'method' field.");
        var name = method["name"] is JsonValue v && v.TryGetValue(out string? text)
            ? text
            : throw ApiException.BadRequest("Import request requires a 'name' field.");
        if (!ImageService.ImportMethods.Contains(name))
        {
            throw ApiException.BadRequest($"Unknown import method name '{(name.Length > 64 ? name[..64] : name)}'.");
        }

        foreach (var flag in new[] { "all_stores", "all_stores_must_succeed" })
        {
            if (body[flag] is { } given && given.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
            {
                throw ApiException.BadRequest($"'{flag}' must be boolean value only");
            }
        }

        // Glance with a single store refuses this, and ignores "stores" and "all_stores" (there is nothing to choose).
        if (body["all_stores_must_succeed"]?.GetValue<bool>() == false)
        {
            throw ApiException.BadRequest("All_stores_must_succeed can only be set with enabled_backends");
        }

        await images.ImportAsync(context, id, name, body, RequestId(http));
        return Results.Accepted();
    }

    /// <summary>GET /v2/info/usage: the caller's project's image storage as Glance's keystone-limits counts it (MiB and counts; -1 is no limit).</summary>
    private static async Task<IResult> UsageAsync(HttpContext http, ImageService images, Microsoft.Extensions.Options.IOptions<ImageOptions> options)
    {
        var usage = await images.UsageAsync(Authorize(http, "image:get_images"));
        var quota = options.Value.StorageQuotaBytes;
        static JsonObject Entry(long used, long limit) => new() { ["limit"] = limit, ["usage"] = used };
        return Json.Reply(new JsonObject
        {
            ["usage"] = new JsonObject
            {
                ["image_size_total"] = Entry(usage.StoredBytes >> 20, quota < 0 ? -1 : quota >> 20),
                ["image_stage_total"] = Entry(usage.StagedBytes >> 20, -1),
                ["image_count_total"] = Entry(usage.Images, -1),
                ["image_count_uploading"] = Entry(usage.Uploading, -1),
            },
        });
    }
}
