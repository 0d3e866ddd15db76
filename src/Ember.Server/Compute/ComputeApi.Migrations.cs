using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-migrations (nova/api/openstack/compute/migrations.py), admin only: the resizes and evacuations Ember recorded
// (ComputeStore.Migrations). /servers/{id}/migrations lists a server's live migrations in progress: Ember does not
// live-migrate, so the list is empty and no migration of it is found.
public static partial class ComputeApi
{
    /// <summary>2.23: migration_type in the view and the type filter; /servers/{id}/migrations.</summary>
    private const int MigrationTypeVersion = 23;

    /// <summary>2.59: uuid, newest first, limit/marker (a uuid), changes-since and the next link.</summary>
    private const int MigrationPagingVersion = 59;

    /// <summary>2.80: user_id and project_id in the view and as filters.</summary>
    private const int MigrationOwnerVersion = 80;

    private static void MapMigrations(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-migrations", async (HttpContext http, ComputeStore store) =>
        {
            Authorize(http, "os_compute_api:os-migrations:index");
            var version = ComputeVersion.Of(http);
            var query = http.Request.Query;
            var paging = version.AtLeast(MigrationPagingVersion);
            var owner = version.AtLeast(MigrationOwnerVersion);
            var marker = paging ? NonEmpty(query["marker"]) : null;
            var limit = paging ? Math.Min(QueryParams.Limit(query) ?? MaxListLimit, MaxListLimit) : (int?)null;
            var page = await store.ListMigrationsAsync(new MigrationQuery(
                Host: NonEmpty(query["host"]),
                Status: NonEmpty(query["status"]),
                ServerId: NonEmpty(query["instance_uuid"]),
                MigrationType: version.AtLeast(MigrationTypeVersion) ? NonEmpty(query["migration_type"]) : null,
                SourceCompute: NonEmpty(query["source_compute"]),
                ChangesSince: paging ? ChangesTime(query, "changes-since") : null,
                ChangesBefore: version.AtLeast(66) ? ChangesTime(query, "changes-before") : null,
                UserId: owner ? NonEmpty(query["user_id"]) : null,
                ProjectId: owner ? NonEmpty(query["project_id"]) : null,
                Marker: marker,
                Limit: limit)) ?? throw ApiException.BadRequest($"Marker {marker} could not be found.");
            var body = new JsonObject { ["migrations"] = new JsonArray([.. page.Items.Select(m => (JsonNode)MigrationJson(m, version))]) };
            if (paging && QueryParams.NextLink(http, page, m => m.Uuid, limit) is { } next)
            {
                body["migrations_links"] = next;
            }

            return Json.Reply(body);
        });
        v21.MapGet("/servers/{id}/migrations", async (HttpContext http, ComputeStore store, string id) =>
        {
            RequireVersion(http, MigrationTypeVersion);
            var context = Authorize(http, "os_compute_api:servers:migrations:index");
            await FindServerAsync(store, context, id);
            return Json.Reply(new JsonObject { ["migrations"] = new JsonArray() });
        });
        v21.MapGet("/servers/{id}/migrations/{migrationId}", (HttpContext http, ComputeStore store, string id, string migrationId) =>
            NoLiveMigrationAsync(http, store, id, migrationId, "os_compute_api:servers:migrations:show"));
        v21.MapDelete("/servers/{id}/migrations/{migrationId}", (HttpContext http, ComputeStore store, string id, string migrationId) =>
            NoLiveMigrationAsync(http, store, id, migrationId, "os_compute_api:servers:migrations:delete"));
    }

    /// <summary>A live migration of a server Ember has: none, so Nova's 404 once the server is found.</summary>
    private static async Task<IResult> NoLiveMigrationAsync(HttpContext http, ComputeStore store, string id, string migrationId, string action)
    {
        RequireVersion(http, MigrationTypeVersion);
        var context = Authorize(http, action);
        await FindServerAsync(store, context, id);
        throw ApiException.NotFound($"Migration {migrationId} not found for instance {id}");
    }

    private static JsonObject MigrationJson(MigrationRow migration, Microversion version)
    {
        var json = new JsonObject
        {
            ["id"] = migration.Id,
            ["status"] = migration.Status,
            ["instance_uuid"] = migration.ServerId,
            // Ember's node of a host is the host itself (hypervisor_hostname = host).
            ["source_node"] = migration.SourceCompute,
            ["source_compute"] = migration.SourceCompute,
            ["dest_node"] = migration.DestCompute,
            ["dest_compute"] = migration.DestCompute,
            ["dest_host"] = migration.DestHost,
            ["old_instance_type_id"] = FlavorNumber(migration.OldFlavorId),
            ["new_instance_type_id"] = FlavorNumber(migration.NewFlavorId),
            ["created_at"] = Ids.CinderTime(migration.CreatedAt),
            ["updated_at"] = migration.UpdatedAt is { } updated ? Ids.CinderTime(updated) : null,
        };
        if (version.AtLeast(MigrationTypeVersion))
        {
            json["migration_type"] = migration.MigrationType;
        }

        if (version.AtLeast(MigrationPagingVersion))
        {
            json["uuid"] = migration.Uuid;
        }

        if (version.AtLeast(MigrationOwnerVersion))
        {
            json["user_id"] = migration.UserId;
            json["project_id"] = migration.ProjectId;
        }

        return json;
    }

    /// <summary>Nova shows its flavors' internal integer ids; Ember's flavors have only their flavor id, shown when it is an integer.</summary>
    private static long? FlavorNumber(string? flavorId) =>
        long.TryParse(flavorId, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;
}
