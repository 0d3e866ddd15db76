using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-keypairs (nova/api/openstack/compute/keypairs.py): per user; 2.2 type, 2.10 user_id for admins, 2.35 paging.
public static partial class ComputeApi
{
    private static readonly Microversion s_keypairType = new(2, 2);
    private static readonly Microversion s_keypairUserId = new(2, 10);
    private static readonly Microversion s_keypairPaging = new(2, 35);

    /// <summary>Nova's key pair names up to 2.91: letters, digits, space, '_' and '-'.</summary>
    private static readonly System.Buffers.SearchValues<char> s_keypairNameChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-");

    /// <summary>2.92: public_key is required (no more generated key pairs) and names may also hold '@' and '.'.</summary>
    private const int ImportOnlyVersion = 92;

    private static readonly System.Buffers.SearchValues<char> s_keypairNameChars292 =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-@.");

    private static void MapKeypairs(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-keypairs", ListKeypairsAsync);
        v21.MapPost("/os-keypairs", CreateKeypairAsync);
        v21.MapGet("/os-keypairs/{name}", ShowKeypairAsync);
        v21.MapDelete("/os-keypairs/{name}", DeleteKeypairAsync);
    }

    /// <summary>Whose key pairs: the caller's, or from 2.10 another user's for an admin (Nova's policy with the target user).</summary>
    private static string KeypairUser(HttpContext http, RequestContext context, string action, string? requested)
    {
        if (ComputeVersion.Of(http) < s_keypairUserId || requested is null || requested == context.UserId)
        {
            return context.UserId;
        }

        return context.IsCloudAdmin ? requested : throw ApiException.Forbidden($"Policy doesn't allow {action} to be performed.");
    }

    private static JsonObject KeypairJson(HttpContext http, KeypairRow row)
    {
        var json = new JsonObject { ["name"] = row.Name, ["public_key"] = row.PublicKey, ["fingerprint"] = row.Fingerprint };
        if (ComputeVersion.Of(http) >= s_keypairType)
        {
            json["type"] = row.Type;
        }

        return json;
    }

    private static async Task<IResult> ListKeypairsAsync(HttpContext http, KeypairStore store)
    {
        const string action = "os_compute_api:os-keypairs:index";
        var context = Authorize(http, action);
        var query = http.Request.Query;
        var userId = KeypairUser(http, context, action, query["user_id"].FirstOrDefault());
        var paged = ComputeVersion.Of(http) >= s_keypairPaging;
        var marker = paged ? query["marker"].FirstOrDefault() : null;
        var page = await store.ListAsync(userId, Math.Min(paged ? QueryParams.Limit(query) ?? MaxListLimit : MaxListLimit, MaxListLimit), marker)
            ?? throw ApiException.BadRequest($"Marker {marker} could not be found.");
        var body = new JsonObject
        {
            ["keypairs"] = new JsonArray([.. page.Items.Select(k => (JsonNode)new JsonObject { ["keypair"] = KeypairJson(http, k) })]),
        };
        if (paged && QueryParams.NextLink(http, page, k => k.Name, QueryParams.Limit(query)) is { } next)
        {
            body["keypairs_links"] = next;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowKeypairAsync(HttpContext http, KeypairStore store, string name)
    {
        const string action = "os_compute_api:os-keypairs:show";
        var context = Authorize(http, action);
        var userId = KeypairUser(http, context, action, http.Request.Query["user_id"].FirstOrDefault());
        var row = await store.FindAsync(userId, name) ?? throw KeypairNotFound(name, userId);
        var json = KeypairJson(http, row);
        json["user_id"] = row.UserId;
        json["id"] = row.Id;
        json["created_at"] = Ids.CinderTime(row.CreatedAt);
        json["updated_at"] = null;
        json["deleted_at"] = null;
        json["deleted"] = false;
        return Json.Reply(new JsonObject { ["keypair"] = json });
    }

    private static async Task<IResult> CreateKeypairAsync(HttpContext http, KeypairStore store, ComputeQuotas quotas)
    {
        const string action = "os_compute_api:os-keypairs:create";
        var context = Authorize(http, action);
        var version = ComputeVersion.Of(http);
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "keypair");
        var allowed = new List<string> { "name", "public_key" };
        allowed.AddRange(version >= s_keypairType ? ["type"] : []);
        allowed.AddRange(version >= s_keypairUserId ? ["user_id"] : []);
        if (body.Select(kv => kv.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } extra)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute keypair. Additional properties are not allowed ('{extra}' was unexpected)");
        }

        var name = Json.OptionalString(body, "name") ?? throw ApiException.BadRequest("Invalid input for field/attribute keypair. 'name' is a required property");
        // 2.92 allows '@' and '.' in the name too.
        var nameChars = version.AtLeast(ImportOnlyVersion) ? s_keypairNameChars292 : s_keypairNameChars;
        if (name.Length is 0 or > 255 || name.AsSpan().ContainsAnyExcept(nameChars))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute name. Value: {name}. '{name}' is not a '{(version.AtLeast(ImportOnlyVersion) ? "keypair_name_292" : "keypair_name_20")}'");
        }

        var type = Json.OptionalString(body, "type") ?? "ssh";
        if (type == "x509")
        {
            throw ApiException.BadRequest("Keypair data is invalid: Ember imports SSH public keys only, not x509 certificates");
        }

        if (type != "ssh")
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute type. Value: {type}. '{type}' is not one of ['ssh', 'x509']");
        }

        var userId = KeypairUser(http, context, action, Json.OptionalString(body, "user_id"));
        var publicKey = Json.OptionalString(body, "public_key");
        string? privateKey = null;
        if (publicKey is null && version.AtLeast(ImportOnlyVersion))
        {
            // 2.92: Nova no longer generates key pairs (a private key should never leave through an API).
            throw ApiException.BadRequest("Invalid input for field/attribute keypair. 'public_key' is a required property");
        }

        if (publicKey is null)
        {
            (publicKey, privateKey) = SshKeys.Generate();
        }
        else if (publicKey.Length > 20_000)
        {
            throw ApiException.BadRequest("Keypair data is invalid: failed to generate fingerprint");
        }

        var row = new KeypairRow
        {
            Name = name,
            UserId = userId,
            PublicKey = publicKey,
            Fingerprint = SshKeys.Fingerprint(SshKeys.Validate(publicKey)),
            Type = type,
            CreatedAt = Ids.Now(),
        };
        if (!await store.InsertAsync(row, await quotas.LimitOfAsync(context.ProjectId!, "key_pairs")))
        {
            throw ApiException.Forbidden("Quota exceeded, too many key pairs.");
        }

        var json = KeypairJson(http, row);
        json["user_id"] = userId;
        if (privateKey is not null)
        {
            json["private_key"] = privateKey;
        }

        return Json.Reply(new JsonObject { ["keypair"] = json }, version >= s_keypairType ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<IResult> DeleteKeypairAsync(HttpContext http, KeypairStore store, string name)
    {
        const string action = "os_compute_api:os-keypairs:delete";
        var context = Authorize(http, action);
        var userId = KeypairUser(http, context, action, http.Request.Query["user_id"].FirstOrDefault());
        if (!await store.DeleteAsync(userId, name))
        {
            throw KeypairNotFound(name, userId);
        }

        return ComputeVersion.Of(http) >= s_keypairType ? Results.NoContent() : Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static ApiException KeypairNotFound(string name, string userId) => ApiException.NotFound($"Keypair {name} not found for user {userId}");
}
