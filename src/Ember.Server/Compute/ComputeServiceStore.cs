using System.Data.Common;
using System.Globalization;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>
/// One row of the service registry (Nova's services table; for nova-compute also its compute node): who runs
/// where, whether the scheduler may use it, when it last reported, and the capacity its host reported.
/// </summary>
public sealed record ServiceRow
{
    public string Id { get; init; } = "";

    /// <summary>The integer id that microversions before 2.53 show (for os-services and os-hypervisors alike).</summary>
    public int Serial { get; init; }
    public string Host { get; init; } = "";
    public string BinaryName { get; init; } = "";
    public string Zone { get; init; } = "";
    public bool Disabled { get; init; }
    public string? DisabledReason { get; init; }
    public bool ForcedDown { get; init; }
    public DateTime LastSeenAt { get; init; }

    /// <summary>The hypervisor's uuid (Nova's compute node uuid), shown from 2.53.</summary>
    public string NodeId { get; init; } = "";
    public int Vcpus { get; init; }
    public long MemoryMb { get; init; }
    public long LocalGb { get; init; }
    public long DiskAvailableGb { get; init; }
    public string HypervisorType { get; init; } = "";
    public string HypervisorHostname { get; init; } = "";
    public string? HostIp { get; init; }
    public string CpuInfo { get; init; } = "{}";

    /// <summary>Where a compute host serves the controller's calls (https://IP:PORT); null when it has no listener.</summary>
    public string? CallUrl { get; init; }

    /// <summary>SHA-256 of the process's certificate (<see cref="ServiceCertificate"/>), which its peers pin.</summary>
    public string? CertificateSha256 { get; init; }

    /// <summary>The host's uptime line as the uptime command prints it, at its last heartbeat; null from an older Ember.</summary>
    public string? Uptime { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>What a host reports about itself at each heartbeat (the capacity and uptime only for nova-compute).</summary>
public sealed record HostCapacity(int Vcpus, long MemoryMb, long LocalGb, long DiskAvailableGb, string? HostIp, string CpuInfo, string? Uptime = null);

/// <summary>
/// Which nova-compute rows os-hypervisors asks for, in serial order: those after <paramref name="Marker"/> (a serial
/// before 2.53, a node uuid from 2.53), at most <paramref name="Limit"/>, whose hypervisor hostname contains
/// <paramref name="HostnamePattern"/>.
/// </summary>
public sealed record ComputeNodeQuery(string? Marker = null, bool ByNodeId = false, int? Limit = null, string? HostnamePattern = null);

/// <summary>Reads and writes the service registry, and the server figures os-hypervisors adds up.</summary>
public sealed class ComputeServiceStore(Database db)
{
    public const string ComputeBinary = "nova-compute";

    /// <summary>
    /// Registers a service or records its heartbeat: one upsert on (host, binary), so a restart finds its row again
    /// (same ids, still disabled or forced down if an admin said so). The serial of a new row is MAX + 1 under a lock,
    /// so two hosts registering at once on PostgreSQL do not take the same number.
    /// </summary>
    public async Task<ServiceRow> ReportAsync(string host, string binary, string zone, HostCapacity? capacity, DateTime now,
        string? callUrl = null, string? certificateSha256 = null)
    {
        var report = new
        {
            Id = Ids.NewUuid(),
            NodeId = Ids.NewUuid(),
            Host = host,
            Binary = binary,
            Zone = zone,
            No = false,
            Now = now,
            Vcpus = capacity?.Vcpus ?? 0,
            MemoryMb = capacity?.MemoryMb ?? 0,
            LocalGb = capacity?.LocalGb ?? 0,
            DiskAvailableGb = capacity?.DiskAvailableGb ?? 0,
            HypervisorType = capacity is null ? "" : "QEMU",
            capacity?.HostIp,
            CpuInfo = capacity?.CpuInfo ?? "{}",
            CallUrl = callUrl,
            CertificateSha256 = certificateSha256,
            capacity?.Uptime,
        };
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, "compute-services");
        await c.ExecuteAsync("""
            INSERT INTO compute_services (id, serial, host, binary_name, zone, disabled, disabled_reason, forced_down, last_seen_at, node_id,
              vcpus, memory_mb, local_gb, disk_available_gb, hypervisor_type, hypervisor_hostname, host_ip, cpu_info, created_at, updated_at,
              call_url, certificate_sha256, uptime)
            VALUES (@Id, (SELECT COALESCE(MAX(serial), 0) + 1 FROM compute_services), @Host, @Binary, @Zone, @No, NULL, @No, @Now, @NodeId,
              @Vcpus, @MemoryMb, @LocalGb, @DiskAvailableGb, @HypervisorType, @Host, @HostIp, @CpuInfo, @Now, @Now, @CallUrl, @CertificateSha256, @Uptime)
            ON CONFLICT (host, binary_name) DO UPDATE SET last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at,
              vcpus = excluded.vcpus, memory_mb = excluded.memory_mb, local_gb = excluded.local_gb,
              disk_available_gb = excluded.disk_available_gb, host_ip = excluded.host_ip, cpu_info = excluded.cpu_info,
              call_url = excluded.call_url, certificate_sha256 = excluded.certificate_sha256, uptime = excluded.uptime
            """, report, tx);
        var row = await c.QuerySingleAsync<ServiceRow>("SELECT * FROM compute_services WHERE host = @Host AND binary_name = @Binary", report, tx);
        await tx.CommitAsync();
        return row;
    }

    /// <summary>The services, oldest first; <paramref name="host"/> and <paramref name="binary"/> filter when given.</summary>
    public async Task<IReadOnlyList<ServiceRow>> ListAsync(string? host = null, string? binary = null)
    {
        var where = new List<string> { "1 = 1" };
        if (host is not null)
        {
            where.Add("host = @Host");
        }

        if (binary is not null)
        {
            where.Add("binary_name = @Binary");
        }

        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ServiceRow>(
            $"SELECT * FROM compute_services WHERE {string.Join(" AND ", where)} ORDER BY serial", new { Host = host, Binary = binary })];
    }

