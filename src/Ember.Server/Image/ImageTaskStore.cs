using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Image;

/// <summary>One Glance task as stored. Input and Result hold JSON text; Message is "" until a task fails.</summary>
public sealed record ImageTaskRow
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public required string Status { get; init; }
    public required string Owner { get; init; }
    public string? ImageId { get; init; }
    public string? UserId { get; init; }
    public string? RequestId { get; init; }
    public string Input { get; init; } = "null";
    public string? Result { get; init; }
    public string Message { get; init; } = "";
    public DateTime? ExpiresAt { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    /// <summary>A task that ended (success or failure); only those expire.</summary>
    public bool IsFinished => Status is "success" or "failure";
}

/// <summary>The image_tasks table: Glance's task records, which expire a while after they end (task_time_to_live).</summary>
public sealed class ImageTaskStore(Database db)
{
    private const string Columns = "id, type, status, owner, image_id, user_id, request_id, input, result, message, expires_at, created_at, updated_at";

    public async Task InsertAsync(ImageTaskRow task)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync($"""
            INSERT INTO image_tasks ({Columns}) VALUES (@Id, @Type, @Status, @Owner, @ImageId, @UserId, @RequestId, @Input, @Result,
              @Message, @ExpiresAt, @CreatedAt, @UpdatedAt)
            """, task);
    }

    /// <summary>A task that has not expired, or null.</summary>
    public async Task<ImageTaskRow?> FindAsync(string id)
    {
        await DeleteExpiredAsync();
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ImageTaskRow>($"SELECT {Columns} FROM image_tasks WHERE id = @Id", new { Id = id });
    }

    /// <summary>The tasks that have not expired, of one owner or (null) of all; the caller filters, sorts and pages.</summary>
    public async Task<IReadOnlyList<ImageTaskRow>> ListAsync(string? owner)
    {
        await DeleteExpiredAsync();
        await using var c = await db.OpenAsync();
        return owner is null
            ? [.. await c.QueryAsync<ImageTaskRow>($"SELECT {Columns} FROM image_tasks")]
            : [.. await c.QueryAsync<ImageTaskRow>($"SELECT {Columns} FROM image_tasks WHERE owner = @Owner", new { Owner = owner })];
    }

    /// <summary>The tasks of image <paramref name="imageId"/> (its imports) that have not expired, oldest first.</summary>
    public async Task<IReadOnlyList<ImageTaskRow>> ListOfImageAsync(string imageId)
    {
        await DeleteExpiredAsync();
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ImageTaskRow>(
            $"SELECT {Columns} FROM image_tasks WHERE image_id = @ImageId ORDER BY created_at, id", new { ImageId = imageId })];
    }

    /// <summary>pending → processing; false when the task is no longer pending.</summary>
    public async Task<bool> StartAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE image_tasks SET status = 'processing', updated_at = @Now WHERE id = @Id AND status = 'pending'",
            new { Id = id, Now = Ids.Now() }) == 1;
    }

    /// <summary>Ends a task that has not ended yet: success with its result, or failure with its message; it expires <paramref name="timeToLive"/> later.</summary>
    public async Task FinishAsync(string id, string? failure, string? result, TimeSpan timeToLive)
    {
        var now = Ids.Now();
        await using var c = await db.OpenAsync(CancellationToken.None);
        await c.ExecuteAsync("""
            UPDATE image_tasks SET status = @Status, result = @Result, message = @Message, expires_at = @ExpiresAt, updated_at = @Now
            WHERE id = @Id AND status IN ('pending', 'processing')
            """, new
        {
            Id = id,
            Status = failure is null ? "success" : "failure",
            Result = failure is null ? result : null,
            Message = failure ?? "",
            ExpiresAt = now + timeToLive,
            Now = now,
        });
    }

    /// <summary>At start: a task that was pending or processing when Ember stopped will not go on; it fails with <paramref name="message"/>.</summary>
    public async Task<int> FailUnfinishedAsync(string message, TimeSpan timeToLive)
    {
        var now = Ids.Now();
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            UPDATE image_tasks SET status = 'failure', message = @Message, expires_at = @ExpiresAt, updated_at = @Now
            WHERE status IN ('pending', 'processing')
            """, new { Message = message, ExpiresAt = now + timeToLive, Now = now });
    }

    /// <summary>Glance scrubs expired tasks when it reads them; so does Ember (a task is gone once its expires_at has passed).</summary>
    private async Task DeleteExpiredAsync()
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM image_tasks WHERE expires_at IS NOT NULL AND expires_at <= @Now", new { Now = Ids.Now() });
    }
}
