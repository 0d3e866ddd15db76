using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>One user's named public key (Nova's key_pairs row).</summary>
public sealed record KeypairRow
{
    public long Id { get; init; }
    public string Name { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Fingerprint { get; init; } = "";
    public string PublicKey { get; init; } = "";
    public string Type { get; init; } = "ssh";
    public DateTime CreatedAt { get; init; }
}

/// <summary>Key pairs per user, with Nova's per-user count limit checked in the insert itself.</summary>
public sealed class KeypairStore(Database db)
{
    /// <summary>Nova's default key_pairs quota: how many key pairs one user may have.</summary>
    public const int DefaultLimit = 100;

    private const string Columns = "id, name, user_id, fingerprint, public_key, type, created_at";

    /// <summary>Stores the key pair; false when the user already has <paramref name="limit"/> of them (-1: no limit); 409 on a taken name.</summary>
    public async Task<bool> InsertAsync(KeypairRow row, int limit)
    {
        await using var c = await db.OpenAsync();
        try
        {
            return await c.ExecuteAsync("""
                INSERT INTO key_pairs (name, user_id, fingerprint, public_key, type, created_at)
                SELECT @Name, @UserId, @Fingerprint, @PublicKey, @Type, @CreatedAt
                WHERE @Limit < 0 OR (SELECT COUNT(*) FROM key_pairs WHERE user_id = @UserId) < @Limit
                """, new { row.Name, row.UserId, row.Fingerprint, row.PublicKey, row.Type, row.CreatedAt, Limit = limit }) == 1;
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Key pair '{row.Name}' already exists.");
        }
    }

    public async Task<KeypairRow?> FindAsync(string userId, string name)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<KeypairRow>($"SELECT {Columns} FROM key_pairs WHERE user_id = @UserId AND name = @Name",
            new { UserId = userId, Name = name });
    }

    /// <summary>The user's key pairs in creation order, after the one named <paramref name="marker"/>; null when the marker is not theirs.</summary>
    public async Task<Page<KeypairRow>?> ListAsync(string userId, int? limit, string? marker)
    {
        await using var c = await db.OpenAsync();
        long after = 0;
        if (marker is not null)
        {
            var markerId = await c.ExecuteScalarAsync<long?>("SELECT id FROM key_pairs WHERE user_id = @UserId AND name = @Name", new { UserId = userId, Name = marker });
            if (markerId is null)
            {
                return null;
            }

            after = markerId.Value;
        }

        var rows = (await c.QueryAsync<KeypairRow>($"SELECT {Columns} FROM key_pairs WHERE user_id = @UserId AND id > @After ORDER BY id LIMIT @Take",
            new { UserId = userId, After = after, Take = limit is { } l ? l + 1L : long.MaxValue })).ToList();
        var hasMore = limit is { } max && rows.Count > max;
        return new Page<KeypairRow>(hasMore ? rows[..limit!.Value] : rows, hasMore);
    }

    public async Task<int> CountAsync(string userId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM key_pairs WHERE user_id = @UserId", new { UserId = userId });
    }

    public async Task<bool> DeleteAsync(string userId, string name)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM key_pairs WHERE user_id = @UserId AND name = @Name", new { UserId = userId, Name = name }) > 0;
    }
}
