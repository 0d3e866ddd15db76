using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

// Delegation: implied roles, application credentials and trusts. Each write that can change what a token validates to
// bumps the generation, like the rest of the store.
public sealed partial class IdentityStore
{
    /// <summary>The most roles an application credential or a trust may name (Keystone has no limit; a request must have one).</summary>
    public const int MaxDelegatedRoles = 64;

    private const string AppCredentialColumns =
        "id, name, user_id AS UserId, project_id AS ProjectId, secret_hash AS SecretHash, description, expires_at AS ExpiresAt, unrestricted, created_at AS CreatedAt";

    private const string TrustColumns =
        "id, trustor_user_id AS TrustorUserId, trustee_user_id AS TrusteeUserId, project_id AS ProjectId, impersonation, expires_at AS ExpiresAt, remaining_uses AS RemainingUses, created_at AS CreatedAt";

    /// <summary>The roles named by <paramref name="roleIds"/> and every role they imply, transitively; a loop of rules ends where it started.</summary>
    private async Task<IReadOnlyList<RoleRow>> RolesWithImpliedAsync(DbConnection c, IReadOnlyCollection<string> roleIds)
    {
        if (roleIds.Count == 0)
        {
            return [];
        }

        var rules = (await c.QueryAsync<ImpliedRoleRow>("SELECT prior_role_id AS PriorRoleId, implied_role_id AS ImpliedRoleId FROM implied_roles")).ToList();
        var all = ImpliedClosure(roleIds, rules);
        // Domain-specific roles are never carried themselves, only the global roles they imply (Keystone's rule).
        return [.. await c.QueryAsync<RoleRow>($"SELECT * FROM roles WHERE id {db.Dialect.In("@Ids")} AND domain_id IS NULL ORDER BY name",
            new { Ids = all.ToArray() })];
    }

    /// <summary>The role ids and everything they imply through <paramref name="rules"/>.</summary>
    public static HashSet<string> ImpliedClosure(IEnumerable<string> roleIds, IReadOnlyList<ImpliedRoleRow> rules)
    {
        var seen = new HashSet<string>(roleIds, StringComparer.Ordinal);
        var pending = new Queue<string>(seen);
        while (pending.TryDequeue(out var prior))
        {
            foreach (var rule in rules)
            {
                if (rule.PriorRoleId == prior && seen.Add(rule.ImpliedRoleId))
                {
                    pending.Enqueue(rule.ImpliedRoleId);
                }
            }
        }

        return seen;
    }

