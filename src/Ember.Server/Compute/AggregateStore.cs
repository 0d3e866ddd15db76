using System.Data.Common;
using System.Text.Json;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>A host aggregate (Nova's aggregates with their hosts and metadata); its availability zone is the metadata key of that name.</summary>
public sealed record AggregateRow(long Id, string Uuid, string Name, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<string> Hosts,
    DateTime CreatedAt, DateTime? UpdatedAt)
{
    public const string ZoneKey = "availability_zone";

    public string? Zone => Metadata.GetValueOrDefault(ZoneKey);
}

/// <summary>What a change of one aggregate sees: every aggregate as it is, and how many servers its hosts (and the hosts asked for) hold.</summary>
public sealed record AggregateState(AggregateRow Aggregate, IReadOnlyList<AggregateRow> All, Func<IReadOnlyCollection<string>, Task<long>> CountServersAsync);

/// <summary>
/// The SQL of host aggregates. Every change runs in one transaction under the "aggregates" lock, so the rules that
/// look across aggregates (unique names, one zone per host) hold under concurrent requests. A change of zones is
/// written through to the nova-compute rows of the hosts (<see cref="ServiceRow.Zone"/>), which the scheduler's
/// zone filter, os-services and os-availability-zone read: a host in an aggregate with a zone is in that zone, a
/// host that leaves the last one goes back to Nova's default zone.
/// </summary>
public sealed class AggregateStore(Database db)
{
    /// <summary>Nova's default_availability_zone: the zone of a compute host in no aggregate with one.</summary>
    public const string DefaultZone = "nova";

    private const string Lock = "aggregates";

    private sealed record Raw
    {
        public long Id { get; init; }
        public string Uuid { get; init; } = "";
        public string Name { get; init; } = "";
        public string Metadata { get; init; } = "{}";
        public DateTime CreatedAt { get; init; }
        public DateTime? UpdatedAt { get; init; }
    }

    private sealed record HostRow
    {
        public long AggregateId { get; init; }
        public string Host { get; init; } = "";
    }

    public async Task<IReadOnlyList<AggregateRow>> ListAsync()
    {
        await using var c = await db.OpenAsync();
        return await ReadAllAsync(c, null);
    }

    public async Task<AggregateRow?> FindAsync(long id) => (await ListAsync()).FirstOrDefault(a => a.Id == id);

    /// <summary>A new aggregate; Nova's 409 when the name is taken.</summary>
    public async Task<AggregateRow> CreateAsync(string name, string? zone, DateTime now)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, Lock);
        if ((await ReadAllAsync(c, tx)).Any(a => a.Name == name))
        {
            throw ApiException.Conflict($"Aggregate {name} already exists.");
        }

        var metadata = zone is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [AggregateRow.ZoneKey] = zone };
        var id = await c.ExecuteScalarAsync<long>("""
            INSERT INTO aggregates (uuid, name, metadata, created_at) VALUES (@Uuid, @Name, @Metadata, @Now) RETURNING id
            """, new { Uuid = Ids.NewUuid(), Name = name, Metadata = JsonSerializer.Serialize(metadata), Now = now }, tx);
        var created = (await ReadAllAsync(c, tx)).Single(a => a.Id == id);
        await tx.CommitAsync();
        return created;
    }

    /// <summary>
    /// Changes aggregate <paramref name="id"/> as <paramref name="change"/> decides from the current state (it throws
    /// the API's error to refuse), writes the result and the zones of the hosts it touches; null when there is no such aggregate.
    /// </summary>
    public async Task<AggregateRow?> ChangeAsync(long id, Func<AggregateState, Task<AggregateRow>> change, DateTime now)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, Lock);
        var all = await ReadAllAsync(c, tx);
        if (all.FirstOrDefault(a => a.Id == id) is not { } current)
        {
            return null;
        }

        var changed = await change(new AggregateState(current, all, hosts => CountServersAsync(c, tx, hosts)));
        if (changed.Name != current.Name && all.Any(a => a.Id != id && a.Name == changed.Name))
        {
            throw ApiException.Conflict($"Aggregate {changed.Name} already exists.");
        }

        await c.ExecuteAsync("UPDATE aggregates SET name = @Name, metadata = @Metadata, updated_at = @Now WHERE id = @Id",
            new { Id = id, changed.Name, Metadata = JsonSerializer.Serialize(changed.Metadata), Now = now }, tx);
        await c.ExecuteAsync("DELETE FROM aggregate_hosts WHERE aggregate_id = @Id", new { Id = id }, tx);
        foreach (var host in changed.Hosts)
        {
            await c.ExecuteAsync("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (@Id, @Host)", new { Id = id, Host = host }, tx);
        }

        var after = await ReadAllAsync(c, tx);
        await WriteZonesAsync(c, tx, current.Hosts.Union(changed.Hosts, StringComparer.Ordinal), all, after);
        await tx.CommitAsync();
        return after.Single(a => a.Id == id);
    }

    /// <summary>Deletes an empty aggregate; false when there is none. Nova's 400 when it still has hosts.</summary>
    public async Task<bool> DeleteAsync(long id)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await db.LockAsync(c, tx, Lock);
        if ((await ReadAllAsync(c, tx)).FirstOrDefault(a => a.Id == id) is not { } aggregate)
        {
            return false;
        }

        if (aggregate.Hosts.Count > 0)
        {
            throw ApiException.BadRequest($"Cannot remove host from aggregate {id}. Reason: Host aggregate is not empty.");
        }

        await c.ExecuteAsync("DELETE FROM aggregates WHERE id = @Id", new { Id = id }, tx);
        await tx.CommitAsync();
        return true;
    }

    /// <summary>Whether <paramref name="host"/> has a nova-compute service (an aggregate takes only those).</summary>
    public async Task<bool> IsComputeHostAsync(string host)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM compute_services WHERE host = @Host AND binary_name = @Compute",
            new { Host = host, Compute = ComputeServiceStore.ComputeBinary }) > 0;
    }

    /// <summary>
    /// The zone of each host touched: the zone of an aggregate with one that holds it, else Nova's default if it was in
    /// such an aggregate before; a host that was and is in none keeps the zone it registered with.
    /// </summary>
    private static async Task WriteZonesAsync(DbConnection c, DbTransaction tx, IEnumerable<string> hosts, IReadOnlyList<AggregateRow> before,
        IReadOnlyList<AggregateRow> after)
    {
        foreach (var host in hosts)
        {
            var zone = ZoneOf(after, host) ?? (ZoneOf(before, host) is null ? null : DefaultZone);
            if (zone is not null)
            {
                await c.ExecuteAsync("UPDATE compute_services SET zone = @Zone WHERE host = @Host AND binary_name = @Compute",
                    new { Zone = zone, Host = host, Compute = ComputeServiceStore.ComputeBinary }, tx);
            }
        }
    }

    private static string? ZoneOf(IReadOnlyList<AggregateRow> aggregates, string host) =>
        aggregates.FirstOrDefault(a => a.Zone is not null && a.Hosts.Contains(host, StringComparer.Ordinal))?.Zone;

    private async Task<long> CountServersAsync(DbConnection c, DbTransaction tx, IReadOnlyCollection<string> hosts) =>
        hosts.Count == 0
            ? 0
            : await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM servers WHERE host {db.Dialect.In("@Hosts")}",
                new { Hosts = hosts.ToArray() }, tx);

    private static async Task<IReadOnlyList<AggregateRow>> ReadAllAsync(DbConnection c, DbTransaction? tx)
    {
        var rows = await c.QueryAsync<Raw>("SELECT id, uuid, name, metadata, created_at, updated_at FROM aggregates ORDER BY id", transaction: tx);
        var hosts = (await c.QueryAsync<HostRow>("SELECT aggregate_id, host FROM aggregate_hosts ORDER BY host", transaction: tx))
            .ToLookup(h => h.AggregateId, h => h.Host);
        return [.. rows.Select(r => new AggregateRow(r.Id, r.Uuid, r.Name,
            JsonSerializer.Deserialize<Dictionary<string, string>>(r.Metadata) ?? new Dictionary<string, string>(), [.. hosts[r.Id]], r.CreatedAt, r.UpdatedAt))];
    }
}
