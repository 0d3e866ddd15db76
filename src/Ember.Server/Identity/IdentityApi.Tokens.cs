using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Identity;

public static partial class IdentityApi
{
    private const string AuthFailed = IdentityService.AuthFailed;

    /// <summary>POST /v3/auth/tokens: password or token auth, optionally scoped to a project.</summary>
    private static async Task<IResult> IssueTokenAsync(HttpContext http, IdentityService identityService, TokenService tokens)
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
            var userRef = Json.RequiredObject(Json.RequiredObject(identity, "password"), "user");
            var secret = Json.OptionalString(userRef, "password") ?? throw ApiException.Unauthorized(AuthFailed);
            var who = new UserReference(Json.OptionalString(userRef, "id"), Json.OptionalString(userRef, "name"), DomainOf(userRef));
            var source = Dashboard.DashboardForwarding.ClientAddress(http); // a dashboard login counts against the browser's address
            user = await identityService.AuthenticatePasswordAsync(who, secret, source, http.RequestAborted);
        }
        else if (methodNames.Contains("application_credential"))
        {
            var credential = Json.RequiredObject(identity, "application_credential");
            var secret = Json.OptionalString(credential, "secret") ?? throw ApiException.Unauthorized(AuthFailed);
            var owner = credential["user"] is JsonObject userRef
                ? new UserReference(Json.OptionalString(userRef, "id"), Json.OptionalString(userRef, "name"), DomainOf(userRef))
                : null;
            var who = new AppCredentialAuth(Json.OptionalString(credential, "id"), Json.OptionalString(credential, "name"), owner, secret);
            var (appUser, project, row) = await identityService.AuthenticateAppCredentialAsync(who, Dashboard.DashboardForwarding.ClientAddress(http),
                http.RequestAborted);
            // The credential fixes the scope: another one asked for is refused, as in Keystone.
            if (auth["scope"] is { } asked && ScopeOf(asked).Requested?.Project?.Id != project.Id)
            {
                throw ApiException.Unauthorized("An application credential cannot request another scope.");
            }

            var (appToken, appValid) = await tokens.IssueAsync(appUser, new TokenScope(project, null), ["application_credential"], row.ExpiresAt, null,
                new TokenDelegation(row.Id, null));
            http.Response.Headers["X-Subject-Token"] = appToken;
            return Json.Reply(await TokenBodyAsync(http, identityService, appValid, !http.Request.Query.ContainsKey("nocatalog")), StatusCodes.Status201Created);
        }
        else if (methodNames.Contains("token"))
        {
            var tokenId = Json.RequiredString(Json.RequiredObject(identity, "token"), "id");
            var original = await tokens.ValidateAsync(tokenId) ?? throw ApiException.Unauthorized(AuthFailed);
            if (original.Row.TrustId is not null || original.Row.AppCredId is not null)
            {
                throw ApiException.Forbidden("You are not authorized to perform the requested action: Using trust-scoped or application credential tokens to create new tokens is not allowed.");
            }

            user = original.User;
            inheritedExpiry = original.Row.ExpiresAt;
            inheritedAuditId = original.Row.AuditId;
            // As Keystone's token plugin: the new token also names the methods that made the original (password, token).
            methodNames = [.. methodNames.Concat(original.Row.Methods.Split(',')).Distinct(StringComparer.Ordinal)];
        }
        else
        {
            throw ApiException.Unauthorized("Attempted to authenticate with an unsupported method.");
        }

        var (requested, unscoped, trustId) = ScopeOf(auth["scope"]);
        TokenScope scope;
        TokenDelegation? delegation = null;
        if (trustId is not null)
        {
            (user, scope, var trust) = await identityService.ResolveTrustScopeAsync(user, trustId);
            delegation = new TokenDelegation(null, trust.Id);
            inheritedExpiry = trust.ExpiresAt is { } trustEnd && (inheritedExpiry is null || trustEnd < inheritedExpiry) ? trustEnd : inheritedExpiry;
        }
        else
        {
            scope = await identityService.ResolveScopeAsync(user, requested, unscoped);
        }

        var (token, valid) = await tokens.IssueAsync(user, scope, methodNames, inheritedExpiry, inheritedAuditId, delegation);
        http.Response.Headers["X-Subject-Token"] = token;
        var withCatalog = !http.Request.Query.ContainsKey("nocatalog");
        return Json.Reply(await TokenBodyAsync(http, identityService, valid, withCatalog), StatusCodes.Status201Created);
    }

    private static DomainReference? DomainOf(JsonObject holder) =>
        holder["domain"] is JsonObject domain ? new DomainReference(Json.OptionalString(domain, "id"), Json.OptionalString(domain, "name")) : null;

    /// <summary>
    /// "scope": absent (the default project), "unscoped", {"project": {...}}, {"domain": {...}}, {"system": {"all": true}} or
    /// {"OS-TRUST:trust": {"id": ...}}.
    /// </summary>
    private static (ScopeRequest? Requested, bool Unscoped, string? TrustId) ScopeOf(JsonNode? scope)
    {
        if (scope is null)
        {
            return (null, false, null);
        }

        if (scope is JsonValue v && v.TryGetValue(out string? word) && word == "unscoped")
        {
            return (null, true, null);
        }

        if (scope is not JsonObject scopeObject)
        {
            throw ApiException.BadRequest("Invalid scope.");
        }

        if (scopeObject["OS-TRUST:trust"] is JsonObject trustRef)
        {
            return (null, false, BoundedText(trustRef, "id", 64, required: true));
        }

        if (scopeObject["system"] is JsonObject systemRef)
        {
            if (Json.OptionalBoolean(systemRef, "all") != true)
            {
                throw ApiException.BadRequest("Invalid scope: the system scope is {\"all\": true}.");
            }

            return (new ScopeRequest(null, null, System: true), false, null);
        }

        if (scopeObject["domain"] is JsonObject domainRef)
        {
            return (new ScopeRequest(null, new DomainReference(Json.OptionalString(domainRef, "id"), Json.OptionalString(domainRef, "name"))), false, null);
        }

        if (scopeObject["project"] is not JsonObject projectRef)
        {
            throw ApiException.Unauthorized("Ember supports project-scoped, domain-scoped, system-scoped, trust-scoped and unscoped tokens only.");
        }

        return (new ScopeRequest(new ProjectReference(Json.OptionalString(projectRef, "id"), Json.OptionalString(projectRef, "name"), DomainOf(projectRef)), null),
            false, null);
    }

    private static async Task<JsonObject> TokenBodyAsync(HttpContext http, IdentityService identity, ValidToken valid, bool withCatalog)
    {
        var domain = await identity.FindDomainAsync(valid.User.DomainId);
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
        if (valid.AppCredential is { } credential)
        {
            token["application_credential"] = new JsonObject
            {
                ["id"] = credential.Id,
                ["name"] = credential.Name,
                ["restricted"] = !credential.Unrestricted,
            };
        }

        if (valid.Trust is { } trust)
        {
            token["OS-TRUST:trust"] = new JsonObject
            {
                ["id"] = trust.Id,
                ["impersonation"] = trust.Impersonation,
                ["trustee_user"] = new JsonObject { ["id"] = trust.TrusteeUserId },
                ["trustor_user"] = new JsonObject { ["id"] = trust.TrustorUserId },
            };
        }

        if (valid.Project is { } project)
        {
            var projectDomain = await identity.FindDomainAsync(project.DomainId);
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
                token["catalog"] = await ServiceCatalog.BuildAsync(http, project.Id);
            }
        }
        else if (valid.Row.SystemScope)
        {
            token["system"] = new JsonObject { ["all"] = true };
            token["roles"] = new JsonArray([.. valid.Roles.Select(r => (JsonNode)new JsonObject { ["id"] = r.Id, ["name"] = r.Name })]);
            if (withCatalog)
            {
                token["catalog"] = await ServiceCatalog.BuildAsync(http, null);
            }
        }
        else if (valid.Domain is { } scopeDomain)
        {
            token["domain"] = new JsonObject { ["id"] = scopeDomain.Id, ["name"] = scopeDomain.Name };
            token["roles"] = new JsonArray([.. valid.Roles.Select(r => (JsonNode)new JsonObject { ["id"] = r.Id, ["name"] = r.Name })]);
            if (withCatalog)
            {
                token["catalog"] = await ServiceCatalog.BuildAsync(http, null);
            }
        }

        return new JsonObject { ["token"] = token };
    }

    /// <summary>GET/HEAD /v3/auth/tokens: validates X-Subject-Token for its owner or an admin.</summary>
    private static async Task<IResult> ValidateTokenAsync(HttpContext http, IdentityService identity)
    {
        var subject = http.Request.Headers["X-Subject-Token"].ToString();
        var valid = await identity.GetSubjectTokenAsync(http.RequireContext(), subject);
        http.Response.Headers["X-Subject-Token"] = subject;
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return Results.Ok();
        }

        var withCatalog = !http.Request.Query.ContainsKey("nocatalog");
        return Json.Reply(await TokenBodyAsync(http, identity, valid, withCatalog));
    }

    /// <summary>DELETE /v3/auth/tokens: revokes X-Subject-Token; it is refused everywhere from then on.</summary>
    private static async Task<IResult> RevokeTokenAsync(HttpContext http, IdentityService identity)
    {
        await identity.RevokeSubjectTokenAsync(http.RequireContext(), http.Request.Headers["X-Subject-Token"].ToString());
        return Results.NoContent();
    }
}