    /// <summary>The role inference rules, all or those of one prior role.</summary>
    public async Task<IReadOnlyList<ImpliedRoleRow>> ListImpliedRolesAsync(string? priorRoleId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ImpliedRoleRow>("""
            SELECT prior_role_id AS PriorRoleId, implied_role_id AS ImpliedRoleId FROM implied_roles
            WHERE @Prior IS NULL OR prior_role_id = @Prior ORDER BY prior_role_id, implied_role_id
            """, new { Prior = priorRoleId })];
    }

    public async Task CreateImpliedRoleAsync(ImpliedRoleRow rule)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (@PriorRoleId, @ImpliedRoleId)
            ON CONFLICT (prior_role_id, implied_role_id) DO NOTHING
            """, rule);
        await BumpGenerationAsync(c);
    }

    public async Task<bool> DeleteImpliedRoleAsync(ImpliedRoleRow rule)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync(
            "DELETE FROM implied_roles WHERE prior_role_id = @PriorRoleId AND implied_role_id = @ImpliedRoleId", rule));
    }

    public async Task InsertAppCredentialAsync(AppCredentialRow row, IReadOnlyCollection<string> roleIds)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO application_credentials (id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, created_at)
                VALUES (@Id, @Name, @UserId, @ProjectId, @SecretHash, @Description, @ExpiresAt, @Unrestricted, @CreatedAt)
                """, row, tx);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Conflict occurred attempting to store application_credential - Duplicate name, {row.Name}.");
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            // The user or the project went away after they were checked.
            throw ApiException.NotFound($"Could not find project: {row.ProjectId}.");
        }

        foreach (var roleId in roleIds)
        {
            await c.ExecuteAsync("INSERT INTO application_credential_roles (application_credential_id, role_id) VALUES (@Id, @RoleId)",
                new { row.Id, RoleId = roleId }, tx);
        }

        await tx.CommitAsync();
    }

    public async Task<AppCredentialRow?> FindAppCredentialAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<AppCredentialRow>($"SELECT {AppCredentialColumns} FROM application_credentials WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<AppCredentialRow>> ListAppCredentialsAsync(string userId, string? name)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<AppCredentialRow>(
            $"SELECT {AppCredentialColumns} FROM application_credentials WHERE user_id = @UserId AND (@Name IS NULL OR name = @Name) ORDER BY created_at, id",
            new { UserId = userId, Name = name })];
    }

    /// <summary>The roles the credential was given (whether the user still holds them is the caller's question).</summary>
    public async Task<IReadOnlyList<RoleRow>> AppCredentialRolesAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>("""
            SELECT r.* FROM roles r JOIN application_credential_roles a ON a.role_id = r.id WHERE a.application_credential_id = @Id ORDER BY r.name
            """, new { Id = id })];
    }

    public async Task<bool> DeleteAppCredentialAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM application_credentials WHERE id = @Id", new { Id = id }));
    }

    /// <summary>Keystone's clean-up when a user loses a role on a project: the user's credentials for that project go.</summary>
    public async Task DeleteAppCredentialsAsync(string userId, string projectId)
    {
        await using var c = await db.OpenAsync();
        await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM application_credentials WHERE user_id = @UserId AND project_id = @ProjectId",
            new { UserId = userId, ProjectId = projectId }));
    }

    public async Task InsertTrustAsync(TrustRow row, IReadOnlyCollection<string> roleIds)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO trusts (id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses, created_at)
                VALUES (@Id, @TrustorUserId, @TrusteeUserId, @ProjectId, @Impersonation, @ExpiresAt, @RemainingUses, @CreatedAt)
                """, row, tx);
            foreach (var roleId in roleIds)
            {
                await c.ExecuteAsync("INSERT INTO trust_roles (trust_id, role_id) VALUES (@Id, @RoleId)", new { row.Id, RoleId = roleId }, tx);
            }
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            // A user, the project or a role went away after they were checked.
            throw ApiException.NotFound($"Could not find the trustee, project or a role of trust {row.Id}.");
        }

        await tx.CommitAsync();
    }

    public async Task<TrustRow?> FindTrustAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<TrustRow>($"SELECT {TrustColumns} FROM trusts WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<TrustRow>> ListTrustsAsync(string? trustorUserId, string? trusteeUserId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<TrustRow>($"""
            SELECT {TrustColumns} FROM trusts
            WHERE (@Trustor IS NULL OR trustor_user_id = @Trustor) AND (@Trustee IS NULL OR trustee_user_id = @Trustee) ORDER BY created_at, id
            """, new { Trustor = trustorUserId, Trustee = trusteeUserId })];
    }

    public async Task<IReadOnlyList<RoleRow>> TrustRolesAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<RoleRow>(
            "SELECT r.* FROM roles r JOIN trust_roles t ON t.role_id = r.id WHERE t.trust_id = @Id ORDER BY r.name", new { Id = id })];
    }

    /// <summary>Takes one use of a trust with a use limit; false when none is left (a trust without a limit always has one).</summary>
    public async Task<bool> ConsumeTrustUseAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            UPDATE trusts SET remaining_uses = CASE WHEN remaining_uses IS NULL THEN NULL ELSE remaining_uses - 1 END
            WHERE id = @Id AND (remaining_uses IS NULL OR remaining_uses > 0)
            """, new { Id = id }) > 0;
    }

    public async Task<bool> DeleteTrustAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await BumpGenerationAsync(c, await c.ExecuteAsync("DELETE FROM trusts WHERE id = @Id", new { Id = id }));
    }
}
