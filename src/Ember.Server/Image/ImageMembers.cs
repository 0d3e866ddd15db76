using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Image;

/// <summary>One project an image is shared with, and what that project answered (pending, accepted, rejected).</summary>
public sealed record ImageMemberRow(string ImageId, string MemberId, string Status, DateTime CreatedAt, DateTime UpdatedAt)
{
    public ImageMemberRow() : this("", "", "", default, default) { }
}

/// <summary>The image_members table.</summary>
public sealed class ImageMemberStore(Database db)
{
    private const string Columns = "image_id AS ImageId, member_id AS MemberId, status, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public async Task<IReadOnlyList<ImageMemberRow>> ListAsync(string imageId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ImageMemberRow>($"SELECT {Columns} FROM image_members WHERE image_id = @ImageId ORDER BY created_at, member_id",
            new { ImageId = imageId })];
    }

    public async Task<ImageMemberRow?> FindAsync(string imageId, string memberId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ImageMemberRow>($"SELECT {Columns} FROM image_members WHERE image_id = @ImageId AND member_id = @MemberId",
            new { ImageId = imageId, MemberId = memberId });
    }

    /// <summary>Every image the project is a member of, with its answer.</summary>
    public async Task<IReadOnlyDictionary<string, string>> StatusesOfMemberAsync(string memberId)
    {
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<ImageMemberRow>($"SELECT {Columns} FROM image_members WHERE member_id = @MemberId", new { MemberId = memberId });
        return rows.ToDictionary(r => r.ImageId, r => r.Status, StringComparer.Ordinal);
    }

    public async Task InsertAsync(ImageMemberRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("""
                INSERT INTO image_members (image_id, member_id, status, created_at, updated_at)
                VALUES (@ImageId, @MemberId, @Status, @CreatedAt, @UpdatedAt)
                """, row);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"The member {row.MemberId} is already a member of image {row.ImageId}.");
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            throw ApiException.NotFound($"No image found with ID {row.ImageId}");
        }
    }

    public async Task UpdateStatusAsync(string imageId, string memberId, string status, DateTime now)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE image_members SET status = @Status, updated_at = @Now WHERE image_id = @ImageId AND member_id = @MemberId",
            new { ImageId = imageId, MemberId = memberId, Status = status, Now = now });
    }

    public async Task<bool> DeleteAsync(string imageId, string memberId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM image_members WHERE image_id = @ImageId AND member_id = @MemberId",
            new { ImageId = imageId, MemberId = memberId }) > 0;
    }
}

// Glance's image members API (/v2/images/{id}/members): the owner shares a "shared" image with projects, each member
// project accepts or rejects it. A member sees the image by id whatever it answered; in the default image list only
// once it accepted; with visibility=shared&member_status=... as it asks.
public static partial class ImageApi
{
    private static readonly string[] s_memberStatuses = ["pending", "accepted", "rejected"];

    /// <summary>Glance's image_member_quota default.</summary>
    private const int MaxMembers = 128;