    public async Task<ServiceRow?> FindAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServiceRow>("SELECT * FROM compute_services WHERE id = @Id", new { Id = id });
    }

    /// <summary>
    /// One page of nova-compute rows (<see cref="ComputeNodeQuery"/>), with one row more read to tell whether another
    /// follows; null when the marker names no nova-compute row.
    /// </summary>
    public async Task<Page<ServiceRow>?> ListComputeNodesAsync(ComputeNodeQuery query)
    {
        var where = new List<string> { "binary_name = @Compute" };
        await using var c = await db.OpenAsync();
        long? after = null;
        if (query.Marker is { } marker)
        {
            after = await FindNodeSerialAsync(c, marker, query.ByNodeId);
            if (after is null)
            {
                return null;
            }

            where.Add("serial > @After");
        }

        if (query.HostnamePattern is not null)
        {
            where.Add(@"LOWER(hypervisor_hostname) LIKE @Pattern ESCAPE '\'");
        }

        var args = new
        {
            Compute = ComputeBinary,
            After = after,
            Pattern = query.HostnamePattern is { } p ? "%" + EscapeLike(p.ToLowerInvariant()) + "%" : null,
            Take = query.Limit is { } limit ? limit + 1L : long.MaxValue,
        };
        var rows = (await c.QueryAsync<ServiceRow>(
            $"SELECT * FROM compute_services WHERE {string.Join(" AND ", where)} ORDER BY serial LIMIT @Take", args)).ToList();
        var hasMore = query.Limit is { } max && rows.Count > max;
        return new Page<ServiceRow>(hasMore ? rows[..query.Limit!.Value] : rows, hasMore);
    }

    /// <summary>The nova-compute row of a hypervisor id: its node uuid from 2.53, its serial before (anything else names none).</summary>
    public async Task<ServiceRow?> FindComputeNodeAsync(string id, bool byNodeId)
    {
        await using var c = await db.OpenAsync();
        return await FindNodeSerialAsync(c, id, byNodeId) is { } serial
            ? await c.QuerySingleAsync<ServiceRow>("SELECT * FROM compute_services WHERE serial = @Serial", new { Serial = serial })
            : null;
    }

    private static async Task<long?> FindNodeSerialAsync(DbConnection c, string id, bool byNodeId)
    {
        object? key = byNodeId ? id : int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var serial) ? serial : null;
        return key is null
            ? null
            : await c.QuerySingleOrDefaultAsync<long?>($"SELECT serial FROM compute_services WHERE binary_name = @Compute AND {(byNodeId ? "node_id" : "serial")} = @Key",
                new { Compute = ComputeBinary, Key = key });
    }

    /// <summary>A LIKE pattern matching <paramref name="text"/> literally, with backslash as the escape character.</summary>
    private static string EscapeLike(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    public async Task<ServiceRow?> FindBySerialAsync(int serial)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServiceRow>("SELECT * FROM compute_services WHERE serial = @Serial", new { Serial = serial });
    }

    public async Task<ServiceRow?> FindAsync(string host, string binary)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ServiceRow>(
            "SELECT * FROM compute_services WHERE host = @Host AND binary_name = @Binary", new { Host = host, Binary = binary });
    }

    /// <summary>
    /// The certificate fingerprints of the registered services other than nova-compute (the controllers' nova-conductor
    /// and nova-scheduler rows): the callers a compute host's listener lets in.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListCallerFingerprintsAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        return [.. await c.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT certificate_sha256 FROM compute_services WHERE binary_name <> @Compute AND certificate_sha256 IS NOT NULL",
            new { Compute = ComputeBinary }, cancellationToken: cancellationToken))];
    }

    /// <summary>Enables or disables scheduling to a service; enabling clears the reason, as Nova does.</summary>
    public async Task<bool> SetDisabledAsync(string id, bool disabled, string? reason, DateTime now)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE compute_services SET disabled = @Disabled, disabled_reason = @Reason, updated_at = @Now WHERE id = @Id",
            new { Id = id, Disabled = disabled, Reason = disabled ? reason : null, Now = now }) == 1;
    }

    public async Task<bool> SetForcedDownAsync(string id, bool forcedDown, DateTime now)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE compute_services SET forced_down = @ForcedDown, updated_at = @Now WHERE id = @Id",
            new { Id = id, ForcedDown = forcedDown, Now = now }) == 1;
    }

    /// <summary>Deletes a service; a nova-compute one also leaves its aggregates, as Nova's service delete does.</summary>
    public async Task<bool> DeleteAsync(string id)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("DELETE FROM aggregate_hosts WHERE host IN (SELECT host FROM compute_services WHERE id = @Id AND binary_name = @Compute)",
            new { Id = id, Compute = ComputeBinary });
        return await c.ExecuteAsync("DELETE FROM compute_services WHERE id = @Id", new { Id = id }) == 1;
    }

    /// <summary>How many servers name <paramref name="host"/> as theirs (a compute service that has some is not deleted).</summary>
    public async Task<long> CountServersOnHostAsync(string host)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM servers WHERE host = @Host", new { Host = host });
    }

    /// <summary>
    /// What the servers of each host use (<see cref="HostUsage"/>), by host name, of every host or of <paramref name="hosts"/>;
    /// a host without servers is not in it.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, HostUsage>> UsageAsync(IReadOnlyCollection<string>? hosts = null)
    {
        await using var c = await db.OpenAsync();
        return (await HostUsage.ReadAsync(c, null, db.Dialect, hosts)).ToDictionary(u => u.Host, StringComparer.Ordinal);
    }

    /// <summary>The servers placed on <paramref name="hosts"/> and not deleted (those <see cref="HostUsage"/> counts), for os-hypervisors' server lists.</summary>
    public async Task<IReadOnlyList<ServerRow>> ListPlacedServersAsync(IReadOnlyCollection<string> hosts)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ServerRow>($"""
            SELECT id, instance_number, host FROM servers
            WHERE host {db.Dialect.In("@Hosts")} AND vm_state <> @Deleted
            ORDER BY created_at, id
            """, new { Deleted = VmStates.Deleted, Hosts = hosts.ToArray() })];
    }
}
