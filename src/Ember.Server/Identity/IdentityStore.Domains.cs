using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Identity;

// Domains and groups. A domain's deletion takes its projects, users and groups with it (Keystone's cascade), and every
// grant on or of them; each write bumps the identity generation, since tokens validate against all of these.
public sealed partial class IdentityStore
{
    public async Task<DomainRow> CreateDomainAsync(string name, string? description, bool enabled)
    {
        var row = new DomainRow(Ids.NewHexId(), name, description, enabled);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO domains (id, name, description, enabled) VALUES (@Id, @Name, @Description, @Enabled)",
            row, $"Duplicate entry found with name {name}.");
        return row;
    }

    public async Task UpdateDomainAsync(DomainRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "UPDATE domains SET name = @Name, description = @Description, enabled = @Enabled WHERE id = @Id",
            row, $"Duplicate entry found with name {row.Name}.");
        await BumpGenerationAsync(c);
    }

    /// <summary>Deletes the domain with everything in it, in one transaction; false when there was no such domain.</summary>
    public async Task<bool> DeleteDomainAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var args = new { Id = id };
        await c.ExecuteAsync("""
            DELETE FROM inherited_grants WHERE target_kind = 'domain' AND target_id = @Id
              OR target_kind = 'project' AND target_id IN (SELECT p.id FROM projects p WHERE p.domain_id = @Id)
              OR actor_kind = 'user' AND actor_id IN (SELECT u.id FROM users u WHERE u.domain_id = @Id)
              OR actor_kind = 'group' AND actor_id IN (SELECT g.id FROM identity_groups g WHERE g.domain_id = @Id)
            """, args, tx);
        await c.ExecuteAsync("""
            DELETE FROM grants WHERE target_kind = 'domain' AND target_id = @Id
              OR target_kind = 'project' AND target_id IN (SELECT p.id FROM projects p WHERE p.domain_id = @Id)
              OR actor_kind = 'user' AND actor_id IN (SELECT u.id FROM users u WHERE u.domain_id = @Id)
              OR actor_kind = 'group' AND actor_id IN (SELECT g.id FROM identity_groups g WHERE g.domain_id = @Id)
            """, args, tx);
        await c.ExecuteAsync("DELETE FROM identity_groups WHERE domain_id = @Id", args, tx);
        await c.ExecuteAsync("DELETE FROM users WHERE domain_id = @Id", args, tx);
        await c.ExecuteAsync("DELETE FROM projects WHERE domain_id = @Id", args, tx);
        var deleted = await c.ExecuteAsync("DELETE FROM domains WHERE id = @Id", args, tx);
        await BumpGenerationAsync(c, tx);
        await tx.CommitAsync();
        return deleted > 0;
    }

    public async Task<GroupRow?> FindGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<GroupRow>("SELECT * FROM identity_groups WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<GroupRow>> ListGroupsAsync(string? domainId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<GroupRow>(
            "SELECT * FROM identity_groups WHERE (@DomainId IS NULL OR domain_id = @DomainId) ORDER BY name", new { DomainId = domainId })];
    }

    public async Task<GroupRow> CreateGroupAsync(string name, string domainId, string? description)
    {
        var row = new GroupRow(Ids.NewHexId(), name, domainId, description);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO identity_groups (id, name, domain_id, description) VALUES (@Id, @Name, @DomainId, @Description)",
            row, $"Duplicate entry found with name {name} at domain ID {domainId}.");
        return row;
    }

    public async Task UpdateGroupAsync(GroupRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "UPDATE identity_groups SET name = @Name, description = @Description WHERE id = @Id",
            row, $"Duplicate entry found with name {row.Name} at domain ID {row.DomainId}.");
    }

    /// <summary>Deletes the group, its memberships and its grants: its members' tokens lose those roles.</summary>
    public async Task<bool> DeleteGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("DELETE FROM grants WHERE actor_kind = 'group' AND actor_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM inherited_grants WHERE actor_kind = 'group' AND actor_id = @Id", new { Id = id }, tx);
        var deleted = await c.ExecuteAsync("DELETE FROM identity_groups WHERE id = @Id", new { Id = id }, tx);
        await BumpGenerationAsync(c, tx);
        await tx.CommitAsync();
        return deleted > 0;
    }

    public async Task AddMemberAsync(string groupId, string userId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("INSERT INTO group_members (group_id, user_id) VALUES (@GroupId, @UserId) ON CONFLICT (group_id, user_id) DO NOTHING",
            new { GroupId = groupId, UserId = userId });
        await BumpGenerationAsync(c);
    }

    public async Task<bool> RemoveMemberAsync(string groupId, string userId)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM group_members WHERE group_id = @GroupId AND user_id = @UserId",
            new { GroupId = groupId, UserId = userId }));
    }

    public async Task<bool> IsMemberAsync(string groupId, string userId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM group_members WHERE group_id = @GroupId AND user_id = @UserId",
            new { GroupId = groupId, UserId = userId }) > 0;
    }

    public async Task<IReadOnlyList<UserRow>> ListMembersAsync(string groupId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<UserRow>(
            "SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = @GroupId ORDER BY u.name", new { GroupId = groupId })];
    }

    public async Task<IReadOnlyList<GroupRow>> ListGroupsOfUserAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<GroupRow>(
            "SELECT g.* FROM identity_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = @UserId ORDER BY g.name", new { UserId = userId })];
    }

    /// <summary>A role's new name or description: tokens show role names, so the generation moves.</summary>
    public async Task UpdateRoleAsync(RoleRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "UPDATE roles SET name = @Name, description = @Description WHERE id = @Id", row, $"Duplicate entry found with name {row.Name}.");
        await BumpGenerationAsync(c);
    }
}
