using System.Text.Json.Nodes;
using Ember.Server.Common;

namespace Ember.Server.Image;

public sealed partial class ImageService
{
    /// <summary>The import methods Ember offers: only glance-direct (no outbound fetches, one store to copy to).</summary>
    public static readonly string[] ImportMethods = ["glance-direct"];

    /// <summary>Glance's stage: the owner (or admin) sends a queued image's data to the staging area.</summary>
    public async Task StageAsync(RequestContext context, string id, Stream data, long? announcedSize, CancellationToken cancellationToken)
    {
        var image = await GetOwnedAsync(context, id, "modify");
        await store.StageAsync(image, data, announcedSize, cancellationToken);
    }

    /// <summary>
    /// Glance's import with glance-direct, checked in Glance's order (status, formats, then ownership): the image
    /// goes uploading → importing here, and active (or back to queued without its staged data) in the background.
    /// The import is recorded as Glance's api_image_import task of the image, with the request's id and body.
    /// </summary>
    public async Task ImportAsync(RequestContext context, string id, string method, JsonObject request, string requestId)
    {
        var image = await GetVisibleAsync(context, id);
        if (image.Status == "active")
        {
            throw ApiException.Conflict("Image with status active cannot be target for import");
        }

        if (image.Status != "uploading")
        {
            throw ApiException.Conflict($"Image needs to be staged before '{method}' method can be used");
        }

        if (image.ContainerFormat is null)
        {
            throw ApiException.Conflict("'container_format' needs to be set before import");
        }

        if (image.DiskFormat is null)
        {
            throw ApiException.Conflict("'disk_format' needs to be set before import");
        }

        image = await GetOwnedAsync(context, id, "modify");
        var quota = options.Value.StorageQuotaBytes;
        if (quota >= 0 && (await store.UsageAsync(image.Owner)).StoredBytes > quota)
        {
            // Glance checks image_size_total before it starts an import task: a 413, and the image stays staged.
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"Denying attempt to import image because it exceeds the quota: {quota} bytes allowed.");
        }

        // The status is the import lock: a second import of the same image finds it importing.
        if (!await store.TransitionAsync(id, "uploading", "importing"))
        {
            throw ApiException.Conflict($"New operation on image '{id}' is not permitted as prior operation is still in progress");
        }

        var task = await RecordImportTaskAsync(context, requestId, id, request);
        work.Run("image import", ("ImageId", id), async token =>
        {
            await tasks.StartAsync(task.Id);
            var failure = await store.ImportStagedAsync(image with { Status = "importing" }, token);
            await tasks.FinishAsync(task.Id, failure, ImageIdResult(id), TaskTimeToLive);
        }, onError: _ => tasks.FinishAsync(task.Id, InternalTaskError, null, TaskTimeToLive));
    }

    /// <summary>The caller's project's image storage, for /v2/info/usage.</summary>
    public Task<ImageUsage> UsageAsync(RequestContext context) =>
        store.UsageAsync(context.ProjectId ?? throw ApiException.Forbidden("A project-scoped token is required."));
}
