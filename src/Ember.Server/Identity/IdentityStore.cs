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
public sealed class IdentityStore(Database db)
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

    public async Task<IReadOnlyList<ProjectRow>> ListProjectsOfUserAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ProjectRow>(
            "SELECT DISTINCT p.* FROM projects p JOIN role_assignments a ON a.project_id = p.id WHERE a.user_id = @UserId ORDER BY p.name",
            new { UserId = userId })];
    }

    public async Task<ProjectRow> CreateProjectAsync(string name, string domainId, string? description, bool enabled)
    {
        var row = new ProjectRow(Ids.NewHexId(), name, domainId, description, enabled, Ids.Now());
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO projects (id, name, domain_id, description, enabled, created_at) VALUES (@Id, @Name, @DomainId, @Description, @Enabled, @CreatedAt)",
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
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM projects WHERE id = @Id", new { Id = id }));
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
        string? defaultProjectId, string? email, string? description)
    {
        var hash = password is null ? null : PasswordHasher.Hash(password);
        var row = new UserRow(Ids.NewHexId(), name, domainId, hash, enabled, defaultProjectId, email, description, Ids.Now());
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, """
            INSERT INTO users (id, name, domain_id, password_hash, enabled, default_project_id, email, description, created_at)
            VALUES (@Id, @Name, @DomainId, @PasswordHash, @Enabled, @DefaultProjectId, @Email, @Description, @CreatedAt)
            """, row, $"Duplicate entry found with name {name} at domain ID {domainId}.");
        return row;
    }

    public async Task UpdateUserAsync(UserRow row)
    {
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, """
            UPDATE users SET name = @Name, password_hash = @PasswordHash, enabled = @Enabled,
              default_project_id = @DefaultProjectId, email = @Email, description = @Description WHERE id = @Id
            """, row, $"Duplicate entry found with name {row.Name} at domain ID {row.DomainId}.");
        await BumpGenerationAsync(c);
    }

    public async Task<bool> DeleteUserAsync(string id)
    {
        await using var c = await db.OpenAsync();
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

    public async Task<RoleRow> CreateRoleAsync(string name, string? description)
    {
        var row = new RoleRow(Ids.NewHexId(), name, description);
        await using var c = await db.OpenAsync();
        await InsertUniqueAsync(c, "INSERT INTO roles (id, name, description) VALUES (@Id, @Name, @Description)",
            row, $"Duplicate entry found with name {name}.");
        return row;
    }

    public async Task<bool> DeleteRoleAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM roles WHERE id = @Id", new { Id = id }));
    }

    public async Task GrantAsync(string userId, string projectId, string roleId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO role_assignments (user_id, project_id, role_id) VALUES (@UserId, @ProjectId, @RoleId)
            ON CONFLICT (user_id, project_id, role_id) DO NOTHING
            """, new { UserId = userId, ProjectId = projectId, RoleId = roleId });
        await BumpGenerationAsync(c);
    }

    public async Task<bool> RevokeGrantAsync(string userId, string projectId, string roleId)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync(
            "DELETE FROM role_assignments WHERE user_id = @UserId AND project_id = @ProjectId AND role_id = @RoleId",
            new { UserId = userId, ProjectId = projectId, RoleId = roleId }));
    }

    public async Task<IReadOnlyList<RoleAssignmentRow>> ListAssignmentsAsync(string? userId, string? projectId, string? roleId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleAssignmentRow>(
            "SELECT * FROM role_assignments WHERE (@UserId IS NULL OR user_id = @UserId) AND (@ProjectId IS NULL OR project_id = @ProjectId) AND (@RoleId IS NULL OR role_id = @RoleId)",
            new { UserId = userId, ProjectId = projectId, RoleId = roleId })];
    }

    public async Task<IReadOnlyList<RoleRow>> RolesOnProjectAsync(string userId, string projectId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>(
            "SELECT r.* FROM roles r JOIN role_assignments a ON a.role_id = r.id WHERE a.user_id = @UserId AND a.project_id = @ProjectId ORDER BY r.name",
            new { UserId = userId, ProjectId = projectId })];
    }

    public async Task InsertTokenAsync(TokenRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO tokens (token_hash, user_id, project_id, methods, audit_id, issued_at, expires_at, revoked)
                VALUES (@TokenHash, @UserId, @ProjectId, @Methods, @AuditId, @IssuedAt, @ExpiresAt, @Revoked)
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

    private static async Task BumpGenerationAsync(System.Data.Common.DbConnection c) =>
        await c.ExecuteAsync("UPDATE identity_generation SET generation = generation + 1 WHERE id = 1");

    /// <summary>Bumps the generation when the write changed a row; true when it did.</summary>
    private static async Task<bool> BumpGenerationAsync(System.Data.Common.DbConnection c, int changedRows)
    {
        if (changedRows > 0)
        {
            await BumpGenerationAsync(c);
        }

        return changedRows > 0;
    }

    /// <summary>Tokens are stored only as their SHA-256, so a copy of the database holds no usable token.</summary>
    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static async Task InsertUniqueAsync(System.Data.Common.DbConnection c, string sql, object row, string conflictMessage)
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
