using System.Collections.Concurrent;
using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A validated token: the row and the context it gives a request.</summary>
public sealed record ValidToken(TokenRow Row, RequestContext Context, UserRow User, ProjectRow? Project, IReadOnlyList<RoleRow> Roles,
    DomainRow? Domain = null)
{
    /// <summary>The application credential the token was made with, if any.</summary>
    public AppCredentialRow? AppCredential { get; init; }

    /// <summary>The trust of a trust-scoped token, if any.</summary>
    public TrustRow? Trust { get; init; }
}

/// <summary>What a new token delegates: an application credential's roles or a trust's (neither: the user's own).</summary>
public sealed record TokenDelegation(string? AppCredentialId, string? TrustId)
{
    public static TokenDelegation None { get; } = new(null, null);
}

/// <summary>
/// Issues opaque random tokens and validates them against the database. A validation is kept in memory and reused while
/// the identity generation (one row, bumped by every write that could change it: <see cref="IdentityStore"/>) has not
/// moved, so a request costs one small read instead of five, and a revocation is still seen by the next request, by
/// every process sharing the database.
/// </summary>
public sealed class TokenService(IdentityStore store, IOptions<IdentityOptions> options)
{
    /// <summary>The longest a token can live (the upper bound of TokenLifetimeSeconds): events older than that match nothing.</summary>
    public const int MaxLifetimeSeconds = 7 * 24 * 3600;

    /// <summary>Validations kept; past it the cache starts over (a flood of distinct tokens costs reads, not memory).</summary>
    private const int CacheCapacity = 10_000;

    private readonly ConcurrentDictionary<string, CachedValidation> _cache = new(StringComparer.Ordinal);

    public Task<(string Token, ValidToken Valid)> IssueAsync(UserRow user, ProjectRow? project, IReadOnlyList<string> methods,
        DateTime? expiresAt = null, string? auditId = null) => IssueAsync(user, new TokenScope(project, null), methods, expiresAt, auditId);

    /// <summary>
    /// A new token. <paramref name="expiresAt"/> caps its life (a re-scoped token's original, an application credential's
    /// or a trust's expiry); <paramref name="delegation"/> names the credential or trust whose roles it carries.
    /// </summary>
    public async Task<(string Token, ValidToken Valid)> IssueAsync(UserRow user, TokenScope scope, IReadOnlyList<string> methods,
        DateTime? expiresAt = null, string? auditId = null, TokenDelegation? delegation = null)
    {
        var project = scope.Project;
        var token = Ids.NewSecret();
        var now = Ids.Now();
        var lifetimeEnd = now.AddSeconds(options.Value.TokenLifetimeSeconds);
        var expiry = expiresAt is { } limit && Ids.AsUtc(limit) < lifetimeEnd ? Ids.AsUtc(limit) : lifetimeEnd;
        var row = new TokenRow(IdentityStore.HashToken(token), user.Id, project?.Id, string.Join(',', methods),
            auditId ?? Ids.NewSecret(16), now, expiry, false, scope.Domain?.Id, delegation?.AppCredentialId, delegation?.TrustId, scope.System);
        await store.InsertTokenAsync(row);
        var granted = project is not null ? await ProjectRolesAsync(row, project.Id)
            : scope.Domain is { } domain ? new Granted(await store.EffectiveRolesAsync(user.Id, GrantRow.Domain, domain.Id))
            : scope.System ? new Granted(await store.EffectiveRolesAsync(user.Id, GrantRow.System, GrantRow.SystemAll))
            : new Granted([]);
        // The credentials were checked just before: a role or delegation gone in between fails this login like a wrong secret.
        if (granted is null)
        {
            throw ApiException.Unauthorized();
        }

        return (token, new ValidToken(row, ContextOf(row, user, project, scope.Domain, granted, await IsAdminProjectAsync(project)), user, project,
            granted.Roles, scope.Domain)
        { AppCredential = granted.AppCredential, Trust = granted.Trust });
    }

