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
            var rows = (await identity.ListProjectsAsync(name, domain_id)).Where(p => IdentityFilter.Text(query, "name", p.Name)
                && IdentityFilter.Text(query, "domain_id", p.DomainId) && IdentityFilter.Flag(query, "enabled", p.Enabled)
                && IdentityFilter.Text(query, "parent_id", p.DomainId) && IdentityFilter.Flag(query, "is_domain", false));
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
            var project = await identity.CreateProjectAsync(new ProjectCreate(RequireName(body, ProjectNameMaxLength), Json.OptionalString(body, "domain_id"),
                Json.OptionalString(body, "description"), Json.OptionalBoolean(body, "enabled") ?? true));
            return Json.Reply(new JsonObject { ["project"] = ProjectJson(http, project) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/projects/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_project");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "project");
            var project = await identity.UpdateProjectAsync(id, new ProjectUpdate(OptionalName(body, ProjectNameMaxLength), Json.OptionalField(body, "description"),
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
            var query = http.Request.Query;
            var rows = (await identity.ListRolesAsync(name)).Where(r => IdentityFilter.Text(query, "name", r.Name)
                && IdentityFilter.Text(query, "domain_id", null));
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
        // Ember's assignments are all of a user on a project: a filter on groups, domains or the system matches none.
        var otherKinds = query.ContainsKey("group.id") || query.ContainsKey("scope.domain.id") || query.ContainsKey("scope.system");
        var assignments = otherKinds ? [] : await identity.ListAssignmentsAsync(
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
        v3.MapGet("/domains", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:list_domains");
            var query = http.Request.Query;
            var rows = (await identity.ListDomainsAsync()).Where(d => IdentityFilter.Text(query, "name", d.Name)
                && IdentityFilter.Flag(query, "enabled", d.Enabled));
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
            var query = http.Request.Query;
            var services = CatalogServices(http).Where(s => IdentityFilter.Text(query, "type", (string?)s["type"])
                && IdentityFilter.Text(query, "name", (string?)s["name"]));
            return Json.Reply(new JsonObject { ["services"] = new JsonArray([.. services]), ["links"] = Links(http, "/services") });
        });
        v3.MapGet("/services/{id}", (HttpContext http, string id) =>
        {
            Authorize(http, "identity:get_service");
            var service = CatalogServices(http).FirstOrDefault(s => (string?)s["id"] == id)
                ?? throw ApiException.NotFound($"Could not find service: {id}.");
            return Json.Reply(new JsonObject { ["service"] = service });
        });
        v3.MapGet("/endpoints", (HttpContext http) =>
        {
            Authorize(http, "identity:list_endpoints");
            var query = http.Request.Query;
            var endpoints = CatalogEndpoints(http).Where(e => IdentityFilter.Text(query, "service_id", (string?)e["service_id"])
                && IdentityFilter.Text(query, "interface", (string?)e["interface"]) && IdentityFilter.Text(query, "region_id", (string?)e["region_id"]));
            return Json.Reply(new JsonObject { ["endpoints"] = new JsonArray([.. endpoints]), ["links"] = Links(http, "/endpoints") });
        });
        v3.MapGet("/endpoints/{id}", (HttpContext http, string id) =>
        {
            Authorize(http, "identity:get_endpoint");
            var endpoint = CatalogEndpoints(http).FirstOrDefault(e => (string?)e["id"] == id)
                ?? throw ApiException.NotFound($"Could not find endpoint: {id}.");
            return Json.Reply(new JsonObject { ["endpoint"] = endpoint });
        });
    }

    /// <summary>The catalog's services as /v3/services shows them.</summary>
    private static IEnumerable<JsonObject> CatalogServices(HttpContext http) =>
        ServiceCatalog.Build(http, http.RequireContext().ProjectId).OfType<JsonObject>().Select(entry => new JsonObject
        {
            ["id"] = (string?)entry["id"],
            ["type"] = (string?)entry["type"],
            ["name"] = (string?)entry["name"],
            ["enabled"] = true,
            ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/services/{entry["id"]}" },
        });

    /// <summary>The catalog's endpoints as /v3/endpoints shows them: each with its service's id.</summary>
    private static IEnumerable<JsonObject> CatalogEndpoints(HttpContext http) =>
        ServiceCatalog.Build(http, http.RequireContext().ProjectId).OfType<JsonObject>().SelectMany(entry =>
            (entry["endpoints"] as JsonArray ?? []).OfType<JsonObject>().Select(endpoint =>
            {
                var copy = (JsonObject)endpoint.DeepClone();
                copy["service_id"] = (string?)entry["id"];
                copy["enabled"] = true;
                copy["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/endpoints/{endpoint["id"]}" };
                return copy;
            }));

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
}
