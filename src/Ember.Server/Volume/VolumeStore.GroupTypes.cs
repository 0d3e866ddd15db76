using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

// Group types (Cinder's group_types, 3.11): a cloud has a handful, so lists read them all and the service sorts and pages.
public sealed partial class VolumeStore
{
    private const string GroupTypeColumns = "id, name, description, is_public, group_specs, created_at, updated_at";

    private static string GroupTypeLock(string groupTypeId) => "volume-group-type:" + groupTypeId;

    public async Task<IReadOnlyList<GroupTypeRow>> ListGroupTypesAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<GroupTypeRow>($"SELECT {GroupTypeColumns} FROM volume_group_types")];
    }

    public async Task<GroupTypeRow?> FindGroupTypeAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<GroupTypeRow>($"SELECT {GroupTypeColumns} FROM volume_group_types WHERE id = @Id", new { Id = id });
    }

    public async Task InsertGroupTypeAsync(GroupTypeRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync($"INSERT INTO volume_group_types ({GroupTypeColumns}) VALUES (@Id, @Name, @Description, @IsPublic, @GroupSpecs, @CreatedAt, @UpdatedAt)", row);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Group Type {row.Name} already exists.");
        }
    }

    /// <summary>The group type read, changed and written back under its lock (specs edits never lose each other's keys); null when gone.</summary>
    public async Task<GroupTypeRow?> ChangeGroupTypeAsync(string id, Func<GroupTypeRow, GroupTypeRow> change)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, GroupTypeLock(id));
        var current = await c.QuerySingleOrDefaultAsync<GroupTypeRow>($"SELECT {GroupTypeColumns} FROM volume_group_types WHERE id = @Id", new { Id = id }, tx);
        if (current is null)
        {
            return null;
        }

        var changed = change(current) with { Id = id, UpdatedAt = Ids.Now() };
        try
        {
            await c.ExecuteAsync("UPDATE volume_group_types SET name = @Name, description = @Description, is_public = @IsPublic, group_specs = @GroupSpecs, updated_at = @UpdatedAt WHERE id = @Id",
                changed, tx);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Group Type {changed.Name} already exists.");
        }

        await tx.CommitAsync();
        return changed;
    }

    /// <summary>Deletes the group type unless a group or group snapshot still has it: (deleted, in use).</summary>
    public async Task<(bool Deleted, bool InUse)> DeleteGroupTypeAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, GroupTypeLock(id));
        var args = new { Id = id };
        if (await c.ExecuteScalarAsync<long>(
            "SELECT (SELECT COUNT(*) FROM volume_groups WHERE group_type_id = @Id) + (SELECT COUNT(*) FROM volume_group_snapshots WHERE group_type_id = @Id)", args, tx) > 0)
        {
            return (false, true);
        }

        var deleted = await c.ExecuteAsync("DELETE FROM volume_group_types WHERE id = @Id", args, tx) == 1;
        await tx.CommitAsync();
        return (deleted, false);
    }
}
