using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

// QoS specs and their association with volume types (Cinder's quality_of_service_specs, volume_types.qos_specs_id).
// Association and delete take the QoS specs' lock, so a delete never leaves a type naming specs that are gone.
public sealed partial class VolumeStore
{
    private const string QosColumns = "id, name, consumer, specs, created_at, updated_at";

    private static string QosLock(string qosId) => "volume-qos:" + qosId;

    public async Task InsertQosSpecsAsync(QosSpecsRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync($"INSERT INTO volume_qos_specs ({QosColumns}) VALUES (@Id, @Name, @Consumer, @Specs, @CreatedAt, @UpdatedAt)", row);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"QoS Specs {row.Name} already exists.");
        }
    }

    public async Task<QosSpecsRow?> FindQosSpecsAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<QosSpecsRow>($"SELECT {QosColumns} FROM volume_qos_specs WHERE id = @Id", new { Id = id });
    }

    /// <summary>All QoS specs, oldest first (an admin's list: a cloud has a handful).</summary>
    public async Task<IReadOnlyList<QosSpecsRow>> ListQosSpecsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<QosSpecsRow>($"SELECT {QosColumns} FROM volume_qos_specs ORDER BY created_at, id")];
    }

    /// <summary>The specs read, changed and written back under their lock; null when they are gone.</summary>
    public async Task<QosSpecsRow?> ChangeQosSpecsAsync(string id, Func<QosSpecsRow, QosSpecsRow> change)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QosLock(id));
        var current = await c.QuerySingleOrDefaultAsync<QosSpecsRow>($"SELECT {QosColumns} FROM volume_qos_specs WHERE id = @Id", new { Id = id }, tx);
        if (current is null)
        {
            return null;
        }

        var changed = change(current) with { Id = id, UpdatedAt = Ids.Now() };
        await c.ExecuteAsync("UPDATE volume_qos_specs SET consumer = @Consumer, specs = @Specs, updated_at = @UpdatedAt WHERE id = @Id", changed, tx);
        await tx.CommitAsync();
        return changed;
    }

    /// <summary>
    /// Deletes the specs; with <paramref name="force"/> their types lose the association first, without it a type still
    /// associated keeps them. Returns whether they were deleted; false and <paramref name="inUse"/> when a type holds them.
    /// </summary>
    public async Task<(bool Deleted, bool InUse)> DeleteQosSpecsAsync(string id, bool force)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QosLock(id));
        var args = new { Id = id, Now = Ids.Now() };
        if (force)
        {
            await c.ExecuteAsync("UPDATE volume_types SET qos_specs_id = NULL, updated_at = @Now WHERE qos_specs_id = @Id", args, tx);
        }
        else if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_types WHERE qos_specs_id = @Id", args, tx) > 0)
        {
            return (false, true);
        }

        var deleted = await c.ExecuteAsync("DELETE FROM volume_qos_specs WHERE id = @Id", args, tx) == 1;
        await tx.CommitAsync();
        return (deleted, false);
    }

    /// <summary>The types associated with the specs, by name.</summary>
    public async Task<IReadOnlyList<VolumeTypeRow>> TypesWithQosSpecsAsync(string qosId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<VolumeTypeRow>($"SELECT {TypeColumns} FROM volume_types WHERE qos_specs_id = @Id ORDER BY name, id", new { Id = qosId })];
    }

    /// <summary>
    /// Associates the type with the specs unless it has others; returns the id of the specs the type has after it (the
    /// given ones, or those it already had), null when the specs or the type are gone.
    /// </summary>
    public async Task<string?> AssociateQosSpecsAsync(string qosId, string typeId)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QosLock(qosId));
        var args = new { Id = qosId, TypeId = typeId, Now = Ids.Now() };
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_qos_specs WHERE id = @Id", args, tx) == 0)
        {
            return null;
        }

        await c.ExecuteAsync("UPDATE volume_types SET qos_specs_id = @Id, updated_at = @Now WHERE id = @TypeId AND qos_specs_id IS NULL", args, tx);
        var now = await c.QuerySingleOrDefaultAsync<string?>("SELECT qos_specs_id FROM volume_types WHERE id = @TypeId", args, tx);
        await tx.CommitAsync();
        return now;
    }

    /// <summary>Removes the association of one type (null: of every type) with the specs; nothing when there was none.</summary>
    public async Task DisassociateQosSpecsAsync(string qosId, string? typeId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE volume_types SET qos_specs_id = NULL, updated_at = @Now WHERE qos_specs_id = @Id AND (@TypeId IS NULL OR id = @TypeId)",
            new { Id = qosId, TypeId = typeId, Now = Ids.Now() });
    }
}
