using Dapper;

namespace Ember.Server.Compute;

/// <summary>The server's encrypted password (os-server-password), which the guest posts to the metadata service.</summary>
public sealed partial class ComputeStore
{
    /// <summary>Nova's limit: four system metadata chunks of 255 characters.</summary>
    public const int MaxServerPasswordLength = 4 * 255;

    /// <summary>The stored password, "" when none was posted or it was cleared.</summary>
    public async Task<string> ServerPasswordAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<string?>("SELECT password FROM servers WHERE id = @Id", new { Id = serverId }) ?? "";
    }

    /// <summary>Clears the password (DELETE os-server-password): a guest may post a new one.</summary>
    public async Task ClearServerPasswordAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET password = NULL WHERE id = @Id", new { Id = serverId });
    }

    /// <summary>Stores a password the guest posted, only if none is set (Nova's metadata answers 409 otherwise): false then.</summary>
    public async Task<bool> SetServerPasswordOnceAsync(string serverId, string password)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE servers SET password = @Password WHERE id = @Id AND (password IS NULL OR password = '')",
            new { Id = serverId, Password = password }) == 1;
    }
}
