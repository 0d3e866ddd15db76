using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>Reads and writes flavors, servers and block device mappings.</summary>
public sealed partial class ComputeStore(Database db)
{
    public async Task<FlavorRow?> FindFlavorAsync(string idOrName)
    {
        await using var c = await db.OpenAsync();
        return await c.QueryFirstOrDefaultAsync<FlavorRow>(
            "SELECT * FROM flavors WHERE id = @Key UNION ALL SELECT * FROM flavors WHERE name = @Key AND id <> @Key", new { Key = idOrName });
    }

    public async Task<IReadOnlyList<FlavorRow>> ListFlavorsAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<FlavorRow>("SELECT * FROM flavors")];
    }

    public async Task InsertFlavorAsync(FlavorRow flavor)
    {
        await using var c = await db.OpenAsync();
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM flavors WHERE name = @Name", flavor) > 0)
        {
            throw ApiException.Conflict($"Flavor with name {flavor.Name} already exists.");
        }

        try
        {
            await c.ExecuteAsync("""
                INSERT INTO flavors (id, name, ram, vcpus, disk, ephemeral, swap, rxtx_factor, is_public, description, extra_specs, created_at)
                VALUES (@Id, @Name, @Ram, @Vcpus, @Disk, @Ephemeral, @Swap, @RxtxFactor, @IsPublic, @Description, @ExtraSpecs, @CreatedAt)
                """, flavor);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Flavor with ID {flavor.Id} already exists.");
        }
    }

    public async Task UpdateFlavorAsync(FlavorRow flavor)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE flavors SET description = @Description, extra_specs = @ExtraSpecs WHERE id = @Id", flavor);
    }

    /// <summary>Sets a flavor's description (by its id only); null when there is no such flavor.</summary>
    public async Task<FlavorRow?> UpdateFlavorDescriptionAsync(string id, string? description)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE flavors SET description = @Description WHERE id = @Id", new { Id = id, Description = description }) == 0
            ? null
            : await c.QueryFirstAsync<FlavorRow>("SELECT * FROM flavors WHERE id = @Id", new { Id = id });
    }

    public async Task<bool> DeleteFlavorAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("DELETE FROM flavor_projects WHERE flavor_id = @Id", new { Id = id }, tx);
        var deleted = await c.ExecuteAsync("DELETE FROM flavors WHERE id = @Id", new { Id = id }, tx) == 1;
        await tx.CommitAsync();
        return deleted;
    }

    // ---- flavor access (private flavors) ----

    /// <summary>The projects on a flavor's access list.</summary>
    public async Task<IReadOnlyList<string>> ListFlavorProjectsAsync(string flavorId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT project_id FROM flavor_projects WHERE flavor_id = @Id ORDER BY project_id", new { Id = flavorId })];
    }

    /// <summary>The private flavors a project was given.</summary>
    public async Task<IReadOnlySet<string>> FlavorsOfProjectAsync(string projectId)
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<string>("SELECT flavor_id FROM flavor_projects WHERE project_id = @P", new { P = projectId })).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Nova's rule for seeing and booting a flavor: public, or an admin, or a project on its access list.</summary>
    public async Task<bool> CanUseFlavorAsync(FlavorRow flavor, RequestContext context)
    {
        if (flavor.IsPublic || context.IsCloudAdmin || context.ProjectId is null)
        {
            return flavor.IsPublic || context.IsCloudAdmin;
        }

        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM flavor_projects WHERE flavor_id = @F AND project_id = @P",
            new { F = flavor.Id, P = context.ProjectId }) > 0;
    }

    /// <summary>False when the project already has access (Nova's FlavorAccessExists).</summary>
    public async Task<bool> AddFlavorAccessAsync(string flavorId, string projectId)
    {
        await using var c = await db.OpenAsync();
        try
        {
            return await c.ExecuteAsync("""
                INSERT INTO flavor_projects (flavor_id, project_id)
                SELECT @F, @P WHERE NOT EXISTS (SELECT 1 FROM flavor_projects WHERE flavor_id = @F AND project_id = @P)
                """, new { F = flavorId, P = projectId }) == 1;
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    /// <summary>False when the project had no access (Nova's FlavorAccessNotFound).</summary>
    public async Task<bool> RemoveFlavorAccessAsync(string flavorId, string projectId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM flavor_projects WHERE flavor_id = @F AND project_id = @P", new { F = flavorId, P = projectId }) == 1;
    }

    /// <summary>Inserts a server with the next instance number (instance-0000000N), retrying if another insert took it.</summary>
    public async Task<ServerRow> InsertServerAsync(ServerRow server, IEnumerable<BdmRow> bdms) =>
        (await InsertAsync(server, bdms, fits: null))!;

    /// <summary>
    /// Inserts a server on its host if it still fits there (Nova's claim): under the host's lock, <paramref name="fits"/>
    /// judges what the host's servers use as of now, so of concurrent boots only as many as fit are written. Null when
    /// it does not fit; nothing is written then.
    /// </summary>
    public Task<ServerRow?> InsertClaimedServerAsync(ServerRow server, IEnumerable<BdmRow> bdms, Func<HostUsage, bool> fits) =>
        InsertAsync(server, bdms, fits);

    private async Task<ServerRow?> InsertAsync(ServerRow server, IEnumerable<BdmRow> bdms, Func<HostUsage, bool>? fits)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var c = await db.OpenAsync();
            await using var tx = await c.BeginTransactionAsync();
            if (fits is not null && !await ClaimHostAsync(c, tx, server.Host, fits))
            {
                return null;
            }

            // MAX + 1 reads other rows: without the lock, a dozen concurrent boots on PostgreSQL outran the retries.
            await db.LockAsync(c, tx, "server-instance-number");
            var next = await c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(instance_number), 0) + 1 FROM servers", transaction: tx);
            var row = server with { InstanceNumber = (int)next };
            try
            {
                await c.ExecuteAsync("""
                    INSERT INTO servers (id, instance_number, name, description, project_id, user_id, image_id, flavor_id, flavor_json,
                      vm_state, task_state, power_state, metadata, user_data, key_name, key_data, config_drive, fault_json, host,
                      availability_zone, created_at, updated_at, launched_at, access_ip_v4, access_ip_v6, reservation_id, launch_index, hostname,
                      pinned_availability_zone, scheduler_hints, image_properties)
                    VALUES (@Id, @InstanceNumber, @Name, @Description, @ProjectId, @UserId, @ImageId, @FlavorId, @FlavorJson,
                      @VmState, @TaskState, @PowerState, @Metadata, @UserData, @KeyName, @KeyData, @ConfigDrive, @FaultJson, @Host,
                      @AvailabilityZone, @CreatedAt, @UpdatedAt, @LaunchedAt, @AccessIpV4, @AccessIpV6, @ReservationId, @LaunchIndex, @Hostname,
                      @PinnedAvailabilityZone, @SchedulerHints, @ImageProperties)
                    """, row, tx);
                foreach (var bdm in bdms)
                {
                    await InsertBdmAsync(c, bdm, tx);
                }

                await tx.CommitAsync();
                return row;
            }
            catch (DbException ex) when (Database.IsUniqueViolation(ex) && attempt < 5)
            {
                await tx.RollbackAsync();
            }
        }
    }

    /// <summary>
    /// Evacuate's claim: under <paramref name="toHost"/>'s lock, if the server still fits there and still is on
    /// <paramref name="fromHost"/>, moves it (host, zone) and points its mappings at their new attachments, whose
    /// connections the new host will ask for. False when the host filled up or the server moved meanwhile.
    /// </summary>
    public async Task<bool> MoveServerAsync(string serverId, string fromHost, string toHost, string? zone,
        IReadOnlyList<(string BdmId, string AttachmentId)> attachments, Func<HostUsage, bool> fits)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (!await ClaimHostAsync(c, tx, toHost, fits) || await c.ExecuteAsync(
                "UPDATE servers SET host = @ToHost, availability_zone = @Zone, updated_at = @Now WHERE id = @Id AND host = @FromHost",
                new { Id = serverId, FromHost = fromHost, ToHost = toHost, Zone = zone, Now = Ids.Now() }, tx) != 1)
        {
            await tx.RollbackAsync();
            return false;
        }

        foreach (var (bdmId, attachmentId) in attachments)
        {
            await c.ExecuteAsync("UPDATE block_device_mappings SET attachment_id = @AttachmentId, connection_json = NULL WHERE id = @Id",
                new { Id = bdmId, AttachmentId = attachmentId }, tx);
        }

        await tx.CommitAsync();
        return true;
    }

    /// <summary>
    /// The claim of a boot and of an evacuation: takes <paramref name="host"/>'s lock for the rest of the transaction
    /// and asks <paramref name="fits"/> about what the host's servers use now, so concurrent claims never over-commit it.
    /// </summary>
    private async Task<bool> ClaimHostAsync(DbConnection c, DbTransaction tx, string host, Func<HostUsage, bool> fits)
    {
        await db.LockAsync(c, tx, "compute-host:" + host);
        return fits((await HostUsage.ReadAsync(c, tx, db.Dialect, [host])).SingleOrDefault() ?? HostUsage.None(host));
    }

    public async Task<ServerRow?> FindServerAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServerRow>("SELECT * FROM servers WHERE id = @Id", new { Id = id });
    }

    /// <summary>One page of a project's servers (null: every project's), newest first; null when the marker is not one of them.</summary>
    public Task<Page<ServerRow>?> ListServersAsync(string? projectId, PageRequest page) =>
        s_serverList.QueryAsync<ServerRow>(db, new SqlWhere().Scope("project_id", projectId), page);

    private static readonly SqlList s_serverList = new("servers", "*",
        new Dictionary<string, string> { ["created_at"] = "created_at", ["id"] = "id" }, new SortKey("created_at", true), new SortKey("id", true));

    /// <summary>Servers per host and state, every project's: one small grouped count for the metrics.</summary>
    public async Task<IReadOnlyList<ServerStateCount>> CountServersByStateAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ServerStateCount>("SELECT host, vm_state, task_state, COUNT(*) AS count FROM servers GROUP BY host, vm_state, task_state")];
    }

    /// <summary>The servers whose host column names <paramref name="host"/>: what that compute host owns.</summary>
    public async Task<IReadOnlyList<ServerRow>> ListServersOnHostAsync(string host)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ServerRow>("SELECT * FROM servers WHERE host = @Host ORDER BY created_at, id", new { Host = host })];
    }

    /// <summary>Sets task_state only (the API's part: e.g. deleting); the host writes vm_state and power_state.</summary>
    public async Task<bool> SetTaskStateAsync(string id, string? taskState)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE servers SET task_state = @TaskState, updated_at = @Now WHERE id = @Id",
            new { Id = id, TaskState = taskState, Now = Ids.Now() }) == 1;
    }

    /// <summary>Sets the states (and optionally the fault); returns false when the server is gone.</summary>
    public async Task<bool> SetStateAsync(string id, string vmState, string? taskState, int powerState, string? faultJson = null,
        bool launched = false)
    {
        await using var c = await db.OpenAsync();
        var now = Ids.Now();
        return await c.ExecuteAsync("""
            UPDATE servers SET vm_state = @VmState, task_state = @TaskState, power_state = @PowerState,
              fault_json = COALESCE(@FaultJson, fault_json), updated_at = @Now,
              launched_at = CASE WHEN @Launched THEN @Now ELSE launched_at END
            WHERE id = @Id
            """, new { Id = id, VmState = vmState, TaskState = taskState, PowerState = powerState, FaultJson = faultJson, Now = now, Launched = launched }) == 1;
    }

    /// <summary>
    /// Moves task_state from <paramref name="from"/> to <paramref name="to"/> only (Nova's expected_task_state): a long
    /// task's steps never overwrite a delete that came meanwhile. False when the task_state was another.
    /// </summary>
    public async Task<bool> MoveTaskAsync(string id, string from, string? to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE servers SET task_state = @To, updated_at = @Now WHERE id = @Id AND task_state = @From",
            new { Id = id, From = from, To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>Compare-and-swap on task_state: claims the server for one operation at a time, as Nova does.</summary>
    public async Task<bool> ClaimTaskAsync(string id, string[] allowedVmStates, string taskState)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync(
            $"UPDATE servers SET task_state = @TaskState, updated_at = @Now WHERE id = @Id AND task_state IS NULL AND vm_state {db.Dialect.In("@Allowed")}",
            new { Id = id, TaskState = taskState, Allowed = allowedVmStates, Now = Ids.Now() }) == 1;
    }

    public async Task UpdateServerAsync(ServerRow server)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE servers SET name = @Name, description = @Description, metadata = @Metadata, access_ip_v4 = @AccessIpV4,
              access_ip_v6 = @AccessIpV6, hostname = @Hostname, updated_at = @Now WHERE id = @Id
            """, new { server.Id, server.Name, server.Description, server.Metadata, server.AccessIpV4, server.AccessIpV6, server.Hostname, Now = Ids.Now() });
    }

    /// <summary>rebuild's changes to the row: the image and what the request may set again (name, metadata, key, user data...).</summary>
    public async Task UpdateRebuiltServerAsync(ServerRow server)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE servers SET image_id = @ImageId, name = @Name, description = @Description, metadata = @Metadata, access_ip_v4 = @AccessIpV4,
              access_ip_v6 = @AccessIpV6, key_name = @KeyName, key_data = @KeyData, user_data = @UserData, hostname = @Hostname,
              image_properties = @ImageProperties, updated_at = @Now WHERE id = @Id
            """, new
        {
            server.Id,
            server.Hostname,
            server.ImageId,
            server.ImageProperties,
            server.Name,
            server.Description,
            server.Metadata,
            server.AccessIpV4,
            server.AccessIpV6,
            server.KeyName,
            server.KeyData,
            server.UserData,
            Now = Ids.Now(),
        });
    }

    /// <summary>resize: the new flavor in the row, the old one kept (only while the API's claim of resize_prep holds).</summary>
    public async Task SetResizedFlavorAsync(string id, FlavorRow flavor, string oldFlavorJson)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE servers SET flavor_id = @FlavorId, flavor_json = @FlavorJson, old_flavor_json = @Old, updated_at = @Now
            WHERE id = @Id AND task_state = 'resize_prep'
            """, new { Id = id, FlavorId = flavor.Id, FlavorJson = System.Text.Json.JsonSerializer.Serialize(flavor), Old = oldFlavorJson, Now = Ids.Now() });
    }

    /// <summary>
    /// The end of a resize: confirm forgets the old flavor, revert puts it back. The server leaves VERIFY_RESIZE for
    /// <paramref name="vmState"/> with no task.
    /// </summary>
    public async Task EndResizeAsync(string id, bool revert, string vmState, int powerState)
    {
        await using var c = await db.OpenAsync();
        var flavor = revert
            ? await c.QuerySingleOrDefaultAsync<string?>("SELECT old_flavor_json FROM servers WHERE id = @Id", new { Id = id })
            : null;
        var flavorId = flavor is null ? null : System.Text.Json.JsonSerializer.Deserialize<FlavorRow>(flavor)?.Id;
        await c.ExecuteAsync("""
            UPDATE servers SET flavor_id = COALESCE(@FlavorId, flavor_id), flavor_json = COALESCE(@FlavorJson, flavor_json), old_flavor_json = NULL,
              vm_state = @VmState, task_state = NULL, power_state = @PowerState, updated_at = @Now
            WHERE id = @Id
            """, new { Id = id, FlavorId = flavorId, FlavorJson = flavor, VmState = vmState, PowerState = powerState, Now = Ids.Now() });
    }

    /// <summary>The zone a server is pinned to (Nova's request spec availability_zone): unshelve re-pins it, or unpins with null.</summary>
    public async Task SetPinnedZoneAsync(string id, string? zone)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET pinned_availability_zone = @Zone, updated_at = @Now WHERE id = @Id", new { Id = id, Zone = zone, Now = Ids.Now() });
    }

    /// <summary>The image a shelve fills with the root disk (Nova's shelved_image_id); null once unshelve deleted it.</summary>
    public async Task SetShelvedImageAsync(string id, string? imageId)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET shelved_image_id = @ImageId, updated_at = @Now WHERE id = @Id", new { Id = id, ImageId = imageId, Now = Ids.Now() });
    }

    /// <summary>
    /// The end of an offload (or of a failed unshelve): SHELVED_OFFLOADED with no host and no task, so the host's
    /// resources are free (<see cref="HostUsage"/> counts servers by their host column); the fault when there is one.
    /// </summary>
    public async Task OffloadServerAsync(string id, string? faultJson)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE servers SET host = '', vm_state = @VmState, task_state = NULL, power_state = @PowerState,
              fault_json = COALESCE(@FaultJson, fault_json), updated_at = @Now
            WHERE id = @Id
            """, new { Id = id, VmState = VmStates.ShelvedOffloaded, PowerState = PowerStates.NoState, FaultJson = faultJson, Now = Ids.Now() });
    }

    /// <summary>
    /// Deletes the server's rows. A server that ever ran is kept in terminated_servers with the time it ended (Nova's
    /// terminated_at), so os-simple-tenant-usage still counts it for the windows it ran in.
    /// </summary>
    public async Task DeleteServerAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO terminated_servers (id, name, project_id, user_id, flavor_json, launched_at, terminated_at)
            SELECT id, name, project_id, user_id, flavor_json, launched_at, @Now FROM servers WHERE id = @Id AND launched_at IS NOT NULL
            ON CONFLICT (id) DO NOTHING
            """, new { Id = id, Now = Ids.Now() });
        await c.ExecuteAsync("DELETE FROM migrations WHERE server_id = @Id", new { Id = id });
        await c.ExecuteAsync("DELETE FROM block_device_mappings WHERE server_id = @Id", new { Id = id });
        await c.ExecuteAsync("DELETE FROM server_tags WHERE server_id = @Id", new { Id = id });
        await c.ExecuteAsync("DELETE FROM servers WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<BdmRow>> ListBdmsAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<BdmRow>("SELECT * FROM block_device_mappings WHERE server_id = @Id ORDER BY created_at, device_name", new { Id = serverId })];
    }

    /// <summary>The mappings of several servers at once (a list page), in the order of <see cref="ListBdmsAsync(string)"/>.</summary>
    public async Task<ILookup<string, BdmRow>> ListBdmsAsync(IReadOnlyList<string> serverIds)
    {
        if (serverIds.Count == 0)
        {
            return Array.Empty<BdmRow>().ToLookup(b => b.ServerId);
        }

        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<BdmRow>(
            $"SELECT * FROM block_device_mappings WHERE server_id {db.Dialect.In("@Ids")} ORDER BY created_at, device_name", new { Ids = serverIds.ToArray() });
        return rows.ToLookup(b => b.ServerId);
    }

    /// <summary>Servers (other than none) holding a mapping of <paramref name="volumeId"/>.</summary>
    public async Task<IReadOnlyList<string>> ServersWithVolumeAsync(string volumeId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT server_id FROM block_device_mappings WHERE volume_id = @Id", new { Id = volumeId })];
    }

    public async Task AddBdmAsync(BdmRow bdm)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await InsertBdmAsync(c, bdm, null);
        }
        catch (DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.BadRequest($"Invalid volume: volume {bdm.VolumeId} already attached");
        }
    }

    public async Task UpdateBdmConnectionAsync(string id, string? attachmentId, string? connectionJson)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE block_device_mappings SET attachment_id = @AttachmentId, connection_json = @ConnectionJson WHERE id = @Id",
            new { Id = id, AttachmentId = attachmentId, ConnectionJson = connectionJson });
    }

    /// <summary>2.85: whether the volume is deleted with its server.</summary>
    public async Task UpdateBdmDeleteOnTerminationAsync(string id, bool deleteOnTermination)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE block_device_mappings SET delete_on_termination = @DeleteOnTermination WHERE id = @Id",
            new { Id = id, DeleteOnTermination = deleteOnTermination });
    }

    public async Task DeleteBdmAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM block_device_mappings WHERE id = @Id", new { Id = id });
    }

    private static Task InsertBdmAsync(DbConnection c, BdmRow bdm, DbTransaction? tx) => c.ExecuteAsync("""
        INSERT INTO block_device_mappings (id, server_id, volume_id, attachment_id, device_name, boot_index, delete_on_termination, tag, connection_json, created_at)
        VALUES (@Id, @ServerId, @VolumeId, @AttachmentId, @DeviceName, @BootIndex, @DeleteOnTermination, @Tag, @ConnectionJson, @CreatedAt)
        """, bdm, tx);
}
