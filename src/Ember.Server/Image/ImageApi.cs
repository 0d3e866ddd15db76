using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>The Glance v2 subset: discovery, schemas, images, data upload and download, tags.</summary>
public static partial class ImageApi
{
    internal static readonly string[] DiskFormats = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];
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
        v2.MapPut("/images/{id}/tags/{tag}", AddTagAsync);
        v2.MapDelete("/images/{id}/tags/{tag}", RemoveTagAsync);
    }

    private static JsonObject VersionsBody(HttpContext http)
    {
        var list = new JsonArray();
        // Glance lists every minor version it speaks; clients pick the newest CURRENT one.
        foreach (var (id, status) in new[] { ("v2.16", "CURRENT"), ("v2.15", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.0", "SUPPORTED") })
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
        Policy.Enforce(context, action);
        return context;
    }

    /// <summary>Visible: the caller's own images, public and community ones; admins see all.</summary>
    private static bool CanSee(RequestContext context, ImageRow image) =>
        context.IsCloudAdmin || image.Owner == context.ProjectId || image.Visibility is "public" or "community";

    private static async Task<ImageRow> FindVisibleAsync(ImageStore store, RequestContext context, string id)
    {
        var image = await store.FindAsync(id);
        return image is not null && CanSee(context, image) ? image : throw ApiException.NotFound($"No image found with ID {id}");
    }

    /// <summary>Changing an image needs ownership (or admin); others get 403 as in Glance.</summary>
    private static void RequireOwner(RequestContext context, ImageRow image, string action)
    {
        if (!context.IsCloudAdmin && image.Owner != context.ProjectId)
        {
            throw ApiException.Forbidden($"You are not permitted to {action} this image.");
        }
    }

    private static async Task<IResult> ShowAsync(HttpContext http, ImageStore store, string id)
    {
        var context = Authorize(http, "image:get_image");
        return Json.Reply(ImageJson.Of(await FindVisibleAsync(store, context, id)));
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, ImageStore store, string id)
    {
        var context = Authorize(http, "image:delete_image");
        var image = await FindVisibleAsync(store, context, id);
        RequireOwner(context, image, "delete");
        if (image.Protected)
        {
            throw ApiException.Forbidden($"Image {id} is protected and cannot be deleted.");
        }

        await store.DeleteAsync(id);
        return Results.NoContent();
    }

    private static async Task<IResult> UploadAsync(HttpContext http, ImageStore store, string id)
    {
        var context = Authorize(http, "image:upload_image");
        var image = await FindVisibleAsync(store, context, id);
        RequireOwner(context, image, "upload data to");
        if (image.DiskFormat is null || image.ContainerFormat is null)
        {
            throw ApiException.BadRequest("Properties disk_format, container_format must be set prior to saving data.");
        }

        long? declared = long.TryParse(http.Request.Headers["x-openstack-image-size"], out var s) ? s : null;
        await store.UploadAsync(image, http.Request.Body, declared, declared ?? http.Request.ContentLength, http.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> DownloadAsync(HttpContext http, ImageStore store, string id)
    {
        var context = Authorize(http, "image:download_image");
        var image = await FindVisibleAsync(store, context, id);
        var path = store.FileOf(id);
        if (image.Status != "active" || !File.Exists(path))
        {
            return Results.NoContent();
        }

        if (image.Checksum is not null)
        {
            http.Response.Headers["Content-MD5"] = image.Checksum;
        }

        return Results.File(path, "application/octet-stream", enableRangeProcessing: true);
    }

    private static async Task<IResult> AddTagAsync(HttpContext http, ImageStore store, IOptions<EmberOptions> options, string id, string tag)
    {
        var context = Authorize(http, "image:modify_image");
        var image = await FindVisibleAsync(store, context, id);
        RequireOwner(context, image, "modify");
        var tags = ImageJson.TagsOf(image);
        if (!tags.Contains(CheckTag(tag)))
        {
            tags.Add(tag);
            CheckTagQuota(options.Value.Image, tags.Count);
            await store.UpdateAsync(image with { Tags = ImageJson.TagsText(tags) });
        }

        return Results.NoContent();
    }

    private static async Task<IResult> RemoveTagAsync(HttpContext http, ImageStore store, string id, string tag)
    {
        var context = Authorize(http, "image:modify_image");
        var image = await FindVisibleAsync(store, context, id);
        RequireOwner(context, image, "modify");
        var tags = ImageJson.TagsOf(image);
        if (!tags.Remove(tag))
        {
            throw ApiException.NotFound($"Tag {tag} not found");
        }

        await store.UpdateAsync(image with { Tags = ImageJson.TagsText(tags) });
        return Results.NoContent();
    }
}
