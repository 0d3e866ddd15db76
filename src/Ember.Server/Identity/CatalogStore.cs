using System.Data.Common;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>One service of the catalog (/v3/services).</summary>
public sealed record ServiceRow(string Id, string Type, string? Name, string? Description, bool Enabled)
{
    public ServiceRow() : this("", "", null, null, false) { }
}

/// <summary>One endpoint of a service (/v3/endpoints): a URL for an interface in a region.</summary>
public sealed record EndpointRow(string Id, string ServiceId, string Interface, string? RegionId, string Url, bool Enabled)
{
    public EndpointRow() : this("", "", "", null, "", false) { }
}

/// <summary>
/// Keystone's catalog tables. The catalog is read for every token, so the two small tables are kept in memory and
/// read again only after a write (this process's writes; another process sharing the database sees them within
/// <see cref="s_cacheLifetime"/>).
/// </summary>
public sealed class CatalogStore(Database db)
{
    private static readonly TimeSpan s_cacheLifetime = TimeSpan.FromSeconds(5);

    private volatile Snapshot? _snapshot;

    public async Task<IReadOnlyList<ServiceRow>> ListServicesAsync() => (await SnapshotAsync()).Services;

    public async Task<IReadOnlyList<EndpointRow>> ListEndpointsAsync() => (await SnapshotAsync()).Endpoints;

    public async Task<ServiceRow> GetServiceAsync(string id) =>
        (await ListServicesAsync()).FirstOrDefault(s => s.Id == id) ?? throw ApiException.NotFound($"Could not find service: {id}.");

    public async Task<EndpointRow> GetEndpointAsync(string id) =>
        (await ListEndpointsAsync()).FirstOrDefault(e => e.Id == id) ?? throw ApiException.NotFound($"Could not find endpoint: {id}.");

    public async Task CreateServiceAsync(ServiceRow row) =>
        await WriteAsync("INSERT INTO services (id, type, name, description, enabled) VALUES (@Id, @Type, @Name, @Description, @Enabled)", row);

    public async Task UpdateServiceAsync(ServiceRow row) =>
        await WriteAsync("UPDATE services SET type = @Type, name = @Name, description = @Description, enabled = @Enabled WHERE id = @Id", row);

    /// <summary>Deletes the service and its endpoints (Keystone does the same).</summary>
    public async Task DeleteServiceAsync(string id)
    {
        _ = await GetServiceAsync(id);
        await WriteAsync("DELETE FROM services WHERE id = @Id", new { Id = id });
    }

    public async Task CreateEndpointAsync(EndpointRow row)
    {
        try
        {
            await WriteAsync("""
                INSERT INTO endpoints (id, service_id, interface, region_id, url, enabled)
                VALUES (@Id, @ServiceId, @Interface, @RegionId, @Url, @Enabled)
                """, row);
        }
        catch (DbException ex) when (Database.IsForeignKeyViolation(ex))
        {
            // The service was deleted in between.
            throw ApiException.NotFound($"Could not find service: {row.ServiceId}.");
        }
    }

    public async Task UpdateEndpointAsync(EndpointRow row) => await WriteAsync("""
        UPDATE endpoints SET service_id = @ServiceId, interface = @Interface, region_id = @RegionId, url = @Url, enabled = @Enabled
        WHERE id = @Id
        """, row);

    public async Task DeleteEndpointAsync(string id)
    {
        _ = await GetEndpointAsync(id);
        await WriteAsync("DELETE FROM endpoints WHERE id = @Id", new { Id = id });
    }

    private async Task WriteAsync(string sql, object row)
    {
        try
        {
            await using var c = await db.OpenAsync();
            await c.ExecuteAsync(sql, row);
        }
        finally
        {
            _snapshot = null;
        }
    }

    private async Task<Snapshot> SnapshotAsync()
    {
        if (_snapshot is { } current && current.ReadAt + s_cacheLifetime > DateTime.UtcNow)
        {
            return current;
        }

        await using var c = await db.OpenAsync();
        // The seeded services first, in the order of the seed (clients print them so), then the others by type.
        var seeded = ServiceCatalog.Seed.Select((s, i) => (Id: ServiceCatalog.StableId(s.Type), i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
        var services = (await c.QueryAsync<ServiceRow>("SELECT * FROM services ORDER BY type, id"))
            .OrderBy(s => seeded.GetValueOrDefault(s.Id, int.MaxValue)).ToList();
        var endpoints = (await c.QueryAsync<EndpointRow>(
            "SELECT id, service_id AS ServiceId, interface, region_id AS RegionId, url, enabled FROM endpoints ORDER BY service_id, interface, id")).ToList();
        var snapshot = new Snapshot(services, endpoints, DateTime.UtcNow);
        _snapshot = snapshot;
        return snapshot;
    }

    private sealed record Snapshot(IReadOnlyList<ServiceRow> Services, IReadOnlyList<EndpointRow> Endpoints, DateTime ReadAt);
}
