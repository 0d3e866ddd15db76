using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>A server group (Nova's instance group): one policy, as the API has it below 2.64.</summary>
public sealed record ServerGroupRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Policy { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public DateTime CreatedAt { get; init; }
}

/// <summary>How adding a server to its group went (<see cref="ServerGroupStore.AddMemberAsync"/>).</summary>
public enum MemberAdded
{
    Added,

    /// <summary>The group already had its quota of members: nothing was written.</summary>
    GroupFull,

    /// <summary>The server is a member, but its host broke the policy: it was failed without a host.</summary>
    Unplaced,
}

/// <summary>
/// The SQL of server groups and their members. A member row goes with its server or its group (ON DELETE CASCADE).
/// Counting against a quota and the late policy check run under a lock (<see cref="Database.LockAsync"/>), as in
/// <see cref="Volume.VolumeStore"/>: the project's for group creation, the group's for members.
/// </summary>
public sealed class ServerGroupStore(Database db)
{
    private static readonly SqlList s_list = new("server_groups", "id, name, policy, project_id, user_id, created_at",
        new Dictionary<string, string> { ["created_at"] = "created_at", ["id"] = "id" }, new SortKey("created_at", false), new SortKey("id", false));

    private static string QuotaLock(string projectId) => "server-group-quota:" + projectId;

    private static string GroupLock(string groupId) => "server-group:" + groupId;

    /// <summary>Inserts the group if its project has fewer than <paramref name="maxGroups"/>; false when over quota.</summary>
    public async Task<bool> InsertGroupWithinQuotaAsync(ServerGroupRow row, int maxGroups)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(row.ProjectId));
        var inserted = await c.ExecuteAsync("""
            INSERT INTO server_groups (id, name, policy, project_id, user_id, created_at)
            SELECT @Id, @Name, @Policy, @ProjectId, @UserId, @CreatedAt
            WHERE @MaxGroups < 0 OR (SELECT COUNT(*) FROM server_groups WHERE project_id = @ProjectId) < @MaxGroups
            """, new { row.Id, row.Name, row.Policy, row.ProjectId, row.UserId, row.CreatedAt, MaxGroups = maxGroups }, tx) == 1;
        await tx.CommitAsync();
        return inserted;
    }

    public async Task<ServerGroupRow?> FindGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServerGroupRow>(
            "SELECT id, name, policy, project_id, user_id, created_at FROM server_groups WHERE id = @Id", new { Id = id });
    }

    /// <summary>A project's groups (null: every project's) in creation order, from <paramref name="offset"/> on.</summary>
    public async Task<IReadOnlyList<ServerGroupRow>> ListGroupsAsync(string? projectId, int? limit, int offset) =>
        (await s_list.QueryAsync<ServerGroupRow>(db, new SqlWhere().Scope("project_id", projectId), new PageRequest([], null, limit, offset)))!.Items;

    /// <summary>False when the group was already gone; its member rows go with it.</summary>
    public async Task<bool> DeleteGroupAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM server_groups WHERE id = @Id", new { Id = id }) == 1;
    }

    /// <summary>The member server ids of each of <paramref name="groupIds"/>, in the order they joined.</summary>
    public async Task<ILookup<string, string>> MembersAsync(IReadOnlyCollection<string> groupIds)
    {
        if (groupIds.Count == 0)
        {
            return Array.Empty<string>().ToLookup(id => id);
        }

        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<(string GroupId, string ServerId)>(
            $"SELECT group_id, server_id FROM server_group_members WHERE group_id {db.Dialect.In("@Ids")} ORDER BY created_at, server_id",
            new { Ids = groupIds.ToArray() });
        return rows.ToLookup(r => r.GroupId, r => r.ServerId);
    }

    /// <summary>The group <paramref name="serverId"/> is a member of (a server is in at most one), for scheduling it again.</summary>
    public async Task<ServerGroupHint?> GroupOfAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServerGroupHint>(
            "SELECT g.id, g.policy FROM server_group_members m JOIN server_groups g ON g.id = m.group_id WHERE m.server_id = @Id",
            new { Id = serverId });
    }

    public async Task<long> CountMembersAsync(string groupId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM server_group_members WHERE group_id = @Id", new { Id = groupId });
    }

    /// <summary>The hosts the group's members (other than <paramref name="serverId"/>) run on; members without a host count for none.</summary>
    public async Task<IReadOnlyList<string>> MemberHostsAsync(string groupId, string serverId)
    {
        await using var c = await db.OpenAsync();
        return [.. await HostsOfOtherMembersAsync(c, null, groupId, serverId)];
    }

    /// <summary>
    /// Adds <paramref name="serverId"/> to the group under the group's lock, unless the group holds
    /// <paramref name="maxMembers"/> already. Then the late policy check (Nova's compute makes it before it builds):
    /// when <paramref name="placementHolds"/> refuses the other members' hosts, because a concurrent boot of the
    /// group was placed meanwhile, the server stays a member but loses its host and goes ERROR with
    /// <paramref name="noValidHostFault"/>, in the same transaction, so the next boot of the group sees it so.
    /// </summary>
    public async Task<MemberAdded> AddMemberAsync(string groupId, string serverId, int maxMembers,
        Func<IReadOnlyCollection<string>, bool> placementHolds, string noValidHostFault)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, GroupLock(groupId));
        var now = Ids.Now();
        var members = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM server_group_members WHERE group_id = @Id", new { Id = groupId }, tx);
        if (maxMembers >= 0 && members >= maxMembers)
        {
            return MemberAdded.GroupFull;
        }

        await c.ExecuteAsync("INSERT INTO server_group_members (group_id, server_id, created_at) VALUES (@GroupId, @ServerId, @Now)",
            new { GroupId = groupId, ServerId = serverId, Now = now }, tx);
        var result = MemberAdded.Added;
        if (!placementHolds([.. await HostsOfOtherMembersAsync(c, tx, groupId, serverId)]))
        {
            await c.ExecuteAsync("""
                UPDATE servers SET host = '', vm_state = @Error, task_state = NULL, fault_json = @Fault, updated_at = @Now WHERE id = @Id
                """, new { Id = serverId, Error = VmStates.Error, Fault = noValidHostFault, Now = now }, tx);
            result = MemberAdded.Unplaced;
        }

        await tx.CommitAsync();
        return result;
    }

    private static Task<IEnumerable<string>> HostsOfOtherMembersAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx,
        string groupId, string serverId) => c.QueryAsync<string>("""
            SELECT DISTINCT s.host FROM server_group_members m JOIN servers s ON s.id = m.server_id
            WHERE m.group_id = @GroupId AND m.server_id <> @ServerId AND s.host <> ''
            ORDER BY s.host
            """, new { GroupId = groupId, ServerId = serverId }, tx);
}
