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
        Policy.Enforce(context, action);
        return context;
    }

    private static void MapProjects(RouteGroupBuilder v3)
    {
        v3.MapGet("/projects", async (HttpContext http, IdentityStore store, string? name, string? domain_id) =>
        {
            Authorize(http, "identity:list_projects");
            var rows = await store.ListProjectsAsync(name, domain_id);
            return Json.Reply(new JsonObject
            {
                ["projects"] = new JsonArray([.. rows.Select(p => (JsonNode)ProjectJson(http, p))]),
                ["links"] = Links(http, "/projects"),
            });
        });
        v3.MapGet("/projects/{id}", async (HttpContext http, IdentityStore store, string id) =>
        {
            var context = http.RequireContext();
            // A user may always read the project of their own token.
            if (context.ProjectId != id)
            {
                Policy.Enforce(context, "identity:get_project");
            }

            var project = await store.FindProjectAsync(id, null, null) ?? throw ApiException.NotFound($"Could not find project: {id}.");
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) });
        });
        v3.MapPost("/projects", async (HttpContext http, IdentityStore store) =>
        {
            Authorize(http, "identity:create_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            var name = RequireName(body);
            var domainId = Json.OptionalString(body, "domain_id") ?? IdentityStore.DefaultDomainId;
            _ = await store.FindDomainAsync(domainId, null) ?? throw ApiException.NotFound($"Could not find domain: {domainId}.");
            var project = await store.CreateProjectAsync(name, domainId, Json.OptionalString(body, "description"),
                Json.OptionalBoolean(body, "enabled") ?? true);
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/projects/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityStore store, TokenService tokens, string id) =>
        {
            Authorize(http, "identity:update_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            var project = await store.FindProjectAsync(id, null, null) ?? throw ApiException.NotFound($"Could not find project: {id}.");
            project = project with
            {
                Name = body.ContainsKey("name") ? RequireName(body) : project.Name,
                Description = body.ContainsKey("description") ? Json.OptionalString(body, "description") : project.Description,
                Enabled = Json.OptionalBoolean(body, "enabled") ?? project.Enabled,
            };
            var disabling = project.Enabled == false && (await store.FindProjectAsync(id, null, null))?.Enabled == true;
            await store.UpdateProjectAsync(project);
            if (disabling)
            {
                await tokens.RevokeAsync(null, id);
            }

            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) });
        });
        v3.MapDelete("/projects/{id}", async (HttpContext http, IdentityStore store, TokenService tokens, string id) =>
        {
            Authorize(http, "identity:delete_project");
            if (!await store.DeleteProjectAsync(id))
            {
                throw ApiException.NotFound($"Could not find project: {id}.");
            }

            await tokens.RevokeAsync(null, id);
            return Results.NoContent();
        });
    }

    private static void MapUsers(RouteGroupBuilder v3)
    {
        v3.MapGet("/users", async (HttpContext http, IdentityStore store, string? name, string? domain_id) =>
        {
            Authorize(http, "identity:list_users");
            var rows = await store.ListUsersAsync(name, domain_id);
            return Json.Reply(new JsonObject
            {
                ["users"] = new JsonArray([.. rows.Select(u => (JsonNode)UserJson(http, u))]),
                ["links"] = Links(http, "/users"),
            });
        });
        v3.MapGet("/users/{id}", async (HttpContext http, IdentityStore store, string id) =>
        {
            var context = http.RequireContext();
            if (context.UserId != id)
            {
                Policy.Enforce(context, "identity:get_user");
            }

            var user = await store.FindUserAsync(id, null, null) ?? throw ApiException.NotFound($"Could not find user: {id}.");
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) });
        });
        v3.MapGet("/users/{id}/projects", async (HttpContext http, IdentityStore store, string id) =>
        {
            var context = http.RequireContext();
            if (context.UserId != id)
            {
                Policy.Enforce(context, "identity:list_projects");
            }

            var rows = await store.ListProjectsOfUserAsync(id);
            return Json.Reply(new JsonObject
            {
                ["projects"] = new JsonArray([.. rows.Select(p => (JsonNode)ProjectJson(http, p))]),
                ["links"] = Links(http, $"/users/{id}/projects"),
            });
        });
        v3.MapPost("/users", async (HttpContext http, IdentityStore store) =>
        {
            Authorize(http, "identity:create_user");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var name = RequireName(body);
            var domainId = Json.OptionalString(body, "domain_id") ?? IdentityStore.DefaultDomainId;
            _ = await store.FindDomainAsync(domainId, null) ?? throw ApiException.NotFound($"Could not find domain: {domainId}.");
            var defaultProject = Json.OptionalString(body, "default_project_id");
            if (defaultProject is not null && await store.FindProjectAsync(defaultProject, null, null) is null)
            {
                throw ApiException.NotFound($"Could not find project: {defaultProject}.");
            }

            var user = await store.CreateUserAsync(name, domainId, Json.OptionalString(body, "password"),
                Json.OptionalBoolean(body, "enabled") ?? true, defaultProject,
                Json.OptionalString(body, "email"), Json.OptionalString(body, "description"));
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/users/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityStore store, TokenService tokens, string id) =>
        {
            Authorize(http, "identity:update_user");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var user = await store.FindUserAsync(id, null, null) ?? throw ApiException.NotFound($"Could not find user: {id}.");
            var password = Json.OptionalString(body, "password");
            var wasEnabled = user.Enabled;
            user = user with
            {
                Name = body.ContainsKey("name") ? RequireName(body) : user.Name,
                PasswordHash = password is null ? user.PasswordHash : PasswordHasher.Hash(password),
                Enabled = Json.OptionalBoolean(body, "enabled") ?? user.Enabled,
                DefaultProjectId = body.ContainsKey("default_project_id") ? Json.OptionalString(body, "default_project_id") : user.DefaultProjectId,
                Email = body.ContainsKey("email") ? Json.OptionalString(body, "email") : user.Email,
                Description = body.ContainsKey("description") ? Json.OptionalString(body, "description") : user.Description,
            };
            await store.UpdateUserAsync(user);
            // A new password or a disabled user ends every session that came before (Keystone does the same).
            if (password is not null || wasEnabled && !user.Enabled)
            {
                await tokens.RevokeAsync(user.Id, null);
            }

            if (password is not null)
            {
                await store.ClearLoginFailuresAsync(user.Id);
            }

            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) });
        });
        v3.MapDelete("/users/{id}", async (HttpContext http, IdentityStore store, TokenService tokens, string id) =>
        {
            Authorize(http, "identity:delete_user");
            if (!await store.DeleteUserAsync(id))
            {
                throw ApiException.NotFound($"Could not find user: {id}.");
            }

            await tokens.RevokeAsync(id, null);
            return Results.NoContent();
        });
    }

    private static void MapRoles(RouteGroupBuilder v3)
    {
        v3.MapGet("/roles", async (HttpContext http, IdentityStore store, string? name) =>
        {
            Authorize(http, "identity:list_roles");
            var rows = await store.ListRolesAsync(name);
            return Json.Reply(new JsonObject
            {
                ["roles"] = new JsonArray([.. rows.Select(r => (JsonNode)RoleJson(http, r))]),
                ["links"] = Links(http, "/roles"),
            });
        });
        v3.MapGet("/roles/{id}", async (HttpContext http, IdentityStore store, string id) =>
        {
            Authorize(http, "identity:get_role");
            var role = await store.FindRoleAsync(id, null) ?? throw ApiException.NotFound($"Could not find role: {id}.");
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) });
        });
        v3.MapPost("/roles", async (HttpContext http, IdentityStore store) =>
        {
            Authorize(http, "identity:create_role");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "role");
            var role = await store.CreateRoleAsync(RequireName(body), Json.OptionalString(body, "description"));
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) }, StatusCodes.Status201Created);
        });
        v3.MapDelete("/roles/{id}", async (HttpContext http, IdentityStore store, TokenService tokens, string id) =>
        {
            Authorize(http, "identity:delete_role");
            var holders = await store.ListAssignmentsAsync(null, null, id);
            if (!await store.DeleteRoleAsync(id))
            {
                throw ApiException.NotFound($"Could not find role: {id}.");
            }

            // Deleting a role removes every assignment of it: each holder's tokens on that project die.
            foreach (var holder in holders)
            {
                await tokens.RevokeAsync(holder.UserId, holder.ProjectId);
            }

            return Results.NoContent();
        });

        const string grant = "/projects/{projectId}/users/{userId}/roles/{roleId}";
        v3.MapPut(grant, async (HttpContext http, IdentityStore store, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:create_grant");
            await RequireGrantPartsAsync(store, projectId, userId, roleId);
            await store.GrantAsync(userId, projectId, roleId);
            return Results.NoContent();
        });
        v3.MapMethods(grant, [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityStore store, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:check_grant");
            await RequireGrantPartsAsync(store, projectId, userId, roleId);
            var found = await store.ListAssignmentsAsync(userId, projectId, roleId);
            return found.Count > 0
                ? Results.NoContent()
                : throw ApiException.NotFound($"Could not find role assignment with role: {roleId}, user or group: {userId}, project, domain, or system: {projectId}.");
        });
        v3.MapDelete(grant, async (HttpContext http, IdentityStore store, TokenService tokens, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:revoke_grant");
            if (await store.RevokeGrantAsync(userId, projectId, roleId))
            {
                await tokens.RevokeAsync(userId, projectId);
                return Results.NoContent();
            }

            throw ApiException.NotFound($"Could not find role assignment with role: {roleId}, user or group: {userId}, project, domain, or system: {projectId}.");
        });
        v3.MapGet("/projects/{projectId}/users/{userId}/roles", async (HttpContext http, IdentityStore store, string projectId, string userId) =>
        {
            Authorize(http, "identity:list_grants");
            var roles = await store.RolesOnProjectAsync(userId, projectId);
            return Json.Reply(new JsonObject
            {
                ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                ["links"] = Links(http, $"/projects/{projectId}/users/{userId}/roles"),
            });
        });
        v3.MapGet("/role_assignments", ListRoleAssignmentsAsync);
    }

    /// <summary>GET /v3/role_assignments with the filters openstackclient sends.</summary>
    private static async Task<IResult> ListRoleAssignmentsAsync(HttpContext http, IdentityStore store)
    {
        Authorize(http, "identity:list_role_assignments");
        var query = http.Request.Query;
        var rows = await store.ListAssignmentsAsync(
            NullIfEmpty(query["user.id"]), NullIfEmpty(query["scope.project.id"]), NullIfEmpty(query["role.id"]));
        var includeNames = Json.ParseBoolean(query["include_names"]) ?? query.ContainsKey("include_names") && string.IsNullOrEmpty(query["include_names"]);
        var list = new JsonArray();
        foreach (var row in rows)
        {
            var role = new JsonObject { ["id"] = row.RoleId };
            var user = new JsonObject { ["id"] = row.UserId };
            var project = new JsonObject { ["id"] = row.ProjectId };
            if (includeNames)
            {
                var r = await store.FindRoleAsync(row.RoleId, null);
                var u = await store.FindUserAsync(row.UserId, null, null);
                var p = await store.FindProjectAsync(row.ProjectId, null, null);
                role["name"] = r?.Name;
                user["name"] = u?.Name;
                user["domain"] = new JsonObject { ["id"] = u?.DomainId, ["name"] = "Default" };
                project["name"] = p?.Name;
                project["domain"] = new JsonObject { ["id"] = p?.DomainId, ["name"] = "Default" };
            }

            list.Add(new JsonObject
            {
                ["role"] = role,
                ["user"] = user,
                ["scope"] = new JsonObject { ["project"] = project },
                ["links"] = new JsonObject
                {
                    ["assignment"] = $"{http.BaseUrl()}/identity/v3/projects/{row.ProjectId}/users/{row.UserId}/roles/{row.RoleId}",
                },
            });
        }

        return Json.Reply(new JsonObject { ["role_assignments"] = list, ["links"] = Links(http, "/role_assignments") });
    }

    private static void MapDomainsAndServices(RouteGroupBuilder v3)
    {
        v3.MapGet("/domains", async (HttpContext http, IdentityStore store, string? name) =>
        {
            Authorize(http, "identity:list_domains");
            var rows = (await store.ListDomainsAsync()).Where(d => name is null || d.Name == name);
            return Json.Reply(new JsonObject
            {
                ["domains"] = new JsonArray([.. rows.Select(d => (JsonNode)DomainJson(http, d))]),
                ["links"] = Links(http, "/domains"),
            });
        });
        v3.MapGet("/domains/{id}", async (HttpContext http, IdentityStore store, string id) =>
        {
            Authorize(http, "identity:get_domain");
            var domain = await store.FindDomainAsync(id, null) ?? throw ApiException.NotFound($"Could not find domain: {id}.");
            return Json.Reply(new JsonObject { ["domain"] = DomainJson(http, domain) });
        });
        v3.MapGet("/services", (HttpContext http) =>
        {
            Authorize(http, "identity:list_services");
            var services = new JsonArray();
            foreach (var entry in ServiceCatalog.Build(http.BaseUrl(), http.RequireContext().ProjectId).OfType<JsonObject>())
            {
                services.Add(new JsonObject
                {
                    ["id"] = entry["id"]?.GetValue<string>(),
                    ["type"] = entry["type"]?.GetValue<string>(),
                    ["name"] = entry["name"]?.GetValue<string>(),
                    ["enabled"] = true,
                    ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/services/{entry["id"]}" },
                });
            }

            return Json.Reply(new JsonObject { ["services"] = services, ["links"] = Links(http, "/services") });
        });
        v3.MapGet("/endpoints", (HttpContext http) =>
        {
            Authorize(http, "identity:list_endpoints");
            var endpoints = new JsonArray();
            foreach (var entry in ServiceCatalog.Build(http.BaseUrl(), http.RequireContext().ProjectId).OfType<JsonObject>())
            {
                foreach (var endpoint in (entry["endpoints"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    var copy = (JsonObject)endpoint.DeepClone();
                    copy["service_id"] = entry["id"]?.GetValue<string>();
                    copy["enabled"] = true;
                    endpoints.Add(copy);
                }
            }

            return Json.Reply(new JsonObject { ["endpoints"] = endpoints, ["links"] = Links(http, "/endpoints") });
        });
    }

    private static async Task RequireGrantPartsAsync(IdentityStore store, string projectId, string userId, string roleId)
    {
        _ = await store.FindProjectAsync(projectId, null, null) ?? throw ApiException.NotFound($"Could not find project: {projectId}.");
        _ = await store.FindUserAsync(userId, null, null) ?? throw ApiException.NotFound($"Could not find user: {userId}.");
        _ = await store.FindRoleAsync(roleId, null) ?? throw ApiException.NotFound($"Could not find role: {roleId}.");
    }

    private static string RequireName(JsonObject body)
    {
        var name = Json.OptionalString(body, "name");
        return string.IsNullOrWhiteSpace(name) || name.Length > 255
            ? throw ApiException.BadRequest("Invalid input for field 'name': it must be a non-empty string of at most 255 characters.")
            : name;
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
