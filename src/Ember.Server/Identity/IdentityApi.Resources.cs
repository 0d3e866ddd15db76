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
            var rows = await identity.ListProjectsAsync(name, domain_id);
            return Json.Reply(new JsonObject
            {
                ["projects"] = new JsonArray([.. rows.Select(p => (JsonNode)ProjectJson(http, p))]),
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

            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, await identity.GetProjectAsync(id)) });
        });
        v3.MapPost("/projects", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            var project = await identity.CreateProjectAsync(new ProjectCreate(RequireName(body), Json.OptionalString(body, "domain_id"),
                Json.OptionalString(body, "description"), Json.OptionalBoolean(body, "enabled") ?? true));
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/projects/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            var project = await identity.UpdateProjectAsync(id, new ProjectUpdate(OptionalName(body), Json.OptionalField(body, "description"),
                Json.OptionalBoolean(body, "enabled")));
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) });
        });
        v3.MapDelete("/projects/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_project");
            await identity.DeleteProjectAsync(id);
            return Results.NoContent();
        });
    }

    private static void MapUsers(RouteGroupBuilder v3)
    {
        v3.MapGet("/users", async (HttpContext http, IdentityService identity, string? name, string? domain_id) =>
        {
            Authorize(http, "identity:list_users");
            var rows = await identity.ListUsersAsync(name, domain_id);
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
            var user = await identity.CreateUserAsync(new UserCreate(RequireName(body), Json.OptionalString(body, "domain_id"),
                Json.OptionalString(body, "password"), Json.OptionalBoolean(body, "enabled") ?? true, Json.OptionalString(body, "default_project_id"),
                Json.OptionalString(body, "email"), Json.OptionalString(body, "description")));
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/users/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_user");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "user");
            var user = await identity.UpdateUserAsync(id, new UserUpdate(OptionalName(body), Json.OptionalString(body, "password"),
                Json.OptionalBoolean(body, "enabled"), Json.OptionalField(body, "default_project_id"), Json.OptionalField(body, "email"),
                Json.OptionalField(body, "description")));
            return Json.Reply(new JsonObject { ["user"] = UserJson(http, user) });
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
            var rows = await identity.ListRolesAsync(name);
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
            var role = await identity.CreateRoleAsync(RequireName(body), Json.OptionalString(body, "description"));
            return Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) }, StatusCodes.Status201Created);
        });
        v3.MapDelete("/roles/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_role");
            await identity.DeleteRoleAsync(id);
            return Results.NoContent();
        });

        const string grant = "/projects/{projectId}/users/{userId}/roles/{roleId}";
        v3.MapPut(grant, async (HttpContext http, IdentityService identity, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:create_grant");
            await identity.GrantAsync(projectId, userId, roleId);
            return Results.NoContent();
        });
        v3.MapMethods(grant, [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityService identity, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:check_grant");
            await identity.CheckGrantAsync(projectId, userId, roleId);
            return Results.NoContent();
        });
        v3.MapDelete(grant, async (HttpContext http, IdentityService identity, string projectId, string userId, string roleId) =>
        {
            Authorize(http, "identity:revoke_grant");
            await identity.RevokeGrantAsync(projectId, userId, roleId);
            return Results.NoContent();
        });
        v3.MapGet("/projects/{projectId}/users/{userId}/roles", async (HttpContext http, IdentityService identity, string projectId, string userId) =>
        {
            Authorize(http, "identity:list_grants");
            var roles = await identity.RolesOnProjectAsync(projectId, userId);
            return Json.Reply(new JsonObject
            {
                ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                ["links"] = Links(http, $"/projects/{projectId}/users/{userId}/roles"),
            });
        });
        v3.MapGet("/role_assignments", ListRoleAssignmentsAsync);
    }

    /// <summary>GET /v3/role_assignments with the filters openstackclient sends.</summary>
    private static async Task<IResult> ListRoleAssignmentsAsync(HttpContext http, IdentityService identity)
    {
        Authorize(http, "identity:list_role_assignments");
        var query = http.Request.Query;
        var includeNames = Json.ParseBoolean(query["include_names"]) ?? query.ContainsKey("include_names") && string.IsNullOrEmpty(query["include_names"]);
        var assignments = await identity.ListAssignmentsAsync(
            NullIfEmpty(query["user.id"]), NullIfEmpty(query["scope.project.id"]), NullIfEmpty(query["role.id"]), includeNames);
        var list = new JsonArray();
        foreach (var (row, r, u, p) in assignments)
        {
            var role = new JsonObject { ["id"] = row.RoleId };
            var user = new JsonObject { ["id"] = row.UserId };
            var project = new JsonObject { ["id"] = row.ProjectId };
            if (includeNames)
            {
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
        v3.MapGet("/domains", async (HttpContext http, IdentityService identity, string? name) =>
        {
            Authorize(http, "identity:list_domains");
            var rows = (await identity.ListDomainsAsync()).Where(d => name is null || d.Name == name);
            return Json.Reply(new JsonObject
            {
                ["domains"] = new JsonArray([.. rows.Select(d => (JsonNode)DomainJson(http, d))]),
                ["links"] = Links(http, "/domains"),
            });
        });
        v3.MapGet("/domains/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:get_domain");
            return Json.Reply(new JsonObject { ["domain"] = DomainJson(http, await identity.GetDomainAsync(id)) });
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

    private static string RequireName(JsonObject body)
    {
        var name = Json.OptionalString(body, "name");
        return string.IsNullOrWhiteSpace(name) || name.Length > 255
            ? throw ApiException.BadRequest("Invalid input for field 'name': it must be a non-empty string of at most 255 characters.")
            : name;
    }

    /// <summary>A name in a PATCH: not given (null) or a valid name.</summary>
    private static string? OptionalName(JsonObject body) => body.ContainsKey("name") ? RequireName(body) : null;

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
