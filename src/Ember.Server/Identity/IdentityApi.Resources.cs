using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

public static partial class IdentityApi
{
    private static RequestContext Authorize(HttpContext http, string action)
    {
        var context = http.RequireContext();
        http.Enforce(context, action);
        return context;
    }

    private static void MapProjects(RouteGroupBuilder v3)
    {
        v3.MapGet("/projects", async (HttpContext http, IdentityService identity, string? name, string? domain_id) =>
        {
            Authorize(http, "identity:list_projects");
            var query = http.Request.Query;
            if (query.ContainsKey("is_domain") && Json.ParseBoolean(query["is_domain"]) != false)
            {
                // The projects acting as domains: every domain.
                var domains = (await identity.ListDomainsAsync()).Where(d => IdentityFilter.Text(query, "name", d.Name)
                    && IdentityFilter.Flag(query, "enabled", d.Enabled) && !query.ContainsKey("domain_id") && !query.ContainsKey("parent_id"));
                return Json.Reply(new JsonObject
                {
                    ["projects"] = new JsonArray([.. domains.Select(d => (JsonNode)DomainAsProjectJson(http, d))]),
                    ["links"] = Links(http, "/projects"),
                });
            }

            var tagged = await identity.ProjectTagsAsync();
            var rows = (await identity.ListProjectsAsync(name, domain_id)).Where(p => IdentityFilter.Text(query, "name", p.Name)
                && IdentityFilter.Text(query, "domain_id", p.DomainId) && IdentityFilter.Flag(query, "enabled", p.Enabled)
                && IdentityFilter.Text(query, "parent_id", p.ParentId ?? p.DomainId)
                && ProjectTags.Matches(query, tagged.GetValueOrDefault(p.Id) ?? []));
            return Json.Reply(new JsonObject
            {
                ["projects"] = new JsonArray([.. rows.Select(p => (JsonNode)ProjectJson(http, p, tagged.GetValueOrDefault(p.Id)))]),
                ["links"] = Links(http, "/projects"),
            });
        });
        v3.MapGet("/projects/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            // A user may always read the project of their own token.
            if (context.ProjectId != id)
            {
                http.Enforce(context, "identity:get_project");
            }

            if (await identity.FindProjectAsync(id) is null && await identity.FindDomainAsync(id) is { } domain)
            {
                return Json.Reply(new JsonObject { ["project"] = DomainAsProjectJson(http, domain) });
            }

            var project = await identity.GetProjectAsync(id);
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project, await identity.TagsOfProjectAsync(id)) });
        });
        v3.MapPost("/projects", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            if (Json.OptionalBoolean(body, "is_domain") == true)
            {
                return await CreateDomainAsProjectAsync(http, identity, body);
            }

            var project = await identity.CreateProjectAsync(new ProjectCreate(RequireName(body, ProjectNameMaxLength), Json.OptionalString(body, "domain_id"),
                Json.OptionalString(body, "description"), Json.OptionalBoolean(body, "enabled") ?? true, BoundedText(body, "parent_id", 64)));
            var tags = ProjectTags.Read(body);
            if (tags is not null)
            {
                await identity.SetProjectTagsAsync(project.Id, tags);
            }

            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project, tags) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/projects/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            if (await identity.FindProjectAsync(id) is null && await identity.FindDomainAsync(id) is not null)
            {
                return Json.Reply(new JsonObject { ["project"] = DomainAsProjectJson(http, await identity.UpdateDomainAsync(id, DomainUpdateOf(body))) });
            }

            var project = await identity.UpdateProjectAsync(id, new ProjectUpdate(OptionalName(body, ProjectNameMaxLength), Json.OptionalField(body, "description"),
                Json.OptionalBoolean(body, "enabled")));
            if (ProjectTags.Read(body) is { } tags)
            {
                await identity.SetProjectTagsAsync(id, tags);
            }

            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project, await identity.TagsOfProjectAsync(id)) });
        });
        v3.MapDelete("/projects/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_project");
            if (await identity.FindProjectAsync(id) is null && await identity.FindDomainAsync(id) is not null)
            {
                await identity.DeleteDomainAsync(id);
                return Results.NoContent();
            }

            await identity.DeleteProjectAsync(id);
            return Results.NoContent();
        });
    }

    private static void MapUsers(RouteGroupBuilder v3)
    {
        v3.MapGet("/users", async (HttpContext http, IdentityService identity, string? name, string? domain_id) =>
        {
            Authorize(http, "identity:list_users");
            var query = http.Request.Query;
            var rows = (await identity.ListUsersAsync(name, domain_id)).Where(u => IdentityFilter.Text(query, "name", u.Name)
                && IdentityFilter.Text(query, "domain_id", u.DomainId) && IdentityFilter.Flag(query, "enabled", u.Enabled));
            return Json.Reply(new JsonObject
            {
                ["users"] = new JsonArray([.. rows.Select(u => (JsonNode)UserJson(http, u))]),
                ["links"] = Links(http, "/users"),
            });
        });
        v3.MapGet("/users/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            if (context.UserId != id)
            {
                http.Enforce(context, "identity:get_user");
            }

            return Json.Reply(new JsonObject { ["user"] = UserJson(http, await identity.GetUserAsync(id)) });
        });
        v3.MapGet("/users/{id}/projects", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            if (context.UserId != id)
            {
                http.Enforce(context, "identity:list_projects");
            }

            var rows = await identity.ListProjectsOfUserAsync(id);
            return Json.Reply(new JsonObject
            {
                ["projects"] = new JsonArray([.. rows.Select(p => (JsonNode)ProjectJson(http, p))]),
                ["links"] = Links(http, $"/users/{id}/projects"),
            });
        });
        v3.MapPost("/users", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_user");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var extra = UserExtra(body);
            var user = await identity.CreateUserAsync(new UserCreate(RequireName(body), Json.OptionalString(body, "domain_id"),
                Json.OptionalString(body, "password"), Json.OptionalBoolean(body, "enabled") ?? true, Json.OptionalString(body, "default_project_id"),
                Json.OptionalString(body, "email"), Json.OptionalString(body, "description"), extra.Count == 0 ? null : extra.ToJsonString()));
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/users/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_user");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var user = await identity.UpdateUserAsync(id, new UserUpdate(OptionalName(body), Json.OptionalString(body, "password"),
                Json.OptionalBoolean(body, "enabled"), Json.OptionalField(body, "default_project_id"), Json.OptionalField(body, "email"),
                Json.OptionalField(body, "description"), UserExtra(body)));
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) });
        });
        v3.MapPost("/users/{id}/password", async (HttpContext http, IdentityService identity, string id) =>
        {
            // Self-service, as Keystone's: the original password is the authorization (checked as a login is, with the
            // same throttle and lock-out), so any token will do, also another user's.
            _ = http.RequireContext();

            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var original = Json.OptionalString(body, "original_password") ?? throw ApiException.BadRequest("'original_password' is a required property");
            var password = Json.OptionalString(body, "password") ?? throw ApiException.BadRequest("'password' is a required property");
            await identity.ChangePasswordAsync(id, original, password, Dashboard.DashboardForwarding.ClientAddress(http), http.RequestAborted);
            return Results.NoContent();
        });
        v3.MapDelete("/users/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_user");
            await identity.DeleteUserAsync(id);
            return Results.NoContent();
        });
    }

    private static void MapRoles(RouteGroupBuilder v3)
    {
        v3.MapGet("/roles", async (HttpContext http, IdentityService identity, string? name) =>
        {
            Authorize(http, "identity:list_roles");
            var query = http.Request.Query;
            // As Keystone: the global roles, or with domain_id those of that domain.
            var rows = (await identity.ListRolesAsync(name)).Where(r => IdentityFilter.Text(query, "name", r.Name)
                && (query.ContainsKey("domain_id") || r.DomainId is null) && IdentityFilter.Text(query, "domain_id", r.DomainId));
            return Json.Reply(new JsonObject
            {
                ["roles"] = new JsonArray([.. rows.Select(r => (JsonNode)RoleJson(http, r))]),
                ["links"] = Links(http, "/roles"),
            });
        });
        v3.MapGet("/roles/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:get_role");
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, await identity.GetRoleAsync(id)) });
        });
        v3.MapPost("/roles", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_role");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "role");
            var role = await identity.CreateRoleAsync(RequireName(body), Json.OptionalString(body, "description"), BoundedText(body, "domain_id", 64));
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) }, StatusCodes.Status201Created);
        });
        v3.MapDelete("/roles/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_role");
            await identity.DeleteRoleAsync(id);
            return Results.NoContent();
        });

        v3.MapMethods("/roles/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_role");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "role");
            var role = await identity.UpdateRoleAsync(id, OptionalName(body), Json.OptionalField(body, "description"));
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) });
        });
        MapGrants(v3);
    }

    /// <summary>Keystone's schema: a project's name has at most 64 characters, a user's or a role's 255.</summary>
    private const int ProjectNameMaxLength = 64;

    private static string RequireName(JsonObject body, int maxLength = 255)
    {
        var name = Json.OptionalString(body, "name");
        return string.IsNullOrWhiteSpace(name) || name.Length > maxLength
            ? throw ApiException.BadRequest($"Invalid input for field 'name': it must be a non-empty string of at most {maxLength} characters.")
            : name;
    }

    /// <summary>A name in a PATCH: not given (null) or a valid name.</summary>
    private static string? OptionalName(JsonObject body, int maxLength = 255) => body.ContainsKey("name") ? RequireName(body, maxLength) : null;

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    /// <summary>Attributes of a user Keystone does not know but keeps and shows back (at most 16, each small).</summary>
    private static readonly HashSet<string> s_userAttributes =
        ["id", "name", "domain_id", "password", "enabled", "default_project_id", "email", "description", "options", "links", "password_expires_at", "federated"];

    private static JsonObject UserExtra(JsonObject body)
    {
        var extra = new JsonObject();
        foreach (var (key, value) in body)
        {
            if (s_userAttributes.Contains(key))
            {
                continue;
            }

            if (key.Length > 64 || extra.Count >= 16 || (value?.ToJsonString().Length ?? 0) > 1024)
            {
                throw ApiException.BadRequest($"Invalid input for field '{key}': extra attributes are at most 16, with names of at most 64 characters and values of at most 1024.");
            }

            extra[key] = value?.DeepClone();
        }

        return extra;
    }
}
