using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Volume;

/// <summary>
/// The SQL of the volume service. Every status change is a compare-and-swap UPDATE
/// (WHERE status IN ...) so concurrent requests cannot both win; nothing reads and then writes.
/// A statement whose condition reads other rows (a project's quota usage, a volume's attachments or snapshots)
/// runs in a transaction holding the lock of what it reads (<see cref="Database.LockAsync"/>): on PostgreSQL two
/// such statements would otherwise both pass on the same snapshot. Lock order: project quota, then volume.
/// </summary>
public sealed partial class VolumeStore(Database db)
{
    private const string VolumeColumns = "id, project_id, user_id, name, description, size, status, attach_status, volume_type_id, availability_zone, bootable, multiattach, readonly, readonly_shown, snapshot_id, source_volid, image_metadata, metadata, legacy_export, created_at, updated_at";
    private const string TypeColumns = "id, name, description, is_public, extra_specs, qos_specs_id, created_at, updated_at";
    private const string AttachmentColumns = "id, volume_id, project_id, instance_uuid, attach_status, attach_mode, mountpoint, attached_host, connector, export_name, attach_time, detach_time, created_at, updated_at";
    private const string SnapshotColumns = "id, volume_id, project_id, user_id, name, description, size, status, metadata, progress, created_at, updated_at";

    /// <summary>
    /// A row of <see cref="VolumeColumns"/> read by position with typed getters. Dapper's mapping reads every column
    /// as a boxed object (GetValue), which was the largest cost of a volume list page.
    /// </summary>
    private static VolumeRow ReadVolume(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        ProjectId = r.GetString(1),
        UserId = r.GetString(2),
        Name = r.NullableString(3),
        Description = r.NullableString(4),
        Size = r.GetInt32(5),
        Status = r.GetString(6),
        AttachStatus = r.GetString(7),
        VolumeTypeId = r.GetString(8),
        AvailabilityZone = r.GetString(9),
        Bootable = r.GetBoolean(10),
        Multiattach = r.GetBoolean(11),
        Readonly = r.GetBoolean(12),
        ReadonlyShown = r.GetBoolean(13),
        SnapshotId = r.NullableString(14),
        SourceVolid = r.NullableString(15),
        ImageMetadata = r.NullableString(16),
        Metadata = r.GetString(17),
        LegacyExport = r.NullableString(18),
        CreatedAt = r.GetDateTime(19),
        UpdatedAt = r.GetDateTime(20),
    };

    /// <summary>A row of <see cref="AttachmentColumns"/> read by position, as <see cref="ReadVolume"/>.</summary>
    private static AttachmentRow ReadAttachment(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        VolumeId = r.GetString(1),
        ProjectId = r.GetString(2),
        InstanceUuid = r.NullableString(3),
        AttachStatus = r.GetString(4),
        AttachMode = r.GetString(5),
        Mountpoint = r.NullableString(6),
        AttachedHost = r.NullableString(7),
        Connector = r.NullableString(8),
        ExportName = r.NullableString(9),
        AttachTime = r.IsDBNull(10) ? null : r.GetDateTime(10),
        DetachTime = r.IsDBNull(11) ? null : r.GetDateTime(11),
        CreatedAt = r.GetDateTime(12),
        UpdatedAt = r.GetDateTime(13),
    };

    /// <summary>The lowest non-error attach_status of a volume's attachments (attached &lt; attaching &lt; detaching &lt; reserved), else detached.</summary>
    private const string DerivedAttachStatus = "COALESCE((SELECT MIN(a.attach_status) FROM volume_attachments a WHERE a.volume_id = @Id AND a.attach_status NOT LIKE 'error%'), 'detached')";

    /// <summary>The lock over a project's volume quota usage (volumes, snapshots, gigabytes).</summary>
    private static string QuotaLock(string projectId) => "volume-quota:" + projectId;

    /// <summary>The lock over a volume type's row and its encryption spec.</summary>
    private static string TypeLock(string typeId) => "volume-type:" + typeId;

    /// <summary>The lock over one volume's attachments and snapshots.</summary>
    private static string VolumeLock(string volumeId) => "volume:" + volumeId;

    // ---- volume types ----

