using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A new project or user's fields, as the API read them.</summary>
public sealed record ProjectCreate(string Name, string? DomainId, string? Description, bool Enabled, string? ParentId = null);

/// <summary>A project PATCH: what is not given stays.</summary>
public sealed record ProjectUpdate(string? Name, Optional<string?> Description, bool? Enabled);

public sealed record UserCreate(string Name, string? DomainId, string? Password, bool Enabled, string? DefaultProjectId, string? Email, string? Description,
    string? Extra = null);

/// <summary>
/// The filters of GET /v3/role_assignments (null: any). <see cref="IncludeSubtree"/>: a project target also matches the
/// projects under it; <see cref="InheritedOnly"/>: scope.OS-INHERIT:inherited_to=projects.
/// </summary>
public sealed record AssignmentQuery(string? UserId, string? GroupId, string? TargetKind, string? TargetId, string? RoleId, bool Effective,
    bool IncludeSubtree = false, bool InheritedOnly = false);

/// <summary>A user PATCH: what is not given stays; a new password is hashed here, never stored as given.</summary>
public sealed record UserUpdate(string? Name, string? Password, bool? Enabled, Optional<string?> DefaultProjectId, Optional<string?> Email, Optional<string?> Description,
    System.Text.Json.Nodes.JsonObject? Extra = null);

/// <summary>
/// One row of /v3/role_assignments: a grant, or with effective=true a group's grant as it reaches one member
/// (<see cref="ViaGroupId"/> names the group).
/// </summary>
public sealed record AssignmentView(GrantRow Grant, string? ViaGroupId = null)
{
    /// <summary>For an implied role in the effective list: the granted role that implies it.</summary>
    public string? PriorRoleId { get; init; }

    /// <summary>In the effective list, for a project assignment an inherited grant amounts to: that grant.</summary>
    public GrantRow? Source { get; init; }
}

/// <summary>
/// Keystone's rules for domains, projects, users, roles and grants: existence checks, password hashing, and the
/// token revocations every change that takes access away implies. The API authorizes and shapes bodies; the store
/// only runs SQL.
/// </summary>
public sealed partial class IdentityService(IdentityStore store, TokenService tokens, LoginGuard guard, TimeProvider clock, IOptions<IdentityOptions> options)
{
    public Task<IReadOnlyList<DomainRow>> ListDomainsAsync() => store.ListDomainsAsync();

    public async Task<DomainRow> GetDomainAsync(string id) =>
        await store.FindDomainAsync(id, null) ?? throw ApiException.NotFound($"Could not find domain: {id}.");

    public Task<IReadOnlyList<ProjectRow>> ListProjectsAsync(string? name, string? domainId) => store.ListProjectsAsync(name, domainId);

    public Task<IReadOnlyList<ProjectRow>> ListProjectsOfUserAsync(string userId) => store.ListProjectsOfUserAsync(userId);

    public async Task<ProjectRow> GetProjectAsync(string id) =>
        await store.FindProjectAsync(id, null, null) ?? throw ProjectNotFound(id);

    /// <summary>
    /// A new project: top-level in its domain, or under <see cref="ProjectCreate.ParentId"/> in the parent's domain (a
    /// parent_id naming a domain is Keystone's way of saying top-level).
    /// </summary>
    public async Task<ProjectRow> CreateProjectAsync(ProjectCreate request)
    {
        string? parentId = null;
        var domainId = request.DomainId;
        if (request.ParentId is { } parentRef && await store.FindDomainAsync(parentRef, null) is null)
        {
            var parent = await store.FindProjectAsync(parentRef, null, null) ?? throw ApiException.NotFound($"Could not find project: {parentRef}.");
            if (domainId is not null && domainId != parent.DomainId)
            {
                throw ApiException.BadRequest("Cannot create project, the parent project is in another domain.");
            }

            parentId = parent.Id;
            domainId = parent.DomainId;
        }
        else if (request.ParentId is { } domainParent)
        {
            domainId ??= domainParent;
            if (domainId != domainParent)
            {
                throw ApiException.BadRequest("Cannot create project, the parent domain is not its domain.");
            }
        }

        var domain = await GetDomainAsync(domainId ?? IdentityStore.DefaultDomainId);
        return await store.CreateProjectAsync(request.Name, domain.Id, request.Description, request.Enabled, parentId);
    }

