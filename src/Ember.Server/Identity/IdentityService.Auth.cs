using Ember.Server.Common;
using Microsoft.Extensions.Options;

namespace Ember.Server.Identity;

/// <summary>A domain named in a request, by id or by name.</summary>
public sealed record DomainReference(string? Id, string? Name);

/// <summary>The user of a password login: by id, or by name in a domain.</summary>
public sealed record UserReference(string? Id, string? Name, DomainReference? Domain);

/// <summary>The project a token is asked to be scoped to: by id, or by name in a domain.</summary>
public sealed record ProjectReference(string? Id, string? Name, DomainReference? Domain);

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
        var usable = user is { Enabled: true } && !lockout.Locked;
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
    /// The project a new token is scoped to: the one asked for (enabled, and the user holds a role on it), or with
    /// nothing asked the user's default project if the user holds a role there; null for an unscoped token.
    /// </summary>
    public async Task<ProjectRow?> ResolveScopeAsync(UserRow user, ProjectReference? requested, bool unscoped)
    {
        if (unscoped)
        {
            return null;
        }

        if (requested is null)
        {
            if (user.DefaultProjectId is null)
            {
                return null;
            }

            var fallback = await store.FindProjectAsync(user.DefaultProjectId, null, null);
            return fallback is not null && (await store.RolesOnProjectAsync(user.Id, fallback.Id)).Count > 0 ? fallback : null;
        }

        ProjectRow? project;
        if (requested.Id is not null)
        {
            project = await store.FindProjectAsync(requested.Id, null, null);
        }
        else
        {
            var name = requested.Name ?? throw ApiException.BadRequest("A project must be given by id, or by name and domain.");
            var domain = await FindDomainAsync(requested.Domain) ?? throw ApiException.Unauthorized($"Could not find project: {name}.");
            project = await store.FindProjectAsync(null, name, domain.Id);
        }

        if (project is not { Enabled: true })
        {
            throw ApiException.Unauthorized(AuthFailed);
        }

        if ((await store.RolesOnProjectAsync(user.Id, project.Id)).Count == 0)
        {
            throw ApiException.Unauthorized($"User {user.Id} has no access to project {project.Id}");
        }

        return project;
    }

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