    public async Task<IReadOnlyList<VolumeTypeRow>> ListTypesAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<VolumeTypeRow>($"SELECT {TypeColumns} FROM volume_types ORDER BY created_at, name")];
    }

    /// <summary>By id, else by name (Cinder accepts either wherever a type is named).</summary>
    public async Task<VolumeTypeRow?> FindTypeAsync(string idOrName)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<VolumeTypeRow>(
            $"SELECT {TypeColumns} FROM volume_types WHERE id = @Key OR name = @Key ORDER BY CASE WHEN id = @Key THEN 0 ELSE 1 END",
            new { Key = idOrName });
    }

    public async Task InsertTypeAsync(VolumeTypeRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync($"INSERT INTO volume_types ({TypeColumns}) VALUES (@Id, @Name, @Description, @IsPublic, @ExtraSpecs, @QosSpecsId, @CreatedAt, @UpdatedAt)", row);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Volume Type {row.Name} already exists.");
        }
    }

    /// <summary>
    /// A type read, changed by <paramref name="change"/> and written back in one transaction under the type's lock, so
    /// concurrent edits of its extra specs never lose each other's keys. Null when the type is gone.
    /// </summary>
    public async Task<VolumeTypeRow?> ChangeTypeAsync(string id, Func<VolumeTypeRow, VolumeTypeRow> change)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, TypeLock(id));
        var current = await c.QuerySingleOrDefaultAsync<VolumeTypeRow>($"SELECT {TypeColumns} FROM volume_types WHERE id = @Id", new { Id = id }, tx);
        if (current is null)
        {
            return null;
        }

        var changed = change(current) with { Id = id, UpdatedAt = Ids.Now() };
        try
        {
            await c.ExecuteAsync("UPDATE volume_types SET name = @Name, description = @Description, is_public = @IsPublic, extra_specs = @ExtraSpecs, updated_at = @UpdatedAt WHERE id = @Id",
                changed, tx);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Volume Type {changed.Name} already exists.");
        }

        await tx.CommitAsync();
        return changed;
    }

    /// <summary>False when a volume still uses the type. Its project access and encryption spec go with it.</summary>
    public async Task<bool> DeleteTypeAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync("DELETE FROM volume_types WHERE id = @Id AND NOT EXISTS (SELECT 1 FROM volumes WHERE volume_type_id = @Id)", new { Id = id }, tx) != 1)
        {
            return false;
        }

        await c.ExecuteAsync("DELETE FROM volume_type_projects WHERE volume_type_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM volume_type_encryption WHERE volume_type_id = @Id", new { Id = id }, tx);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>The projects given access to a private type, in the order they were given it.</summary>
    public async Task<IReadOnlyList<string>> ListTypeAccessAsync(string typeId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT project_id FROM volume_type_projects WHERE volume_type_id = @Id ORDER BY project_id", new { Id = typeId })];
    }

    /// <summary>The private types <paramref name="projectId"/> was given access to.</summary>
    public async Task<IReadOnlySet<string>> TypesAccessibleToAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<string>("SELECT volume_type_id FROM volume_type_projects WHERE project_id = @P", new { P = projectId })).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>False when the project had access already.</summary>
    public async Task<bool> AddTypeAccessAsync(string typeId, string projectId)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO volume_type_projects (volume_type_id, project_id) VALUES (@Id, @P)", new { Id = typeId, P = projectId });
            return true;
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    /// <summary>False when the project had no access.</summary>
    public async Task<bool> RemoveTypeAccessAsync(string typeId, string projectId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM volume_type_projects WHERE volume_type_id = @Id AND project_id = @P", new { Id = typeId, P = projectId }) == 1;
    }

    // ---- volumes ----

    /// <summary>
    /// Inserts the volume only if the project's quotas allow it and its type has no encryption spec, in one statement
    /// under the type's lock (lock order: project quota, then type); false otherwise.
    /// </summary>
    public async Task<bool> InsertVolumeWithinQuotaAsync(VolumeRow row, QuotaLimits limits)
    {
        var p = new DynamicParameters(row);
        p.Add("MaxVolumes", limits.Volumes);
        p.Add("MaxGigabytes", limits.Gigabytes);
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(row.ProjectId));
        await db.LockAsync(c, tx, TypeLock(row.VolumeTypeId));
        var inserted = await c.ExecuteAsync($"""
            INSERT INTO volumes ({VolumeColumns})
            SELECT @Id, @ProjectId, @UserId, @Name, @Description, @Size, @Status, @AttachStatus, @VolumeTypeId, @AvailabilityZone, @Bootable,
                   @Multiattach, @Readonly, @ReadonlyShown, @SnapshotId, @SourceVolid, @ImageMetadata, @Metadata, @LegacyExport, @CreatedAt, @UpdatedAt
            WHERE (@MaxVolumes < 0 OR (SELECT COUNT(*) FROM volumes WHERE project_id = @ProjectId) < @MaxVolumes)
              AND (@MaxGigabytes < 0 OR (SELECT COALESCE(SUM(size), 0) FROM volumes WHERE project_id = @ProjectId)
                   + (SELECT COALESCE(SUM(size), 0) FROM volume_snapshots WHERE project_id = @ProjectId) + @Size <= @MaxGigabytes)
              AND NOT EXISTS (SELECT 1 FROM volume_type_encryption e WHERE e.volume_type_id = @VolumeTypeId)
            """, p, tx) == 1;
        await tx.CommitAsync();
        return inserted;
    }

    /// <summary>
    /// Cinder's allocated_capacity_gb of the one pool: the sizes of its volumes, except those in error after a failed
    /// create (which hold no data; Cinder counts a volume once its create succeeded).
    /// </summary>
    public async Task<long> AllocatedGigabytesAsync()
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(size), 0) FROM volumes WHERE status <> 'error'");
    }

    /// <summary>Which of the given volumes are multi-attach, in one query (for the connections of a page of attachments).</summary>
    public async Task<IReadOnlySet<string>> MultiattachAmongAsync(IReadOnlyCollection<string> ids)
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<string>($"SELECT id FROM volumes WHERE multiattach AND id {db.Dialect.In("@Ids")}", new { Ids = ids.ToArray() }))
            .ToHashSet(StringComparer.Ordinal);
    }

    public async Task<VolumeRow?> FindVolumeAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryRowsAsync($"SELECT {VolumeColumns} FROM volumes WHERE id = @Id", new { Id = id }, ReadVolume)).SingleOrDefault();
    }

    /// <summary>All volumes of a project (null: every project), newest first.</summary>
    public async Task<IReadOnlyList<VolumeRow>> ListVolumesAsync(string? projectId)
    {
        await using var c = await db.OpenAsync();
        var where = projectId is null ? "" : "WHERE project_id = @ProjectId";
        return [.. await c.QueryAsync<VolumeRow>($"SELECT {VolumeColumns} FROM volumes {where} ORDER BY created_at DESC, id DESC", new { ProjectId = projectId })];
    }

    /// <summary>One page of the volumes matching <paramref name="filter"/>; null when the marker is not a volume of the project.</summary>
    public Task<Page<VolumeRow>?> ListVolumesAsync(VolumeFilter filter, PageRequest page, bool withCount)
    {
        var where = new SqlWhere().Scope("project_id", filter.ProjectId).Equal("name", filter.Name).Equal("bootable", filter.Bootable);
        if (filter.Status is { } status)
        {
            where.Add($"status {db.Dialect.In(where.Parameter(VolumeService.StatusesShownAs(status)))}");
        }

        foreach (var (key, value) in filter.Metadata ?? new Dictionary<string, string>())
        {
            where.Add(db.Dialect.JsonHasString("metadata", where.Parameter(key), where.Parameter(value)));
        }

        foreach (var time in filter.Times)
        {
            var column = time.Column is "created_at" or "updated_at" ? time.Column : throw new ArgumentOutOfRangeException(nameof(filter));
            where.Add($"{column} {TimeComparison.Operators[time.Operator]} {where.Parameter(time.Value)}");
        }

        if (filter.ConsumesQuota == false)
        {
            where.Add("1 = 0");
        }

        return s_volumeList.QueryAsync(db, where, page, ReadVolume, withCount);
    }

    private static readonly SqlList s_volumeList = new("volumes", VolumeColumns,
        SortKeys(("name", "COALESCE(name, '')"), ("display_name", "COALESCE(name, '')"), ("size", "size"), ("status", "status")),
        new SortKey("created_at", true), new SortKey("id", true));

    /// <summary>
    /// The sort keys of a list: id, created_at and updated_at, which every table here has, and <paramref name="more"/>
    /// (Cinder sorts by its column display_name under that name too, as Tempest's snapshot list tests do).
    /// </summary>
    private static Dictionary<string, string> SortKeys(params (string Key, string Sql)[] more) =>
        new[] { ("id", "id"), ("created_at", "created_at"), ("updated_at", "updated_at") }.Concat(more).ToDictionary(k => k.Item1, k => k.Item2, StringComparer.Ordinal);

    /// <summary>Compare-and-swap of the status; false when the volume was not in one of <paramref name="from"/>.</summary>
    public async Task<bool> TransitionAsync(string id, IEnumerable<string> from, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync($"UPDATE volumes SET status = @To, updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}",
            new { Id = id, From = from.ToArray(), To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>Compare-and-swap requiring both the status and the attach_status.</summary>
    public async Task<bool> TransitionAsync(string id, string from, string fromAttachStatus, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volumes SET status = @To, updated_at = @Now WHERE id = @Id AND status = @From AND attach_status = @AttachStatus",
            new { Id = id, From = from, AttachStatus = fromAttachStatus, To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>
    /// os-retype: the new type and multiattach flag, if the volume still has the status and type it was checked with
    /// and the new type has no encryption spec (under the new type's lock, as a volume create).
    /// </summary>
    public async Task<bool> RetypeAsync(VolumeRow volume, string newTypeId, bool multiattach)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, TypeLock(newTypeId));
        var done = await c.ExecuteAsync("""
            UPDATE volumes SET volume_type_id = @New, multiattach = @Multiattach, updated_at = @Now
            WHERE id = @Id AND status = @Status AND volume_type_id = @Old
              AND NOT EXISTS (SELECT 1 FROM volume_type_encryption e WHERE e.volume_type_id = @New)
            """, new { volume.Id, volume.Status, Old = volume.VolumeTypeId, New = newTypeId, Multiattach = multiattach, Now = Ids.Now() }, tx) == 1;
        await tx.CommitAsync();
        return done;
    }

    /// <summary>Ends the background creation: creating -> available with what the work produced.</summary>
    public async Task<bool> FinishCreateAsync(string id, bool bootable, string? imageMetadata)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volumes SET status = 'available', bootable = @Bootable, image_metadata = @ImageMetadata, updated_at = @Now WHERE id = @Id AND status = 'creating'",
            new { Id = id, Bootable = bootable, ImageMetadata = imageMetadata, Now = Ids.Now() }) == 1;
    }

    /// <summary>Ends an extend: extending -> the status it came from, with the new size.</summary>
    public async Task<bool> FinishExtendAsync(string id, int newSize, string backTo)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volumes SET status = @BackTo, size = @Size, updated_at = @Now WHERE id = @Id AND status = 'extending'",
            new { Id = id, Size = newSize, BackTo = backTo, Now = Ids.Now() }) == 1;
    }

    /// <summary>Starts an extend if the status allows it and the gigabytes quota has room.</summary>
    public async Task<bool> BeginExtendAsync(string id, IEnumerable<string> from, string projectId, int growBy, int maxGigabytes)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(projectId));
        var begun = await c.ExecuteAsync($"""
            UPDATE volumes SET status = 'extending', updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}
              AND (@Max < 0 OR (SELECT COALESCE(SUM(v.size), 0) FROM volumes v WHERE v.project_id = @ProjectId)
                   + (SELECT COALESCE(SUM(s.size), 0) FROM volume_snapshots s WHERE s.project_id = @ProjectId) + @Grow <= @Max)
            """, new { Id = id, From = from.ToArray(), ProjectId = projectId, Grow = growBy, Max = maxGigabytes, Now = Ids.Now() }, tx) == 1;
        await tx.CommitAsync();
        return begun;
    }

    /// <summary>
    /// Starts a delete: to deleting when the status allows it (unless forced), the volume is not attached and has
    /// no snapshots (with cascade: only deletable ones, which go to deleting too). Returns false otherwise.
    /// </summary>
    public async Task<bool> BeginDeleteAsync(string id, IReadOnlyCollection<string>? fromStatuses, bool cascade)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(id));
        var snapshotRule = cascade
            ? "NOT EXISTS (SELECT 1 FROM volume_snapshots s WHERE s.volume_id = @Id AND s.status NOT IN ('available', 'error', 'deleting', 'error_deleting'))"
            : "NOT EXISTS (SELECT 1 FROM volume_snapshots s WHERE s.volume_id = @Id)";
        var statusRule = fromStatuses is null ? "" : $"AND status {db.Dialect.In("@From")}";
        var ok = await c.ExecuteAsync($"""
            UPDATE volumes SET status = 'deleting', updated_at = @Now
            WHERE id = @Id AND attach_status <> 'attached' {statusRule} AND {snapshotRule}
              AND NOT EXISTS (SELECT 1 FROM volume_attachments a WHERE a.volume_id = @Id AND a.attach_status IN ('attached', 'attaching', 'detaching'))
            """, new { Id = id, From = fromStatuses?.ToArray() ?? [], Now = Ids.Now() }, tx) == 1;
        if (ok && cascade)
        {
            await c.ExecuteAsync("UPDATE volume_snapshots SET status = 'deleting', updated_at = @Now WHERE volume_id = @Id", new { Id = id, Now = Ids.Now() }, tx);
        }

        await tx.CommitAsync();
        return ok;
    }

    /// <summary>Removes the row with its reserved or detached attachments and snapshots (the files are gone already).</summary>
    public async Task DeleteVolumeRowAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(id));
        await c.ExecuteAsync("DELETE FROM volume_attachments WHERE volume_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM volume_snapshots WHERE volume_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM volume_transfers WHERE volume_id = @Id", new { Id = id }, tx);
        await c.ExecuteAsync("DELETE FROM volumes WHERE id = @Id", new { Id = id }, tx);
        await tx.CommitAsync();
    }

    /// <summary>Sets the fields given and only those, in one statement: a concurrent metadata change is never undone.</summary>
    public Task UpdateVolumeAsync(string id, Optional<string?> name, Optional<string?> description, string? metadata) =>
        UpdateTextsAsync("volumes", id, name, description, metadata);

    /// <summary>
    /// A volume's metadata read, changed by <paramref name="change"/> and written back in one transaction under the
    /// volume's lock, so concurrent changes never lose each other's keys. Null when the volume is gone.
    /// </summary>
    public Task<Dictionary<string, string>?> ChangeVolumeMetadataAsync(string id, Func<Dictionary<string, string>, Dictionary<string, string>> change) =>
        ChangeMetadataAsync("volumes", VolumeLock(id), id, change);

    /// <summary>The same for a volume's image metadata (volume_image_metadata, Cinder's volume_glance_metadata).</summary>
    public Task<Dictionary<string, string>?> ChangeVolumeImageMetadataAsync(string id, Func<Dictionary<string, string>, Dictionary<string, string>> change) =>
        ChangeMetadataAsync("volumes", VolumeLock(id), id, change, column: "image_metadata");

    public async Task SetVolumeFlagAsync(string id, string column, bool value)
    {
        // Column names come from this class's callers only, never from requests.
        if (column is not ("bootable" or "readonly"))
        {
            throw new ArgumentOutOfRangeException(nameof(column));
        }

        await using var c = await db.OpenAsync();
        await c.ExecuteAsync($"UPDATE volumes SET {column} = @Value, updated_at = @Now WHERE id = @Id", new { Id = id, Value = value, Now = Ids.Now() });
    }

    /// <summary>os-update_readonly_flag: only while available.</summary>
    public async Task<bool> SetReadonlyIfAvailableAsync(string id, bool value)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volumes SET readonly = @Value, readonly_shown = @Shown, updated_at = @Now WHERE id = @Id AND status = 'available'",
            new { Id = id, Value = value, Shown = true, Now = Ids.Now() }) == 1;
    }

    public async Task ResetStatusAsync(string id, string? status, string? attachStatus)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE volumes SET status = COALESCE(@Status, status), attach_status = COALESCE(@AttachStatus, attach_status), updated_at = @Now WHERE id = @Id",
            new { Id = id, Status = status, AttachStatus = attachStatus, Now = Ids.Now() });
    }

    public async Task SetLegacyExportAsync(string id, string? exportName)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE volumes SET legacy_export = @Export WHERE id = @Id", new { Id = id, Export = exportName });
    }

    /// <summary>Cinder's _get_statuses_from_attachments: the volume's status derived from its attachments.</summary>
    public async Task RecomputeStatusAsync(string volumeId)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(volumeId));
        await RecomputeStatusAsync(c, volumeId, tx);
        await tx.CommitAsync();
    }

    /// <summary>Cinder's _get_statuses_from_attachments in one UPDATE: the alphabetically lowest attachment state decides.</summary>
    private static Task RecomputeStatusAsync(DbConnection c, string volumeId, DbTransaction tx) =>
        c.ExecuteAsync($"""
            UPDATE volumes SET
              status = CASE {DerivedAttachStatus} WHEN 'attached' THEN 'in-use' WHEN 'detached' THEN 'available' ELSE {DerivedAttachStatus} END,
              attach_status = {DerivedAttachStatus},
              updated_at = @Now
            WHERE id = @Id
            """, new { Id = volumeId, Now = Ids.Now() }, tx);

    // ---- attachments ----

    /// <summary>
    /// Cinder's _attachment_reserve: volume -> reserved by compare-and-swap from <paramref name="from"/> (and under the
    /// Ember attachment cap), then the attachment row. With <paramref name="sameInstanceOverride"/> the status is left
    /// alone when the instance already holds an attachment (live migration). Returns false when neither applies.
    /// </summary>
    public async Task<bool> ReserveAsync(AttachmentRow row, IReadOnlyCollection<string> from, int maxAttachments)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        var args = new { Id = row.VolumeId, From = from.ToArray(), Max = maxAttachments, Instance = row.InstanceUuid, Now = Ids.Now() };
        var reserved = await c.ExecuteAsync($"""
            UPDATE volumes SET status = 'reserved', updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}
              AND (@Max < 0 OR (SELECT COUNT(*) FROM volume_attachments a WHERE a.volume_id = @Id AND a.attach_status NOT LIKE 'error%') < @Max)
            """, args, tx) == 1;
        if (!reserved && row.InstanceUuid is not null)
        {
            reserved = await c.ExecuteScalarAsync<long>("""
                SELECT COUNT(*) FROM volumes v WHERE v.id = @Id AND v.status IN ('in-use', 'reserved')
                  AND EXISTS (SELECT 1 FROM volume_attachments a WHERE a.volume_id = @Id AND a.instance_uuid = @Instance)
                """, args, tx) > 0;
        }

        if (!reserved)
        {
            await tx.RollbackAsync();
            return false;
        }

        await c.ExecuteAsync($"""
            INSERT INTO volume_attachments ({AttachmentColumns}) VALUES (@Id, @VolumeId, @ProjectId, @InstanceUuid, @AttachStatus, @AttachMode,
              @Mountpoint, @AttachedHost, @Connector, @ExportName, @AttachTime, @DetachTime, @CreatedAt, @UpdatedAt)
            """, row, tx);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>Legacy os-attach: an attached row and the volume in-use in one transaction.</summary>
    public async Task InsertAttachedAsync(AttachmentRow row)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        await c.ExecuteAsync($"""
            INSERT INTO volume_attachments ({AttachmentColumns}) VALUES (@Id, @VolumeId, @ProjectId, @InstanceUuid, @AttachStatus, @AttachMode,
              @Mountpoint, @AttachedHost, @Connector, @ExportName, @AttachTime, @DetachTime, @CreatedAt, @UpdatedAt)
            """, row, tx);
        await c.ExecuteAsync("UPDATE volumes SET status = 'in-use', attach_status = 'attached', updated_at = @Now WHERE id = @Id",
            new { Id = row.VolumeId, Now = Ids.Now() }, tx);
        await tx.CommitAsync();
    }

    public async Task<AttachmentRow?> FindAttachmentAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM volume_attachments WHERE id = @Id", new { Id = id });
    }

    /// <summary>The attachments of one volume (null: of every volume), oldest first.</summary>
    public async Task<IReadOnlyList<AttachmentRow>> ListAttachmentsAsync(string? volumeId = null)
    {
        await using var c = await db.OpenAsync();
        var where = volumeId is null ? "" : "WHERE volume_id = @VolumeId";
        return [.. await c.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM volume_attachments {where} ORDER BY created_at, id", new { VolumeId = volumeId })];
    }

    /// <summary>One page of the attachments matching <paramref name="filter"/>; null when the marker is not one of the project's.</summary>
    public Task<Page<AttachmentRow>?> ListAttachmentsAsync(AttachmentFilter filter, PageRequest page)
    {
        var where = new SqlWhere().Scope("project_id", filter.ProjectId).Equal("volume_id", filter.VolumeId).Equal("instance_uuid", filter.InstanceId);
        foreach (var status in filter.AttachStatuses)
        {
            where.Equal("attach_status", status);
        }

        return s_attachmentList.QueryAsync<AttachmentRow>(db, where, page);
    }

    private static readonly SqlList s_attachmentList = new("volume_attachments", AttachmentColumns,
        SortKeys(("volume_id", "volume_id"), ("instance_uuid", "COALESCE(instance_uuid, '')"), ("attach_status", "attach_status")),
        new SortKey("created_at", false), new SortKey("id", false));

    /// <summary>Attachments of many volumes at once, for list views.</summary>
    public async Task<ILookup<string, AttachmentRow>> AttachmentsOfAsync(IReadOnlyCollection<string> volumeIds)
    {
        if (volumeIds.Count == 0)
        {
            return Array.Empty<AttachmentRow>().ToLookup(a => a.VolumeId);
        }

        await using var c = await db.OpenAsync();
        var rows = await c.QueryRowsAsync($"SELECT {AttachmentColumns} FROM volume_attachments WHERE volume_id {db.Dialect.In("@Ids")} ORDER BY created_at, id",
            new { Ids = volumeIds.ToArray() }, ReadAttachment);
        return rows.ToLookup(a => a.VolumeId);
    }

    /// <summary>
    /// volume_attached(mark_attached=False): the attachment gets its connector and export and goes to attaching, and so
    /// does the volume. False when the attachment is gone or the volume is in a state that cannot attach.
    /// </summary>
    public async Task<bool> ConnectAsync(AttachmentRow row)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        var args = new { row.Id, row.VolumeId, row.Connector, row.ExportName, row.Mountpoint, row.AttachedHost, row.AttachMode, Now = Ids.Now() };
        var volumeOk = await c.ExecuteAsync("""
            UPDATE volumes SET status = 'attaching', attach_status = 'attaching', updated_at = @Now
            WHERE id = @VolumeId AND status IN ('reserved', 'attaching', 'in-use', 'available', 'detaching')
            """, args, tx) == 1;
        var attachmentOk = volumeOk && await c.ExecuteAsync("""
            UPDATE volume_attachments SET attach_status = 'attaching', connector = @Connector, export_name = @ExportName, mountpoint = @Mountpoint,
              attached_host = @AttachedHost, attach_mode = @AttachMode, updated_at = @Now
            WHERE id = @Id AND attach_status NOT LIKE 'error%' AND attach_status <> 'detached'
            """, args, tx) == 1;
        if (!attachmentOk)
        {
            await tx.RollbackAsync();
            return false;
        }

        await tx.CommitAsync();
        return true;
    }

    /// <summary>os-complete: the attachment attached, the volume in-use/attached.</summary>
    public async Task<bool> CompleteAsync(string attachmentId, string volumeId)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(volumeId));
        var args = new { Id = attachmentId, VolumeId = volumeId, Now = Ids.Now() };
        var ok = await c.ExecuteAsync("UPDATE volume_attachments SET attach_status = 'attached', attach_time = @Now, updated_at = @Now WHERE id = @Id AND attach_status NOT LIKE 'error%'", args, tx) == 1;
        if (ok)
        {
            await c.ExecuteAsync("UPDATE volumes SET status = 'in-use', attach_status = 'attached', updated_at = @Now WHERE id = @VolumeId", args, tx);
        }

        await tx.CommitAsync();
        return ok;
    }

    /// <summary>finish_detach: drops the attachment and derives the volume's status from the rest; returns the rest.</summary>
    public async Task<IReadOnlyList<AttachmentRow>?> DeleteAttachmentAsync(string attachmentId, string volumeId)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, VolumeLock(volumeId));
        if (await c.ExecuteAsync("DELETE FROM volume_attachments WHERE id = @Id", new { Id = attachmentId }, tx) == 0)
        {
            await tx.RollbackAsync();
            return null;
        }

        await RecomputeStatusAsync(c, volumeId, tx);
        var rest = await c.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM volume_attachments WHERE volume_id = @Id ORDER BY created_at, id", new { Id = volumeId }, tx);
        await tx.CommitAsync();
        return [.. rest];
    }

    /// <summary>Attachments whose export must exist while Ember runs (re-created on start-up).</summary>
    /// <summary>Volumes per status, every project's: one small grouped count for the metrics.</summary>
    public async Task<IReadOnlyList<VolumeStatusCount>> CountVolumesByStatusAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<VolumeStatusCount>("SELECT status, COUNT(*) AS count FROM volumes GROUP BY status")];
    }

    public async Task<IReadOnlyList<AttachmentRow>> ListExportedAttachmentsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<AttachmentRow>($"SELECT {AttachmentColumns} FROM volume_attachments WHERE export_name IS NOT NULL AND attach_status IN ('attaching', 'attached', 'detaching')")];
    }

    public async Task<IReadOnlyList<VolumeRow>> ListVolumesWithLegacyExportAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<VolumeRow>($"SELECT {VolumeColumns} FROM volumes WHERE legacy_export IS NOT NULL")];
    }

    // ---- snapshots ----

    /// <summary>Inserts the snapshot if the volume is in an allowed status and quotas allow; false otherwise.</summary>
    public async Task<bool> InsertSnapshotAsync(SnapshotRow row, IReadOnlyCollection<string> volumeStatuses, QuotaLimits limits)
    {
        var p = new DynamicParameters(row);
        p.Add("From", volumeStatuses.ToArray());
        p.Add("MaxSnapshots", limits.Snapshots);
        p.Add("MaxGigabytes", limits.Gigabytes);
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, QuotaLock(row.ProjectId));
        await db.LockAsync(c, tx, VolumeLock(row.VolumeId));
        var inserted = await c.ExecuteAsync($"""
            INSERT INTO volume_snapshots ({SnapshotColumns})
            SELECT @Id, @VolumeId, @ProjectId, @UserId, @Name, @Description, @Size, @Status, @Metadata, @Progress, @CreatedAt, @UpdatedAt
            WHERE EXISTS (SELECT 1 FROM volumes WHERE id = @VolumeId AND status {db.Dialect.In("@From")})
              AND (@MaxSnapshots < 0 OR (SELECT COUNT(*) FROM volume_snapshots WHERE project_id = @ProjectId) < @MaxSnapshots)
              AND (@MaxGigabytes < 0 OR (SELECT COALESCE(SUM(size), 0) FROM volumes WHERE project_id = @ProjectId)
                   + (SELECT COALESCE(SUM(size), 0) FROM volume_snapshots WHERE project_id = @ProjectId) + @Size <= @MaxGigabytes)
            """, p, tx) == 1;
        await tx.CommitAsync();
        return inserted;
    }

    public async Task<SnapshotRow?> FindSnapshotAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<SnapshotRow>($"SELECT {SnapshotColumns} FROM volume_snapshots WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<SnapshotRow>> ListSnapshotsAsync(string? projectId, string? volumeId = null)
    {
        await using var c = await db.OpenAsync();
        var where = new List<string>();
        if (projectId is not null)
        {
            where.Add("project_id = @ProjectId");
        }

        if (volumeId is not null)
        {
            where.Add("volume_id = @VolumeId");
        }

        var clause = where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where);
        return [.. await c.QueryAsync<SnapshotRow>($"SELECT {SnapshotColumns} FROM volume_snapshots {clause} ORDER BY created_at DESC, id DESC",
            new { ProjectId = projectId, VolumeId = volumeId })];
    }

    /// <summary>One page of the snapshots matching <paramref name="filter"/>; null when the marker is not one of the project's.</summary>
    public Task<Page<SnapshotRow>?> ListSnapshotsAsync(SnapshotFilter filter, PageRequest page) =>
        s_snapshotList.QueryAsync<SnapshotRow>(db,
            new SqlWhere().Scope("project_id", filter.ProjectId).Equal("volume_id", filter.VolumeId).Equal("name", filter.Name).Equal("status", filter.Status), page);

    private static readonly SqlList s_snapshotList = new("volume_snapshots", SnapshotColumns,
        SortKeys(("name", "COALESCE(name, '')"), ("display_name", "COALESCE(name, '')"), ("size", "size"), ("status", "status"), ("volume_id", "volume_id")),
        new SortKey("created_at", true), new SortKey("id", true));

    public async Task<bool> TransitionSnapshotAsync(string id, IEnumerable<string> from, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync($"UPDATE volume_snapshots SET status = @To, updated_at = @Now WHERE id = @Id AND status {db.Dialect.In("@From")}",
            new { Id = id, From = from.ToArray(), To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>os-reset_status: whatever the snapshot's status was.</summary>
    public async Task<bool> ResetSnapshotStatusAsync(string id, string status)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE volume_snapshots SET status = @Status, updated_at = @Now WHERE id = @Id",
            new { Id = id, Status = status, Now = Ids.Now() }) == 1;
    }

    /// <summary>os-update_snapshot_status: a status step from <paramref name="from"/>, with the progress given (null keeps it).</summary>
    public async Task<bool> UpdateSnapshotStatusAsync(string id, string from, string to, string? progress)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            UPDATE volume_snapshots SET status = @To, progress = COALESCE(@Progress, progress), updated_at = @Now WHERE id = @Id AND status = @From
            """, new { Id = id, From = from, To = to, Progress = progress, Now = Ids.Now() }) == 1;
    }

    public Task UpdateSnapshotAsync(string id, Optional<string?> name, Optional<string?> description) =>
        UpdateTextsAsync("volume_snapshots", id, name, description, metadata: null);

    /// <inheritdoc cref="ChangeVolumeMetadataAsync"/>
    public Task<Dictionary<string, string>?> ChangeSnapshotMetadataAsync(string id, Func<Dictionary<string, string>, Dictionary<string, string>> change) =>
        ChangeMetadataAsync("volume_snapshots", "snapshot:" + id, id, change);

    // Table names come from this class only, never from requests.
    private async Task UpdateTextsAsync(string table, string id, Optional<string?> name, Optional<string?> description, string? metadata)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync($"""
            UPDATE {table} SET name = CASE WHEN @SetName THEN @Name ELSE name END,
              description = CASE WHEN @SetDescription THEN @Description ELSE description END,
              metadata = COALESCE(@Metadata, metadata), updated_at = @Now
            WHERE id = @Id
            """,
            new { Id = id, SetName = name.IsGiven, Name = name.Value, SetDescription = description.IsGiven, Description = description.Value, Metadata = metadata, Now = Ids.Now() });
    }

    private async Task<Dictionary<string, string>?> ChangeMetadataAsync(string table, string lockName, string id,
        Func<Dictionary<string, string>, Dictionary<string, string>> change, string column = "metadata")
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, lockName);
        var current = await c.QuerySingleOrDefaultAsync<string>($"SELECT COALESCE({column}, '{{}}') FROM {table} WHERE id = @Id", new { Id = id }, tx);
        if (current is null)
        {
            return null;
        }

        var changed = change(VolumeService.MapOf(current));
        await c.ExecuteAsync($"UPDATE {table} SET {column} = @Metadata, updated_at = @Now WHERE id = @Id",
            new { Id = id, Metadata = VolumeService.JsonOf(changed), Now = Ids.Now() }, tx);
        await tx.CommitAsync();
        return changed;
    }

    public async Task DeleteSnapshotRowAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM volume_snapshots WHERE id = @Id", new { Id = id });
    }

    // ---- quotas ----

    public async Task<QuotaLimits> LimitsOfAsync(string projectId) =>
        (await ClassLimitsAsync(QuotaLimits.DefaultClass)).With(await QuotaRows.ReadAsync(db, "volume_quotas", projectId));

    /// <summary>A quota class's limits: Cinder's defaults where the class sets none.</summary>
    public async Task<QuotaLimits> ClassLimitsAsync(string className)
    {
        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<(string Resource, long HardLimit)>("SELECT resource, hard_limit FROM volume_quota_classes WHERE class_name = @C", new { C = className });
        return QuotaLimits.Defaults.With(rows.ToDictionary(r => r.Resource, r => (int)r.HardLimit, StringComparer.Ordinal));
    }

    /// <summary>Sets the given limits of a quota class together.</summary>
    public async Task SetClassLimitsAsync(string className, IReadOnlyDictionary<string, int> limits)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var (resource, limit) in limits)
        {
            await c.ExecuteAsync("""
                INSERT INTO volume_quota_classes (class_name, resource, hard_limit) VALUES (@C, @R, @L)
                ON CONFLICT (class_name, resource) DO UPDATE SET hard_limit = excluded.hard_limit
                """, new { C = className, R = resource, L = limit }, tx);
        }

        await tx.CommitAsync();
    }

    /// <summary>Sets the given limits together: all or (on an error) none.</summary>
    public Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits) => QuotaRows.WriteAsync(db, "volume_quotas", projectId, limits);

    public async Task DeleteLimitsAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM volume_quotas WHERE project_id = @P", new { P = projectId });
    }

    public async Task<QuotaUsage> UsageOfAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        var volumes = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volumes WHERE project_id = @P", new { P = projectId });
        var volumeGb = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(size), 0) FROM volumes WHERE project_id = @P", new { P = projectId });
        var snapshots = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_snapshots WHERE project_id = @P", new { P = projectId });
        var snapshotGb = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(size), 0) FROM volume_snapshots WHERE project_id = @P", new { P = projectId });
        var backups = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM volume_backups WHERE project_id = @P", new { P = projectId });
        var backupGb = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(size), 0) FROM volume_backups WHERE project_id = @P", new { P = projectId });
        return new QuotaUsage((int)volumes, (int)snapshots, (int)(volumeGb + snapshotGb), (int)backups, (int)backupGb);
    }
}

/// <summary>A project's hard limits; -1 is unlimited.</summary>
public sealed record QuotaLimits(int Volumes, int Snapshots, int Gigabytes, int PerVolumeGigabytes, int Backups, int BackupGigabytes, int Groups)
{
    /// <summary>The quota class whose limits every project starts from (Cinder's default quota class).</summary>
    public const string DefaultClass = "default";

    /// <summary>Cinder's defaults (quota_volumes, quota_snapshots, quota_gigabytes, ...), where the default class sets none.</summary>
    public static QuotaLimits Defaults { get; } = new(10, 10, 1000, -1, 10, 1000, 10);

    public static readonly string[] Resources = ["volumes", "snapshots", "gigabytes", "per_volume_gigabytes", "backups", "backup_gigabytes", "groups"];

    public int this[string resource] => resource switch
    {
        "volumes" => Volumes,
        "snapshots" => Snapshots,
        "gigabytes" => Gigabytes,
        "per_volume_gigabytes" => PerVolumeGigabytes,
        "backups" => Backups,
        "backup_gigabytes" => BackupGigabytes,
        "groups" => Groups,
        _ => throw new ArgumentOutOfRangeException(nameof(resource)),
    };

    public QuotaLimits With(IReadOnlyDictionary<string, int> overrides) => new(
        overrides.GetValueOrDefault("volumes", Volumes),
        overrides.GetValueOrDefault("snapshots", Snapshots),
        overrides.GetValueOrDefault("gigabytes", Gigabytes),
        overrides.GetValueOrDefault("per_volume_gigabytes", PerVolumeGigabytes),
        overrides.GetValueOrDefault("backups", Backups),
        overrides.GetValueOrDefault("backup_gigabytes", BackupGigabytes),
        overrides.GetValueOrDefault("groups", Groups));
}

/// <summary>What a project uses; gigabytes counts volumes and snapshots, as Cinder does; backups count apart.</summary>
public sealed record QuotaUsage(int Volumes, int Snapshots, int Gigabytes, int Backups, int BackupGigabytes);
