using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Identity;

public static partial class IdentityApi
{
    private const string AuthFailed = "The request you have made requires authentication.";

    /// <summary>POST /v3/auth/tokens: password or token auth, optionally scoped to a project.</summary>
    private static async Task<IResult> IssueTokenAsync(HttpContext http, IdentityStore store, TokenService tokens, LoginGuard guard,
        TimeProvider clock, Microsoft.Extensions.Options.IOptions<EmberOptions> options)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var auth = Json.RequiredObject(body, "auth");
        var identity = Json.RequiredObject(auth, "identity");
        var methods = identity["methods"] as JsonArray ?? throw ApiException.BadRequest("'methods' is a required property");
        var methodNames = methods.Select(m => m is JsonValue v && v.TryGetValue(out string? name)
            ? name
            : throw ApiException.BadRequest($"Invalid input for field 'identity/methods': {m?.ToJsonString() ?? "null"} is not of type 'string'")).ToList();

        UserRow user;
        DateTime? inheritedExpiry = null;
        string? inheritedAuditId = null;
        if (methodNames.Contains("password"))
        {
            user = await AuthenticatePasswordAsync(http, store, guard, clock, options.Value.Identity, Json.RequiredObject(identity, "password"));
        }
        else if (methodNames.Contains("token"))
        {
            var tokenId = Json.RequiredString(Json.RequiredObject(identity, "token"), "id");
            var original = await tokens.ValidateAsync(tokenId) ?? throw ApiException.Unauthorized(AuthFailed);
            user = original.User;
            inheritedExpiry = original.Row.ExpiresAt;
            inheritedAuditId = original.Row.AuditId;
        }
        else
        {
            throw ApiException.Unauthorized("Attempted to authenticate with an unsupported method.");
        }

