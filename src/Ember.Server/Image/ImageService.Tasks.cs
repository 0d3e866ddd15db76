using System.Text.Json.Nodes;
using Ember.Server.Common;

namespace Ember.Server.Image;

/// <summary>
/// Glance's tasks: the legacy "import" task of POST /v2/tasks, and the "api_image_import" task each interoperable
/// import records. Ember fetches nothing from the web: an import task takes its data only from an image of this
/// cloud's own Image API (<c>{image endpoint}/v2/images/{id}/file</c>); any other source ends the task in failure with
/// Glance's message.
/// </summary>
public sealed partial class ImageService
{
    /// <summary>Glance's message for a task that failed for a reason it does not put in words.</summary>
    public const string InternalTaskError = "Task failed due to Internal Error";

    /// <summary>The input keys Glance's legacy import requires (unpack_task_input).</summary>
    private static readonly string[] s_importInputKeys = ["import_from", "import_from_format", "image_properties"];

    private TimeSpan TaskTimeToLive => TimeSpan.FromHours(options.Value.TaskTimeToLiveHours);

    /// <summary>
    /// POST /v2/tasks with type "import": records the task (pending) and runs it in the background: it makes a new image
    /// from <c>image_properties</c> owned by the caller's project and copies into it the data of the image
    /// <c>import_from</c> names, with every check of an upload. <paramref name="newImage"/> builds the image record as
    /// POST /v2/images would from the same properties.
    /// </summary>
    public async Task<ImageTaskRow> CreateImportTaskAsync(RequestContext context, string requestId, JsonObject? input, string imageEndpoint,
        Func<JsonObject, ImageRow> newImage)
    {
        var task = NewTask("import", context, requestId, input, imageId: null);
        await tasks.InsertAsync(task);
        work.Run("image task", ("TaskId", task.Id), async token =>
        {
            await tasks.StartAsync(task.Id);
            string? failure = null;
            string? imageId = null;
            try
            {
                imageId = await ImportFromAsync(context, input, imageEndpoint, newImage, token);
            }
            catch (ApiException e)
            {
                failure = e.Message;
            }

            await tasks.FinishAsync(task.Id, failure, ImageIdResult(imageId), TaskTimeToLive);
        }, onError: _ => tasks.FinishAsync(task.Id, InternalTaskError, null, TaskTimeToLive));
        return task;
    }

    /// <summary>A task the caller may see: its own project's, or any for the admin; Glance's 404 and 403 otherwise.</summary>
    public async Task<ImageTaskRow> GetTaskAsync(RequestContext context, string id)
    {
        var task = await tasks.FindAsync(id) ?? throw ApiException.NotFound($"Task with the given id {id} was not found");
        return context.IsCloudAdmin || task.Owner == context.ProjectId
            ? task
            : throw ApiException.Forbidden($"Forbidding request, task {id} is not visible");
    }

    /// <summary>The tasks the caller sees: its project's; the admin's are all of them (Glance's task list).</summary>
    public Task<IReadOnlyList<ImageTaskRow>> ListTasksAsync(RequestContext context) =>
        tasks.ListAsync(context.IsCloudAdmin ? null : context.ProjectId ?? throw ApiException.Forbidden("A project-scoped token is required."));

    /// <summary>GET /v2/images/{id}/tasks: the tasks of an image the caller may see (else Glance's 404), as far as the caller may see them.</summary>
    public async Task<IEnumerable<ImageTaskRow>> ListImageTasksAsync(RequestContext context, string imageId)
    {
        var image = await GetVisibleAsync(context, imageId);
        return (await tasks.ListOfImageAsync(image.Id)).Where(t => context.IsCloudAdmin || t.Owner == context.ProjectId);
    }