    /// <summary>Disabling a project ends every token scoped to it.</summary>
    public async Task<ProjectRow> UpdateProjectAsync(string id, ProjectUpdate update)
    {
        var before = await GetProjectAsync(id);
        var after = before with
        {
            Name = update.Name ?? before.Name,
            Description = update.Description.Or(before.Description),
            Enabled = update.Enabled ?? before.Enabled,
        };
        await store.UpdateProjectAsync(after);
        if (before.Enabled && !after.Enabled)
        {
            await tokens.RevokeAsync(null, id);
        }

        return after;
    }

    /// <summary>Only a leaf of the hierarchy is deleted (Keystone's 403 without cascade).</summary>
    public async Task DeleteProjectAsync(string id)
    {
        if (await store.HasChildProjectsAsync(id))
        {
            throw ApiException.Forbidden($"Cannot delete the project {id} since it is not a leaf in the hierarchy. Delete its children first.");
        }

        if (!await store.DeleteProjectAsync(id))
        {
            throw ProjectNotFound(id);
        }

        await tokens.RevokeAsync(null, id);
    }

    public Task<IReadOnlyList<UserRow>> ListUsersAsync(string? name, string? domainId) => store.ListUsersAsync(name, domainId);

    public async Task<UserRow> GetUserAsync(string id) =>
        await store.FindUserAsync(id, null, null) ?? throw UserNotFound(id);

    public async Task<UserRow> CreateUserAsync(UserCreate request)
    {
        var domain = await GetDomainAsync(request.DomainId ?? IdentityStore.DefaultDomainId);
        if (request.DefaultProjectId is { } project)
        {
            _ = await GetProjectAsync(project);
        }

        return await store.CreateUserAsync(request.Name, domain.Id, request.Password, request.Enabled, request.DefaultProjectId,
            request.Email, request.Description, request.Extra);
    }

    /// <summary>A new password or a disabled user ends every session that came before (as Keystone); a new password also clears a lock-out.</summary>
    public async Task<UserRow> UpdateUserAsync(string id, UserUpdate update)
    {
        var before = await GetUserAsync(id);
        var after = before with
        {
            Name = update.Name ?? before.Name,
            PasswordHash = update.Password is null ? before.PasswordHash : PasswordHasher.Hash(update.Password),
            Enabled = update.Enabled ?? before.Enabled,
            DefaultProjectId = update.DefaultProjectId.Or(before.DefaultProjectId),
            Email = update.Email.Or(before.Email),
            Description = update.Description.Or(before.Description),
            Extra = MergeExtra(before.Extra, update.Extra),
        };
        await store.UpdateUserAsync(after);
        if (update.Password is not null || before.Enabled && !after.Enabled)
        {
            await tokens.RevokeAsync(id, null);
        }

        if (update.Password is not null)
        {
            await store.ClearLoginFailuresAsync(id);
        }

        return after;
    }

    /// <summary>A PATCH's unknown attributes merged into the kept ones; null removes one.</summary>
    private static string? MergeExtra(string? before, System.Text.Json.Nodes.JsonObject? update)
    {
        if (update is null || update.Count == 0)
        {
            return before;
        }

        var merged = before is null ? new System.Text.Json.Nodes.JsonObject() : System.Text.Json.Nodes.JsonNode.Parse(before) as System.Text.Json.Nodes.JsonObject ?? [];
        foreach (var (key, value) in update)
        {
            if (value is null)
            {
                merged.Remove(key);
            }
            else
            {
                merged[key] = value.DeepClone();
            }
        }

        return merged.Count == 0 ? null : merged.ToJsonString();
    }

    public async Task DeleteUserAsync(string id)
    {
        if (!await store.DeleteUserAsync(id))
        {
            throw UserNotFound(id);
        }

        await tokens.RevokeAsync(id, null);
    }

    /// <summary>Every role, global and domain-specific.</summary>
    public Task<IReadOnlyList<RoleRow>> ListRolesAsync(string? name) => store.ListRolesAsync(name);

    public async Task<RoleRow> GetRoleAsync(string id) =>
        await store.FindRoleAsync(id, null) ?? throw RoleNotFound(id);

    /// <summary>A global role, or a domain-specific one when <paramref name="domainId"/> names an existing domain.</summary>
    public async Task<RoleRow> CreateRoleAsync(string name, string? description, string? domainId = null)
    {
        if (domainId is not null)
        {
            _ = await GetDomainAsync(domainId);
        }

        return await store.CreateRoleAsync(name, description, domainId);
    }

