using System.Security.Cryptography;
using System.Text;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>
/// Reads and writes identity state: domains, projects, users, roles, assignments, tokens. Every write that can change
/// what a token validates to (a user, project, role or assignment changed or gone, a token or revocation event) bumps
/// the identity generation right after it, before the caller answers, so that TokenService's cache drops what it
/// validated before.
/// </summary>
public sealed partial class IdentityStore(Database db)
{
    public const string DefaultDomainId = "default";

    public async Task<DomainRow?> FindDomainAsync(string? id, string? name)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<DomainRow>(
            "SELECT * FROM domains WHERE (@Id IS NULL OR id = @Id) AND (@Name IS NULL OR name = @Name)",
            new { Id = id, Name = name });
    }

    /// <summary>The domain every install has, with Keystone's fixed id "default".</summary>
    public async Task CreateDefaultDomainAsync()
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("INSERT INTO domains (id, name, description, enabled) VALUES (@Id, 'Default', 'The default domain', @Enabled)",
            new { Id = DefaultDomainId, Enabled = true });
    }

    public async Task<IReadOnlyList<DomainRow>> ListDomainsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<DomainRow>("SELECT * FROM domains ORDER BY name")];
    }

    public async Task<ProjectRow?> FindProjectAsync(string? id, string? name, string? domainId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<ProjectRow>(
            "SELECT * FROM projects WHERE (@Id IS NULL OR id = @Id) AND (@Name IS NULL OR name = @Name) AND (@DomainId IS NULL OR domain_id = @DomainId)",
            new { Id = id, Name = name, DomainId = domainId });
    }

    public async Task<IReadOnlyList<ProjectRow>> ListProjectsAsync(string? name, string? domainId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ProjectRow>(
            "SELECT * FROM projects WHERE (@Name IS NULL OR name = @Name) AND (@DomainId IS NULL OR domain_id = @DomainId) ORDER BY name",
            new { Name = name, DomainId = domainId })];
    }

    /// <summary>Projects where the user holds a role, directly or through a group.</summary>
    public async Task<IReadOnlyList<ProjectRow>> ListProjectsOfUserAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        // Also the projects an inherited grant reaches: every project of the domain, every project under the project.
        return [.. await c.QueryAsync<ProjectRow>($"""
            WITH RECURSIVE below (id) AS (
              SELECT p.id FROM projects p JOIN inherited_grants g ON g.target_kind = 'project' AND p.parent_id = g.target_id WHERE {ActorIsUser}
              UNION SELECT p.id FROM projects p JOIN below b ON p.parent_id = b.id)
            SELECT p.* FROM projects p WHERE p.id IN (SELECT g.target_id FROM grants g WHERE g.target_kind = 'project' AND {ActorIsUser})
              OR p.domain_id IN (SELECT g.target_id FROM inherited_grants g WHERE g.target_kind = 'domain' AND {ActorIsUser})
              OR p.id IN (SELECT b.id FROM below b)
            ORDER BY p.name
            """, new { UserId = userId })];
    }

    /// <summary>Domains where the user holds a role, directly or through a group.</summary>
    public async Task<IReadOnlyList<DomainRow>> ListDomainsOfUserAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<DomainRow>(
            $"SELECT d.* FROM domains d WHERE d.id IN (SELECT g.target_id FROM grants g WHERE g.target_kind = 'domain' AND {ActorIsUser}) ORDER BY d.name",
            new { UserId = userId })];
    }

    public async Task<ProjectRow> CreateProjectAsync(string name, string domainId, string? description, bool enabled, string? parentId = null)
    {
        var row = new ProjectRow(Ids.NewHexId(), name, domainId, description, enabled, Ids.Now(), parentId);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO projects (id, name, domain_id, description, enabled, created_at, parent_id) VALUES (@Id, @Name, @DomainId, @Description, @Enabled, @CreatedAt, @ParentId)",
            row, $"Duplicate entry found with name {name} at domain ID {domainId}.");
        return row;
    }

    public async Task UpdateProjectAsync(ProjectRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "UPDATE projects SET name = @Name, description = @Description, enabled = @Enabled WHERE id = @Id",
            row, $"Duplicate entry found with name {row.Name} at domain ID {row.DomainId}.");
        await BumpGenerationAsync(c);
    }

    public async Task<bool> DeleteProjectAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("DELETE FROM grants WHERE target_kind = 'project' AND target_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM inherited_grants WHERE target_kind = 'project' AND target_id = @Id", new { Id = id }, tx);
        var deleted = await c.ExecuteAsync("DELETE FROM projects WHERE id = @Id", new { Id = id }, tx);
        await BumpGenerationAsync(c, tx);
        await tx.CommitAsync();
        return deleted > 0;
    }

    public async Task<bool> HasChildProjectsAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM projects WHERE parent_id = @Id", new { Id = id }) > 0;
    }

    public async Task<UserRow?> FindUserAsync(string? id, string? name, string? domainId)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<UserRow>(
            "SELECT * FROM users WHERE (@Id IS NULL OR id = @Id) AND (@Name IS NULL OR name = @Name) AND (@DomainId IS NULL OR domain_id = @DomainId)",
            new { Id = id, Name = name, DomainId = domainId });
    }

    public async Task<IReadOnlyList<UserRow>> ListUsersAsync(string? name, string? domainId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<UserRow>(
            "SELECT * FROM users WHERE (@Name IS NULL OR name = @Name) AND (@DomainId IS NULL OR domain_id = @DomainId) ORDER BY name",
            new { Name = name, DomainId = domainId })];
    }

    public async Task<UserRow> CreateUserAsync(string name, string domainId, string? password, bool enabled,
        string? defaultProjectId, string? email, string? description, string? extra = null)
    {
        var hash = password is null ? null : PasswordHasher.Hash(password);
        var row = new UserRow(Ids.NewHexId(), name, domainId, hash, enabled, defaultProjectId, email, description, Ids.Now(), extra);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, """
            INSERT INTO users (id, name, domain_id, password_hash, enabled, default_project_id, email, description, created_at, extra)
            VALUES (@Id, @Name, @DomainId, @PasswordHash, @Enabled, @DefaultProjectId, @Email, @Description, @CreatedAt, @Extra)
            """, row, $"Duplicate entry found with name {name} at domain ID {domainId}.");
        return row;
    }

    public async Task UpdateUserAsync(UserRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, """
            UPDATE users SET name = @Name, password_hash = @PasswordHash, enabled = @Enabled,
              default_project_id = @DefaultProjectId, email = @Email, description = @Description, extra = @Extra WHERE id = @Id
            """, row, $"Duplicate entry found with name {row.Name} at domain ID {row.DomainId}.");
        await BumpGenerationAsync(c);
    }

    public async Task<bool> DeleteUserAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM grants WHERE actor_kind = 'user' AND actor_id = @Id", new { Id = id });
        await c.ExecuteAsync("DELETE FROM inherited_grants WHERE actor_kind = 'user' AND actor_id = @Id", new { Id = id });
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM users WHERE id = @Id", new { Id = id }));
    }

    public async Task<RoleRow?> FindRoleAsync(string? id, string? name)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<RoleRow>(
            "SELECT * FROM roles WHERE (@Id IS NULL OR id = @Id) AND (@Name IS NULL OR name = @Name)",
            new { Id = id, Name = name });
    }

    public async Task<IReadOnlyList<RoleRow>> ListRolesAsync(string? name)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>("SELECT * FROM roles WHERE (@Name IS NULL OR name = @Name) ORDER BY name", new { Name = name })];
    }

    public async Task<RoleRow> CreateRoleAsync(string name, string? description, string? domainId = null)
    {
        var row = new RoleRow(Ids.NewHexId(), name, description, domainId);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO roles (id, name, description, domain_id) VALUES (@Id, @Name, @Description, @DomainId)",
            row, $"Duplicate entry found with name {name}.");
        return row;
    }

    public async Task<bool> DeleteRoleAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM roles WHERE id = @Id", new { Id = id }));
    }

    /// <summary>The condition "grant g is the user's own or one of the user's groups'" (parameter @UserId).</summary>
    private const string ActorIsUser =
        "(g.actor_kind = 'user' AND g.actor_id = @UserId OR g.actor_kind = 'group' AND g.actor_id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = @UserId))";

    public async Task GrantAsync(GrantRow grant)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO grants (actor_kind, actor_id, target_kind, target_id, role_id) VALUES (@ActorKind, @ActorId, @TargetKind, @TargetId, @RoleId)
            ON CONFLICT (actor_kind, actor_id, target_kind, target_id, role_id) DO NOTHING
            """, grant);
        await BumpGenerationAsync(c);
    }

    /// <summary>The bootstrap's and the tests' shorthand: a user's role on a project.</summary>
    public Task GrantAsync(string userId, string projectId, string roleId) =>
        GrantAsync(new GrantRow(GrantRow.User, userId, GrantRow.Project, projectId, roleId));

    public async Task<bool> RevokeGrantAsync(GrantRow grant)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("""
            DELETE FROM grants WHERE actor_kind = @ActorKind AND actor_id = @ActorId AND target_kind = @TargetKind
              AND target_id = @TargetId AND role_id = @RoleId
            """, grant));
    }

    /// <summary>The grants matching every filter given (null: any).</summary>
    public async Task<IReadOnlyList<GrantRow>> ListGrantsAsync(string? actorKind, string? actorId, string? targetKind, string? targetId, string? roleId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<GrantRow>("""
            SELECT actor_kind AS ActorKind, actor_id AS ActorId, target_kind AS TargetKind, target_id AS TargetId, role_id AS RoleId FROM grants
            WHERE (@ActorKind IS NULL OR actor_kind = @ActorKind) AND (@ActorId IS NULL OR actor_id = @ActorId)
              AND (@TargetKind IS NULL OR target_kind = @TargetKind) AND (@TargetId IS NULL OR target_id = @TargetId)
              AND (@RoleId IS NULL OR role_id = @RoleId)
            ORDER BY target_kind, target_id, actor_kind, actor_id, role_id
            """, new { ActorKind = actorKind, ActorId = actorId, TargetKind = targetKind, TargetId = targetId, RoleId = roleId })];
    }

    /// <summary>
    /// The roles a user holds on a project or a domain: given to the user or to one of the user's groups, and the roles
    /// those imply.
    /// </summary>
    public async Task<IReadOnlyList<RoleRow>> EffectiveRolesAsync(string userId, string targetKind, string targetId)
    {
        await using var c = await db.OpenAsync();
        var granted = (await c.QueryAsync<string>(
            $"SELECT DISTINCT g.role_id FROM grants g WHERE g.target_kind = @Kind AND g.target_id = @TargetId AND {ActorIsUser}",
            new { UserId = userId, Kind = targetKind, TargetId = targetId })).ToHashSet(StringComparer.Ordinal);
        if (targetKind == GrantRow.Project)
        {
            // OS-INHERIT: what is given for the projects of the project's domain or of one of its ancestors.
            granted.UnionWith(await c.QueryAsync<string>($"""
                {AncestorsCte}
                SELECT DISTINCT g.role_id FROM inherited_grants g
                WHERE (g.target_kind = 'domain' AND g.target_id = (SELECT p.domain_id FROM projects p WHERE p.id = @TargetId)
                    OR g.target_kind = 'project' AND g.target_id IN (SELECT a.id FROM ancestors a WHERE a.id <> @TargetId))
                  AND {ActorIsUser}
                """, new { UserId = userId, TargetId = targetId }));
        }

        return await RolesWithImpliedAsync(c, granted);
    }

    /// <summary>The project @TargetId and its ancestors, as the CTE "ancestors" (id).</summary>
    private const string AncestorsCte = """
        WITH RECURSIVE ancestors (id, parent_id) AS (
          SELECT p.id, p.parent_id FROM projects p WHERE p.id = @TargetId
          UNION SELECT p.id, p.parent_id FROM projects p JOIN ancestors a ON p.id = a.parent_id)
        """;

    public Task<IReadOnlyList<RoleRow>> RolesOnProjectAsync(string userId, string projectId) => EffectiveRolesAsync(userId, GrantRow.Project, projectId);

    /// <summary>The roles given directly (not through groups) to an actor on a target, for the grant list APIs.</summary>
    public async Task<IReadOnlyList<RoleRow>> DirectRolesAsync(string actorKind, string actorId, string targetKind, string targetId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>("""
            SELECT r.* FROM roles r JOIN grants g ON g.role_id = r.id
            WHERE g.actor_kind = @ActorKind AND g.actor_id = @ActorId AND g.target_kind = @TargetKind AND g.target_id = @TargetId ORDER BY r.name
            """, new { ActorKind = actorKind, ActorId = actorId, TargetKind = targetKind, TargetId = targetId })];
    }

    public async Task InsertTokenAsync(TokenRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO tokens (token_hash, user_id, project_id, methods, audit_id, issued_at, expires_at, revoked, domain_id, app_cred_id, trust_id,
                  system_scope)
                VALUES (@TokenHash, @UserId, @ProjectId, @Methods, @AuditId, @IssuedAt, @ExpiresAt, @Revoked, @DomainId, @AppCredId, @TrustId,
                  @SystemScope)
                """, row);
        }
        catch (System.Data.Common.DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            // The user or project was deleted after the credentials were checked (found by the API fuzzer): as if they never matched.
            throw ApiException.Unauthorized();
        }

        // Forget long-expired tokens now and then so the table stays small.
        if (Random.Shared.Next(100) == 0)
        {
            await c.ExecuteAsync("DELETE FROM tokens WHERE expires_at < @Cutoff", new { Cutoff = DateTime.UtcNow.AddDays(-1) });
        }
    }

    public async Task<TokenRow?> FindTokenAsync(string token)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<TokenRow>("SELECT * FROM tokens WHERE token_hash = @Hash", new { Hash = HashToken(token) });
    }

    public async Task<bool> RevokeTokenAsync(string token)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("UPDATE tokens SET revoked = @Revoked WHERE token_hash = @Hash AND revoked = @NotRevoked",
            new { Hash = HashToken(token), Revoked = true, NotRevoked = false }));
    }

    /// <summary>
    /// Records a revocation event: every token of <paramref name="userId"/> (any project when null), on
    /// <paramref name="projectId"/> (any user when null), issued until now is invalid from now on.
    /// </summary>
    public async Task RecordRevocationAsync(string? userId, string? projectId, DateTime pruneBefore)
    {
        var now = Ids.Now();
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO revocation_events (id, user_id, project_id, issued_before, revoked_at)
            VALUES (@Id, @UserId, @ProjectId, @Now, @Now)
            """, new { Id = Ids.NewHexId(), UserId = userId, ProjectId = projectId, Now = now });
        await BumpGenerationAsync(c);
        // An event older than the longest token life matches only expired tokens.
        await c.ExecuteAsync("DELETE FROM revocation_events WHERE issued_before < @Cutoff", new { Cutoff = pruneBefore });
    }

    /// <summary>Whether a revocation event issued after the token matches its user or project.</summary>
    public async Task<bool> IsRevokedByEventAsync(TokenRow token)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("""
            SELECT COUNT(*) FROM revocation_events
            WHERE issued_before >= @IssuedAt
              AND (user_id IS NULL OR user_id = @UserId)
              AND (project_id IS NULL OR project_id = @ProjectId)
              AND (user_id IS NOT NULL OR project_id IS NOT NULL)
            """, new { token.IssuedAt, token.UserId, token.ProjectId }) > 0;
    }

    /// <summary>The failed logins counted against <paramref name="userId"/> and when the last one was.</summary>
    public async Task<(int Failures, DateTime? LastFailureAt)> LoginFailuresAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        var row = await c.QuerySingleOrDefaultAsync<LoginFailureRow>(
            "SELECT failures, last_failure_at FROM login_failures WHERE user_id = @UserId", new { UserId = userId });
        return row is null ? (0, null) : ((int)row.Failures, Ids.AsUtc(row.LastFailureAt));
    }

    /// <summary>Counts one more failed login; <paramref name="restart"/> starts again from one (an expired lock-out).</summary>
    public async Task RecordLoginFailureAsync(string userId, DateTime now, bool restart)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO login_failures (user_id, failures, last_failure_at) VALUES (@UserId, 1, @Now)
            ON CONFLICT (user_id) DO UPDATE SET
              failures = CASE WHEN @Restart THEN 1 ELSE login_failures.failures + 1 END, last_failure_at = excluded.last_failure_at
            """, new { UserId = userId, Now = now, Restart = restart });
    }

    public async Task ClearLoginFailuresAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM login_failures WHERE user_id = @UserId", new { UserId = userId });
    }

    /// <summary>The identity generation: read before a validation, so a write committed after it makes the validation stale.</summary>
    public async Task<long> GenerationAsync()
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT generation FROM identity_generation WHERE id = 1");
    }

    internal static async Task BumpGenerationAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx = null) =>
        await c.ExecuteAsync("UPDATE identity_generation SET generation = generation + 1 WHERE id = 1", transaction: tx);

    /// <summary>Bumps the generation when the write changed a row; true when it did.</summary>
    internal static async Task<bool> BumpGenerationAsync(System.Data.Common.DbConnection c, int changedRows)
    {
        if (changedRows > 0)
        {
            await BumpGenerationAsync(c);
        }

        return changedRows > 0;
    }

    /// <summary>Tokens are stored only as their SHA-256, so a copy of the database holds no usable token.</summary>
    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    internal static async Task InsertUniqueAsync(System.Data.Common.DbConnection c, string sql, object row, string conflictMessage)
    {
        try
        {
            await c.ExecuteAsync(sql, row);
        }
        catch (System.Data.Common.DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Conflict occurred attempting to store {conflictMessage}");
        }
    }

    private sealed class LoginFailureRow
    {
        public long Failures { get; set; }

        public DateTime LastFailureAt { get; set; }
    }
}