    /// <summary>The token's context, or null when it is unknown, expired, revoked, or its user or project is disabled.</summary>
    public async Task<ValidToken?> ValidateAsync(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 512)
        {
            return null;
        }

        // Read before the token's rows: a write that lands in between moves it on, and what is read now is never reused.
        var generation = await store.GenerationAsync();
        var key = IdentityStore.HashToken(token);
        if (_cache.TryGetValue(key, out var cached) && cached.Generation == generation)
        {
            return Ids.AsUtc(cached.Token.Row.ExpiresAt) > DateTime.UtcNow ? cached.Token : null;
        }

        var valid = await ReadValidationAsync(token);
        if (valid is not null)
        {
            if (_cache.Count >= CacheCapacity)
            {
                _cache.Clear();
            }

            _cache[key] = new CachedValidation(valid, generation);
        }

        return valid;
    }

    private async Task<ValidToken?> ReadValidationAsync(string token)
    {
        var row = await store.FindTokenAsync(token);
        if (row is null || row.Revoked || Ids.AsUtc(row.ExpiresAt) <= DateTime.UtcNow || await store.IsRevokedByEventAsync(row))
        {
            return null;
        }

        var user = await store.FindUserAsync(row.UserId, null, null);
        if (user is not { Enabled: true } || !await IsDomainEnabledAsync(user.DomainId))
        {
            return null;
        }

        ProjectRow? project = null;
        IReadOnlyList<RoleRow> roles = [];
        Granted? granted = null;
        if (row.ProjectId is not null)
        {
            project = await store.FindProjectAsync(row.ProjectId, null, null);
            if (project is not { Enabled: true } || project.DomainId != user.DomainId && !await IsDomainEnabledAsync(project.DomainId))
            {
                return null;
            }

            granted = await ProjectRolesAsync(row, project.Id);
            if (granted is not { Roles.Count: > 0 })
            {
                // The user lost every role on the project since the token was issued, or its credential or trust is gone.
                return null;
            }

            roles = granted.Roles;
        }

        DomainRow? domain = null;
        if (row.DomainId is not null)
        {
            // A domain-scoped token lives while the domain is enabled and the user holds a role on it.
            domain = await store.FindDomainAsync(row.DomainId, null);
            roles = domain is { Enabled: true } ? await store.EffectiveRolesAsync(user.Id, GrantRow.Domain, domain.Id) : [];
            if (roles.Count == 0)
            {
                return null;
            }
        }

        if (row.SystemScope)
        {
            // A system-scoped token lives while the user holds a role on the system.
            roles = await store.EffectiveRolesAsync(user.Id, GrantRow.System, GrantRow.SystemAll);
            if (roles.Count == 0)
            {
                return null;
            }
        }

        granted ??= new Granted(roles);
        return new ValidToken(row, ContextOf(row, user, project, domain, granted, await IsAdminProjectAsync(project)), user, project, roles, domain)
        {
            AppCredential = granted.AppCredential,
            Trust = granted.Trust,
        };
    }

    /// <summary>
    /// The roles a project-scoped token carries, or null when what it was made with is gone: the user's own roles; an
    /// application credential's (alive, unexpired) that the user still holds; a trust's (alive, unexpired, both users
    /// enabled) while the trustor still holds every one of them. Roles implied by delegated roles come along.
    /// </summary>
    private async Task<Granted?> ProjectRolesAsync(TokenRow row, string projectId)
    {
        if (row.AppCredId is { } appCredId)
        {
            var credential = await store.FindAppCredentialAsync(appCredId);
            if (credential is null || credential.ProjectId != projectId || credential.UserId != row.UserId || IsPast(credential.ExpiresAt))
            {
                return null;
            }

            var held = await store.RolesOnProjectAsync(credential.UserId, projectId);
            var kept = await DelegatedAsync(await store.AppCredentialRolesAsync(credential.Id), held);
            return kept.Count == 0 ? null : new Granted(kept, credential);
        }

        if (row.TrustId is { } trustId)
        {
            var trust = await store.FindTrustAsync(trustId);
            if (trust is null || trust.ProjectId != projectId || IsPast(trust.ExpiresAt)
                || await store.FindUserAsync(trust.TrusteeUserId, null, null) is not { Enabled: true }
                || await store.FindUserAsync(trust.TrustorUserId, null, null) is not { Enabled: true })
            {
                return null;
            }

            var held = await store.RolesOnProjectAsync(trust.TrustorUserId, projectId);
            var lent = await store.TrustRolesAsync(trust.Id);
            // As Keystone: the trust stops working once the trustor lost any role it lends.
            return lent.Count == 0 || lent.Any(r => !held.Any(h => h.Id == r.Id)) ? null : new Granted(await DelegatedAsync(lent, held), null, trust);
        }

        return new Granted(await store.RolesOnProjectAsync(row.UserId, projectId));
    }

    /// <summary>The delegated roles and those they imply, kept where the delegating user holds them.</summary>
    private async Task<IReadOnlyList<RoleRow>> DelegatedAsync(IReadOnlyList<RoleRow> delegated, IReadOnlyList<RoleRow> held)
    {
        var reach = IdentityStore.ImpliedClosure(delegated.Select(r => r.Id), await store.ListImpliedRolesAsync(null));
        return [.. held.Where(r => reach.Contains(r.Id))];
    }

    private static bool IsPast(DateTime? moment) => moment is { } t && Ids.AsUtc(t) <= DateTime.UtcNow;

    private async Task<bool> IsDomainEnabledAsync(string domainId) => await store.FindDomainAsync(domainId, null) is { Enabled: true };

    /// <summary>
    /// Kills every token issued so far to <paramref name="userId"/> and/or on <paramref name="projectId"/>
    /// (Keystone's revocation event); re-enabling the user or project later does not bring them back.
    /// </summary>
    public Task RevokeAsync(string? userId, string? projectId) =>
        store.RecordRevocationAsync(userId, projectId, DateTime.UtcNow.AddSeconds(-MaxLifetimeSeconds));

    /// <summary>
    /// Keystone's is_admin_project: the project named by [resource] admin_project_name in admin_project_domain_name; with
    /// the name empty, as Keystone with the option unset, every project.
    /// </summary>
    public async Task<bool> IsAdminProjectAsync(ProjectRow? project)
    {
        var settings = options.Value;
        if (project is not null && string.IsNullOrEmpty(settings.AdminProjectName))
        {
            return true;
        }

        if (project is null || project.Name != settings.AdminProjectName)
        {
            return false;
        }

        // Looked up each time: domains are created and renamed through the API now (a token's validation is cached anyway).
        var adminDomainId = (await store.FindDomainAsync(null, settings.AdminProjectDomainName))?.Id;
        return project.DomainId == adminDomainId;
    }

    /// <summary>A request's context; a system-scoped token's admin is the cloud admin, as in Keystone.</summary>
    private static RequestContext ContextOf(TokenRow row, UserRow user, ProjectRow? project, DomainRow? domain, Granted granted,
        bool isAdminProject) =>
        new(user.Id, user.Name, user.DomainId, project?.Id, project?.Name, [.. granted.Roles.Select(r => r.Name)], Ids.AsUtc(row.ExpiresAt),
            isAdminProject || row.SystemScope)
        {
            ScopeDomainId = domain?.Id,
            ApplicationCredentialId = granted.AppCredential?.Id,
            IsRestrictedApplicationCredential = granted.AppCredential is { Unrestricted: false },
            TrustId = granted.Trust?.Id,
        };

    private sealed record CachedValidation(ValidToken Token, long Generation);

    /// <summary>A token's roles and the delegation they came through.</summary>
    private sealed record Granted(IReadOnlyList<RoleRow> Roles, AppCredentialRow? AppCredential = null, TrustRow? Trust = null);
}
