using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Groups (/v3/groups and their users), grants of roles to users and groups on projects and domains, and the role
// assignment list (/v3/role_assignments) with Keystone's filters and effective=true.
public static partial class IdentityApi
{
    private static void MapGroups(RouteGroupBuilder v3)
    {
        v3.MapGet("/groups", async (HttpContext http, IdentityService identity, string? domain_id) =>
        {
            Authorize(http, "identity:list_groups");
            var query = http.Request.Query;
            var rows = (await identity.ListGroupsAsync(domain_id)).Where(g => IdentityFilter.Text(query, "name", g.Name)
                && IdentityFilter.Text(query, "domain_id", g.DomainId));
            return Json.Reply(new JsonObject
            {
                ["groups"] = new JsonArray([.. rows.Select(g => (JsonNode)GroupJson(http, g))]),
                ["links"] = Links(http, "/groups"),
            });
        });
        v3.MapGet("/groups/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:get_group");
            return Json.Reply(new JsonObject { ["group"] = GroupJson(http, await identity.GetGroupAsync(id)) });
        });
        v3.MapPost("/groups", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_group");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "group");
            var group = await identity.CreateGroupAsync(RequireName(body), BoundedText(body, "domain_id", 64), BoundedText(body, "description", 4096));
            return Json.Reply(new JsonObject { ["group"] = GroupJson(http, group) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/groups/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_group");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "group");
            if (body.ContainsKey("description"))
            {
                _ = BoundedText(body, "description", 4096);
            }

            var group = await identity.UpdateGroupAsync(id, OptionalName(body), Json.OptionalField(body, "description"));
            return Json.Reply(new JsonObject { ["group"] = GroupJson(http, group) });
        });
        v3.MapDelete("/groups/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_group");
            await identity.DeleteGroupAsync(id);
            return Results.NoContent();
        });
        v3.MapGet("/groups/{id}/users", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:list_users_in_group");
            var query = http.Request.Query;
            var rows = (await identity.ListMembersAsync(id)).Where(u => IdentityFilter.Text(query, "name", u.Name)
                && IdentityFilter.Text(query, "domain_id", u.DomainId) && IdentityFilter.Flag(query, "enabled", u.Enabled));
            return Json.Reply(new JsonObject
            {
                ["users"] = new JsonArray([.. rows.Select(u => (JsonNode)UserJson(http, u))]),
                ["links"] = Links(http, $"/groups/{id}/users"),
            });
        });
        v3.MapPut("/groups/{id}/users/{userId}", async (HttpContext http, IdentityService identity, string id, string userId) =>
        {
            Authorize(http, "identity:add_user_to_group");
            await identity.AddMemberAsync(id, userId);
            return Results.NoContent();
        });
        v3.MapMethods("/groups/{id}/users/{userId}", [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityService identity, string id, string userId) =>
        {
            Authorize(http, "identity:check_user_in_group");
            await identity.CheckMemberAsync(id, userId);
            return Results.NoContent();
        });
        v3.MapDelete("/groups/{id}/users/{userId}", async (HttpContext http, IdentityService identity, string id, string userId) =>
        {
            Authorize(http, "identity:remove_user_from_group");
            await identity.RemoveMemberAsync(id, userId);
            return Results.NoContent();
        });
        v3.MapGet("/users/{id}/groups", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            if (context.UserId != id)
            {
                http.Enforce(context, "identity:list_groups_for_user");
            }

            var query = http.Request.Query;
            var rows = (await identity.ListGroupsOfUserAsync(id)).Where(g => IdentityFilter.Text(query, "name", g.Name));
            return Json.Reply(new JsonObject
            {
                ["groups"] = new JsonArray([.. rows.Select(g => (JsonNode)GroupJson(http, g))]),
                ["links"] = Links(http, $"/users/{id}/groups"),
            });
        });
        MapProjectTags(v3);
    }

    /// <summary>The grant routes: {projects|domains}/{target}/{users|groups}/{actor}/roles[/{role}].</summary>
    private static void MapGrants(RouteGroupBuilder v3)
    {
        foreach (var (targets, targetKind) in new[] { ("projects", GrantRow.Project), ("domains", GrantRow.Domain) })
        {
            foreach (var (actors, actorKind) in new[] { ("users", GrantRow.User), ("groups", GrantRow.Group) })
            {
                var list = $"/{targets}/{{targetId}}/{actors}/{{actorId}}/roles";
                var one = list + "/{roleId}";
                v3.MapPut(one, async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:create_grant");
                    await identity.GrantAsync(new GrantRow(actorKind, actorId, targetKind, targetId, roleId));
                    return Results.NoContent();
                });
                v3.MapMethods(one, [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:check_grant");
                    await identity.CheckGrantAsync(new GrantRow(actorKind, actorId, targetKind, targetId, roleId));
                    return Results.NoContent();
                });
                v3.MapDelete(one, async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:revoke_grant");
                    await identity.RevokeGrantAsync(new GrantRow(actorKind, actorId, targetKind, targetId, roleId));
                    return Results.NoContent();
                });
                v3.MapGet(list, async (HttpContext http, IdentityService identity, string targetId, string actorId) =>
                {
                    Authorize(http, "identity:list_grants");
                    var roles = await identity.DirectRolesAsync(actorKind, actorId, targetKind, targetId);
                    return Json.Reply(new JsonObject
                    {
                        ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                        ["links"] = Links(http, $"/{targets}/{targetId}/{actors}/{actorId}/roles"),
                    });
                });
            }
        }

        MapInheritedGrants(v3);
        MapSystemGrants(v3);
        v3.MapGet("/role_assignments", ListRoleAssignmentsAsync);
    }

    /// <summary>
    /// OS-INHERIT: /OS-INHERIT/{domains|projects}/{target}/{users|groups}/{actor}/roles/{role}/inherited_to_projects (and the
    /// list of a domain's), a role for every project under the target; the same policies as direct grants.
    /// </summary>
    private static void MapInheritedGrants(RouteGroupBuilder v3)
    {
        foreach (var (targets, targetKind) in new[] { ("projects", GrantRow.Project), ("domains", GrantRow.Domain) })
        {
            foreach (var (actors, actorKind) in new[] { ("users", GrantRow.User), ("groups", GrantRow.Group) })
            {
                var list = $"/OS-INHERIT/{targets}/{{targetId}}/{actors}/{{actorId}}/roles/inherited_to_projects";
                var one = $"/OS-INHERIT/{targets}/{{targetId}}/{actors}/{{actorId}}/roles/{{roleId}}/inherited_to_projects";
                GrantRow Grant(string targetId, string actorId, string roleId) => new(actorKind, actorId, targetKind, targetId, roleId) { Inherited = true };
                v3.MapPut(one, async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:create_grant");
                    await identity.GrantAsync(Grant(targetId, actorId, roleId));
                    return Results.NoContent();
                });
                v3.MapMethods(one, [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:check_grant");
                    await identity.CheckGrantAsync(Grant(targetId, actorId, roleId));
                    return Results.NoContent();
                });
                v3.MapDelete(one, async (HttpContext http, IdentityService identity, string targetId, string actorId, string roleId) =>
                {
                    Authorize(http, "identity:revoke_grant");
                    await identity.RevokeGrantAsync(Grant(targetId, actorId, roleId));
                    return Results.NoContent();
                });
                v3.MapGet(list, async (HttpContext http, IdentityService identity, string targetId, string actorId) =>
                {
                    Authorize(http, "identity:list_grants");
                    var roles = await identity.InheritedRolesAsync(actorKind, actorId, targetKind, targetId);
                    return Json.Reply(new JsonObject
                    {
                        ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                        ["links"] = Links(http, $"/OS-INHERIT/{targets}/{targetId}/{actors}/{actorId}/roles/inherited_to_projects"),
                    });
                });
            }
        }
    }

    /// <summary>System role assignments: /system/{users|groups}/{actor}/roles[/{role}], the target always the system "all".</summary>
    private static void MapSystemGrants(RouteGroupBuilder v3)
    {
        foreach (var (actors, actorKind, noun) in new[] { ("users", GrantRow.User, "user"), ("groups", GrantRow.Group, "group") })
        {
            var list = $"/system/{actors}/{{actorId}}/roles";
            GrantRow Grant(string actorId, string roleId) => new(actorKind, actorId, GrantRow.System, GrantRow.SystemAll, roleId);
            v3.MapPut(list + "/{roleId}", async (HttpContext http, IdentityService identity, string actorId, string roleId) =>
            {
                Authorize(http, $"identity:create_system_grant_for_{noun}");
                await identity.GrantAsync(Grant(actorId, roleId));
                return Results.NoContent();
            });
            v3.MapMethods(list + "/{roleId}", [HttpMethods.Head, HttpMethods.Get], async (HttpContext http, IdentityService identity, string actorId, string roleId) =>
            {
                Authorize(http, $"identity:check_system_grant_for_{noun}");
                await identity.CheckGrantAsync(Grant(actorId, roleId));
                return Results.NoContent();
            });
            v3.MapDelete(list + "/{roleId}", async (HttpContext http, IdentityService identity, string actorId, string roleId) =>
            {
                Authorize(http, $"identity:revoke_system_grant_for_{noun}");
                await identity.RevokeGrantAsync(Grant(actorId, roleId));
                return Results.NoContent();
            });
            v3.MapGet(list, async (HttpContext http, IdentityService identity, string actorId) =>
            {
                Authorize(http, $"identity:list_system_grants_for_{noun}");
                var roles = await identity.DirectRolesAsync(actorKind, actorId, GrantRow.System, GrantRow.SystemAll);
                return Json.Reply(new JsonObject
                {
                    ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                    ["links"] = Links(http, $"/system/{actors}/{actorId}/roles"),
                });
            });
        }
    }

    /// <summary>
    /// GET /v3/role_assignments: user.id, group.id, role.id, scope.project.id (with include_subtree), scope.domain.id,
    /// scope.system, scope.OS-INHERIT:inherited_to, effective, include_names.
    /// </summary>
    private static async Task<IResult> ListRoleAssignmentsAsync(HttpContext http, IdentityService identity)
    {
        Authorize(http, "identity:list_role_assignments");
        var query = http.Request.Query;
        var includeNames = QueryFlag(query, "include_names");
        var effective = QueryFlag(query, "effective");
        var includeSubtree = QueryFlag(query, "include_subtree");
        var projectId = NullIfEmpty(query["scope.project.id"]);
        var domainId = NullIfEmpty(query["scope.domain.id"]);
        var system = query.ContainsKey("scope.system");
        if (effective && query.ContainsKey("group.id"))
        {
            throw ApiException.BadRequest("Combining effective and group filter will always result in an empty list.");
        }

        if (includeSubtree && projectId is null)
        {
            throw ApiException.BadRequest("scope.project.id needs to be specified if include_subtree is also specified.");
        }

        var inheritedOnly = query.ContainsKey("scope.OS-INHERIT:inherited_to");
        // Two scopes at once match nothing, nor does an inherited assignment on the system.
        var scopes = (projectId is null ? 0 : 1) + (domainId is null ? 0 : 1) + (system ? 1 : 0);
        IReadOnlyList<AssignmentView> assignments = scopes > 1 || system && inheritedOnly
            ? []
            : await identity.ListAssignmentsAsync(new AssignmentQuery(NullIfEmpty(query["user.id"]), NullIfEmpty(query["group.id"]),
                projectId is not null ? GrantRow.Project : domainId is not null ? GrantRow.Domain : system ? GrantRow.System : null,
                projectId ?? domainId, NullIfEmpty(query["role.id"]), effective, includeSubtree, inheritedOnly));
        var names = new NameCache(identity);
        var list = new JsonArray();
        foreach (var view in assignments)
        {
            list.Add(await AssignmentJsonAsync(http, view, includeNames ? names : null));
        }

        return Json.Reply(new JsonObject { ["role_assignments"] = list, ["links"] = Links(http, "/role_assignments") });
    }

    private static bool QueryFlag(IQueryCollection query, string key) =>
        Json.ParseBoolean(query[key]) ?? query.ContainsKey(key) && string.IsNullOrEmpty(query[key]);

    private static async Task<JsonObject> AssignmentJsonAsync(HttpContext http, AssignmentView view, NameCache? names)
    {
        var grant = view.Grant;
        var role = new JsonObject { ["id"] = grant.RoleId };
        var actor = new JsonObject { ["id"] = grant.ActorId };
        var target = new JsonObject { ["id"] = grant.TargetId };
        if (names is not null)
        {
            role["name"] = (await names.RoleAsync(grant.RoleId))?.Name;
            var (actorName, actorDomain) = grant.ActorKind == GrantRow.User
                ? await names.UserAsync(grant.ActorId)
                : await names.GroupAsync(grant.ActorId);
            actor["name"] = actorName;
            actor["domain"] = await names.DomainJsonAsync(actorDomain);
            if (grant.TargetKind == GrantRow.Project)
            {
                var (projectName, projectDomain) = await names.ProjectAsync(grant.TargetId);
                target["name"] = projectName;
                target["domain"] = await names.DomainJsonAsync(projectDomain);
            }
            else if (grant.TargetKind == GrantRow.Domain)
            {
                target["name"] = (await names.DomainAsync(grant.TargetId))?.Name;
            }
        }

        // The grant the row comes from: an inherited one, the group's, the role that implies the one shown.
        var source = view.Source ?? (view.ViaGroupId is null ? grant : grant with { ActorKind = GrantRow.Group, ActorId = view.ViaGroupId });
        source = view.PriorRoleId is null ? source : source with { RoleId = view.PriorRoleId };
        var links = new JsonObject { ["assignment"] = $"{http.BaseUrl()}/identity/v3{GrantPath(source)}" };
        if (view.PriorRoleId is not null)
        {
            links["prior_role"] = $"{http.BaseUrl()}/identity/v3/roles/{view.PriorRoleId}";
        }

        if (view.ViaGroupId is not null)
        {
            links["membership"] = $"{http.BaseUrl()}/identity/v3/groups/{view.ViaGroupId}/users/{grant.ActorId}";
        }

        var scope = grant.TargetKind == GrantRow.System
            ? new JsonObject { ["system"] = new JsonObject { ["all"] = true } }
            : new JsonObject { [grant.TargetKind] = target };
        if (grant.Inherited)
        {
            scope["OS-INHERIT:inherited_to"] = "projects";
        }

        return new JsonObject
        {
            ["role"] = role,
            [grant.ActorKind] = actor,
            ["scope"] = scope,
            ["links"] = links,
        };
    }

    /// <summary>The API path of a grant: /{target}s/..., /system/..., or OS-INHERIT's .../inherited_to_projects.</summary>
    private static string GrantPath(GrantRow grant) => grant switch
    {
        { TargetKind: GrantRow.System } => $"/system/{grant.ActorKind}s/{grant.ActorId}/roles/{grant.RoleId}",
        { Inherited: true } => $"/OS-INHERIT/{grant.TargetKind}s/{grant.TargetId}/{grant.ActorKind}s/{grant.ActorId}/roles/{grant.RoleId}/inherited_to_projects",
        _ => $"/{grant.TargetKind}s/{grant.TargetId}/{grant.ActorKind}s/{grant.ActorId}/roles/{grant.RoleId}",
    };

    internal static JsonObject GroupJson(HttpContext http, GroupRow g) => new()
    {
        ["id"] = g.Id,
        ["name"] = g.Name,
        ["domain_id"] = g.DomainId,
        ["description"] = g.Description ?? "",
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/groups/{g.Id}" },
    };

    /// <summary>Names looked up once per list (include_names).</summary>
    private sealed class NameCache(IdentityService identity)
    {
        private readonly Dictionary<string, object?> _seen = new(StringComparer.Ordinal);

        public Task<RoleRow?> RoleAsync(string id) => OnceAsync("role/" + id, () => identity.FindRoleAsync(id));

        public Task<DomainRow?> DomainAsync(string id) => OnceAsync("domain/" + id, () => identity.FindDomainAsync(id));

        public async Task<(string? Name, string? DomainId)> UserAsync(string id) =>
            await OnceAsync("user/" + id, () => identity.FindUserAsync(id)) is { } u ? (u.Name, u.DomainId) : (null, null);

        public async Task<(string? Name, string? DomainId)> GroupAsync(string id) =>
            await OnceAsync("group/" + id, () => identity.FindGroupAsync(id)) is { } g ? (g.Name, g.DomainId) : (null, null);

        public async Task<(string? Name, string? DomainId)> ProjectAsync(string id) =>
            await OnceAsync("project/" + id, () => identity.FindProjectAsync(id)) is { } p ? (p.Name, p.DomainId) : (null, null);

        public async Task<JsonObject> DomainJsonAsync(string? id) =>
            new() { ["id"] = id, ["name"] = id is null ? null : (await DomainAsync(id))?.Name };

        private async Task<T?> OnceAsync<T>(string key, Func<Task<T?>> load)
            where T : class
        {
            if (!_seen.TryGetValue(key, out var value))
            {
                value = await load();
                _seen[key] = value;
            }

            return (T?)value;
        }
    }
}