    private static void MapMembers(RouteGroupBuilder v2)
    {
        v2.MapGet("/schemas/member", () => Json.Reply(MemberSchema()));
        v2.MapGet("/schemas/members", () => Json.Reply(new JsonObject
        {
            ["name"] = "members",
            ["properties"] = new JsonObject
            {
                ["members"] = new JsonObject { ["type"] = "array", ["items"] = MemberSchema() },
                ["schema"] = new JsonObject { ["type"] = "string" },
            },
            ["links"] = new JsonArray(new JsonObject { ["rel"] = "describedby", ["href"] = "{schema}" }),
        }));
        v2.MapGet("/images/{id}/members", async (HttpContext http, ImageService images, ImageMemberStore members, string id) =>
        {
            var context = Authorize(http, "image:get_members");
            var image = await images.GetVisibleAsync(context, id);
            var isOwner = context.IsCloudAdmin || image.Owner == context.ProjectId;
            var rows = (await members.ListAsync(id)).Where(m => isOwner || m.MemberId == context.ProjectId);
            return Json.Reply(new JsonObject
            {
                ["members"] = new JsonArray([.. rows.Select(m => (JsonNode)MemberJson(m))]),
                ["schema"] = "/v2/schemas/members",
            });
        });
        v2.MapGet("/images/{id}/members/{memberId}", async (HttpContext http, ImageService images, ImageMemberStore members, string id, string memberId) =>
        {
            var context = Authorize(http, "image:get_member");
            var image = await images.GetVisibleAsync(context, id);
            var member = await members.FindAsync(id, memberId);
            // A member sees its own entry only; the owner every one.
            return member is not null && (context.IsCloudAdmin || image.Owner == context.ProjectId || memberId == context.ProjectId)
                ? Json.Reply(MemberJson(member))
                : throw MemberNotFound(id, memberId);
        });
        v2.MapPost("/images/{id}/members", async (HttpContext http, ImageService images, ImageMemberStore members, string id) =>
        {
            var context = Authorize(http, "image:add_member");
            var image = await images.GetOwnedAsync(context, id, "add members to");
            if (image.Visibility != "shared")
            {
                throw ApiException.Forbidden($"Image {id} is not shared: only shared images have members.");
            }

            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            var memberId = Json.OptionalString(body, "member") is { Length: > 0 and <= 64 } given
                ? given
                : throw ApiException.BadRequest("Invalid input for field 'member': a project id of 1 to 64 characters.");
            if ((await members.ListAsync(id)).Count >= MaxMembers)
            {
                throw new ApiException(ErrorKind.RequestTooLarge, $"An image has at most {MaxMembers} members.");
            }

            var now = Ids.Now();
            var row = new ImageMemberRow(id, memberId, "pending", now, now);
            await members.InsertAsync(row);
            return Json.Reply(MemberJson(row));
        });
        v2.MapPut("/images/{id}/members/{memberId}", async (HttpContext http, ImageService images, ImageMemberStore members, string id, string memberId) =>
        {
            var context = Authorize(http, "image:modify_member");
            var image = await images.GetVisibleAsync(context, id);
            var member = await members.FindAsync(id, memberId);
            if (member is null || !(context.IsCloudAdmin || image.Owner == context.ProjectId || memberId == context.ProjectId))
            {
                throw MemberNotFound(id, memberId);
            }

            // Only the member answers for itself (Glance: the owner may not accept on the member's behalf).
            if (memberId != context.ProjectId)
            {
                throw ApiException.Forbidden("You are not permitted to modify 'status' on this image member.");
            }

            var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            var status = OneOf(Json.OptionalString(body, "status"), s_memberStatuses, "status");
            var now = Ids.Now();
            await members.UpdateStatusAsync(id, memberId, status, now);
            return Json.Reply(MemberJson(member with { Status = status, UpdatedAt = now }));
        });
        v2.MapDelete("/images/{id}/members/{memberId}", async (HttpContext http, ImageService images, ImageMemberStore members, string id, string memberId) =>
        {
            var context = Authorize(http, "image:delete_member");
            var image = await images.GetVisibleAsync(context, id);
            if (!(context.IsCloudAdmin || image.Owner == context.ProjectId))
            {
                throw ApiException.Forbidden("You are not permitted to delete members of this image.");
            }

            return await members.DeleteAsync(id, memberId) ? Results.NoContent() : throw MemberNotFound(id, memberId);
        });
    }

    private static ApiException MemberNotFound(string imageId, string memberId) =>
        ApiException.NotFound($"{memberId} not found in the member list of the image {imageId}.");

    private static JsonObject MemberJson(ImageMemberRow m) => new()
    {
        ["created_at"] = Ids.ZuluSeconds(m.CreatedAt),
        ["updated_at"] = Ids.ZuluSeconds(m.UpdatedAt),
        ["image_id"] = m.ImageId,
        ["member_id"] = m.MemberId,
        ["status"] = m.Status,
        ["schema"] = "/v2/schemas/member",
    };

    private static JsonObject MemberSchema() => new()
    {
        ["name"] = "member",
        ["properties"] = new JsonObject
        {
            ["created_at"] = new JsonObject { ["type"] = "string", ["description"] = "Date and time of image member creation" },
            ["image_id"] = new JsonObject { ["type"] = "string", ["pattern"] = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$" },
            ["member_id"] = new JsonObject { ["type"] = "string", ["description"] = "An identifier for the image member (tenantId)" },
            ["status"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("pending", "accepted", "rejected") },
            ["updated_at"] = new JsonObject { ["type"] = "string", ["description"] = "Date and time of last modification of image member" },
            ["schema"] = new JsonObject { ["type"] = "string", ["readOnly"] = true },
        },
    };
}
