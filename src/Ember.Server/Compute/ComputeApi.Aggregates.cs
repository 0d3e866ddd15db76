using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-aggregates (nova/api/openstack/compute/aggregates.py and compute/api.py's AggregateAPI), admin only: named groups
// of compute hosts with metadata. The metadata key availability_zone puts the hosts in that zone, which servers then
// ask for. Every answer is 200, Nova's for backwards compatibility; 2.41 adds the uuid.
public static partial class ComputeApi
{
    /// <summary>2.41: aggregates show their uuid.</summary>
    private const int AggregateUuidVersion = 41;

    /// <summary>Nova's metadata key pattern for aggregates.</summary>
    [GeneratedRegex("^[a-zA-Z0-9-_:. ]{1,255}$", RegexOptions.CultureInvariant)]
    private static partial Regex AggregateMetadataKey();

    private static void MapAggregates(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-aggregates", async (HttpContext http, AggregateStore store) =>
        {
            Authorize(http, "os_compute_api:os-aggregates:index");
            var version = ComputeVersion.Of(http);
            return Json.Reply(new JsonObject { ["aggregates"] = new JsonArray([.. (await store.ListAsync()).Select(a => (JsonNode)AggregateJson(a, version, full: true))]) });
        });
        v21.MapPost("/os-aggregates", async (HttpContext http, AggregateStore store) =>
        {
            Authorize(http, "os_compute_api:os-aggregates:create");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "aggregate");
            RejectExtraKeys(body, "name", "availability_zone");
            var name = AggregateName(Json.OptionalString(body, "name") ?? throw ApiException.BadRequest("'name' is a required property"));
            var zone = Json.OptionalString(body, "availability_zone") is { } z ? AggregateZoneName(z) : null;
            var created = await store.CreateAsync(name, zone, Ids.Now());
            return Json.Reply(new JsonObject { ["aggregate"] = AggregateJson(created, ComputeVersion.Of(http), full: false) });
        });
        v21.MapGet("/os-aggregates/{id}", async (HttpContext http, AggregateStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-aggregates:show");
            var aggregate = await store.FindAsync(AggregateId(id)) ?? throw AggregateNotFound(id);
            return Json.Reply(new JsonObject { ["aggregate"] = AggregateJson(aggregate, ComputeVersion.Of(http), full: true) });
        });
        v21.MapPut("/os-aggregates/{id}", async (HttpContext http, AggregateStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-aggregates:update");
            var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "aggregate");
            RejectExtraKeys(body, "name", "availability_zone");
            if (body.Count == 0)
            {
                throw ApiException.BadRequest("Invalid input for field/attribute aggregate. Value: {}. {} does not have enough properties");
            }

            var name = Json.OptionalString(body, "name") is { } n ? AggregateName(n) : null;
            // A null zone is refused by the zone rule below, as Nova refuses an empty one.
            var zoneGiven = body.ContainsKey("availability_zone");
            var zone = Json.OptionalString(body, "availability_zone");
            var updated = await store.ChangeAsync(AggregateId(id), async state =>
            {
                var aggregate = state.Aggregate;
                if (zoneGiven)
                {
                    await CheckZoneChangeAsync(state, zone, [], "Cannot update aggregate");
                    aggregate = aggregate with { Metadata = WithZone(aggregate.Metadata, zone!) };
                }

                return name is null ? aggregate : aggregate with { Name = name };
            }, Ids.Now()) ?? throw AggregateNotFound(id);
            return Json.Reply(new JsonObject { ["aggregate"] = AggregateJson(updated, ComputeVersion.Of(http), full: true) });
        });
        v21.MapDelete("/os-aggregates/{id}", async (HttpContext http, AggregateStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-aggregates:delete");
            return await store.DeleteAsync(AggregateId(id)) ? Results.Ok() : throw AggregateNotFound(id);
        });
        v21.MapPost("/os-aggregates/{id}/action", AggregateActionAsync);
    }

    private static async Task<IResult> AggregateActionAsync(HttpContext http, AggregateStore store, string id)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, args) = body.Count == 1 && body.First() is { Value: JsonObject a } only
            ? (only.Key, a)
            : throw ApiException.BadRequest("There is either no action or more than one action in the request body.");
        AggregateRow? changed;
        switch (action)
        {
            case "add_host":
                {
                    Authorize(http, "os_compute_api:os-aggregates:add_host");
                    var host = AggregateHost(args, "add_host");
                    if (!await store.IsComputeHostAsync(host))
                    {
                        throw ApiException.NotFound($"Compute host {host} could not be found.");
                    }

                    changed = await store.ChangeAsync(AggregateId(id), state =>
                    {
                        var aggregate = state.Aggregate;
                        if (aggregate.Zone is { } zone)
                        {
                            CheckHostsZone(state, zone, [host], $"Cannot add host to aggregate {aggregate.Id}", ErrorKind.Conflict);
                        }

                        return aggregate.Hosts.Contains(host, StringComparer.Ordinal)
                            ? throw ApiException.Conflict($"Aggregate {aggregate.Id} already has host {host}.")
                            : Task.FromResult(aggregate with { Hosts = [.. aggregate.Hosts, host] });
                    }, Ids.Now()) ?? throw AggregateNotFound(id);
                    break;
                }

            case "remove_host":
                {
                    Authorize(http, "os_compute_api:os-aggregates:remove_host");
                    var host = AggregateHost(args, "remove_host");
                    var notFound = ApiException.NotFound($"Cannot remove host {host} in aggregate {id}");
                    changed = await store.ChangeAsync(AggregateId(id, notFound), state => Task.FromResult(state.Aggregate.Hosts.Contains(host, StringComparer.Ordinal)
                        ? state.Aggregate with { Hosts = [.. state.Aggregate.Hosts.Where(h => h != host)] }
                        : throw notFound), Ids.Now()) ?? throw notFound;
                    break;
                }

            case "set_metadata":
                {
                    Authorize(http, "os_compute_api:os-aggregates:set_metadata");
                    RejectExtraKeys(args, "metadata");
                    var metadata = AggregateMetadata(args);
                    changed = await store.ChangeAsync(AggregateId(id), async state =>
                    {
                        if (metadata.TryGetValue(AggregateRow.ZoneKey, out var zone))
                        {
                            await CheckZoneChangeAsync(state, zone, [], "Cannot update metadata of aggregate");
                        }

                        var merged = state.Aggregate.Metadata.ToDictionary(StringComparer.Ordinal);
                        foreach (var (key, value) in metadata)
                        {
                            if (value is null)
                            {
                                merged.Remove(key);
                            }
                            else
                            {
                                merged[key] = value;
                            }
                        }

                        return merged.Count > Limits.MaxMetadataItems
                            ? throw ApiException.BadRequest($"Cannot update metadata of aggregate {state.Aggregate.Id}. Reason: more than {Limits.MaxMetadataItems} items.")
                            : state.Aggregate with { Metadata = merged };
                    }, Ids.Now()) ?? throw AggregateNotFound(id);
                    break;
                }

            default:
                throw ApiException.BadRequest($"Aggregate does not have {action} action");
        }

        return Json.Reply(new JsonObject { ["aggregate"] = AggregateJson(changed, ComputeVersion.Of(http), full: true) });
    }

    /// <summary>
    /// Nova's is_safe_to_update_az for a change of the aggregate's zone: no empty name, none of its hosts in an
    /// aggregate of another zone, and no servers on its hosts when the zone really changes (they keep the zone they
    /// were placed in). All 400.
    /// </summary>
    private static async Task CheckZoneChangeAsync(AggregateState state, string? zone, IReadOnlyList<string> hosts, string refusal)
    {
        var aggregate = state.Aggregate;
        if (string.IsNullOrEmpty(zone))
        {
            throw ApiException.BadRequest($"{refusal} {aggregate.Id}. Reason: Aggregate {aggregate.Name} does not support empty named availability zone.");
        }

        AggregateZoneName(zone);
        CheckHostsZone(state, zone, hosts, $"{refusal} {aggregate.Id}", ErrorKind.BadRequest);
        if (zone != aggregate.Zone && await state.CountServersAsync([.. aggregate.Hosts, .. hosts]) > 0)
        {
            throw ApiException.BadRequest($"{refusal} {aggregate.Id}. Reason: One or more hosts contain instances in this zone.");
        }
    }

    /// <summary>A host is in one zone: another aggregate holding one of the hosts may not name a different zone.</summary>
    private static void CheckHostsZone(AggregateState state, string zone, IReadOnlyList<string> hosts, string refusal, ErrorKind kind)
    {
        var members = hosts.Count > 0 ? hosts : state.Aggregate.Hosts;
        var conflicting = state.All
            .Where(a => a.Id != state.Aggregate.Id && a.Zone is { } other && other != zone && a.Hosts.Intersect(members, StringComparer.Ordinal).Any())
            .Select(a => $"'{a.Zone}'")
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (conflicting.Count > 0)
        {
            throw new ApiException(kind, $"{refusal}. Reason: One or more hosts already in availability zone(s) [{string.Join(", ", conflicting)}].");
        }
    }

    private static Dictionary<string, string> WithZone(IReadOnlyDictionary<string, string> metadata, string zone)
    {
        var updated = metadata.ToDictionary(StringComparer.Ordinal);
        updated[AggregateRow.ZoneKey] = zone;
        return updated;
    }

    /// <summary>The view Nova builds from the aggregate object: create answers without hosts and metadata.</summary>
    private static JsonObject AggregateJson(AggregateRow aggregate, Microversion version, bool full)
    {
        var json = new JsonObject
        {
            ["availability_zone"] = aggregate.Zone,
            ["created_at"] = Ids.CinderTime(aggregate.CreatedAt),
            ["deleted"] = false,
            ["deleted_at"] = null,
            ["id"] = aggregate.Id,
            ["name"] = aggregate.Name,
            ["updated_at"] = aggregate.UpdatedAt is { } updated ? Ids.CinderTime(updated) : null,
        };
        if (full)
        {
            json["hosts"] = new JsonArray([.. aggregate.Hosts.Select(h => (JsonNode)h)]);
            json["metadata"] = Json.ToJson(aggregate.Metadata);
        }

        if (version.AtLeast(AggregateUuidVersion))
        {
            json["uuid"] = aggregate.Uuid;
        }

        return json;
    }

    /// <summary>An aggregate id is Nova's integer; anything else names no aggregate.</summary>
    private static long AggregateId(string id, ApiException? notFound = null) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : throw notFound ?? AggregateNotFound(id);

    private static ApiException AggregateNotFound(string id) => ApiException.NotFound($"Aggregate {id} could not be found.");

    /// <summary>Nova's name schema: 1 to 255 characters without surrounding spaces.</summary>
    private static string AggregateName(string name) =>
        name.Length is > 0 and <= Limits.MaxLength && name.Trim() == name
            ? name
            : throw ApiException.BadRequest($"Invalid input for field/attribute name. Value: {name}. It must be 1 to 255 characters without leading or trailing spaces.");

    /// <summary>Nova's az_name: a name as above without ':' (which separates zone, host and node in a server create).</summary>
    private static string AggregateZoneName(string zone) =>
        AggregateName(zone).Contains(':', StringComparison.Ordinal)
            ? throw ApiException.BadRequest($"Invalid input for field/attribute availability_zone. Value: {zone}. It may not contain ':'.")
            : zone;

    private static string AggregateHost(JsonObject args, string action)
    {
        RejectExtraKeys(args, "host");
        var host = Json.OptionalString(args, "host") ?? throw ApiException.BadRequest($"Invalid input for field/attribute {action}. 'host' is a required property");
        return host.Length is > 0 and <= Limits.MaxLength ? host : throw ApiException.BadRequest("Invalid input for field/attribute host. It must be 1 to 255 characters.");
    }

    /// <summary>set_metadata's map: keys of Nova's pattern, values strings of at most 255 characters or null (remove the key).</summary>
    private static Dictionary<string, string?> AggregateMetadata(JsonObject args)
    {
        if (args["metadata"] is not JsonObject map)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute set_metadata. 'metadata' is a required property and must be an object.");
        }

        if (map.Count > Limits.MaxMetadataItems)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute metadata. It has more than {Limits.MaxMetadataItems} properties.");
        }

        var metadata = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, node) in map)
        {
            if (!AggregateMetadataKey().IsMatch(key))
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute metadata. Additional properties are not allowed ('{key}' was unexpected)");
            }

            metadata[key] = node switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out string? text) && text.Length <= Limits.MaxLength => text,
                _ => throw ApiException.BadRequest($"Invalid input for field/attribute {key}. It must be a string of at most 255 characters or null."),
            };
        }

        return metadata;
    }
}