        var project = await ResolveScopeAsync(store, auth["scope"], user);
        var (token, valid) = await tokens.IssueAsync(user, project, methodNames, inheritedExpiry, inheritedAuditId);
        http.Response.Headers["X-Subject-Token"] = token;
        var withCatalog = !http.Request.Query.ContainsKey("nocatalog");
        return Json.Reply(await TokenBodyAsync(http, store, valid, withCatalog), StatusCodes.Status201Created);
    }

    /// <summary>
    /// Password auth with the same work on every path: a throttle check, one hash (a dummy one when the user is
    /// unknown, disabled or locked), then one answer for every failure, so a caller cannot tell which part was wrong.
    /// </summary>
    private static async Task<UserRow> AuthenticatePasswordAsync(HttpContext http, IdentityStore store, LoginGuard guard,
        TimeProvider clock, IdentityOptions settings, JsonObject password)
    {
        var userRef = Json.RequiredObject(password, "user");
        var secret = Json.OptionalString(userRef, "password") ?? throw ApiException.Unauthorized(AuthFailed);
        var id = Json.OptionalString(userRef, "id");
        UserRow? user;
        string userKey;
        if (id is not null)
        {
            userKey = "id:" + id;
            guard.ThrowIfThrottled(http, userKey);
            user = await store.FindUserAsync(id, null, null);
        }
        else
        {
            var name = Json.OptionalString(userRef, "name") ?? throw ApiException.BadRequest("A user must be given by id, or by name and domain.");
            var domain = await ResolveDomainAsync(store, userRef["domain"] as JsonObject);
            userKey = $"name:{domain?.Id}/{name}";
            guard.ThrowIfThrottled(http, userKey);
            user = domain is null ? null : await store.FindUserAsync(null, name, domain.Id);
        }

        if (user is not null && user.Id != id)
        {
            // By id or by name: one budget per user that exists.
            userKey = "id:" + user.Id;
            guard.ThrowIfThrottled(http, userKey);
        }

        var now = Ids.Now(clock);
        var lockout = user is not null && settings.LockoutFailureAttempts > 0
            ? await LockoutOfAsync(store, settings, user.Id, now)
            : (Locked: false, Expired: false);
        var usable = user is { Enabled: true } && !lockout.Locked;
        var matches = await guard.VerifyAsync(http, secret, usable ? user!.PasswordHash : null);
        if (usable && matches)
        {
            if (settings.LockoutFailureAttempts > 0)
            {
                await store.ClearLoginFailuresAsync(user!.Id);
            }

            return user!;
        }

        guard.RecordFailure(http, userKey);
        if (user is not null && settings.LockoutFailureAttempts > 0 && !lockout.Locked)
        {
            await store.RecordLoginFailureAsync(user.Id, now, restart: lockout.Expired);
        }

        throw ApiException.Unauthorized(AuthFailed);
    }

    /// <summary>Keystone's lock-out: enough failures in a row lock the user until lockout_duration has passed since the last.</summary>
    private static async Task<(bool Locked, bool Expired)> LockoutOfAsync(IdentityStore store, IdentityOptions settings, string userId, DateTime now)
    {
        var (failures, last) = await store.LoginFailuresAsync(userId);
        if (failures < settings.LockoutFailureAttempts || last is null)
        {
            return (false, false);
        }

        var locked = last.Value.AddSeconds(settings.LockoutDurationSeconds) > now;
        return (locked, !locked);
    }

    private static async Task<DomainRow?> ResolveDomainAsync(IdentityStore store, JsonObject? domainRef)
    {
        if (domainRef is null)
        {
            return null;
        }

        var id = Json.OptionalString(domainRef, "id");
        var name = Json.OptionalString(domainRef, "name");
        return id is null && name is null ? null : await store.FindDomainAsync(id, name);
    }

    /// <summary>The project a token is scoped to; null for unscoped. No scope means the user's default project, if any.</summary>
    private static async Task<ProjectRow?> ResolveScopeAsync(IdentityStore store, JsonNode? scope, UserRow user)
    {
        if (scope is JsonValue v && v.TryGetValue(out string? word) && word == "unscoped")
        {
            return null;
        }

        if (scope is null)
        {
            if (user.DefaultProjectId is null)
            {
                return null;
            }

            var fallback = await store.FindProjectAsync(user.DefaultProjectId, null, null);
            return fallback is not null && (await store.RolesOnProjectAsync(user.Id, fallback.Id)).Count > 0 ? fallback : null;
        }

        if (scope is not JsonObject scopeObject)
        {
            throw ApiException.BadRequest("Invalid scope.");
        }

        if (scopeObject["project"] is not JsonObject projectRef)
        {
            throw ApiException.Unauthorized("Ember supports project-scoped and unscoped tokens only.");
        }

        var id = Json.OptionalString(projectRef, "id");
        ProjectRow? project;
        if (id is not null)
        {
            project = await store.FindProjectAsync(id, null, null);
        }
        else
        {
            var name = Json.OptionalString(projectRef, "name") ?? throw ApiException.BadRequest("A project must be given by id, or by name and domain.");
            var domain = await ResolveDomainAsync(store, projectRef["domain"] as JsonObject)
                ?? throw ApiException.Unauthorized($"Could not find project: {name}.");
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

    private static async Task<JsonObject> TokenBodyAsync(HttpContext http, IdentityStore store, ValidToken valid, bool withCatalog)
    {
        var domain = await store.FindDomainAsync(valid.User.DomainId, null);
        var domainJson = () => new JsonObject { ["id"] = valid.User.DomainId, ["name"] = domain?.Name ?? valid.User.DomainId };
        var token = new JsonObject
        {
            ["methods"] = new JsonArray([.. valid.Row.Methods.Split(',').Select(m => (JsonNode)m)]),
            ["user"] = new JsonObject
            {
                ["domain"] = domainJson(),
                ["id"] = valid.User.Id,
                ["name"] = valid.User.Name,
                ["password_expires_at"] = null,
            },
            ["audit_ids"] = new JsonArray(valid.Row.AuditId),
            ["expires_at"] = Ids.KeystoneTime(valid.Row.ExpiresAt),
            ["issued_at"] = Ids.KeystoneTime(valid.Row.IssuedAt),
        };
        if (valid.Project is { } project)
        {
            var projectDomain = await store.FindDomainAsync(project.DomainId, null);
            token["project"] = new JsonObject
            {
                ["domain"] = new JsonObject { ["id"] = project.DomainId, ["name"] = projectDomain?.Name ?? project.DomainId },
                ["id"] = project.Id,
                ["name"] = project.Name,
            };
            token["is_domain"] = false;
            token["is_admin_project"] = valid.Context.IsAdminProject;
            token["roles"] = new JsonArray([.. valid.Roles.Select(r => (JsonNode)new JsonObject { ["id"] = r.Id, ["name"] = r.Name })]);
            if (withCatalog)
            {
                token["catalog"] = ServiceCatalog.Build(http.BaseUrl(), project.Id);
            }
        }

        return new JsonObject { ["token"] = token };
    }

    /// <summary>GET/HEAD /v3/auth/tokens: validates X-Subject-Token for its owner or an admin.</summary>
    private static async Task<IResult> ValidateTokenAsync(HttpContext http, IdentityStore store, TokenService tokens)
    {
        var caller = http.RequireContext();
        var subject = http.Request.Headers["X-Subject-Token"].ToString();
        var valid = await tokens.ValidateAsync(subject);
        if (valid is null || (!caller.IsCloudAdmin && valid.User.Id != caller.UserId))
        {
            throw ApiException.NotFound("Could not find token.");
        }

        http.Response.Headers["X-Subject-Token"] = subject;
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return Results.Ok();
        }

        var withCatalog = !http.Request.Query.ContainsKey("nocatalog");
        return Json.Reply(await TokenBodyAsync(http, store, valid, withCatalog));
    }

    /// <summary>DELETE /v3/auth/tokens: revokes X-Subject-Token; it is refused everywhere from then on.</summary>
    private static async Task<IResult> RevokeTokenAsync(HttpContext http, IdentityStore store, TokenService tokens)
    {
        var caller = http.RequireContext();
        var subject = http.Request.Headers["X-Subject-Token"].ToString();
        var valid = await tokens.ValidateAsync(subject);
        if (valid is null || (!caller.IsCloudAdmin && valid.User.Id != caller.UserId))
        {
            throw ApiException.NotFound("Could not find token.");
        }

        await store.RevokeTokenAsync(subject);
        return Results.NoContent();
    }
}
