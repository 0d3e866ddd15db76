using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Image;

/// <summary>The Glance v2 subset: discovery, schemas, images, data upload and download, import, tags, deactivate/reactivate.</summary>
public static partial class ImageApi
{
    internal static readonly string[] DiskFormats = [.. Ember.Image.Format.DiskFormats.Names];
    internal static readonly string[] ContainerFormats = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
    internal static readonly string[] Visibilities = ["public", "private", "shared", "community"];

    public static void MapImageApi(this IEndpointRouteBuilder app)
    {
        var image = app.MapGroup("/image");
        image.MapGet("", Versions);
        image.MapGet("/versions", (HttpContext http) => Json.Reply(VersionsBody(http)));

        var v2 = image.MapGroup("/v2");
        v2.MapGet("/schemas/image", () => Json.Reply(ImageSchemas.Image()));
        v2.MapGet("/schemas/images", () => Json.Reply(ImageSchemas.Images()));
        v2.MapPost("/images", CreateAsync);
        v2.MapGet("/images", ListAsync);
        v2.MapGet("/images/{id}", ShowAsync);
        v2.MapMethods("/images/{id}", [HttpMethods.Patch], PatchAsync);
        v2.MapDelete("/images/{id}", DeleteAsync);
        v2.MapPut("/images/{id}/file", UploadAsync);
        v2.MapGet("/images/{id}/file", DownloadAsync);
        v2.MapPost("/images/{id}/actions/deactivate", async (HttpContext http, ImageService images, string id) =>
        {
            await images.DeactivateAsync(Authorize(http, "image:deactivate"), id);
            return Results.NoContent();
        });
        v2.MapPost("/images/{id}/actions/reactivate", async (HttpContext http, ImageService images, string id) =>
        {
            await images.ReactivateAsync(Authorize(http, "image:reactivate"), id);
            return Results.NoContent();
        });
        v2.MapPut("/images/{id}/tags/{tag}", AddTagAsync);
        v2.MapDelete("/images/{id}/tags/{tag}", RemoveTagAsync);
        MapMembers(v2);
        MapImport(v2);
        MapTasks(v2);
    }

    private static JsonObject VersionsBody(HttpContext http)
    {
        var list = new JsonArray();
        // Glance lists every minor version it speaks; clients pick the newest CURRENT one. 2.12 is the image's tasks
        // (GET /v2/images/{id}/tasks), which Tempest looks for before it checks an import's task.
        foreach (var (id, status) in new[] { ("v2.16", "CURRENT"), ("v2.15", "SUPPORTED"), ("v2.12", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.0", "SUPPORTED") })
        {
            list.Add(new JsonObject
            {
                ["id"] = id,
                ["status"] = status,
                ["links"] = new JsonArray(new JsonObject { ["rel"] = "self", ["href"] = $"{http.BaseUrl()}/image/v2/" }),
            });
        }

        return new JsonObject { ["versions"] = list };
    }

    private static IResult Versions(HttpContext http) => Json.Reply(VersionsBody(http), StatusCodes.Status300MultipleChoices);

    private static RequestContext Authorize(HttpContext http, string action)
    {
        var context = http.RequireProjectContext();
        http.Enforce(context, action);
        return context;
    }

    private static async Task<IResult> ShowAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:get_image");
        return Json.Reply(ImageJson.Of(await images.GetVisibleAsync(context, id)));
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:delete_image");
        await images.DeleteAsync(context, id);
        return Results.NoContent();
    }

    private static async Task<IResult> UploadAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:upload_image");
        long? declared = long.TryParse(http.Request.Headers["x-openstack-image-size"], out var s) ? s : null;
        await images.UploadAsync(context, id, http.Request.Body, declared, declared ?? http.Request.ContentLength, http.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> DownloadAsync(HttpContext http, ImageService images, ImageStore store, string id)
    {
        var context = Authorize(http, "image:download_image");
        var image = await images.GetVisibleAsync(context, id);
        ImageService.CheckDownload(context, image);
        if (image.Status is not ("active" or "deactivated") || await store.OpenDataAsync(id, http.RequestAborted) is not { } data)
        {
            return Results.NoContent();
        }

        if (image.Checksum is not null)
        {
            http.Response.Headers["Content-MD5"] = image.Checksum;
        }

        return Results.Stream(data, "application/octet-stream", enableRangeProcessing: true);
    }

    private static async Task<IResult> AddTagAsync(HttpContext http, ImageService images, string id, string tag)
    {
        await images.AddTagAsync(Authorize(http, "image:modify_image"), id, tag);
        return Results.NoContent();
    }

    private static async Task<IResult> RemoveTagAsync(HttpContext http, ImageService images, string id, string tag)
    {
        await images.RemoveTagAsync(Authorize(http, "image:modify_image"), id, tag);
        return Results.NoContent();
    }
}
