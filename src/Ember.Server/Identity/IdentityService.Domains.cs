using Ember.Server.Common;

namespace Ember.Server.Identity;

/// <summary>A domain PATCH: what is not given stays.</summary>
public sealed record DomainUpdate(string? Name, Optional<string?> Description, bool? Enabled);

// Keystone's rules for domains and groups: a domain is deleted only once disabled, the Default domain (where the
// cloud admin lives) is neither disabled nor deleted; a group lives in one domain and its members come from any.
public sealed partial class IdentityService
{
    public Task<DomainRow> CreateDomainAsync(string name, string? description, bool enabled) => store.CreateDomainAsync(name, description, enabled);

    public async Task<DomainRow> UpdateDomainAsync(string id, DomainUpdate update)
    {
        var before = await GetDomainAsync(id);
        var after = before with
        {
            Name = update.Name ?? before.Name,
            Description = update.Description.Or(before.Description),
            Enabled = update.Enabled ?? before.Enabled,
        };
        if (id == IdentityStore.DefaultDomainId && !after.Enabled)
        {
            throw ApiException.Forbidden("The Default domain holds the cloud admin and cannot be disabled.");
        }

        await store.UpdateDomainAsync(after);
        return after;
    }

    /// <summary>Keystone's rule: an enabled domain is not deleted (403); a disabled one goes with its projects, users and groups.</summary>
    public async Task DeleteDomainAsync(string id)
    {
        var domain = await GetDomainAsync(id);
        if (id == IdentityStore.DefaultDomainId)
        {
            throw ApiException.Forbidden("The Default domain holds the cloud admin and cannot be deleted.");
        }

        if (domain.Enabled)
        {
            throw ApiException.Forbidden("Cannot delete a domain that is enabled, please disable it first.");
        }

        if (!await store.DeleteDomainAsync(id))
        {
            throw DomainNotFound(id);
        }
    }

    public Task<IReadOnlyList<DomainRow>> ListDomainsOfUserAsync(string userId) => store.ListDomainsOfUserAsync(userId);

    public Task<IReadOnlyList<GroupRow>> ListGroupsAsync(string? domainId) => store.ListGroupsAsync(domainId);

    public async Task<GroupRow> GetGroupAsync(string id) =>
        await store.FindGroupAsync(id) ?? throw ApiException.NotFound($"Could not find group: {id}.");

    public async Task<GroupRow> CreateGroupAsync(string name, string? domainId, string? description)
    {
        var domain = await GetDomainAsync(domainId ?? IdentityStore.DefaultDomainId);
        return await store.CreateGroupAsync(name, domain.Id, description);
    }

    public async Task<GroupRow> UpdateGroupAsync(string id, string? name, Optional<string?> description)
    {
        var before = await GetGroupAsync(id);
        var after = before with { Name = name ?? before.Name, Description = description.Or(before.Description) };
        await store.UpdateGroupAsync(after);
        return after;
    }

    public async Task DeleteGroupAsync(string id)
    {
        if (!await store.DeleteGroupAsync(id))
        {
            throw ApiException.NotFound($"Could not find group: {id}.");
        }
    }

    public async Task AddMemberAsync(string groupId, string userId)
    {
        _ = await GetGroupAsync(groupId);
        _ = await GetUserAsync(userId);
        await store.AddMemberAsync(groupId, userId);
    }

    public async Task CheckMemberAsync(string groupId, string userId)
    {
        _ = await GetGroupAsync(groupId);
        _ = await GetUserAsync(userId);
        if (!await store.IsMemberAsync(groupId, userId))
        {
            throw ApiException.NotFound($"User {userId} is not a member of group {groupId}.");
        }
    }

    public async Task RemoveMemberAsync(string groupId, string userId)
    {
        _ = await GetGroupAsync(groupId);
        _ = await GetUserAsync(userId);
        if (!await store.RemoveMemberAsync(groupId, userId))
        {
            throw ApiException.NotFound($"User {userId} is not a member of group {groupId}.");
        }
    }

    public async Task<IReadOnlyList<UserRow>> ListMembersAsync(string groupId)
    {
        _ = await GetGroupAsync(groupId);
        return await store.ListMembersAsync(groupId);
    }

    public async Task<IReadOnlyList<GroupRow>> ListGroupsOfUserAsync(string userId)
    {
        _ = await GetUserAsync(userId);
        return await store.ListGroupsOfUserAsync(userId);
    }

    private static ApiException DomainNotFound(string id) => ApiException.NotFound($"Could not find domain: {id}.");
}

public sealed partial class IdentityService
{
    public async Task<RoleRow> UpdateRoleAsync(string id, string? name, Optional<string?> description)
    {
        var before = await GetRoleAsync(id);
        var after = before with { Name = name ?? before.Name, Description = description.Or(before.Description) };
        await store.UpdateRoleAsync(after);
        return after;
    }

    /// <summary>
    /// A user's own password change: the original is checked as a login is (the same guard and lock-out, 401 when
    /// wrong); the new one ends every earlier token, as an admin's reset does.
    /// </summary>
    public async Task ChangePasswordAsync(string userId, string originalPassword, string newPassword, string source, CancellationToken cancellationToken)
    {
        if (newPassword.Length is 0 or > 4096)
        {
            throw ApiException.BadRequest("Invalid input for field 'password': it must be 1 to 4096 characters.");
        }

        _ = await AuthenticatePasswordAsync(new UserReference(userId, null, null), originalPassword, source, cancellationToken);
        _ = await UpdateUserAsync(userId, new UserUpdate(null, newPassword, null, default, default, default));
    }
}
