using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

/// <summary>One credential: an opaque blob of a user's (an EC2 one holds {"access", "secret"} and is named by the access key's SHA-256).</summary>
public sealed record CredentialRow(string Id, string UserId, string? ProjectId, string Type, string Blob, DateTime CreatedAt)
{
    public CredentialRow() : this("", "", null, "", "", default) { }
}

public sealed class CredentialStore(Database db)
{
    private const string Columns = "id, user_id AS UserId, project_id AS ProjectId, type, blob, created_at AS CreatedAt";

    public async Task<IReadOnlyList<CredentialRow>> ListAsync(string? userId, string? type)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<CredentialRow>(
            $"SELECT {Columns} FROM credentials WHERE (@UserId IS NULL OR user_id = @UserId) AND (@Type IS NULL OR type = @Type) ORDER BY created_at, id",
            new { UserId = userId, Type = type })];
    }

    public async Task<CredentialRow?> FindAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<CredentialRow>($"SELECT {Columns} FROM credentials WHERE id = @Id", new { Id = id });
    }

    public async Task InsertAsync(CredentialRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO credentials (id, user_id, project_id, type, blob, created_at) VALUES (@Id, @UserId, @ProjectId, @Type, @Blob, @CreatedAt)", row);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Conflict occurred attempting to store credential - Duplicate ID, {row.Id}.");
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            throw ApiException.NotFound($"Could not find user: {row.UserId}.");
        }
    }

    public async Task UpdateAsync(CredentialRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE credentials SET user_id = @UserId, project_id = @ProjectId, type = @Type, blob = @Blob WHERE id = @Id", row);
    }

    public async Task<bool> DeleteAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM credentials WHERE id = @Id", new { Id = id }) > 0;
    }
}

// /v3/credentials (the admin's, or a user's own) and the EC2 credentials of a user (/v3/users/{id}/credentials/OS-EC2).
public static partial class IdentityApi
{
    private const int MaxBlobLength = 8192;

