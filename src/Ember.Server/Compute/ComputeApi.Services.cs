using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-services (nova/api/openstack/compute/services.py): the service registry, admin only. Before 2.53 a service is
// named by an integer id and changed through the action URLs (disable, enable, disable-log-reason, force-down);
// from 2.53 by its uuid, with one PUT that takes status, disabled_reason and forced_down.
public static partial class ComputeApi
{
    /// <summary>2.11: forced_down is shown and the force-down action exists.</summary>
    private const int ForcedDownVersion = 11;

    /// <summary>2.53: services and hypervisors are named by uuid; PUT /os-services/{id}; hypervisor search by query.</summary>
    private const int UuidIdsVersion = 53;

    private static void MapServices(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-services", async (HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry) =>
        {
            Authorize(http, "os_compute_api:os-services:list");
            var query = http.Request.Query;
            var services = await store.ListAsync(NonEmpty(query["host"]), NonEmpty(query["binary"]));
            var version = ComputeVersion.Of(http);
            return Json.Reply(new JsonObject { ["services"] = new JsonArray([.. services.Select(s => (JsonNode)ServiceJson(s, registry, version))]) });
        });
        v21.MapPut("/os-services/{id}", UpdateServiceAsync);
        v21.MapDelete("/os-services/{id}", async (HttpContext http, ComputeServiceStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-services:delete");
            var service = await FindServiceAsync(store, ComputeVersion.Of(http), id);
            if (service.BinaryName == ComputeServiceStore.ComputeBinary && await store.CountServersOnHostAsync(service.Host) > 0)
            {
                throw ApiException.Conflict("Unable to delete compute service that is hosting instances. Migrate or delete the instances first.");
            }

            await store.DeleteAsync(service.Id);
            return Results.NoContent();
        });
    }

    private static string? NonEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static JsonObject ServiceJson(ServiceRow service, ComputeServiceRegistry registry, Microversion version)
    {
        var json = new JsonObject
        {
            ["id"] = version.AtLeast(UuidIdsVersion) ? service.Id : service.Serial,
            ["binary"] = service.BinaryName,
            ["host"] = service.Host,
            ["zone"] = service.Zone,
            ["status"] = service.Disabled ? "disabled" : "enabled",
            ["state"] = registry.IsUp(service) ? "up" : "down",
            ["updated_at"] = Ids.CinderTime(service.UpdatedAt),
            ["disabled_reason"] = service.DisabledReason,
        };
        if (version.AtLeast(ForcedDownVersion))
        {
            json["forced_down"] = service.ForcedDown;
        }

        return json;
    }

    /// <summary>A service by the id the request's microversion uses: a uuid from 2.53, an integer before.</summary>
    private static async Task<ServiceRow> FindServiceAsync(ComputeServiceStore store, Microversion version, string id)
    {
        ServiceRow? service;
        if (version.AtLeast(UuidIdsVersion))
        {
            service = Ids.IsUuid(id) ? await store.FindAsync(id) : throw ApiException.BadRequest($"Invalid uuid {id}");
        }
        else
        {
            service = int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var serial)
                ? await store.FindBySerialAsync(serial)
                : throw ApiException.BadRequest("Invalid input received: id must be an integer");
        }

        return service ?? throw ApiException.NotFound($"Service {id} could not be found.");
    }

    private static async Task<IResult> UpdateServiceAsync(HttpContext http, ComputeServiceStore store, ComputeServiceRegistry registry, string id)
    {
        Authorize(http, "os_compute_api:os-services:update");
        var version = ComputeVersion.Of(http);
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        return version.AtLeast(UuidIdsVersion)
            ? await UpdateServiceByIdAsync(store, registry, version, id, body)
            : await ServiceActionAsync(store, registry, version, id, body);
    }

    /// <summary>2.53's PUT /os-services/{uuid}: status, disabled_reason, forced_down; nova-compute services only.</summary>
    private static async Task<IResult> UpdateServiceByIdAsync(ComputeServiceStore store, ComputeServiceRegistry registry, Microversion version, string id,
        JsonObject body)
    {
        RejectExtraKeys(body, "status", "disabled_reason", "forced_down");
        var status = Json.OptionalString(body, "status");
        if (status is not (null or "enabled" or "disabled"))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute status. Value: {status}. '{status}' is not one of ['enabled', 'disabled']");
        }

        var reason = DisabledReason(body);
        var forcedDown = Json.OptionalBoolean(body, "forced_down");
        if (status is null && forcedDown is null)
        {
            throw ApiException.BadRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
        }

        if (reason is not null && status != "disabled")
        {
            throw ApiException.BadRequest($"Specifying 'disabled_reason' with status '{status ?? "None"}' is invalid.");
        }

        var service = await FindServiceAsync(store, version, id);
        RequireCompute(service.BinaryName);
        if (status is not null)
        {
            await store.SetDisabledAsync(service.Id, status == "disabled", reason, registry.Now());
        }

        if (forcedDown is { } down)
        {
            await store.SetForcedDownAsync(service.Id, down, registry.Now());
        }

        var updated = await store.FindAsync(service.Id) ?? throw ApiException.NotFound($"Service {id} could not be found.");
        return Json.Reply(new JsonObject { ["service"] = ServiceJson(updated, registry, version) });
    }

    /// <summary>Before 2.53: PUT /os-services/{disable|enable|disable-log-reason|force-down} with the host and binary in the body.</summary>
    private static async Task<IResult> ServiceActionAsync(ComputeServiceStore store, ComputeServiceRegistry registry, Microversion version, string action,
        JsonObject body)
    {
        if (action is not ("enable" or "disable" or "disable-log-reason") && !(action == "force-down" && version.AtLeast(ForcedDownVersion)))
        {
            throw ApiException.NotFound("Unknown action");
        }

        var host = Json.OptionalString(body, "host") ?? throw ApiException.BadRequest("'host' is a required property");
        var binary = Json.OptionalString(body, "binary") ?? throw ApiException.BadRequest("'binary' is a required property");
        RequireCompute(binary);
        var service = await store.FindAsync(host, binary) ?? throw ApiException.NotFound($"Could not find binary {binary} on host {host}.");
        var reply = new JsonObject { ["host"] = host, ["binary"] = binary };
        if (action == "force-down")
        {
            var forcedDown = Json.OptionalBoolean(body, "forced_down") ?? throw ApiException.BadRequest("Missing forced_down field");
            await store.SetForcedDownAsync(service.Id, forcedDown, registry.Now());
            reply["forced_down"] = forcedDown;
            return Json.Reply(new JsonObject { ["service"] = reply });
        }

        var reason = action == "disable-log-reason" ? DisabledReason(body) ?? throw ApiException.BadRequest("Missing disabled reason field") : null;
        var disabled = action != "enable";
        await store.SetDisabledAsync(service.Id, disabled, reason, registry.Now());
        reply["status"] = disabled ? "disabled" : "enabled";
        if (reason is not null)
        {
            reply["disabled_reason"] = reason;
        }

        return Json.Reply(new JsonObject { ["service"] = reply });
    }

    /// <summary>Nova changes only nova-compute services (the others are not scheduled to).</summary>
    private static void RequireCompute(string binary)
    {
        if (binary != ComputeServiceStore.ComputeBinary)
        {
            throw ApiException.BadRequest($"Updating a {binary} service is not supported. Only nova-compute services can be updated.");
        }
    }

    /// <summary>disabled_reason: a string of 1 to 255 characters (Nova's schema), or absent.</summary>
    private static string? DisabledReason(JsonObject body)
    {
        var reason = Json.OptionalString(body, "disabled_reason");
        return reason is null || reason.Length is >= 1 and <= 255
            ? reason
            : throw ApiException.BadRequest($"Invalid input for field/attribute disabled_reason. Value: {reason}. It must be a string of 1 to 255 characters.");
    }

    private static void RejectExtraKeys(JsonObject body, params string[] allowed)
    {
        if (body.FirstOrDefault(kv => !allowed.Contains(kv.Key)) is { Key: { } extra })
        {
            throw ApiException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        }
    }
}
