using Ember.Server.Common;

namespace Ember.Server.Identity;

/// <summary>A role named in a request, by id or by name.</summary>
public sealed record RoleReference(string? Id, string? Name);

/// <summary>A new application credential's fields, as the API read them (a null secret: one is made).</summary>
public sealed record AppCredentialCreate(string Name, string? Description, string? Secret, DateTime? ExpiresAt, bool Unrestricted,
    IReadOnlyList<RoleReference>? Roles);

/// <summary>An application credential login: by id, or by name and its user.</summary>
public sealed record AppCredentialAuth(string? Id, string? Name, UserReference? User, string Secret);

/// <summary>A new trust's fields, as the API read them.</summary>
public sealed record TrustCreate(string TrustorUserId, string TrusteeUserId, string? ProjectId, bool Impersonation, DateTime? ExpiresAt,
    long? RemainingUses, IReadOnlyList<RoleReference> Roles);

/// <summary>Delegation: application credentials, trusts and implied roles, with Keystone's rules.</summary>
public sealed partial class IdentityService
{
    /// <summary>Keystone's default [assignment] prohibited_implied_role: no rule may hand out admin.</summary>
    private static readonly string[] s_prohibitedImpliedRoles = ["admin"];

    /// <summary>
    /// A new application credential of the caller's, on the caller's project, with some of the caller's roles there (all
    /// of the token's when none are named). Restricted credentials and trusts cannot make more.
    /// </summary>
    public async Task<(AppCredentialRow Row, string Secret, IReadOnlyList<RoleRow> Roles)> CreateAppCredentialAsync(
        RequestContext caller, string userId, AppCredentialCreate request)
    {
        if (caller.UserId != userId)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: identity:create_application_credential.");
        }

