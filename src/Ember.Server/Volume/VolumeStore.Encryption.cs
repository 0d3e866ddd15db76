using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Volume;

// Volume type encryption specs (Cinder's encryption table). Every change takes the type's lock and is refused while a
// volume of the type exists, as Cinder refuses it; a volume create of an encrypted type is refused in the same statement
// that inserts it (InsertVolumeWithinQuotaAsync), so neither can slip past the other.
public sealed partial class VolumeStore
{
    private const string EncryptionColumns = "volume_type_id, encryption_id, provider, cipher, key_size, control_location, created_at, updated_at";

    /// <summary>Why a change of an encryption spec did not happen.</summary>
    public enum EncryptionChange
    {
        Done,
        TypeInUse,
        Exists,
        Missing,
    }

    public async Task<EncryptionRow?> FindEncryptionAsync(string typeId)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<EncryptionRow>($"SELECT {EncryptionColumns} FROM volume_type_encryption WHERE volume_type_id = @Id", new { Id = typeId });
    }

    /// <summary>A new spec for a type that has none and no volumes.</summary>
    public Task<EncryptionChange> InsertEncryptionAsync(EncryptionRow row) =>
        ChangeEncryptionAsync(row.VolumeTypeId, async (c, tx, current) =>
        {
            if (current is not null)
            {
                return EncryptionChange.Exists;
            }

            await c.ExecuteAsync($"""
                INSERT INTO volume_type_encryption ({EncryptionColumns})
                VALUES (@VolumeTypeId, @EncryptionId, @Provider, @Cipher, @KeySize, @ControlLocation, @CreatedAt, @UpdatedAt)
                """, row, tx);
            return EncryptionChange.Done;
        });

    /// <summary>The spec changed by <paramref name="change"/>, while the type has no volumes.</summary>
    public Task<EncryptionChange> UpdateEncryptionAsync(string typeId, Func<EncryptionRow, EncryptionRow> change) =>
        ChangeEncryptionAsync(typeId, async (c, tx, current) =>
        {
            if (current is null)
            {
                return EncryptionChange.Missing;
            }

            var changed = change(current) with { VolumeTypeId = typeId, UpdatedAt = Ids.Now() };
            await c.ExecuteAsync("""
                UPDATE volume_type_encryption SET provider = @Provider, cipher = @Cipher, key_size = @KeySize, control_location = @ControlLocation,
                  updated_at = @UpdatedAt WHERE volume_type_id = @VolumeTypeId
                """, changed, tx);
            return EncryptionChange.Done;
        });

    public Task<EncryptionChange> DeleteEncryptionAsync(string typeId) =>
        ChangeEncryptionAsync(typeId, async (c, tx, current) =>
        {
            if (current is null)
            {
                return EncryptionChange.Missing;
            }

            await c.ExecuteAsync("DELETE FROM volume_type_encryption WHERE volume_type_id = @Id", new { Id = typeId }, tx);
            return EncryptionChange.Done;
        });

    private async Task<EncryptionChange> ChangeEncryptionAsync(string typeId,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, EncryptionRow?, Task<EncryptionChange>> change)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, TypeLock(typeId));
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volumes WHERE volume_type_id = @Id", new { Id = typeId }, tx) > 0)
        {
            return EncryptionChange.TypeInUse;
        }

        var current = await c.QuerySingleOrDefaultAsync<EncryptionRow>(
            $"SELECT {EncryptionColumns} FROM volume_type_encryption WHERE volume_type_id = @Id", new { Id = typeId }, tx);
        var result = await change(c, tx, current);
        if (result == EncryptionChange.Done)
        {
            await tx.CommitAsync();
        }

        return result;
    }
}
