using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

/// <summary>
/// The Keystone v3 subset: discovery, tokens, catalog, projects, users, roles and assignments (OS-INHERIT and system ones too),
/// policies, OAuth1 consumers, endpoint groups and domain configuration.
/// </summary>
public static partial class IdentityApi
{
    public static void MapIdentityApi(this IEndpointRouteBuilder app)
    {
        var identity = app.MapGroup("/identity");
        identity.MapGet("", Versions);
        identity.MapGet("/v3", Version);

        var v3 = identity.MapGroup("/v3");
        v3.MapPost("/auth/tokens", IssueTokenAsync);
        v3.MapGet("/auth/tokens", ValidateTokenAsync);
        v3.MapMethods("/auth/tokens", [HttpMethods.Head], ValidateTokenAsync);
        v3.MapDelete("/auth/tokens", RevokeTokenAsync);
        v3.MapGet("/auth/catalog", (Delegate)Catalog);
        v3.MapGet("/auth/projects", AuthProjectsAsync);
        v3.MapGet("/auth/domains", AuthDomainsAsync);
        v3.MapGet("/auth/system", AuthSystemAsync);

        MapProjects(v3);
        MapUsers(v3);
        MapRoles(v3);
        MapDomains(v3);
        MapGroups(v3);
        MapCatalog(v3);
        MapCredentials(v3);
        MapRegions(v3);
        MapApplicationCredentials(v3);
        MapTrusts(v3);
        MapImpliedRoles(v3);
        MapPolicies(v3);
        MapOAuthConsumers(v3);
        MapEndpointFilter(v3);
        MapDomainConfig(v3);
    }

    private static JsonObject VersionEntry(HttpContext http) => new()
    {
        ["id"] = "v3.14",
        ["status"] = "stable",
        ["updated"] = "2020-04-07T00:00:00Z",
        ["links"] = new JsonArray(new JsonObject { ["rel"] = "self", ["href"] = $"{http.BaseUrl()}/identity/v3/" }),
        ["media-types"] = new JsonArray(new JsonObject
        {
            ["base"] = "application/json",
            ["type"] = "application/vnd.openstack.identity-v3+json",
        }),
    };

    private static IResult Versions(HttpContext http)
    {
        http.Response.Headers.Location = $"{http.BaseUrl()}/identity/v3/";
        return Json.Reply(new JsonObject { ["versions"] = new JsonObject { ["values"] = new JsonArray(VersionEntry(http)) } }, 300);
    }

    private static IResult Version(HttpContext http) => Json.Reply(new JsonObject { ["version"] = VersionEntry(http) });

    private static async Task<IResult> Catalog(HttpContext http)
    {
        var context = http.RequireContext();
        return Json.Reply(new JsonObject
        {
            ["catalog"] = await ServiceCatalog.BuildAsync(http, context.ProjectId),
            ["links"] = Links(http, "/auth/catalog"),
        });
    }

    private static async Task<IResult> AuthProjectsAsync(HttpContext http, IdentityService identity)
    {
        var context = http.RequireContext();
        var projects = await identity.ListProjectsOfUserAsync(context.UserId);
        return Json.Reply(new JsonObject
        {
            ["projects"] = new JsonArray([.. projects.Select(p => (JsonNode)ProjectJson(http, p))]),
            ["links"] = Links(http, "/auth/projects"),
        });
    }

    private static async Task<IResult> AuthDomainsAsync(HttpContext http, IdentityService identity)
    {
        // The domains the user may scope a token to: those where the user holds a role, directly or through a group.
        var context = http.RequireContext();
        var domains = await identity.ListDomainsOfUserAsync(context.UserId);
        return Json.Reply(new JsonObject
        {
            ["domains"] = new JsonArray([.. domains.Where(d => d.Enabled).Select(d => (JsonNode)DomainJson(http, d))]),
            ["links"] = Links(http, "/auth/domains"),
        });
    }

    /// <summary>GET /v3/auth/system: [{"all": true}] when the user holds a role on the system, directly or through a group.</summary>
    private static async Task<IResult> AuthSystemAsync(HttpContext http, IdentityStore store)
    {
        var context = http.RequireContext();
        var roles = await store.EffectiveRolesAsync(context.UserId, GrantRow.System, GrantRow.SystemAll);
        return Json.Reply(new JsonObject
        {
            ["system"] = roles.Count > 0 ? new JsonArray(new JsonObject { ["all"] = true }) : new JsonArray(),
            ["links"] = Links(http, "/auth/system"),
        });
    }

    internal static JsonObject Links(HttpContext http, string path) => new()
    {
        ["self"] = $"{http.BaseUrl()}/identity/v3{path}",
        ["previous"] = null,
        ["next"] = null,
    };

    internal static JsonObject DomainJson(HttpContext http, DomainRow d) => new()
    {
        ["id"] = d.Id,
        ["name"] = d.Name,
        ["description"] = d.Description ?? "",
        ["enabled"] = d.Enabled,
        ["tags"] = new JsonArray(),
        ["options"] = new JsonObject(),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/domains/{d.Id}" },
    };

    internal static JsonObject ProjectJson(HttpContext http, ProjectRow p, IReadOnlyCollection<string>? tags = null) => new()
    {
        ["id"] = p.Id,
        ["name"] = p.Name,
        ["domain_id"] = p.DomainId,
        ["description"] = p.Description ?? "",
        ["enabled"] = p.Enabled,
        ["parent_id"] = p.ParentId ?? p.DomainId,
        ["is_domain"] = false,
        ["tags"] = new JsonArray([.. (tags ?? []).Select(t => (JsonNode)t)]),
        ["options"] = new JsonObject(),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/projects/{p.Id}" },
    };

    internal static JsonObject UserJson(HttpContext http, UserRow u)
    {
        var json = new JsonObject
        {
            ["id"] = u.Id,
            ["name"] = u.Name,
            ["domain_id"] = u.DomainId,
            ["enabled"] = u.Enabled,
            ["password_expires_at"] = null,
            ["options"] = new JsonObject(),
            ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/users/{u.Id}" },
        };
        if (u.DefaultProjectId is not null)
        {
            json["default_project_id"] = u.DefaultProjectId;
        }

        if (u.Email is not null)
        {
            json["email"] = u.Email;
        }

        if (u.Description is not null)
        {
            json["description"] = u.Description;
        }

        // The attributes Keystone keeps without knowing them (openstackclient's --project at create sends project_id... as extra).
        if (u.Extra is not null && JsonNode.Parse(u.Extra) is JsonObject extra)
        {
            foreach (var (key, value) in extra)
            {
                if (!json.ContainsKey(key))
                {
                    json[key] = value?.DeepClone();
                }
            }
        }

        return json;
    }

    internal static JsonObject RoleJson(HttpContext http, RoleRow r) => new()
    {
        ["id"] = r.Id,
        ["name"] = r.Name,
        ["domain_id"] = r.DomainId,
        ["description"] = r.Description,
        ["options"] = new JsonObject(),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/roles/{r.Id}" },
    };
}
