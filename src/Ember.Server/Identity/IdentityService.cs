using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A new project or user's fields, as the API read them.</summary>
public sealed record ProjectCreate(string Name, string? DomainId, string? Description, bool Enabled);

/// <summary>A project PATCH: what is not given stays.</summary>
public sealed record ProjectUpdate(string? Name, Optional<string?> Description, bool? Enabled);

public sealed record UserCreate(string Name, string? DomainId, string? Password, bool Enabled, string? DefaultProjectId, string? Email, string? Description);

/// <summary>A user PATCH: what is not given stays; a new password is hashed here, never stored as given.</summary>
public sealed record UserUpdate(string? Name, string? Password, bool? Enabled, Optional<string?> DefaultProjectId, Optional<string?> Email, Optional<string?> Description);

/// <summary>A role assignment with the names of its parts (null when the API did not ask for them).</summary>
public sealed record NamedAssignment(RoleAssignmentRow Row, RoleRow? Role, UserRow? User, ProjectRow? Project);

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

    public async Task<ProjectRow> CreateProjectAsync(ProjectCreate request)
    {
        var domain = await GetDomainAsync(request.DomainId ?? IdentityStore.DefaultDomainId);
        return await store.CreateProjectAsync(request.Name, domain.Id, request.Description, request.Enabled);
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

    public async Task DeleteProjectAsync(string id)
    {
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
            request.Email, request.Description);
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

    public async Task DeleteUserAsync(string id)
    {
        if (!await store.DeleteUserAsync(id))
        {
            throw UserNotFound(id);
        }

        await tokens.RevokeAsync(id, null);
    }

    public Task<IReadOnlyList<RoleRow>> ListRolesAsync(string? name) => store.ListRolesAsync(name);

    public async Task<RoleRow> GetRoleAsync(string id) =>
        await store.FindRoleAsync(id, null) ?? throw RoleNotFound(id);

    public Task<RoleRow> CreateRoleAsync(string name, string? description) => store.CreateRoleAsync(name, description);

    /// <summary>Deleting a role removes every assignment of it: each holder's tokens on that project end.</summary>
    public async Task DeleteRoleAsync(string id)
    {
        var holders = await store.ListAssignmentsAsync(null, null, id);
        if (!await store.DeleteRoleAsync(id))
        {
            throw RoleNotFound(id);
        }

        foreach (var holder in holders)
        {
            await tokens.RevokeAsync(holder.UserId, holder.ProjectId);
        }
    }

    public async Task GrantAsync(string projectId, string userId, string roleId)
    {
        await RequireGrantPartsAsync(projectId, userId, roleId);
        await store.GrantAsync(userId, projectId, roleId);
    }

    public async Task CheckGrantAsync(string projectId, string userId, string roleId)
    {
        await RequireGrantPartsAsync(projectId, userId, roleId);
        if ((await store.ListAssignmentsAsync(userId, projectId, roleId)).Count == 0)
        {
            throw AssignmentNotFound(projectId, userId, roleId);
        }
    }

    /// <summary>Taking a role away ends the user's tokens on that project.</summary>
    public async Task RevokeGrantAsync(string projectId, string userId, string roleId)
    {
        if (!await store.RevokeGrantAsync(userId, projectId, roleId))
        {
            throw AssignmentNotFound(projectId, userId, roleId);
        }

        await tokens.RevokeAsync(userId, projectId);
    }

    public Task<IReadOnlyList<RoleRow>> RolesOnProjectAsync(string projectId, string userId) => store.RolesOnProjectAsync(userId, projectId);

    public async Task<IReadOnlyList<NamedAssignment>> ListAssignmentsAsync(string? userId, string? projectId, string? roleId, bool includeNames)
    {
        var rows = await store.ListAssignmentsAsync(userId, projectId, roleId);
        var named = new List<NamedAssignment>(rows.Count);
        foreach (var row in rows)
        {
            named.Add(includeNames
                ? new NamedAssignment(row, await store.FindRoleAsync(row.RoleId, null), await store.FindUserAsync(row.UserId, null, null),
                    await store.FindProjectAsync(row.ProjectId, null, null))
                : new NamedAssignment(row, null, null, null));
        }

        return named;
    }

    private async Task RequireGrantPartsAsync(string projectId, string userId, string roleId)
    {
        _ = await GetProjectAsync(projectId);
        _ = await GetUserAsync(userId);
        _ = await GetRoleAsync(roleId);
    }

    private static ApiException ProjectNotFound(string id) => ApiException.NotFound($"Could not find project: {id}.");

    private static ApiException UserNotFound(string id) => ApiException.NotFound($"Could not find user: {id}.");

    private static ApiException RoleNotFound(string id) => ApiException.NotFound($"Could not find role: {id}.");

    private static ApiException AssignmentNotFound(string projectId, string userId, string roleId) => ApiException.NotFound(
        $"Could not find role assignment with role: {roleId}, user or group: {userId}, project, domain, or system: {projectId}.");
}