    /// <summary>Deleting a role removes every assignment of it: each holder's tokens on that project end.</summary>
    public async Task DeleteRoleAsync(string id)
    {
        var holders = await store.ListGrantsAsync(GrantRow.User, null, GrantRow.Project, null, id);
        if (!await store.DeleteRoleAsync(id))
        {
            throw RoleNotFound(id);
        }

        foreach (var holder in holders)
        {
            await tokens.RevokeAsync(holder.ActorId, holder.TargetId);
        }
    }

    /// <summary>Gives a role (an OS-INHERIT grant when <see cref="GrantRow.Inherited"/>).</summary>
    public async Task GrantAsync(GrantRow grant)
    {
        var projectDomainId = await RequireGrantPartsAsync(grant);
        // Keystone's rule: a domain-specific role is given on a project only in the role's domain.
        if (projectDomainId is not null && (await GetRoleAsync(grant.RoleId)).DomainId is { } roleDomainId && roleDomainId != projectDomainId)
        {
            throw ApiException.Forbidden($"Project {grant.TargetId} must be in the same domain as the role {grant.RoleId} being assigned.");
        }

        await (grant.Inherited ? store.GrantInheritedAsync(grant) : store.GrantAsync(grant));
    }

    public async Task CheckGrantAsync(GrantRow grant)
    {
        _ = await RequireGrantPartsAsync(grant);
        var found = grant.Inherited
            ? await store.ListInheritedGrantsAsync(grant.ActorKind, grant.ActorId, grant.TargetKind, grant.TargetId, grant.RoleId)
            : await store.ListGrantsAsync(grant.ActorKind, grant.ActorId, grant.TargetKind, grant.TargetId, grant.RoleId);
        if (found.Count == 0)
        {
            throw AssignmentNotFound(grant);
        }
    }

    /// <summary>
    /// Taking a user's role on a project away ends the user's tokens there (Keystone's revocation event); every other
    /// grant reaches tokens through their validation, which reads the roles again after any grant changed.
    /// </summary>
    public async Task RevokeGrantAsync(GrantRow grant)
    {
        if (!await (grant.Inherited ? store.RevokeInheritedAsync(grant) : store.RevokeGrantAsync(grant)))
        {
            throw AssignmentNotFound(grant);
        }

        if (grant is { ActorKind: GrantRow.User, TargetKind: GrantRow.Project })
        {
            await tokens.RevokeAsync(grant.ActorId, grant.TargetId);
            // As Keystone: the user's application credentials for that project go with the role.
            await store.DeleteAppCredentialsAsync(grant.ActorId, grant.TargetId);
        }
    }

    /// <summary>The roles given to the actor itself on the target (GET .../users/{id}/roles).</summary>
    public async Task<IReadOnlyList<RoleRow>> DirectRolesAsync(string actorKind, string actorId, string targetKind, string targetId)
    {
        _ = await RequireGrantPartsAsync(new GrantRow(actorKind, actorId, targetKind, targetId, ""), checkRole: false);
        return await store.DirectRolesAsync(actorKind, actorId, targetKind, targetId);
    }

    /// <summary>The roles given to the actor for the target's projects (GET .../roles/inherited_to_projects).</summary>
    public async Task<IReadOnlyList<RoleRow>> InheritedRolesAsync(string actorKind, string actorId, string targetKind, string targetId)
    {
        _ = await RequireGrantPartsAsync(new GrantRow(actorKind, actorId, targetKind, targetId, ""), checkRole: false);
        return await store.InheritedRolesAsync(actorKind, actorId, targetKind, targetId);
    }

