using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>Operator actions on a data dir, run by `ember admin` beside (or without) a running `ember serve`.</summary>
public static class IdentityAdmin
{
    /// <summary>
    /// Sets a new password for <paramref name="userName"/> (Default domain), revokes the user's tokens, clears its
    /// lock-out, and updates clouds.yaml/openrc when the user is admin or demo. Returns the password set.
    /// </summary>
    /// <param name="databaseUrl">The PostgreSQL URL of the state store; null: SQLite's ember.db in <paramref name="dataDir"/>.</param>
    public static async Task<string> ResetPasswordAsync(string dataDir, string userName, string? password, string? databaseUrl = null)
    {
        if (databaseUrl is null && !File.Exists(Path.Combine(dataDir, "ember.db")))
        {
            throw new InvalidOperationException($"No Ember database in {dataDir}: run `ember serve` on it first.");
        }

        await using var database = Database.Open(databaseUrl, dataDir);
        await database.MigrateAsync(IdentitySchema.Migrations);
        var store = new IdentityStore(database);
        var user = await store.FindUserAsync(null, userName, IdentityStore.DefaultDomainId)
            ?? throw new InvalidOperationException($"No user {userName} in domain Default.");
        password ??= Ids.NewSecret(12);
        await store.UpdateUserAsync(user with { PasswordHash = PasswordHasher.Hash(password) });
        await store.RecordRevocationAsync(user.Id, null, DateTime.UtcNow.AddSeconds(-TokenService.MaxLifetimeSeconds));
        await store.ClearLoginFailuresAsync(user.Id);

        if (userName is "admin" or "demo" && ClientFiles.ReadAuthUrl(dataDir) is { } authUrl)
        {
            var admin = userName == "admin" ? password : ClientFiles.ReadPassword(dataDir, ClientFiles.AdminCloud);
            var demo = userName == "demo" ? password : ClientFiles.ReadPassword(dataDir, ClientFiles.DemoCloud);
            ClientFiles.Write(dataDir, authUrl, admin, demo);
        }

        return password;
    }
}
