using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A domain named in a request, by id or by name.</summary>
public sealed record DomainReference(string? Id, string? Name);

/// <summary>The user of a password login: by id, or by name in a domain.</summary>
public sealed record UserReference(string? Id, string? Name, DomainReference? Domain);

/// <summary>The project a token is asked to be scoped to: by id, or by name in a domain.</summary>
public sealed record ProjectReference(string? Id, string? Name, DomainReference? Domain);

/// <summary>The scope a token is asked for: a project, a domain, the system, or none (the user's default project).</summary>
public sealed record ScopeRequest(ProjectReference? Project, DomainReference? Domain, bool System = false);

/// <summary>The scope a token got: a project, a domain, the system ("all"), or none (unscoped).</summary>
public sealed record TokenScope(ProjectRow? Project, DomainRow? Domain, bool System = false)
{
    public static TokenScope None { get; } = new(null, null);
}

/// <summary>Authentication: password checks behind the login guard and Keystone's lock-out, and token scopes.</summary>
public sealed partial class IdentityService
{
    public const string AuthFailed = "The request you have made requires authentication.";

    /// <summary>
    /// Password auth with the same work on every path: a throttle check, one hash (a dummy one when the user is
    /// unknown, disabled or locked), then one answer for every failure, so a caller cannot tell which part was
    /// wrong. <paramref name="source"/> is the client's address, for its failure budget.
    /// </summary>
    public async Task<UserRow> AuthenticatePasswordAsync(UserReference who, string password, string source, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        UserRow? user;
        string userKey;
        if (who.Id is { } id)
        {
            userKey = "id:" + id;
            guard.ThrowIfThrottled(source, userKey);
            user = await store.FindUserAsync(id, null, null);
        }
        else
        {
            var name = who.Name ?? throw ApiException.BadRequest("A user must be given by id, or by name and domain.");
            var domain = await FindDomainAsync(who.Domain);
            userKey = $"name:{domain?.Id}/{name}";
            guard.ThrowIfThrottled(source, userKey);
            user = domain is null ? null : await store.FindUserAsync(null, name, domain.Id);
        }

        if (user is not null && user.Id != who.Id)
        {
            // By id or by name: one budget per user that exists.
            userKey = "id:" + user.Id;
            guard.ThrowIfThrottled(source, userKey);
        }

        var now = Ids.Now(clock);
        var lockout = user is not null && settings.LockoutFailureAttempts > 0
            ? await LockoutOfAsync(settings, user.Id, now)
            : (Locked: false, Expired: false);
        // A user of a disabled domain cannot log in, as in Keystone.
        var usable = user is { Enabled: true } && !lockout.Locked && await IsDomainEnabledAsync(user.DomainId);
        var matches = await guard.VerifyAsync(password, usable ? user!.PasswordHash : null, cancellationToken);
        if (usable && matches)
        {
            if (settings.LockoutFailureAttempts > 0)
            {
                await store.ClearLoginFailuresAsync(user!.Id);
            }

            return user!;
        }

        guard.RecordFailure(source, userKey);
        if (user is not null && settings.LockoutFailureAttempts > 0 && !lockout.Locked)
        {
            await store.RecordLoginFailureAsync(user.Id, now, restart: lockout.Expired);
        }

        throw ApiException.Unauthorized(AuthFailed);
    }

