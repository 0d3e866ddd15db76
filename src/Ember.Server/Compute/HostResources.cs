using System.Data.Common;
using Dapper;
using Ember.Server.Data;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// What one server takes from its host, as Nova asks placement for it: the flavor's vCPUs and RAM, and its local
/// disk (root, unless it boots from a volume, plus ephemeral plus swap in whole GiB upwards).
/// </summary>
public sealed record ResourceRequest(long Vcpus, long MemoryMb, long DiskGb)
{
    public static ResourceRequest Of(FlavorRow flavor, bool bootFromVolume) =>
        new(flavor.Vcpus, flavor.Ram, (bootFromVolume ? 0 : flavor.Disk) + flavor.Ephemeral + (flavor.Swap + 1023) / 1024);
}

/// <summary>
/// What the servers placed on one host use (Nova's allocations against its compute node), added up in SQL from the
/// flavor each was built with by the same rule as <see cref="ResourceRequest.Of"/>. Servers count from the moment
/// they have a host until their row is gone, in ERROR too, as Nova's resource tracker counts them. The scheduler's
/// filters, its claims and os-hypervisors all read this one query.
/// </summary>
public sealed record HostUsage
{
    public string Host { get; init; } = "";
    public long Servers { get; init; }

    /// <summary>Servers with a task under way (Nova's current_workload).</summary>
    public long Workload { get; init; }
    public long Vcpus { get; init; }
    public long MemoryMb { get; init; }
    public long DiskGb { get; init; }

    public static HostUsage None(string host) => new() { Host = host };

    /// <summary>The use of every host that has servers, or of <paramref name="hosts"/> only.</summary>
    public static async Task<IReadOnlyList<HostUsage>> ReadAsync(DbConnection connection, DbTransaction? transaction, SqlDialect dialect,
        IReadOnlyCollection<string>? hosts = null)
    {
        string Flavor(string key) => dialect.JsonInteger("flavor_json", key);
        var sql = $"""
            SELECT host,
              COUNT(*) AS servers,
              CAST(SUM(CASE WHEN task_state IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS workload,
              CAST(SUM({Flavor(nameof(FlavorRow.Vcpus))}) AS BIGINT) AS vcpus,
              CAST(SUM({Flavor(nameof(FlavorRow.Ram))}) AS BIGINT) AS memory_mb,
              CAST(SUM(CASE WHEN image_id IS NULL THEN 0 ELSE {Flavor(nameof(FlavorRow.Disk))} END
                + {Flavor(nameof(FlavorRow.Ephemeral))} + ({Flavor(nameof(FlavorRow.Swap))} + 1023) / 1024) AS BIGINT) AS disk_gb
            FROM servers
            WHERE host <> '' AND vm_state <> @Deleted {(hosts is null ? "" : "AND host " + dialect.In("@Hosts"))}
            GROUP BY host
            """;
        return [.. await connection.QueryAsync<HostUsage>(sql, new { Deleted = VmStates.Deleted, Hosts = hosts?.ToArray() }, transaction)];
    }
}

/// <summary>
/// One resource class of a compute node as placement keeps it: the total the host reported, what is reserved for
/// the host itself, and the overcommit ratio.
/// </summary>
public sealed record Inventory(long Total, long Reserved, double AllocationRatio)
{
    /// <summary>
    /// Placement's rule: no single server may have more than the host has (max_unit = total), and all servers together
    /// no more than what is left after the reservation times the ratio. A resource the server does not ask for always fits.
    /// </summary>
    public bool Fits(long used, long requested) =>
        requested == 0 || (requested <= Total && used + requested <= (Total - Reserved) * AllocationRatio);

    /// <summary>What servers may still take: the usable total under the ratio less what they use (negative when over).</summary>
    public double Free(long used) => ((Total - Reserved) * AllocationRatio) - used;
}

/// <summary>
/// The inventories of a compute node under <see cref="ComputeOptions"/> (Nova's allocation ratios and reserved host
/// memory and disk), whether a server still fits on it, and the used figures os-hypervisors shows, which count the
/// reservation as used (Nova's resource tracker starts memory_mb_used at reserved_host_memory_mb).
/// </summary>
public sealed class HostInventory(IOptions<ComputeOptions> options)
{
    private ComputeOptions Options => options.Value;

    /// <summary>reserved_host_disk_mb in whole GiB, rounded up as Nova reports it to placement.</summary>
    public long ReservedDiskGb => (Options.ReservedHostDiskMb + 1023L) / 1024;

    public long ReservedMemoryMb => Options.ReservedHostMemoryMb;

    public Inventory Vcpus(ServiceRow node) => new(node.Vcpus, 0, Options.CpuAllocationRatio);

    public Inventory MemoryMb(ServiceRow node) => new(node.MemoryMb, ReservedMemoryMb, Options.RamAllocationRatio);

    public Inventory DiskGb(ServiceRow node) => new(node.LocalGb, ReservedDiskGb, Options.DiskAllocationRatio);

    public bool Fits(ServiceRow node, HostUsage used, ResourceRequest request) =>
        Vcpus(node).Fits(used.Vcpus, request.Vcpus)
        && MemoryMb(node).Fits(used.MemoryMb, request.MemoryMb)
        && DiskGb(node).Fits(used.DiskGb, request.DiskGb);
}