    /// <summary>The legacy import's work; returns the new image's id, or throws the failure the task records.</summary>
    private async Task<string> ImportFromAsync(RequestContext context, JsonObject? input, string imageEndpoint, Func<JsonObject, ImageRow> newImage,
        CancellationToken cancellationToken)
    {
        if (s_importInputKeys.FirstOrDefault(k => input?.ContainsKey(k) != true) is { } missing)
        {
            throw ApiException.BadRequest($"Input does not contain '{missing}' field");
        }

        var sourceId = OwnImageFileId(input!["import_from"], imageEndpoint);
        var source = await GetVisibleAsync(context, sourceId);
        CheckDownload(context, source);
        if (source.Status != "active")
        {
            throw ApiException.BadRequest($"Image {sourceId} to import from is {source.Status}, not active: it has no data to import.");
        }

        var properties = input["image_properties"] as JsonObject
            ?? throw ApiException.BadRequest("Input field 'image_properties' must be an object.");
        properties = (JsonObject)properties.DeepClone();
        if (properties.Count == 0)
        {
            // Glance's set_base_image_properties: an import that says nothing about its image makes a bare qcow2 one.
            properties["disk_format"] = "qcow2";
            properties["container_format"] = "bare";
        }

        var image = await CreateAsync(context, newImage(properties));
        try
        {
            await using var data = await store.OpenDataAsync(sourceId, cancellationToken)
                ?? throw ApiException.BadRequest($"Image {sourceId} to import from has no data.");
            await UploadAsync(context, image.Id, data, source.Size, source.Size, cancellationToken);
            return image.Id;
        }
        catch
        {
            // Glance's import flow reverts by deleting the image it made.
            await store.DeleteAsync(image.Id);
            throw;
        }
    }

    /// <summary>
    /// The id of the image whose data <paramref name="importFrom"/> names, when it is this cloud's own image data URL;
    /// otherwise Glance's refusal of the URI, in Glance's words (file URIs, other schemes, and its import filter).
    /// </summary>
    internal static string OwnImageFileId(JsonNode? importFrom, string imageEndpoint)
    {
        var uri = importFrom is JsonValue v && v.TryGetValue(out string? text) ? text : null;
        if (string.IsNullOrEmpty(uri))
        {
            throw ApiException.BadRequest($"Invalid location: {(uri is null ? "None" : uri)}");
        }

        if (uri.StartsWith("file:///", StringComparison.Ordinal) || uri.StartsWith("filesystem:///", StringComparison.Ordinal))
        {
            throw ApiException.BadRequest("File based imports are not allowed. Please use a non-local source of image data.");
        }

        if (!uri.StartsWith("http://", StringComparison.Ordinal) && !uri.StartsWith("https://", StringComparison.Ordinal))
        {
            throw ApiException.BadRequest("The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']");
        }

        var prefix = imageEndpoint.TrimEnd('/') + "/v2/images/";
        const string suffix = "/file";
        if (uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && uri.EndsWith(suffix, StringComparison.Ordinal)
            && uri[prefix.Length..^suffix.Length] is var id && Ids.IsUuid(id) && id.Length == 36)
        {
            return id;
        }

        // Ember's import filter: only its own Image API, which it reads without a web request.
        throw ApiException.BadRequest($"URI for legacy import task does not pass filtering: {uri}");
    }

    /// <summary>Records the api_image_import task of an interoperable import (Glance's input: image_id, import_req, backend).</summary>
    private async Task<ImageTaskRow> RecordImportTaskAsync(RequestContext context, string requestId, string imageId, JsonObject importRequest)
    {
        var input = new JsonObject
        {
            ["image_id"] = imageId,
            ["import_req"] = importRequest.DeepClone(),
            // One store: Glance's single-store import names the default store as [None].
            ["backend"] = new JsonArray((JsonNode?)null),
        };
        var task = NewTask("api_image_import", context, requestId, input, imageId);
        await tasks.InsertAsync(task);
        return task;
    }

    private static ImageTaskRow NewTask(string type, RequestContext context, string requestId, JsonObject? input, string? imageId)
    {
        var now = Ids.Now();
        return new ImageTaskRow
        {
            Id = Ids.NewUuid(),
            Type = type,
            Status = "pending",
            Owner = context.ProjectId ?? throw ApiException.Forbidden("A project-scoped token is required."),
            ImageId = imageId,
            UserId = context.UserId,
            RequestId = requestId,
            Input = input?.ToJsonString() ?? "null",
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    private static string? ImageIdResult(string? imageId) => imageId is null ? null : new JsonObject { ["image_id"] = imageId }.ToJsonString();

    /// <summary>At start: tasks a stop interrupted end in failure (the import itself was put right by <see cref="ImageStore.RecoverStagingAsync"/>).</summary>
    public Task<int> FailInterruptedTasksAsync() =>
        tasks.FailUnfinishedAsync("Ember stopped while this task ran; it did not finish.", TaskTimeToLive);
}