    /// <summary>
    /// The scope of a new token: the project asked for (enabled, in an enabled domain, and the user holds a role on it,
    /// directly or through a group), the domain asked for (the same rules), or with nothing asked the user's default
    /// project if the user holds a role there; none for an unscoped token.
    /// </summary>
    public async Task<TokenScope> ResolveScopeAsync(UserRow user, ScopeRequest? requested, bool unscoped)
    {
        if (unscoped)
        {
            return TokenScope.None;
        }

        if (requested is null)
        {
            if (user.DefaultProjectId is null)
            {
                return TokenScope.None;
            }

            var fallback = await store.FindProjectAsync(user.DefaultProjectId, null, null);
            return fallback is { Enabled: true } && await IsDomainEnabledAsync(fallback.DomainId)
                && (await store.RolesOnProjectAsync(user.Id, fallback.Id)).Count > 0
                ? new TokenScope(fallback, null)
                : TokenScope.None;
        }

        if (requested.System)
        {
            return (await store.EffectiveRolesAsync(user.Id, GrantRow.System, GrantRow.SystemAll)).Count > 0
                ? new TokenScope(null, null, System: true)
                : throw ApiException.Unauthorized($"User {user.Id} has no access to the system.");
        }

        if (requested.Domain is { } domainRef)
        {
            var domain = await FindDomainAsync(domainRef);
            if (domain is not { Enabled: true })
            {
                throw ApiException.Unauthorized(AuthFailed);
            }

            return (await store.EffectiveRolesAsync(user.Id, GrantRow.Domain, domain.Id)).Count > 0
                ? new TokenScope(null, domain)
                : throw ApiException.Unauthorized($"User {user.Id} has no access to domain {domain.Id}");
        }

        var requestedProject = requested.Project ?? throw ApiException.BadRequest("Invalid scope.");
        ProjectRow? project;
        if (requestedProject.Id is not null)
        {
            project = await store.FindProjectAsync(requestedProject.Id, null, null);
        }
        else
        {
            var name = requestedProject.Name ?? throw ApiException.BadRequest("A project must be given by id, or by name and domain.");
            var domain = await FindDomainAsync(requestedProject.Domain) ?? throw ApiException.Unauthorized($"Could not find project: {name}.");
            project = await store.FindProjectAsync(null, name, domain.Id);
        }

        if (project is not { Enabled: true } || !await IsDomainEnabledAsync(project.DomainId))
        {
            throw ApiException.Unauthorized(AuthFailed);
        }

        if ((await store.RolesOnProjectAsync(user.Id, project.Id)).Count == 0)
        {
            throw ApiException.Unauthorized($"User {user.Id} has no access to project {project.Id}");
        }

        return new TokenScope(project, null);
    }

    private async Task<bool> IsDomainEnabledAsync(string domainId) => await store.FindDomainAsync(domainId, null) is { Enabled: true };

    /// <summary>A token its owner or a cloud admin asks about (X-Subject-Token); 404 for anyone else, as for no token.</summary>
    public async Task<ValidToken> GetSubjectTokenAsync(RequestContext caller, string subject)
    {
        var valid = await tokens.ValidateAsync(subject);
        return valid is not null && (caller.IsCloudAdmin || valid.User.Id == caller.UserId)
            ? valid
            : throw ApiException.NotFound("Could not find token.");
    }

    /// <summary>Revokes one token: refused everywhere from then on.</summary>
    public async Task RevokeSubjectTokenAsync(RequestContext caller, string subject)
    {
        _ = await GetSubjectTokenAsync(caller, subject);
        await store.RevokeTokenAsync(subject);
    }

    public Task<DomainRow?> FindDomainAsync(string id) => store.FindDomainAsync(id, null);

    private async Task<DomainRow?> FindDomainAsync(DomainReference? domain) =>
        domain is null || domain.Id is null && domain.Name is null ? null : await store.FindDomainAsync(domain.Id, domain.Name);

    /// <summary>Keystone's lock-out: enough failures in a row lock the user until lockout_duration has passed since the last.</summary>
    private async Task<(bool Locked, bool Expired)> LockoutOfAsync(IdentityOptions settings, string userId, DateTime now)
    {
        var (failures, last) = await store.LoginFailuresAsync(userId);
        if (failures < settings.LockoutFailureAttempts || last is null)
        {
            return (false, false);
        }

        var locked = last.Value.AddSeconds(settings.LockoutDurationSeconds) > now;
        return (locked, !locked);
    }
}