    private static void MapCredentials(RouteGroupBuilder v3)
    {
        v3.MapGet("/credentials", async (HttpContext http, CredentialStore credentials, string? user_id, string? type) =>
        {
            var context = http.RequireContext();
            // Everyone lists their own; the admin everyone's.
            var owner = http.Allows(context, "identity:list_credentials") ? user_id : context.UserId;
            var rows = user_id is not null && owner != user_id ? [] : await credentials.ListAsync(owner, type);
            return Json.Reply(new JsonObject
            {
                ["credentials"] = new JsonArray([.. rows.Select(r => (JsonNode)CredentialJson(http, r))]),
                ["links"] = Links(http, "/credentials"),
            });
        });
        v3.MapGet("/credentials/{id}", async (HttpContext http, CredentialStore credentials, string id) =>
            Json.Reply(new JsonObject { ["credential"] = CredentialJson(http, await OwnCredentialAsync(http, credentials, id, "identity:get_credential")) }));
        v3.MapPost("/credentials", async (HttpContext http, CredentialStore credentials, IdentityService identity) =>
        {
            var context = http.RequireContext();
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "credential");
            var userId = BoundedText(body, "user_id", 64, required: true)!;
            if (userId != context.UserId)
            {
                http.Enforce(context, "identity:create_credential");
            }

            _ = await identity.GetUserAsync(userId);
            var row = new CredentialRow("", userId, BoundedText(body, "project_id", 64), BoundedText(body, "type", 255, required: true)!,
                BoundedText(body, "blob", MaxBlobLength, required: true)!, Ids.Now());
            row = row with { Id = await CredentialIdAsync(identity, row) };
            await credentials.InsertAsync(row);
            return Json.Reply(new JsonObject { ["credential"] = CredentialJson(http, row) }, StatusCodes.Status201Created);
        });
        v3.MapMethods("/credentials/{id}", [HttpMethods.Patch], async (HttpContext http, CredentialStore credentials, IdentityService identity, string id) =>
        {
            var row = await OwnCredentialAsync(http, credentials, id, "identity:update_credential");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "credential");
            if (body.ContainsKey("user_id") && Json.OptionalString(body, "user_id") != row.UserId)
            {
                http.Enforce(http.RequireContext(), "identity:update_credential");
                _ = await identity.GetUserAsync(BoundedText(body, "user_id", 64, required: true)!);
            }

            row = row with
            {
                UserId = body.ContainsKey("user_id") ? BoundedText(body, "user_id", 64, required: true)! : row.UserId,
                ProjectId = body.ContainsKey("project_id") ? BoundedText(body, "project_id", 64) : row.ProjectId,
                Type = body.ContainsKey("type") ? BoundedText(body, "type", 255, required: true)! : row.Type,
                Blob = body.ContainsKey("blob") ? BoundedText(body, "blob", MaxBlobLength, required: true)! : row.Blob,
            };
            if (row.Type == "ec2")
            {
                _ = Ec2AccessOf(row.Blob);
                if (row.ProjectId is null)
                {
                    throw ApiException.BadRequest("An EC2 credential needs a project_id.");
                }
            }

            await credentials.UpdateAsync(row);
            return Json.Reply(new JsonObject { ["credential"] = CredentialJson(http, row) });
        });
        v3.MapDelete("/credentials/{id}", async (HttpContext http, CredentialStore credentials, string id) =>
        {
            _ = await OwnCredentialAsync(http, credentials, id, "identity:delete_credential");
            await credentials.DeleteAsync(id);
            return Results.NoContent();
        });

        const string ec2 = "/users/{userId}/credentials/OS-EC2";
        v3.MapPost(ec2, async (HttpContext http, CredentialStore credentials, IdentityService identity, string userId) =>
        {
            OwnUser(http, userId, "identity:ec2_create_credential");
            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            var projectId = BoundedText(body, "tenant_id", 64, required: true)!;
            _ = await identity.GetUserAsync(userId);
            _ = await identity.GetProjectAsync(projectId);
            var access = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var blob = new JsonObject { ["access"] = access, ["secret"] = secret, ["trust_id"] = null }.ToJsonString();
            var row = new CredentialRow(Sha256Hex(access), userId, projectId, "ec2", blob, Ids.Now());
            await credentials.InsertAsync(row);
            return Json.Reply(new JsonObject { ["credential"] = Ec2Json(http, row) }, StatusCodes.Status201Created);
        });
        v3.MapGet(ec2, async (HttpContext http, CredentialStore credentials, string userId) =>
        {
            OwnUser(http, userId, "identity:ec2_list_credentials");
            var rows = await credentials.ListAsync(userId, "ec2");
            return Json.Reply(new JsonObject
            {
                ["credentials"] = new JsonArray([.. rows.Select(r => (JsonNode)Ec2Json(http, r))]),
                ["links"] = Links(http, $"/users/{userId}/credentials/OS-EC2"),
            });
        });
        v3.MapGet(ec2 + "/{access}", async (HttpContext http, CredentialStore credentials, string userId, string access) =>
        {
            OwnUser(http, userId, "identity:ec2_get_credential");
            var row = await credentials.FindAsync(Sha256Hex(access));
            return row is { Type: "ec2" } && row.UserId == userId
                ? Json.Reply(new JsonObject { ["credential"] = Ec2Json(http, row) })
                : throw ApiException.NotFound($"Could not find credential: {Sha256Hex(access)}.");
        });
        v3.MapDelete(ec2 + "/{access}", async (HttpContext http, CredentialStore credentials, string userId, string access) =>
        {
            OwnUser(http, userId, "identity:ec2_delete_credential");
            var row = await credentials.FindAsync(Sha256Hex(access));
            return row is { Type: "ec2" } && row.UserId == userId && await credentials.DeleteAsync(row.Id)
                ? Results.NoContent()
                : throw ApiException.NotFound($"Could not find credential: {Sha256Hex(access)}.");
        });
    }

    /// <summary>A credential of the caller's, or any for the admin; someone else's is a 404 as if absent.</summary>
    private static async Task<CredentialRow> OwnCredentialAsync(HttpContext http, CredentialStore credentials, string id, string action)
    {
        var context = http.RequireContext();
        var row = await credentials.FindAsync(id);
        return row is not null && (row.UserId == context.UserId || http.Allows(context, action))
            ? row
            : throw ApiException.NotFound($"Could not find credential: {id}.");
    }

    private static void OwnUser(HttpContext http, string userId, string action)
    {
        var context = http.RequireContext();
        if (context.UserId != userId)
        {
            http.Enforce(context, action);
        }
    }

    /// <summary>Keystone's rule: an EC2 credential is named by the SHA-256 of its access key and needs a project.</summary>
    private static async Task<string> CredentialIdAsync(IdentityService identity, CredentialRow row)
    {
        if (row.Type != "ec2")
        {
            return Ids.NewHexId();
        }

        if (row.ProjectId is null)
        {
            throw ApiException.BadRequest("An EC2 credential needs a project_id.");
        }

        _ = await identity.GetProjectAsync(row.ProjectId);
        return Sha256Hex(Ec2AccessOf(row.Blob));
    }

    private static string Ec2AccessOf(string blob)
    {
        try
        {
            return JsonNode.Parse(blob) is JsonObject o && Json.OptionalString(o, "access") is { Length: > 0 } access
                ? access
                : throw ApiException.BadRequest("An EC2 credential's blob is a JSON object with an 'access' key.");
        }
        catch (System.Text.Json.JsonException)
        {
            throw ApiException.BadRequest("An EC2 credential's blob is a JSON object with an 'access' key.");
        }
    }

    private static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static JsonObject CredentialJson(HttpContext http, CredentialRow r) => new()
    {
        ["id"] = r.Id,
        ["user_id"] = r.UserId,
        ["project_id"] = r.ProjectId,
        ["type"] = r.Type,
        ["blob"] = r.Blob,
        ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/credentials/{r.Id}" },
    };

    private static JsonObject Ec2Json(HttpContext http, CredentialRow r)
    {
        var blob = JsonNode.Parse(r.Blob) as JsonObject ?? [];
        return new JsonObject
        {
            ["user_id"] = r.UserId,
            ["tenant_id"] = r.ProjectId,
            ["access"] = (string?)blob["access"],
            ["secret"] = (string?)blob["secret"],
            ["trust_id"] = null,
            ["links"] = new JsonObject { ["self"] = $"{http.BaseUrl()}/identity/v3/users/{r.UserId}/credentials/OS-EC2/{(string?)blob["access"]}" },
        };
    }
}
