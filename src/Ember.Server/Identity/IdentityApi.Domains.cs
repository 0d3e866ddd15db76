using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Domains (/v3/domains) and the projects that act as domains (is_domain: Keystone stores a domain as a project; Ember
// stores it as a domain and shows it through /v3/projects when asked for it by id or with is_domain=true).
public static partial class IdentityApi
{
    private static void MapDomains(RouteGroupBuilder v3)
    {
        v3.MapGet("/domains", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:list_domains");
            var query = http.Request.Query;
            var rows = (await identity.ListDomainsAsync()).Where(d => IdentityFilter.Text(query, "name", d.Name)
                && IdentityFilter.Flag(query, "enabled", d.Enabled));
            return Json.Reply(new JsonObject
            {
                ["domains"] = new JsonArray([.. rows.Select(d => (JsonNode)DomainJson(http, d))]),
                ["links"] = Links(http, "/domains"),
            });
        });
        v3.MapGet("/domains/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            var context = http.RequireContext();
            // Anyone scoped to the domain or living in it may read it; others need the policy.
            if (context.ScopeDomainId != id && context.DomainId != id)
            {
                http.Enforce(context, "identity:get_domain");
            }

            return Json.Reply(new JsonObject { ["domain"] = DomainJson(http, await identity.GetDomainAsync(id)) });
        });
        v3.MapPost("/domains", async (HttpContext http, IdentityService identity) =>
        {
            Authorize(http, "identity:create_domain");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "domain");
            var domain = await identity.CreateDomainAsync(RequireName(body, ProjectNameMaxLength), BoundedText(body, "description", 4096),
                Json.OptionalBoolean(body, "enabled") ?? true);
            return Json.Reply(new JsonObject { ["domain"] = DomainJson(http, domain) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/domains/{id}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:update_domain");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "domain");
            var domain = await identity.UpdateDomainAsync(id, DomainUpdateOf(body));
            return Json.Reply(new JsonObject { ["domain"] = DomainJson(http, domain) });
        });
        v3.MapDelete("/domains/{id}", async (HttpContext http, IdentityService identity, string id) =>
        {
            Authorize(http, "identity:delete_domain");
            await identity.DeleteDomainAsync(id);
            return Results.NoContent();
        });
    }

    private static DomainUpdate DomainUpdateOf(JsonObject body)
    {
        if (body.ContainsKey("description"))
        {
            _ = BoundedText(body, "description", 4096);
        }

        return new DomainUpdate(OptionalName(body, ProjectNameMaxLength), Json.OptionalField(body, "description"), Json.OptionalBoolean(body, "enabled"));
    }

    /// <summary>POST /v3/projects with is_domain=true: a new domain, answered as Keystone answers it, a project acting as a domain.</summary>
    private static async Task<IResult> CreateDomainAsProjectAsync(HttpContext http, IdentityService identity, JsonObject body)
    {
        if (Json.OptionalString(body, "domain_id") is not null || Json.OptionalString(body, "parent_id") is not null)
        {
            throw ApiException.BadRequest("A project acting as a domain has no domain_id or parent_id.");
        }

        var domain = await identity.CreateDomainAsync(RequireName(body, ProjectNameMaxLength), BoundedText(body, "description", 4096),
            Json.OptionalBoolean(body, "enabled") ?? true);
        return Json.Reply(new JsonObject { ["project"] = DomainAsProjectJson(http, domain) }, StatusCodes.Status201Created);
    }

    internal static JsonObject DomainAsProjectJson(HttpContext http, DomainRow d) => new()
    {
        ["id"] = d.Id,
        ["name"] = d.Name,
        ["domain_id"] = null,
        ["description"] = d.Description ?? "",
        ["enabled"] = d.Enabled,
        ["parent_id"] = null,
        ["is_domain"] = true,
        ["tags"] = new JsonArray(),
        ["options"] = new JsonObject(),
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/projects/{d.Id}" },
    };
}
