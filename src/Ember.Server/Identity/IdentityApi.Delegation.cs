using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Application credentials (/v3/users/{id}/application_credentials), trusts (/v3/OS-TRUST/trusts) and implied roles
// (/v3/roles/{prior}/implies/{implied}, /v3/role_inferences).
public static partial class IdentityApi
{
    /// <summary>Longest secret accepted for an application credential (Keystone's makes 86 characters).</summary>
    private const int MaxAppCredentialSecretLength = 1024;

    private static void MapApplicationCredentials(RouteGroupBuilder v3)
    {
        const string root = "/users/{userId}/application_credentials";
        v3.MapPost(root, async (HttpContext http, IdentityService identity, string userId) =>
        {
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "application_credential");
            if (body["access_rules"] is JsonArray { Count: > 0 })
            {
                throw ApiException.BadRequest("Application credential access rules are not supported.");
            }

            var request = new AppCredentialCreate(RequireName(body), BoundedText(body, "description", 65535),
                BoundedText(body, "secret", MaxAppCredentialSecretLength) is { Length: > 0 } given ? given : null,
                ExpiryOf(body), Json.OptionalBoolean(body, "unrestricted") ?? false, RoleReferencesOf(body, required: false));
            var (row, secret, roles) = await identity.CreateAppCredentialAsync(http.RequireContext(), userId, request);
            var json = AppCredentialJson(http, row, roles);
            json["secret"] = secret;
            return Json.Reply(new JsonObject { ["application_credential"] = json }, StatusCodes.Status201Created);
        });
        v3.MapGet(root, async (HttpContext http, IdentityService identity, string userId, string? name) =>
        {
            var rows = await identity.ListAppCredentialsAsync(http.RequireContext(), userId, name);
            var list = new JsonArray();
            foreach (var row in rows)
            {
                list.Add(AppCredentialJson(http, row, await identity.AppCredentialRolesAsync(row.Id)));
            }

            return Json.Reply(new JsonObject { ["application_credentials"] = list, ["links"] = Links(http, $"/users/{userId}/application_credentials") });
        });
        v3.MapGet(root + "/{id}", async (HttpContext http, IdentityService identity, string userId, string id) =>
        {
            var (row, roles) = await identity.GetAppCredentialAsync(http.RequireContext(), userId, id);
            return Json.Reply(new JsonObject { ["application_credential"] = AppCredentialJson(http, row, roles) });
        });
        v3.MapDelete(root + "/{id}", async (HttpContext http, IdentityService identity, string userId, string id) =>
        {
            await identity.DeleteAppCredentialAsync(http.RequireContext(), userId, id);
            return Results.NoContent();
        });
    }

    private static void MapTrusts(RouteGroupBuilder v3)
    {
        v3.MapPost("/OS-TRUST/trusts", async (HttpContext http, IdentityService identity) =>
        {
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "trust");
            var remainingUses = Json.OptionalInteger(body, "remaining_uses");
            if (remainingUses is < 1)
            {
                throw ApiException.BadRequest("Invalid input for field 'remaining_uses': it must be null or at least 1.");
            }

            var request = new TrustCreate(BoundedText(body, "trustor_user_id", 64, required: true)!, BoundedText(body, "trustee_user_id", 64, required: true)!,
                BoundedText(body, "project_id", 64), Json.OptionalBoolean(body, "impersonation")
                    ?? throw ApiException.BadRequest("'impersonation' is a required property"),
                ExpiryOf(body), remainingUses, RoleReferencesOf(body, required: false) ?? []);
            var (row, roles) = await identity.CreateTrustAsync(http.RequireContext(), request, Json.OptionalBoolean(body, "allow_redelegation") ?? false);
            return Json.Reply(new JsonObject { ["trust"] = TrustJson(http, row, roles) }, StatusCodes.Status201Created);
        });
        v3.MapGet("/OS-TRUST/trusts", async (HttpContext http, IdentityService identity, string? trustor_user_id, string? trustee_user_id) =>
        {
            var list = new JsonArray();
            foreach (var row in await identity.ListTrustsAsync(http.RequireContext(), trustor_user_id, trustee_user_id))
            {
                list.Add(TrustJson(http, row, null));
            }

            return Json.Reply(new JsonObject { ["trusts"] = list, ["links"] = Links(http, "/OS-TRUST/trusts") });
        });
        v3.MapMethods("/OS-TRUST/trusts/{id}", [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, IdentityService identity, string id) =>
        {
            var (row, roles) = await identity.GetTrustAsync(http.RequireContext(), id);
            return HttpMethods.IsHead(http.Request.Method) ? Results.Ok() : Json.Reply(new JsonObject { ["trust"] = TrustJson(http, row, roles) });
        });
        v3.MapDelete("/OS-TRUST/trusts/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            await identity.DeleteTrustAsync(http.RequireContext(), id);
            return Results.NoContent();
        });
        v3.MapMethods("/OS-TRUST/trusts/{id}/roles", [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, IdentityService identity, string id) =>
        {
            var (_, roles) = await identity.GetTrustAsync(http.RequireContext(), id);
            return HttpMethods.IsHead(http.Request.Method)
                ? Results.Ok()
                : Json.Reply(new JsonObject
                {
                    ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]),
                    ["links"] = Links(http, $"/OS-TRUST/trusts/{id}/roles"),
                });
        });
        v3.MapMethods("/OS-TRUST/trusts/{id}/roles/{roleId}", [HttpMethods.Get, HttpMethods.Head],
            async (HttpContext http, IdentityService identity, string id, string roleId) =>
            {
                var (_, roles) = await identity.GetTrustAsync(http.RequireContext(), id);
                var role = roles.FirstOrDefault(r => r.Id == roleId) ?? throw ApiException.NotFound($"Could not find role: {roleId}.");
                return HttpMethods.IsHead(http.Request.Method) ? Results.Ok() : Json.Reply(new JsonObject { ["role"] = RoleJson(http, role) });
            });
    }

    private static void MapImpliedRoles(RouteGroupBuilder v3)
    {
        const string rule = "/roles/{priorId}/implies/{impliedId}";
        v3.MapPut(rule, async (HttpContext http, IdentityService identity, string priorId, string impliedId) =>
        {
            Authorize(http, "identity:create_implied_role");
            var (prior, implied) = await identity.CreateImpliedRoleAsync(priorId, impliedId);
            return Json.Reply(RoleInferenceJson(http, prior, implied), StatusCodes.Status201Created);
        });
        v3.MapGet(rule, async (HttpContext http, IdentityService identity, string priorId, string impliedId) =>
        {
            Authorize(http, "identity:get_implied_role");
            var (prior, implied) = await identity.GetImpliedRoleAsync(priorId, impliedId);
            return Json.Reply(RoleInferenceJson(http, prior, implied));
        });
        v3.MapMethods(rule, [HttpMethods.Head], async (HttpContext http, IdentityService identity, string priorId, string impliedId) =>
        {
            Authorize(http, "identity:check_implied_role");
            _ = await identity.GetImpliedRoleAsync(priorId, impliedId);
            return Results.NoContent();
        });
        v3.MapDelete(rule, async (HttpContext http, IdentityService identity, string priorId, string impliedId) =>
        {
            Authorize(http, "identity:delete_implied_role");
            await identity.DeleteImpliedRoleAsync(priorId, impliedId);
            return Results.NoContent();
        });
        v3.MapMethods("/roles/{priorId}/implies", [HttpMethods.Get, HttpMethods.Head], async (HttpContext http, IdentityService identity, string priorId) =>
        {
            Authorize(http, "identity:list_implied_roles");
            var rules = await identity.ListImpliedRolesAsync(priorId);
            var inferences = await RoleInferencesJsonAsync(http, identity, rules);
            var body = inferences.Count > 0
                ? (JsonObject)inferences[0]!.DeepClone()
                : new JsonObject { ["prior_role"] = RoleRefJson(http, await identity.GetRoleAsync(priorId)), ["implies"] = new JsonArray() };
            return HttpMethods.IsHead(http.Request.Method)
                ? Results.Ok()
                : Json.Reply(new JsonObject { ["role_inference"] = body, ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/roles/{priorId}/implies" } });
        });
        v3.MapGet("/role_inferences", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:list_role_inference_rules");
            var inferences = await RoleInferencesJsonAsync(http, identity, await identity.ListImpliedRolesAsync(null));
            return Json.Reply(new JsonObject { ["role_inferences"] = inferences, ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/role_inferences" } });
        });
    }

    /// <summary>The rules grouped by prior role: [{"prior_role": {...}, "implies": [{...}, ...]}, ...].</summary>
    private static async Task<JsonArray> RoleInferencesJsonAsync(HttpContext http, IdentityService identity, IReadOnlyList<ImpliedRoleRow> rules)
    {
        var roles = (await identity.ListRolesAsync(null)).ToDictionary(r => r.Id, StringComparer.Ordinal);
        var inferences = new JsonArray();
        foreach (var group in rules.GroupBy(r => r.PriorRoleId, StringComparer.Ordinal))
        {
            if (!roles.TryGetValue(group.Key, out var prior))
            {
                continue;
            }

            inferences.Add(new JsonObject
            {
                ["prior_role"] = RoleRefJson(http, prior),
                ["implies"] = new JsonArray([.. group.Where(r => roles.ContainsKey(r.ImpliedRoleId)).Select(r => (JsonNode)RoleRefJson(http, roles[r.ImpliedRoleId]))]),
            });
        }

        return inferences;
    }

    private static JsonObject RoleInferenceJson(HttpContext http, RoleRow prior, RoleRow implied) => new()
    {
        ["role_inference"] = new JsonObject { ["prior_role"] = RoleRefJson(http, prior), ["implies"] = RoleRefJson(http, implied) },
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/roles/{prior.Id}/implies/{implied.Id}" },
    };

    private static JsonObject RoleRefJson(HttpContext http, RoleRow r) => new()
    {
        ["id"] = r.Id,
        ["name"] = r.Name,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/roles/{r.Id}" },
    };

    /// <summary>"roles": [{"id": ...} or {"name": ...}, ...]; null when absent and not required.</summary>
    private static List<RoleReference>? RoleReferencesOf(JsonObject body, bool required)
    {
        if (body["roles"] is null)
        {
            return required ? throw ApiException.BadRequest("'roles' is a required property") : null;
        }

        if (body["roles"] is not JsonArray roles || roles.Count > IdentityStore.MaxDelegatedRoles)
        {
            throw ApiException.BadRequest($"Invalid input for field 'roles': it must be a list of at most {IdentityStore.MaxDelegatedRoles} roles.");
        }

        return [.. roles.Select(node => node is JsonObject role && (role.ContainsKey("id") || role.ContainsKey("name"))
            ? new RoleReference(BoundedText(role, "id", 64), BoundedText(role, "name", 255))
            : throw ApiException.BadRequest("Invalid input for field 'roles': each role is {\"id\": ...} or {\"name\": ...}."))];
    }

    /// <summary>"expires_at": null, or an ISO 8601 time (UTC when it names no offset, as Keystone reads it).</summary>
    private static DateTime? ExpiryOf(JsonObject body)
    {
        var text = BoundedText(body, "expires_at", 64);
        if (text is null)
        {
            return null;
        }

        return DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? DateTime.SpecifyKind(parsed, DateTimeKind.Utc)
            : throw ApiException.BadRequest($"Invalid input for field 'expires_at': '{text}' is not an ISO 8601 time.");
    }

    /// <summary>Python's isoformat of a naive UTC time, which is what Keystone answers for an application credential's expiry.</summary>
    private static string PythonIsoTime(DateTime t)
    {
        var utc = Ids.AsUtc(t);
        return utc.ToString(utc.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
    }

    private static JsonObject AppCredentialJson(HttpContext http, AppCredentialRow row, IReadOnlyList<RoleRow> roles) => new()
    {
        ["id"] = row.Id,
        ["name"] = row.Name,
        ["description"] = row.Description,
        ["user_id"] = row.UserId,
        ["project_id"] = row.ProjectId,
        ["system"] = null,
        ["expires_at"] = row.ExpiresAt is { } expiry ? PythonIsoTime(expiry) : null,
        ["unrestricted"] = row.Unrestricted,
        ["access_rules"] = new JsonArray(),
        ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)new JsonObject { ["id"] = r.Id, ["name"] = r.Name, ["domain_id"] = null })]),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/users/{row.UserId}/application_credentials/{row.Id}" },
    };

    /// <summary>A trust; <paramref name="roles"/> null for the list's summary (without roles).</summary>
    private static JsonObject TrustJson(HttpContext http, TrustRow row, IReadOnlyList<RoleRow>? roles)
    {
        var json = new JsonObject
        {
            ["id"] = row.Id,
            ["trustor_user_id"] = row.TrustorUserId,
            ["trustee_user_id"] = row.TrusteeUserId,
            ["project_id"] = row.ProjectId,
            ["impersonation"] = row.Impersonation,
            ["expires_at"] = row.ExpiresAt is { } expiry ? Ids.KeystoneTime(expiry) : null,
            ["remaining_uses"] = row.RemainingUses,
            ["allow_redelegation"] = false,
            ["redelegation_count"] = 0,
            ["redelegated_trust_id"] = null,
            ["deleted_at"] = null,
            ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/OS-TRUST/trusts/{row.Id}" },
        };
        if (roles is not null)
        {
            json["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)RoleJson(http, r))]);
            json["roles_links"] = Links(http, $"/OS-TRUST/trusts/{row.Id}/roles");
        }

        return json;
    }
}
