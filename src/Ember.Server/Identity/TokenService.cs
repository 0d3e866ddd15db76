using System.Collections.Concurrent;
using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A validated token: the row and the context it gives a request.</summary>
public sealed record ValidToken(TokenRow Row, RequestContext Context, UserRow User, ProjectRow? Project, IReadOnlyList<RoleRow> Roles,
    DomainRow? Domain = null);

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

    public async Task<(string Token, ValidToken Valid)> IssueAsync(UserRow user, TokenScope scope, IReadOnlyList<string> methods,
        DateTime? expiresAt = null, string? auditId = null)
    {
        var project = scope.Project;
        var token = Ids.NewSecret();
        var now = Ids.Now();
        var lifetimeEnd = now.AddSeconds(options.Value.TokenLifetimeSeconds);
        // A re-scoped token never outlives the token it came from.
        var expiry = expiresAt is { } limit && limit < lifetimeEnd ? limit : lifetimeEnd;
        var row = new TokenRow(IdentityStore.HashToken(token), user.Id, project?.Id, string.Join(',', methods),
            auditId ?? Ids.NewSecret(16), now, expiry, false, scope.Domain?.Id);
        await store.InsertTokenAsync(row);
        var roles = project is not null ? await store.RolesOnProjectAsync(user.Id, project.Id)
            : scope.Domain is { } domain ? await store.EffectiveRolesAsync(user.Id, GrantRow.Domain, domain.Id)
            : [];
        return (token, new ValidToken(row, ContextOf(row, user, project, scope.Domain, roles, await IsAdminProjectAsync(project)), user, project, roles,
            scope.Domain));
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
        if (row.ProjectId is not null)
        {
            project = await store.FindProjectAsync(row.ProjectId, null, null);
            if (project is not { Enabled: true } || project.DomainId != user.DomainId && !await IsDomainEnabledAsync(project.DomainId))
            {
                return null;
            }

            roles = await store.RolesOnProjectAsync(user.Id, project.Id);
            if (roles.Count == 0)
            {
                // The user lost every role on the project since the token was issued.
                return null;
            }
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

        return new ValidToken(row, ContextOf(row, user, project, domain, roles, await IsAdminProjectAsync(project)), user, project, roles, domain);
    }

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

    private static RequestContext ContextOf(TokenRow row, UserRow user, ProjectRow? project, DomainRow? domain, IReadOnlyList<RoleRow> roles,
        bool isAdminProject) =>
        new(user.Id, user.Name, user.DomainId, project?.Id, project?.Name, [.. roles.Select(r => r.Name)], Ids.AsUtc(row.ExpiresAt), isAdminProject)
        {
            ScopeDomainId = domain?.Id,
        };

    private sealed record CachedValidation(ValidToken Token, long Generation);
}