    /// <summary>
    /// Keystone's role assignment list: grants (system, domain, project, and OS-INHERIT ones) filtered by actor, target
    /// and role. With <see cref="AssignmentQuery.Effective"/>, a group's grants are shown as each member's (the group rows
    /// go), an inherited grant as a project assignment on each project it reaches, implied roles are added and
    /// domain-specific roles left out (tokens carry neither those nor inherited grants on the target itself).
    /// </summary>
    public async Task<IReadOnlyList<AssignmentView>> ListAssignmentsAsync(AssignmentQuery query)
    {
        var grants = new List<GrantRow>();
        if (!query.InheritedOnly)
        {
            grants.AddRange(await store.ListGrantsAsync(null, null, null, null, query.Effective ? null : query.RoleId));
        }

        grants.AddRange(await store.ListInheritedGrantsAsync(null, null, null, null, query.Effective ? null : query.RoleId));
        var views = new List<AssignmentView>();
        foreach (var row in grants)
        {
            IEnumerable<(GrantRow Grant, GrantRow? Source)> placed = query.Effective && row.Inherited
                ? (await store.ProjectsReachedAsync(row.TargetKind, row.TargetId))
                    .Select(p => (row with { TargetKind = GrantRow.Project, TargetId = p, Inherited = false }, (GrantRow?)row))
                : [(row, null)];
            foreach (var (grant, source) in placed)
            {
                if (query.Effective && grant.ActorKind == GrantRow.Group)
                {
                    foreach (var member in await store.ListMembersAsync(grant.ActorId))
                    {
                        views.Add(new AssignmentView(grant with { ActorKind = GrantRow.User, ActorId = member.Id }, grant.ActorId) { Source = source });
                    }
                }
                else
                {
                    views.Add(new AssignmentView(grant) { Source = source });
                }
            }
        }

        if (query.Effective)
        {
            var domainRoles = (await store.ListRolesAsync(null)).Where(r => r.DomainId is not null).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
            views = [.. (await WithImpliedRolesAsync(views)).Where(v => !domainRoles.Contains(v.Grant.RoleId))];
        }

        var projects = query is { TargetKind: GrantRow.Project, TargetId: { } projectId }
            ? (query.IncludeSubtree ? await store.SubtreeAsync(projectId) : [projectId]).ToHashSet(StringComparer.Ordinal)
            : null;
        return [.. views.Where(v => (query.UserId is null || v.Grant is { ActorKind: GrantRow.User } && v.Grant.ActorId == query.UserId)
            && (query.GroupId is null || v.Grant is { ActorKind: GrantRow.Group } && v.Grant.ActorId == query.GroupId)
            && (query.RoleId is null || v.Grant.RoleId == query.RoleId)
            && (query.TargetKind is null || v.Grant.TargetKind == query.TargetKind
                && (projects?.Contains(v.Grant.TargetId) ?? query.TargetId is null || v.Grant.TargetId == query.TargetId)))];
    }

    /// <summary>Each assignment followed by the roles its role implies, transitively (as Keystone's effective list), without repeats.</summary>
    private async Task<List<AssignmentView>> WithImpliedRolesAsync(List<AssignmentView> views)
    {
        var rules = await store.ListImpliedRolesAsync(null);
        if (rules.Count == 0)
        {
            return views;
        }

        var seen = new HashSet<GrantRow>();
        var expanded = new List<AssignmentView>();
        foreach (var view in views)
        {
            foreach (var roleId in IdentityStore.ImpliedClosure([view.Grant.RoleId], rules).Order(StringComparer.Ordinal))
            {
                var grant = view.Grant with { RoleId = roleId };
                if (seen.Add(grant))
                {
                    expanded.Add(roleId == view.Grant.RoleId ? view : view with { Grant = grant, PriorRoleId = view.Grant.RoleId });
                }
            }
        }

        return expanded;
    }

    public Task<RoleRow?> FindRoleAsync(string id) => store.FindRoleAsync(id, null);

    public Task<UserRow?> FindUserAsync(string id) => store.FindUserAsync(id, null, null);

    public Task<ProjectRow?> FindProjectAsync(string id) => store.FindProjectAsync(id, null, null);

    public Task<GroupRow?> FindGroupAsync(string id) => store.FindGroupAsync(id);

    /// <summary>The actor, target and role must exist; the target's domain when it is a project, else null.</summary>
    private async Task<string?> RequireGrantPartsAsync(GrantRow grant, bool checkRole = true)
    {
        string? projectDomainId = null;
        if (grant.TargetKind == GrantRow.Project)
        {
            projectDomainId = (await GetProjectAsync(grant.TargetId)).DomainId;
        }
        else if (grant.TargetKind == GrantRow.Domain)
        {
            _ = await GetDomainAsync(grant.TargetId);
        }

        if (grant.ActorKind == GrantRow.User)
        {
            _ = await GetUserAsync(grant.ActorId);
        }
        else
        {
            _ = await GetGroupAsync(grant.ActorId);
        }

        if (checkRole)
        {
            _ = await GetRoleAsync(grant.RoleId);
        }

        return projectDomainId;
    }

    private static ApiException ProjectNotFound(string id) => ApiException.NotFound($"Could not find project: {id}.");

    private static ApiException UserNotFound(string id) => ApiException.NotFound($"Could not find user: {id}.");

    private static ApiException RoleNotFound(string id) => ApiException.NotFound($"Could not find role: {id}.");

    private static ApiException AssignmentNotFound(GrantRow grant) => ApiException.NotFound(
        $"Could not find role assignment with role: {grant.RoleId}, user or group: {grant.ActorId}, project, domain, or system: {grant.TargetId}.");
}
