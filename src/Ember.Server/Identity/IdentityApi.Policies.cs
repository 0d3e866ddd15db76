using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Policies (/v3/policies: a blob and its type, kept and shown as Keystone does; Ember's own policy is its fixed table)
// and OS-OAUTH1 consumers (/v3/OS-OAUTH1/consumers). The OAuth1 request-token flow is not implemented: its routes answer
// 501 in Keystone's error format.
public static partial class IdentityApi
{
    /// <summary>Largest policy blob kept (Keystone's column is TEXT; a policy file is a few kilobytes).</summary>
    private const int MaxPolicyBlobLength = 65535;

    private static void MapPolicies(RouteGroupBuilder v3)
    {
        v3.MapGet("/policies", async (HttpContext http, PolicyStore policies) =>
        {
            Authorize(http, "identity:list_policies");
            var query = http.Request.Query;
            var rows = (await policies.ListPoliciesAsync()).Where(p => IdentityFilter.Text(query, "type", p.Type));
            return Json.Reply(new JsonObject
            {
                ["policies"] = new JsonArray([.. rows.Select(p => (JsonNode)PolicyJson(http, p))]),
                ["links"] = Links(http, "/policies"),
            });
        });
        v3.MapGet("/policies/{id}", async (HttpContext http, PolicyStore policies, string id) =>
        {
            Authorize(http, "identity:get_policy");
            return Json.Reply(new JsonObject { ["policy"] = PolicyJson(http, await policies.GetPolicyAsync(id)) });
        });
        v3.MapPost("/policies", async (HttpContext http, PolicyStore policies) =>
        {
            Authorize(http, "identity:create_policy");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "policy");
            var row = new PolicyRow(Ids.NewHexId(), BoundedText(body, "type", 255, required: true)!, BoundedText(body, "blob", MaxPolicyBlobLength, required: true)!,
                Ids.Now());
            await policies.CreatePolicyAsync(row);
            return Json.Reply(new JsonObject { ["policy"] = PolicyJson(http, row) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/policies/{id}", [HttpMethods.Patch], async (HttpContext http, PolicyStore policies, string id) =>
        {
            Authorize(http, "identity:update_policy");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "policy");
            var row = await policies.GetPolicyAsync(id);
            row = row with
            {
                Type = body.ContainsKey("type") ? BoundedText(body, "type", 255, required: true)! : row.Type,
                Blob = body.ContainsKey("blob") ? BoundedText(body, "blob", MaxPolicyBlobLength, required: true)! : row.Blob,
            };
            await policies.UpdatePolicyAsync(row);
            return Json.Reply(new JsonObject { ["policy"] = PolicyJson(http, row) });
        });
        v3.MapDelete("/policies/{id}", async (HttpContext http, PolicyStore policies, string id) =>
        {
            Authorize(http, "identity:delete_policy");
            await policies.DeletePolicyAsync(id);
            return Results.NoContent();
        });
    }

    private static void MapOAuthConsumers(RouteGroupBuilder v3)
    {
        v3.MapGet("/OS-OAUTH1/consumers", async (HttpContext http, PolicyStore store) =>
        {
            Authorize(http, "identity:list_consumers");
            var rows = await store.ListConsumersAsync();
            return Json.Reply(new JsonObject
            {
                ["consumers"] = new JsonArray([.. rows.Select(c => (JsonNode)ConsumerJson(http, c))]),
                ["links"] = Links(http, "/OS-OAUTH1/consumers"),
            });
        });
        v3.MapGet("/OS-OAUTH1/consumers/{id}", async (HttpContext http, PolicyStore store, string id) =>
        {
            Authorize(http, "identity:get_consumer");
            return Json.Reply(new JsonObject { ["consumer"] = ConsumerJson(http, await store.GetConsumerAsync(id)) });
        });
        v3.MapPost("/OS-OAUTH1/consumers", async (HttpContext http, PolicyStore store) =>
        {
            Authorize(http, "identity:create_consumer");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "consumer");
            var secret = Ids.NewSecret();
            var row = new ConsumerRow(Ids.NewHexId(), BoundedText(body, "description", 4096), PasswordHasher.Hash(secret), Ids.Now());
            await store.CreateConsumerAsync(row);
            var json = ConsumerJson(http, row);
            json["secret"] = secret;
            return Json.Reply(new JsonObject { ["consumer"] = json }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/OS-OAUTH1/consumers/{id}", [HttpMethods.Patch], async (HttpContext http, PolicyStore store, string id) =>
        {
            Authorize(http, "identity:update_consumer");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "consumer");
            if (body.ContainsKey("secret") || body["id"] is not null && Json.OptionalString(body, "id") != id)
            {
                throw ApiException.BadRequest("Invalid input for field 'consumer': only the description can be changed.");
            }

            var row = await store.GetConsumerAsync(id);
            row = row with { Description = body.ContainsKey("description") ? BoundedText(body, "description", 4096) : row.Description };
            await store.UpdateConsumerAsync(row);
            return Json.Reply(new JsonObject { ["consumer"] = ConsumerJson(http, row) });
        });
        v3.MapDelete("/OS-OAUTH1/consumers/{id}", async (HttpContext http, PolicyStore store, string id) =>
        {
            Authorize(http, "identity:delete_consumer");
            await store.DeleteConsumerAsync(id);
            return Results.NoContent();
        });

        // The delegation flow itself (request token, authorize, access token, OAuth1-signed login) is not implemented.
        IResult NotImplemented() => throw new ApiException(ErrorKind.NotImplemented, "The OS-OAUTH1 request token flow is not implemented by Ember.");
        v3.MapPost("/OS-OAUTH1/request_token", NotImplemented);
        v3.MapPost("/OS-OAUTH1/access_token", NotImplemented);
        v3.MapPut("/OS-OAUTH1/authorize/{requestTokenId}", (string requestTokenId) => NotImplemented());
        v3.MapGet("/users/{userId}/OS-OAUTH1/access_tokens", (string userId) => NotImplemented());
    }

    private static JsonObject PolicyJson(HttpContext http, PolicyRow p) => new()
    {
        ["id"] = p.Id,
        ["type"] = p.Type,
        ["blob"] = p.Blob,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/policies/{p.Id}" },
    };

    private static JsonObject ConsumerJson(HttpContext http, ConsumerRow c) => new()
    {
        ["id"] = c.Id,
        ["description"] = c.Description,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/OS-OAUTH1/consumers/{c.Id}" },
    };
}