        RefuseRestricted(caller, "application credentials");
        if (caller.TrustId is not null)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: Using trust-scoped tokens to create application credentials is not allowed.");
        }

        var projectId = caller.ProjectId ?? throw ApiException.BadRequest("Application credentials can be created with a project-scoped token only.");
        if (request.ExpiresAt is { } expiry && expiry <= Ids.Now(clock))
        {
            throw ApiException.BadRequest("Invalid application credential: expires_at is in the past.");
        }

        var held = await store.RolesOnProjectAsync(userId, projectId);
        IReadOnlyList<RoleRow> roles;
        if (request.Roles is null or { Count: 0 })
        {
            // The token's roles: for an application credential's own token, only those it carries.
            roles = [.. held.Where(r => caller.Roles.Contains(r.Name))];
        }
        else
        {
            var named = new List<RoleRow>();
            foreach (var reference in request.Roles)
            {
                var role = await FindRoleAsync(reference);
                if (!held.Any(h => h.Id == role.Id) || !caller.Roles.Contains(role.Name))
                {
                    throw AssignmentNotFound(new GrantRow(GrantRow.User, userId, GrantRow.Project, projectId, role.Id));
                }

                named.Add(role);
            }

            roles = [.. named.DistinctBy(r => r.Id)];
        }

        if (roles.Count == 0)
        {
            throw ApiException.BadRequest("Invalid application credential: the caller holds no role to give it.");
        }

        var secret = request.Secret ?? Ids.NewSecret(64);
        var row = new AppCredentialRow(Ids.NewHexId(), request.Name, userId, projectId, PasswordHasher.Hash(secret), request.Description,
            request.ExpiresAt, request.Unrestricted, Ids.Now(clock));
        await store.InsertAppCredentialAsync(row, [.. roles.Select(r => r.Id)]);
        return (row, secret, roles);
    }

    public async Task<IReadOnlyList<AppCredentialRow>> ListAppCredentialsAsync(RequestContext caller, string userId, string? name)
    {
        RequireOwnerOrAdmin(caller, userId, "identity:list_application_credentials");
        return await store.ListAppCredentialsAsync(userId, name);
    }

    public async Task<(AppCredentialRow Row, IReadOnlyList<RoleRow> Roles)> GetAppCredentialAsync(RequestContext caller, string userId, string id)
    {
        RequireOwnerOrAdmin(caller, userId, "identity:get_application_credential");
        var row = await store.FindAppCredentialAsync(id);
        return row is not null && row.UserId == userId
            ? (row, await store.AppCredentialRolesAsync(id))
            : throw AppCredentialNotFound(id);
    }

    public Task<IReadOnlyList<RoleRow>> AppCredentialRolesAsync(string id) => store.AppCredentialRolesAsync(id);

    /// <summary>Deleting a credential ends every token made with it (they are validated against it).</summary>
    public async Task DeleteAppCredentialAsync(RequestContext caller, string userId, string id)
    {
        RequireOwnerOrAdmin(caller, userId, "identity:delete_application_credential");
        RefuseRestricted(caller, "application credentials");
        var row = await store.FindAppCredentialAsync(id);
        if (row is null || row.UserId != userId || !await store.DeleteAppCredentialAsync(id))
        {
            throw AppCredentialNotFound(id);
        }
    }

    /// <summary>
    /// The application_credential auth method: the credential by id (or by name and user), its secret checked behind
    /// the login guard as a password is, and its user, project and domain still enabled; one answer for every failure.
    /// </summary>
    public async Task<(UserRow User, ProjectRow Project, AppCredentialRow Credential)> AuthenticateAppCredentialAsync(
        AppCredentialAuth who, string source, CancellationToken cancellationToken)
    {
        AppCredentialRow? credential = null;
        string key;
        if (who.Id is { } id)
        {
            key = "appcred:" + id;
            guard.ThrowIfThrottled(source, key);
            credential = await store.FindAppCredentialAsync(id);
        }
        else
        {
            var name = who.Name ?? throw ApiException.BadRequest("An application credential must be given by id, or by name and user.");
            var userRef = who.User ?? throw ApiException.BadRequest("An application credential given by name needs its user.");
            UserRow? owner;
            if (userRef.Id is not null)
            {
                owner = await store.FindUserAsync(userRef.Id, null, null);
            }
            else
            {
                var domain = await FindDomainAsync(userRef.Domain);
                owner = domain is null || userRef.Name is null ? null : await store.FindUserAsync(null, userRef.Name, domain.Id);
            }

            key = $"appcred:{owner?.Id}/{name}";
            guard.ThrowIfThrottled(source, key);
            credential = owner is null ? null : (await store.ListAppCredentialsAsync(owner.Id, name)).FirstOrDefault();
        }

        var user = credential is null ? null : await store.FindUserAsync(credential.UserId, null, null);
        var project = credential is null ? null : await store.FindProjectAsync(credential.ProjectId, null, null);
        var usable = credential is not null && (credential.ExpiresAt is not { } expiry || Ids.AsUtc(expiry) > Ids.Now(clock))
            && user is { Enabled: true } && await IsDomainEnabledAsync(user.DomainId)
            && project is { Enabled: true } && await IsDomainEnabledAsync(project.DomainId);
        if (await guard.VerifyAsync(who.Secret, usable ? credential!.SecretHash : null, cancellationToken) && usable)
        {
            return (user!, project!, credential!);
        }

        guard.RecordFailure(source, key);
        throw ApiException.Unauthorized(AuthFailed);
    }

    /// <summary>
    /// A trust from the caller (who must be its trustor) to an existing trustee, lending roles the trustor holds on the
    /// project. Redelegation is not offered.
    /// </summary>
    public async Task<(TrustRow Row, IReadOnlyList<RoleRow> Roles)> CreateTrustAsync(RequestContext caller, TrustCreate request, bool allowRedelegation)
    {
        RefuseRestricted(caller, "trusts");
        if (caller.TrustId is not null || allowRedelegation)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: trust redelegation is not supported.");
        }

        if (request.ProjectId is not null && request.Roles.Count == 0)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: At least one role should be specified.");
        }

        if (caller.UserId != request.TrustorUserId)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: The authenticated user should match the trustor.");
        }

        _ = await GetUserAsync(request.TrusteeUserId);
        if (request.ExpiresAt is { } expiry && expiry <= Ids.Now(clock))
        {
            throw ApiException.BadRequest("The 'expires_at' must not be before now.");
        }

        var held = request.ProjectId is null ? [] : await store.RolesOnProjectAsync(request.TrustorUserId, (await GetProjectAsync(request.ProjectId)).Id);
        var roles = new List<RoleRow>();
        foreach (var reference in request.Roles)
        {
            var role = await FindRoleAsync(reference);
            roles.Add(held.Any(h => h.Id == role.Id) ? role : throw RoleNotFound(role.Id));
        }

        var row = new TrustRow(Ids.NewHexId(), request.TrustorUserId, request.TrusteeUserId, request.ProjectId, request.Impersonation, request.ExpiresAt,
            request.RemainingUses, Ids.Now(clock));
        roles = [.. roles.DistinctBy(r => r.Id)];
        await store.InsertTrustAsync(row, [.. roles.Select(r => r.Id)]);
        return (row, roles);
    }

    /// <summary>
    /// Trusts by trustor and/or trustee: the caller may list those where it is the one filtered on; only the cloud admin
    /// lists them all (Keystone's policy).
    /// </summary>
    public async Task<IReadOnlyList<TrustRow>> ListTrustsAsync(RequestContext caller, string? trustorUserId, string? trusteeUserId)
    {
        var own = trustorUserId is not null && trustorUserId == caller.UserId || trusteeUserId is not null && trusteeUserId == caller.UserId;
        if (!own && !caller.IsCloudAdmin)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: identity:list_trusts.");
        }

        var now = Ids.Now(clock);
        return [.. (await store.ListTrustsAsync(trustorUserId, trusteeUserId)).Where(t => IsUsable(t, now))];
    }

    /// <summary>A live trust its trustor, its trustee or the cloud admin asks about; an expired or used-up one is gone.</summary>
    public async Task<(TrustRow Row, IReadOnlyList<RoleRow> Roles)> GetTrustAsync(RequestContext caller, string id)
    {
        var row = await store.FindTrustAsync(id);
        if (row is null || !IsUsable(row, Ids.Now(clock)))
        {
            throw TrustNotFound(id);
        }

        if (caller.UserId != row.TrustorUserId && caller.UserId != row.TrusteeUserId && !caller.IsCloudAdmin)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: identity:get_trust.");
        }

        return (row, await store.TrustRolesAsync(id));
    }

    /// <summary>The trustor or the cloud admin deletes a trust; every token scoped to it ends with it.</summary>
    public async Task DeleteTrustAsync(RequestContext caller, string id)
    {
        RefuseRestricted(caller, "trusts");
        var row = await store.FindTrustAsync(id) ?? throw TrustNotFound(id);
        if (caller.UserId != row.TrustorUserId && !caller.IsCloudAdmin)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: identity:delete_trust.");
        }

        if (!await store.DeleteTrustAsync(id))
        {
            throw TrustNotFound(id);
        }
    }

    /// <summary>
    /// A trust scope for <paramref name="trustee"/>: the trust is live and names it, the trustor still holds every lent
    /// role, and one use is taken. The token's user is the trustor when the trust impersonates.
    /// </summary>
    public async Task<(UserRow TokenUser, TokenScope Scope, TrustRow Trust)> ResolveTrustScopeAsync(UserRow trustee, string trustId)
    {
        var trust = await store.FindTrustAsync(trustId);
        if (trust is null || !IsUsable(trust, Ids.Now(clock)))
        {
            throw TrustNotFound(trustId);
        }

        if (trust.TrusteeUserId != trustee.Id)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: User is not a trustee.");
        }

        if (trust.ProjectId is null)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: Ember scopes tokens only to trusts on a project.");
        }

        var trustor = await store.FindUserAsync(trust.TrustorUserId, null, null);
        var project = await store.FindProjectAsync(trust.ProjectId, null, null);
        if (trustor is not { Enabled: true } || project is not { Enabled: true } || !await IsDomainEnabledAsync(project.DomainId))
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: the trust's trustor or project is disabled.");
        }

        var held = await store.RolesOnProjectAsync(trustor.Id, project.Id);
        if ((await store.TrustRolesAsync(trust.Id)).Any(r => !held.Any(h => h.Id == r.Id)))
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: Trustee has no delegated roles.");
        }

        if (!await store.ConsumeTrustUseAsync(trust.Id))
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: trust has no remaining uses.");
        }

        return (trust.Impersonation ? trustor : trustee, new TokenScope(project, null), trust);
    }

    /// <summary>Adds a role inference rule (Keystone refuses rules that hand out a prohibited role such as admin).</summary>
    public async Task<(RoleRow Prior, RoleRow Implied)> CreateImpliedRoleAsync(string priorRoleId, string impliedRoleId)
    {
        var prior = await GetRoleAsync(priorRoleId);
        var implied = await GetRoleAsync(impliedRoleId);
        if (s_prohibitedImpliedRoles.Contains(implied.Name, StringComparer.Ordinal))
        {
            throw ApiException.Forbidden($"{implied.Id} is not permitted to be an implied role.");
        }

        // Keystone's rule: a global role never implies a domain-specific one (the other way round, and across domains, is fine).
        if (prior.DomainId is null && implied.DomainId is not null)
        {
            throw ApiException.Forbidden($"Implication of a domain-specific role {implied.Id} by the global role {prior.Id} is not allowed.");
        }

        await store.CreateImpliedRoleAsync(new ImpliedRoleRow(prior.Id, implied.Id));
        return (prior, implied);
    }

    public async Task<(RoleRow Prior, RoleRow Implied)> GetImpliedRoleAsync(string priorRoleId, string impliedRoleId)
    {
        var prior = await GetRoleAsync(priorRoleId);
        var implied = await GetRoleAsync(impliedRoleId);
        return (await store.ListImpliedRolesAsync(prior.Id)).Any(r => r.ImpliedRoleId == implied.Id)
            ? (prior, implied)
            : throw ImpliedRoleNotFound(priorRoleId, impliedRoleId);
    }

    public async Task DeleteImpliedRoleAsync(string priorRoleId, string impliedRoleId)
    {
        if (!await store.DeleteImpliedRoleAsync(new ImpliedRoleRow(priorRoleId, impliedRoleId)))
        {
            throw ImpliedRoleNotFound(priorRoleId, impliedRoleId);
        }
    }

    /// <summary>The rules, all or of one (existing) prior role.</summary>
    public async Task<IReadOnlyList<ImpliedRoleRow>> ListImpliedRolesAsync(string? priorRoleId)
    {
        if (priorRoleId is not null)
        {
            _ = await GetRoleAsync(priorRoleId);
        }

        return await store.ListImpliedRolesAsync(priorRoleId);
    }

    private async Task<RoleRow> FindRoleAsync(RoleReference reference)
    {
        if (reference.Id is { } id)
        {
            return await GetRoleAsync(id);
        }

        var name = reference.Name ?? throw ApiException.BadRequest("A role must be given by id or by name.");
        return await store.FindRoleAsync(null, name) ?? throw ApiException.NotFound($"Could not find role: {name}.");
    }

    private static bool IsUsable(TrustRow trust, DateTime now) =>
        (trust.ExpiresAt is not { } expiry || Ids.AsUtc(expiry) > now) && trust.RemainingUses is not <= 0;

    /// <summary>Keystone's rule: a restricted application credential's token manages neither credentials nor trusts.</summary>
    private static void RefuseRestricted(RequestContext caller, string what)
    {
        if (caller.IsRestrictedApplicationCredential)
        {
            throw ApiException.Forbidden($"You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing {what}.");
        }
    }

    private static void RequireOwnerOrAdmin(RequestContext caller, string userId, string action)
    {
        if (caller.UserId != userId && !caller.IsCloudAdmin)
        {
            throw ApiException.Forbidden($"You are not authorized to perform the requested action: {action}.");
        }
    }

    private static ApiException AppCredentialNotFound(string id) => ApiException.NotFound($"Could not find Application Credential: {id}.");

    private static ApiException TrustNotFound(string id) => ApiException.NotFound($"Could not find trust: {id}.");

    private static ApiException ImpliedRoleNotFound(string prior, string implied) =>
        ApiException.NotFound($"{prior} does not imply {implied}.");
}
