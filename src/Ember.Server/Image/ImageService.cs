using Ember.Image.Format;
using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>
/// Glance's rules in one place: who sees an image (also for compute and volume), who may change it, the metadata
/// quotas, protected images, uploads, and the check an image passes again before it is used. The API reads and
/// writes bodies; the store runs SQL and owns the files.
/// </summary>
public sealed partial class ImageService(ImageStore store, ImageMemberStore members, ImageTaskStore tasks, Policy policy, IOptions<ImageOptions> options,
    BackgroundWork work)
{
    /// <summary>Visible: the caller's own images, public and community ones; admins see all.</summary>
    public static bool CanSee(RequestContext context, ImageRow image) =>
        context.IsCloudAdmin || image.Owner == context.ProjectId || image.Visibility is "public" or "community";

    /// <summary>
    /// The image if the caller may see it: as <see cref="CanSee"/>, or a shared image the caller's project is a member
    /// of, whatever it answered (Glance); null otherwise (each API says "not found" in its own words).
    /// </summary>
    public async Task<ImageRow?> FindVisibleAsync(RequestContext context, string id) =>
        await store.FindAsync(id) is { } image && (CanSee(context, image) || await IsMemberAsync(context, image)) ? image : null;

    private async Task<bool> IsMemberAsync(RequestContext context, ImageRow image) =>
        image.Visibility == "shared" && context.ProjectId is { } project && await members.FindAsync(image.Id, project) is not null;

    /// <summary>The shared images the caller's project is a member of, with its answer to each.</summary>
    public async Task<IReadOnlyDictionary<string, string>> MembershipsAsync(RequestContext context) =>
        context.ProjectId is { } project ? await members.StatusesOfMemberAsync(project) : new Dictionary<string, string>();

    /// <summary>A visible image, or Glance's 404.</summary>
    public async Task<ImageRow> GetVisibleAsync(RequestContext context, string id) =>
        await FindVisibleAsync(context, id) ?? throw ApiException.NotFound($"No image found with ID {id}");

    /// <summary>The images the caller sees: <see cref="CanSee"/>, and shared ones its project is a member of (<paramref name="memberships"/>).</summary>
    public async Task<IEnumerable<ImageRow>> ListVisibleAsync(RequestContext context, IReadOnlyDictionary<string, string>? memberships = null) =>
        (await store.ListAsync()).Where(i => CanSee(context, i) || i.Visibility == "shared" && memberships?.ContainsKey(i.Id) == true);

    /// <summary>A visible image the caller may change (owner or admin); others get Glance's 403.</summary>
    public async Task<ImageRow> GetOwnedAsync(RequestContext context, string id, string action)
    {
        var image = await GetVisibleAsync(context, id);
        return context.IsCloudAdmin || image.Owner == context.ProjectId
            ? image
            : throw ApiException.Forbidden($"You are not permitted to {action} this image.");
    }

    /// <summary>Stores a new image record (queued, no data) after the quota and publicize checks.</summary>
    public async Task<ImageRow> CreateAsync(RequestContext context, ImageRow image)
    {
        CheckChange(context, image);
        await store.InsertAsync(image);
        return image;
    }

    /// <summary>Saves an image changed from what <see cref="GetOwnedAsync"/> returned, after the same checks as a new one.</summary>
    public async Task<ImageRow> UpdateAsync(RequestContext context, ImageRow image)
    {
        CheckChange(context, image);
        await store.UpdateAsync(image);
        // A delete racing the update leaves nothing to show: Glance's 404 rather than a null row.
        return await store.FindAsync(image.Id) ?? throw ApiException.NotFound($"No image found with ID {image.Id}");
    }

    public async Task DeleteAsync(RequestContext context, string id)
    {
        var image = await GetOwnedAsync(context, id, "delete");
        if (image.Protected)
        {
            throw ApiException.Forbidden($"Image {id} is protected and cannot be deleted.");
        }

        await store.DeleteAsync(id);
    }

    /// <summary>
    /// Glance's deactivate: an active image keeps its data, but only admins may download it and nothing boots or
    /// makes a volume from it (both need an active image). Deactivating a deactivated image changes nothing.
    /// </summary>
    public Task DeactivateAsync(RequestContext context, string id) => MoveAsync(context, id, "deactivate", "active", "deactivated");

    /// <summary>Glance's reactivate: back to active; reactivating an active image changes nothing.</summary>
    public Task ReactivateAsync(RequestContext context, string id) => MoveAsync(context, id, "reactivate", "deactivated", "active");

    private async Task MoveAsync(RequestContext context, string id, string action, string from, string to)
    {
        var image = await GetOwnedAsync(context, id, action);
        if (image.Status != to && !await store.TransitionAsync(id, from, to))
        {
            // Glance's InvalidImageStatusTransition: a 400 (queued, saving, or moved by someone else meanwhile).
            var now = (await store.FindAsync(id))?.Status ?? image.Status;
            throw ApiException.BadRequest($"Not allowed to {action} image in status '{now}'");
        }
    }

    /// <summary>Who may read an image's data: nobody but admins once it is deactivated (Glance's 403).</summary>
    public static void CheckDownload(RequestContext context, ImageRow image)
    {
        if (image.Status == "deactivated" && !context.IsCloudAdmin)
        {
            throw ApiException.Forbidden("The requested image has been deactivated. Image data download is forbidden.");
        }
    }

    public async Task AddTagAsync(RequestContext context, string id, string tag)
    {
        CheckTagLength(tag);
        var image = await GetOwnedAsync(context, id, "modify");
        var tags = ImageJson.TagsOf(image);
        if (!tags.Contains(tag))
        {
            tags.Add(tag);
            CheckTagQuota(tags.Count);
            await store.UpdateAsync(image with { Tags = ImageJson.TagsText(tags) });
        }
    }

    public async Task RemoveTagAsync(RequestContext context, string id, string tag)
    {
        var image = await GetOwnedAsync(context, id, "modify");
        var tags = ImageJson.TagsOf(image);
        if (!tags.Remove(tag))
        {
            throw ApiException.NotFound($"Tag {tag} not found");
        }

        await store.UpdateAsync(image with { Tags = ImageJson.TagsText(tags) });
    }

    /// <summary>Streams the image data in; <paramref name="announcedSize"/> lets the storage quota refuse before reading.</summary>
    public async Task UploadAsync(RequestContext context, string id, Stream data, long? declaredSize, long? announcedSize, CancellationToken cancellationToken)
    {
        var image = await GetOwnedAsync(context, id, "upload data to");
        if (image.DiskFormat is null || image.ContainerFormat is null)
        {
            throw ApiException.BadRequest("Properties disk_format, container_format must be set prior to saving data.");
        }

        await store.UploadAsync(image, data, declaredSize, announcedSize, cancellationToken);
    }

    /// <summary>
    /// Fills a queued image with data that <paramref name="produce"/> writes to a new file first (a volume's data in the
    /// image's disk_format); the file then becomes the image's data with every check of an upload, without another copy.
    /// </summary>
    public async Task UploadFromFileAsync(RequestContext context, string id, Func<string, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var image = await GetOwnedAsync(context, id, "upload data to");
        var staged = store.NewStagingPath(id);
        try
        {
            await produce(staged, cancellationToken);
            await store.UploadStagedAsync(image, staged, cancellationToken);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    /// <summary>Removes an image the service itself made and could not finish (its data, then its row), whatever its flags.</summary>
    public Task DiscardAsync(string id) => store.DeleteAsync(id);

    /// <summary>Where an active image's data is, checked again before a volume or a server uses it.</summary>
    public async Task<(ImageLocation Location, ImageInspection Inspection)> PrepareForUseAsync(ImageRow image, CancellationToken cancellationToken) =>
        (store.LocationOf(image), await store.VerifyAsync(image, cancellationToken));

    /// <summary>A tag is at most 255 characters (Glance's schema).</summary>
    public static void CheckTagLength(string tag)
    {
        if (tag.Length > 255)
        {
            throw ApiException.BadRequest("Provided object does not match schema 'image': 'tags' is too long");
        }
    }

    private void CheckChange(RequestContext context, ImageRow image)
    {
        if (image.Visibility == "public")
        {
            policy.Enforce(context, "image:publicize_image");
        }

        var limits = options.Value;
        var properties = ImageJson.PropertiesOf(image).Count;
        if (limits.PropertyQuota >= 0 && properties > limits.PropertyQuota)
        {
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"The limit has been exceeded on the number of allowed image properties. Attempted: {properties}, Maximum: {limits.PropertyQuota}");
        }

        CheckTagQuota(ImageJson.TagsOf(image).Count);
    }

    /// <summary>Glance's image_tag_quota: 413 with Glance's message, nothing written.</summary>
    private void CheckTagQuota(int tags)
    {
        var limit = options.Value.TagQuota;
        if (limit >= 0 && tags > limit)
        {
            throw new ApiException(ErrorKind.RequestTooLarge,
                $"The limit has been exceeded on the number of allowed image tags. Attempted: {tags}, Maximum: {limit}");
        }
    }
}
