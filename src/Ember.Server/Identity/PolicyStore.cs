using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>A Keystone policy (/v3/policies): an opaque blob of a MIME type, stored and shown, enforced by nothing.</summary>
public sealed record PolicyRow(string Id, string Type, string Blob, DateTime CreatedAt)
{
    public PolicyRow() : this("", "", "", default) { }
}

/// <summary>An OS-OAUTH1 consumer; the secret is shown once at create and kept only as a <see cref="PasswordHasher"/> hash.</summary>
public sealed record ConsumerRow(string Id, string? Description, string SecretHash, DateTime CreatedAt)
{
    public ConsumerRow() : this("", null, "", default) { }
}

/// <summary>Keystone's policies and OAuth1 consumers: small tables nothing else reads.</summary>
public sealed class PolicyStore(Database db)
{
    public async Task<IReadOnlyList<PolicyRow>> ListPoliciesAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<PolicyRow>("SELECT * FROM policies ORDER BY created_at, id")];
    }

    public async Task<PolicyRow> GetPolicyAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<PolicyRow>("SELECT * FROM policies WHERE id = @Id", new { Id = id })
            ?? throw ApiException.NotFound($"Could not find policy: {id}.");
    }

    public async Task CreatePolicyAsync(PolicyRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("INSERT INTO policies (id, type, blob, created_at) VALUES (@Id, @Type, @Blob, @CreatedAt)", row);
    }

    public async Task UpdatePolicyAsync(PolicyRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE policies SET type = @Type, blob = @Blob WHERE id = @Id", row);
    }

    public async Task DeletePolicyAsync(string id)
    {
        await using var c = await db.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM policies WHERE id = @Id", new { Id = id }) == 0)
        {
            throw ApiException.NotFound($"Could not find policy: {id}.");
        }
    }

    public async Task<IReadOnlyList<ConsumerRow>> ListConsumersAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ConsumerRow>("SELECT * FROM oauth_consumers ORDER BY created_at, id")];
    }

    public async Task<ConsumerRow> GetConsumerAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ConsumerRow>("SELECT * FROM oauth_consumers WHERE id = @Id", new { Id = id })
            ?? throw ApiException.NotFound($"Could not find consumer: {id}.");
    }

    public async Task CreateConsumerAsync(ConsumerRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("INSERT INTO oauth_consumers (id, description, secret_hash, created_at) VALUES (@Id, @Description, @SecretHash, @CreatedAt)", row);
    }

    public async Task UpdateConsumerAsync(ConsumerRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE oauth_consumers SET description = @Description WHERE id = @Id", row);
    }

    public async Task DeleteConsumerAsync(string id)
    {
        await using var c = await db.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM oauth_consumers WHERE id = @Id", new { Id = id }) == 0)
        {
            throw ApiException.NotFound($"Could not find consumer: {id}.");
        }
    }
}
