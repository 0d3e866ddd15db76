using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

/// <summary>Keystone's project tags: at most 80 a project, each 1–255 characters without '/' or ','; the list filters.</summary>
internal static class ProjectTags
{
    public const int MaxTags = 80;

    public static string Check(string tag) => tag.Length is > 0 and <= 255 && !tag.Contains('/') && !tag.Contains(',')
        ? tag
        : throw ApiException.BadRequest($"Invalid project tag: {(tag.Length > 64 ? tag[..64] + "..." : tag)}. A tag has 1 to 255 characters and no '/' or ','.");

    /// <summary>"tags" of a project body: absent (null), or a list of valid tags (duplicates dropped).</summary>
    public static IReadOnlyList<string>? Read(JsonObject body)
    {
        if (!body.ContainsKey("tags"))
        {
            return null;
        }

        if (body["tags"] is not JsonArray array)
        {
            throw ApiException.BadRequest("Invalid input for field 'tags': expected a list of strings.");
        }

        var tags = array.Select(t => t is JsonValue v && v.TryGetValue(out string? text)
            ? Check(text)
            : throw ApiException.BadRequest("Invalid input for field 'tags': expected a list of strings.")).Distinct(StringComparer.Ordinal).ToList();
        return tags.Count <= MaxTags ? tags : throw ApiException.BadRequest($"A project has at most {MaxTags} tags.");
    }

    /// <summary>tags (all of them), tags-any (one of them), not-tags (not all of them), not-tags-any (none of them); comma-separated.</summary>
    public static bool Matches(IQueryCollection query, IReadOnlyCollection<string> tags)
    {
        static string[] Wanted(IQueryCollection query, string key) =>
            query.TryGetValue(key, out var value) ? value.ToString().Split(',', StringSplitOptions.RemoveEmptyEntries) : [];

        var all = Wanted(query, "tags");
        var any = Wanted(query, "tags-any");
        var notAll = Wanted(query, "not-tags");
        var notAny = Wanted(query, "not-tags-any");
        return all.All(tags.Contains)
            && (any.Length == 0 || any.Any(tags.Contains))
            && (notAll.Length == 0 || !notAll.All(tags.Contains))
            && !notAny.Any(tags.Contains);
    }
}

public sealed partial class IdentityStore
{
    public async Task<IReadOnlyList<string>> TagsOfProjectAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT tag FROM project_tags WHERE project_id = @Id ORDER BY tag", new { Id = projectId })];
    }

    /// <summary>Every project's tags (the list filters read them all at once).</summary>
    public async Task<IReadOnlyDictionary<string, List<string>>> AllProjectTagsAsync()
    {
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<(string ProjectId, string Tag)>("SELECT project_id, tag FROM project_tags ORDER BY tag");
        return rows.GroupBy(r => r.ProjectId).ToDictionary(g => g.Key, g => g.Select(r => r.Tag).ToList(), StringComparer.Ordinal);
    }

    public async Task SetProjectTagsAsync(string projectId, IReadOnlyList<string> tags)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("DELETE FROM project_tags WHERE project_id = @Id", new { Id = projectId }, tx);
        foreach (var tag in tags)
        {
            await c.ExecuteAsync("INSERT INTO project_tags (project_id, tag) VALUES (@Id, @Tag)", new { Id = projectId, Tag = tag }, tx);
        }

        await tx.CommitAsync();
    }

    public async Task<bool> RemoveProjectTagAsync(string projectId, string tag)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM project_tags WHERE project_id = @Id AND tag = @Tag", new { Id = projectId, Tag = tag }) > 0;
    }
}

public sealed partial class IdentityService
{
    public Task<IReadOnlyDictionary<string, List<string>>> ProjectTagsAsync() => store.AllProjectTagsAsync();

    public Task<IReadOnlyList<string>> TagsOfProjectAsync(string projectId) => store.TagsOfProjectAsync(projectId);

    public async Task SetProjectTagsAsync(string projectId, IReadOnlyList<string> tags)
    {
        _ = await GetProjectAsync(projectId);
        await store.SetProjectTagsAsync(projectId, tags);
    }

    public async Task AddProjectTagAsync(string projectId, string tag)
    {
        var tags = (await TagsOfProjectAsync(projectId)).ToList();
        if (!tags.Contains(tag))
        {
            tags.Add(ProjectTags.Check(tag));
            await SetProjectTagsAsync(projectId, tags.Count <= ProjectTags.MaxTags ? tags : throw ApiException.BadRequest($"A project has at most {ProjectTags.MaxTags} tags."));
        }
    }

    public async Task CheckProjectTagAsync(string projectId, string tag)
    {
        _ = await GetProjectAsync(projectId);
        if (!(await TagsOfProjectAsync(projectId)).Contains(tag))
        {
            throw ApiException.NotFound($"Could not find project tag: {tag}.");
        }
    }

    public async Task RemoveProjectTagAsync(string projectId, string tag)
    {
        _ = await GetProjectAsync(projectId);
        if (!await store.RemoveProjectTagAsync(projectId, tag))
        {
            throw ApiException.NotFound($"Could not find project tag: {tag}.");
        }
    }
}

public static partial class IdentityApi
{
    private static void MapProjectTags(RouteGroupBuilder v3)
    {
        v3.MapGet("/projects/{id}/tags", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            if (context.ProjectId != id)
            {
                http.Enforce(context, "identity:get_project_tags");
            }

            _ = await identity.GetProjectAsync(id);
            return Json.Reply(new JsonObject { ["tags"] = new JsonArray([.. (await identity.TagsOfProjectAsync(id)).Select(t => (JsonNode)t)]) });
        });
        v3.MapPut("/projects/{id}/tags", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_project_tags");
            var tags = ProjectTags.Read(await Json.ReadObjectAsync(http.Request, http.RequestAborted))
                ?? throw ApiException.BadRequest("'tags' is a required property");
            await identity.SetProjectTagsAsync(id, tags);
            return Json.Reply(new JsonObject { ["tags"] = new JsonArray([.. tags.Select(t => (JsonNode)t)]) });
        });
        v3.MapDelete("/projects/{id}/tags", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_project_tags");
            await identity.SetProjectTagsAsync(id, []);
            return Results.NoContent();
        });
        v3.MapMethods("/projects/{id}/tags/{tag}", [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, IdentityService identity, string id, string tag) =>
        {
            var context = http.RequireContext();
            if (context.ProjectId != id)
            {
                http.Enforce(context, "identity:get_project_tag");
            }

            await identity.CheckProjectTagAsync(id, tag);
            return Results.NoContent();
        });
        v3.MapPut("/projects/{id}/tags/{tag}", async (HttpContext http, IdentityService identity, string id, string tag) =>
        {
            Authorize(http, "identity:create_project_tag");
            await identity.AddProjectTagAsync(id, tag);
            http.Response.Headers.Location = $"{http.BaseUrl()}/identity/v3/projects/{id}/tags/{Uri.EscapeDataString(tag)}";
            return Results.StatusCode(StatusCodes.Status201Created);
        });
        v3.MapDelete("/projects/{id}/tags/{tag}", async (HttpContext http, IdentityService identity, string id, string tag) =>
        {
            Authorize(http, "identity:delete_project_tag");
            await identity.RemoveProjectTagAsync(id, tag);
            return Results.NoContent();
        });
    }
}
