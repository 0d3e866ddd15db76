using Dapper;

namespace Ember.Server.Identity;

// OS-INHERIT grants (a role for the projects under a domain or a project) and the project tree they reach.
public sealed partial class IdentityStore
{
    public async Task GrantInheritedAsync(GrantRow grant)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO inherited_grants (actor_kind, actor_id, target_kind, target_id, role_id) VALUES (@ActorKind, @ActorId, @TargetKind, @TargetId, @RoleId)
            ON CONFLICT (actor_kind, actor_id, target_kind, target_id, role_id) DO NOTHING
            """, grant);
        await BumpGenerationAsync(c);
    }

    public async Task<bool> RevokeInheritedAsync(GrantRow grant)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("""
            DELETE FROM inherited_grants WHERE actor_kind = @ActorKind AND actor_id = @ActorId AND target_kind = @TargetKind
              AND target_id = @TargetId AND role_id = @RoleId
            """, grant));
    }

    /// <summary>The inherited grants matching every filter given (null: any), each marked <see cref="GrantRow.Inherited"/>.</summary>
    public async Task<IReadOnlyList<GrantRow>> ListInheritedGrantsAsync(string? actorKind, string? actorId, string? targetKind, string? targetId, string? roleId)
    {
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<GrantRow>("""
            SELECT actor_kind AS ActorKind, actor_id AS ActorId, target_kind AS TargetKind, target_id AS TargetId, role_id AS RoleId FROM inherited_grants
            WHERE (@ActorKind IS NULL OR actor_kind = @ActorKind) AND (@ActorId IS NULL OR actor_id = @ActorId)
              AND (@TargetKind IS NULL OR target_kind = @TargetKind) AND (@TargetId IS NULL OR target_id = @TargetId)
              AND (@RoleId IS NULL OR role_id = @RoleId)
            ORDER BY target_kind, target_id, actor_kind, actor_id, role_id
            """, new { ActorKind = actorKind, ActorId = actorId, TargetKind = targetKind, TargetId = targetId, RoleId = roleId });
        return [.. rows.Select(r => r with { Inherited = true })];
    }

    /// <summary>The roles given to an actor on a target for its projects (GET .../roles/inherited_to_projects).</summary>
    public async Task<IReadOnlyList<RoleRow>> InheritedRolesAsync(string actorKind, string actorId, string targetKind, string targetId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>("""
            SELECT r.* FROM roles r JOIN inherited_grants g ON g.role_id = r.id
            WHERE g.actor_kind = @ActorKind AND g.actor_id = @ActorId AND g.target_kind = @TargetKind AND g.target_id = @TargetId ORDER BY r.name
            """, new { ActorKind = actorKind, ActorId = actorId, TargetKind = targetKind, TargetId = targetId })];
    }

    /// <summary>The projects an inherited grant on the target reaches: all of a domain's, or those under a project (not itself).</summary>
    public async Task<IReadOnlyList<string>> ProjectsReachedAsync(string targetKind, string targetId)
    {
        await using var c = await db.OpenAsync();
        var sql = targetKind == GrantRow.Domain
            ? "SELECT id FROM projects WHERE domain_id = @Id ORDER BY id"
            : """
                WITH RECURSIVE below (id) AS (
                  SELECT p.id FROM projects p WHERE p.parent_id = @Id
                  UNION SELECT p.id FROM projects p JOIN below b ON p.parent_id = b.id)
                SELECT id FROM below ORDER BY id
                """;
        return [.. await c.QueryAsync<string>(sql, new { Id = targetId })];
    }

    /// <summary>The project and every project under it (include_subtree).</summary>
    public async Task<IReadOnlyList<string>> SubtreeAsync(string projectId) =>
        [projectId, .. await ProjectsReachedAsync(GrantRow.Project, projectId)];
}
