using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

/// <summary>Server tags (2.26) and server metadata (/servers/{id}/metadata), with Nova's limits and messages.</summary>
public static partial class ComputeApi
{
    /// <summary>Nova's per-server tag limit and tag length.</summary>
    private const int MaxServerTags = 50;

    private const int MaxTagLength = 60;

    private static readonly string[] s_taggableStates = [VmStates.Active, VmStates.Paused, VmStates.Suspended, VmStates.Stopped, VmStates.Error];

    private static void MapServerTags(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/tags", async (HttpContext http, ComputeStore store, string id) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "index");
            return Json.Reply(new JsonObject { ["tags"] = TagArray(await store.ListTagsAsync(server.Id)) });
        });
        v21.MapPut("/servers/{id}/tags", async (HttpContext http, ComputeStore store, string id) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "update_all", mutate: true);
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            if (body["tags"] is not JsonArray list || list.Any(t => t is not JsonValue v || !v.TryGetValue(out string? _)))
            {
                throw ApiException.BadRequest("Invalid input for field/attribute tags. 'tags' must be a list of strings.");
            }

            var tags = list.Select(t => ValidTag(t!.GetValue<string>())).Distinct(StringComparer.Ordinal).ToList();
            if (tags.Count > MaxServerTags)
            {
                throw ApiException.BadRequest($"The number of tags exceeded the per-server limit {MaxServerTags}");
            }

            await store.ReplaceTagsAsync(server.Id, tags);
            return Json.Reply(new JsonObject { ["tags"] = TagArray(await store.ListTagsAsync(server.Id)) });
        });
        v21.MapDelete("/servers/{id}/tags", async (HttpContext http, ComputeStore store, string id) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "delete_all", mutate: true);
            await store.RemoveTagAsync(server.Id, null);
            return Results.NoContent();
        });
        v21.MapGet("/servers/{id}/tags/{tag}", async (HttpContext http, ComputeStore store, string id, string tag) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "show");
            return (await store.ListTagsAsync(server.Id)).Contains(tag)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Instance {server.Id} has no tag '{tag}'");
        });
        v21.MapPut("/servers/{id}/tags/{tag}", async (HttpContext http, ComputeStore store, string id, string tag) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "update", mutate: true);
            var existing = await store.ListTagsAsync(server.Id);
            if (existing.Contains(ValidTag(tag)))
            {
                return Results.NoContent();
            }

            if (existing.Count >= MaxServerTags)
            {
                throw ApiException.BadRequest($"The number of tags exceeded the per-server limit {MaxServerTags}");
            }

            await store.AddTagAsync(server.Id, tag);
            http.Response.Headers.Location = $"{http.BaseUrl()}/compute/v2.1/servers/{server.Id}/tags/{Uri.EscapeDataString(tag)}";
            return Results.StatusCode(StatusCodes.Status201Created);
        });
        v21.MapDelete("/servers/{id}/tags/{tag}", async (HttpContext http, ComputeStore store, string id, string tag) =>
        {
            var (_, server) = await TagsServerAsync(http, store, id, "delete", mutate: true);
            return await store.RemoveTagAsync(server.Id, tag)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Instance {server.Id} has no tag '{tag}'");
        });
    }

    /// <summary>The server behind a tags request: 404 below 2.26 (the route does not exist there), 409 while it builds.</summary>
    private static async Task<(RequestContext Context, ServerRow Server)> TagsServerAsync(HttpContext http, ComputeStore store, string id, string action,
        bool mutate = false)
    {
        if (!ComputeVersion.Of(http).AtLeast(26))
        {
            throw ApiException.NotFound("The resource could not be found.");
        }

        var context = Authorize(http, "os_compute_api:os-server-tags:" + action);
        var server = await FindServerAsync(store, context, id);
        if (mutate && !s_taggableStates.Contains(server.VmState))
        {
            throw ComputeService.InvalidState(server with { TaskState = null }, "update tags");
        }

        return (context, server);
    }

    private static JsonArray TagArray(IEnumerable<string> tags) => new([.. tags.Select(t => (JsonNode)t)]);

    /// <summary>Nova's tag: 1 to 60 characters, neither '/' nor ','.</summary>
    private static string ValidTag(string tag) =>
        tag.Length is > 0 and <= MaxTagLength && !tag.Contains('/', StringComparison.Ordinal) && !tag.Contains(',', StringComparison.Ordinal)
            ? tag
            : throw ApiException.BadRequest($"Invalid input for field/attribute tags. Value: {tag}. A tag is 1 to {MaxTagLength} characters without '/' or ','.");

    private static readonly string[] s_metadataStates = [VmStates.Active, VmStates.Paused, VmStates.Suspended, VmStates.Stopped];

    private static void MapServerMetadata(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/metadata", async (HttpContext http, ComputeStore store, string id) =>
        {
            var server = await FindServerAsync(store, Authorize(http, "os_compute_api:server-metadata:index"), id);
            return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(MetadataOf(server)) });
        });
        // POST merges, PUT replaces; both answer the whole metadata.
        v21.MapPost("/servers/{id}/metadata", (HttpContext http, ComputeStore store, string id) => UpdateMetadataAsync(http, store, id, replace: false));
        v21.MapPut("/servers/{id}/metadata", (HttpContext http, ComputeStore store, string id) => UpdateMetadataAsync(http, store, id, replace: true));
        v21.MapGet("/servers/{id}/metadata/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            var server = await FindServerAsync(store, Authorize(http, "os_compute_api:server-metadata:show"), id);
            return MetadataOf(server).TryGetValue(key, out var value)
                ? Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = value } })
                : throw ApiException.NotFound("Metadata item was not found");
        });
        v21.MapPut("/servers/{id}/metadata/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            var context = Authorize(http, "os_compute_api:server-metadata:update");
            var server = await FindServerAsync(store, context, id);
            var meta = Json.OptionalStringMap(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "meta")
                ?? throw ApiException.BadRequest("Malformed request body: 'meta' is a required property");
            if (meta.Count > 1)
            {
                throw ApiException.BadRequest("Request body contains too many items");
            }

            if (!meta.TryGetValue(key, out var value))
            {
                throw ApiException.BadRequest("Request body and URI mismatch");
            }

            var metadata = MetadataOf(server);
            metadata[key] = value;
            await SaveMetadataAsync(store, context, server, metadata);
            return Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = value } });
        });
        v21.MapDelete("/servers/{id}/metadata/{key}", async (HttpContext http, ComputeStore store, string id, string key) =>
        {
            var context = Authorize(http, "os_compute_api:server-metadata:delete");
            var server = await FindServerAsync(store, context, id);
            var metadata = MetadataOf(server);
            if (!metadata.Remove(key))
            {
                throw ApiException.NotFound("Metadata item was not found");
            }

            await SaveMetadataAsync(store, context, server, metadata);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> UpdateMetadataAsync(HttpContext http, ComputeStore store, string id, bool replace)
    {
        var context = Authorize(http, replace ? "os_compute_api:server-metadata:update_all" : "os_compute_api:server-metadata:create");
        var server = await FindServerAsync(store, context, id);
        var given = Json.OptionalStringMap(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "metadata")
            ?? throw ApiException.BadRequest("Malformed request body: 'metadata' is a required property");
        var metadata = replace ? given : MetadataOf(server);
        if (!replace)
        {
            foreach (var (key, value) in given)
            {
                metadata[key] = value;
            }
        }

        await SaveMetadataAsync(store, context, server, metadata);
        return Json.Reply(new JsonObject { ["metadata"] = Json.ToJson(metadata) });
    }

    /// <summary>Nova's update_instance_metadata: the lock, a settled state, then the limits of a create.</summary>
    private static async Task SaveMetadataAsync(ComputeStore store, RequestContext context, ServerRow server, Dictionary<string, string> metadata)
    {
        ComputeService.RequireUnlocked(context, server);
        ComputeService.RequireState(server, "update metadata", s_metadataStates);
        await store.UpdateServerAsync(server with { Metadata = JsonSerializer.Serialize(Limits.NovaMetadata(metadata)) });
    }

    private static Dictionary<string, string> MetadataOf(ServerRow server) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(server.Metadata) ?? [];
}
