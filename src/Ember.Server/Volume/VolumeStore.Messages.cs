using Dapper;
using Ember.Server.Data;

namespace Ember.Server.Volume;

// User messages (3.3): written when background work fails, read until they expire.
public sealed partial class VolumeStore
{
    private const string MessageColumns =
        "id, project_id, request_id, resource_type, resource_uuid, event_id, action_id, detail_id, reason, message_level, created_at, expires_at";

    /// <summary>Adds a message and purges the expired ones (Cinder's reaper runs daily; here each new message sweeps).</summary>
    public async Task InsertMessageAsync(MessageRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync($"""
            INSERT INTO volume_messages ({MessageColumns})
            VALUES (@Id, @ProjectId, @RequestId, @ResourceType, @ResourceUuid, @EventId, @ActionId, @DetailId, @Reason, @MessageLevel, @CreatedAt, @ExpiresAt)
            """, row);
        await c.ExecuteAsync("DELETE FROM volume_messages WHERE expires_at < @Now", new { Now = row.CreatedAt });
    }

    /// <summary>A message that has not expired; null when there is none.</summary>
    public async Task<MessageRow?> FindMessageAsync(string id, DateTime now)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<MessageRow>(
            $"SELECT {MessageColumns} FROM volume_messages WHERE id = @Id AND expires_at >= @Now", new { Id = id, Now = now });
    }

    /// <summary>One page of the unexpired messages matching <paramref name="filter"/>; null when the marker is not one of them.</summary>
    public Task<Page<MessageRow>?> ListMessagesAsync(MessageFilter filter, DateTime now, PageRequest page)
    {
        var where = new SqlWhere().Scope("project_id", filter.ProjectId)
            .Equal("resource_uuid", filter.ResourceUuid).Equal("resource_type", filter.ResourceType).Equal("event_id", filter.EventId)
            .Equal("request_id", filter.RequestId).Equal("message_level", filter.MessageLevel);
        where.Add($"expires_at >= {where.Parameter(now)}");
        return s_messageList.QueryAsync<MessageRow>(db, where, page);
    }

    // Messages are never updated: no updated_at to sort on.
    private static readonly SqlList s_messageList = new("volume_messages", MessageColumns,
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["id"] = "id",
            ["created_at"] = "created_at",
            ["expires_at"] = "expires_at",
            ["event_id"] = "event_id",
            ["resource_type"] = "resource_type",
            ["resource_uuid"] = "COALESCE(resource_uuid, '')",
            ["request_id"] = "request_id",
            ["message_level"] = "message_level",
        },
        new SortKey("created_at", true), new SortKey("id", true));

    public async Task<bool> DeleteMessageAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM volume_messages WHERE id = @Id", new { Id = id }) == 1;
    }
}
