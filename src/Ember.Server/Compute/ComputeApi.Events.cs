using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

// os-server-external-events: what Neutron, Cinder or Ironic tell Nova about a server (admin, or the service user). Each
// event gets its own answer (200 accepted, 400 a tag missing, 404 no such server, 422 a server on no host) and the reply
// is 207 when any was refused, 404 when none was accepted, as Nova. Ember's own services act synchronously, so nothing
// waits on these events: an accepted volume-extended or power-update is recorded as the instance action Nova records
// (extend_volume, start or stop), the others only logged.
public static partial class ComputeApi
{
    /// <summary>The most events one request may carry (Nova's schema has no bound; the request body's 1 MiB is one).</summary>
    private const int MaxExternalEvents = 1000;

    /// <summary>The event names, each with the microversion that added it.</summary>
    private static readonly (string Name, int Since)[] s_externalEventNames =
    [
        ("network-changed", 1), ("network-vif-plugged", 1), ("network-vif-unplugged", 1), ("network-vif-deleted", 1),
        ("volume-extended", 51), ("power-update", 76), ("accelerator-request-bound", 82), ("volume-reimaged", 93),
    ];

    /// <summary>Events Nova drops with a 400 when they carry no tag (the volume, the power state, the request).</summary>
    private static readonly string[] s_taggedEvents = ["volume-extended", "power-update", "accelerator-request-bound", "volume-reimaged"];

    private static readonly string[] s_eventStatuses = ["failed", "completed", "in-progress"];

    private static void MapExternalEvents(RouteGroupBuilder v21)
    {
        v21.MapPost("/os-server-external-events", CreateExternalEventsAsync);
    }

    private static async Task<IResult> CreateExternalEventsAsync(HttpContext http, ComputeStore store, ILoggerFactory loggers)
    {
        var context = Authorize(http, "os_compute_api:os-server-external-events:create");
        var version = ComputeVersion.Of(http);
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        RefuseUnknownProperties(body, "body", ["events"]);
        if (body["events"] is not JsonArray events || events.Count == 0 || events.Count > MaxExternalEvents)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute events. Value: {body["events"]?.ToJsonString() ?? "None"}. "
                + $"It must be an array of 1 to {MaxExternalEvents} events.");
        }

        var parsed = events.Select(e => ParseExternalEvent(e, version)).ToList();
        var requestId = RequestId(http);
        var reply = new JsonArray();
        var accepted = 0;
        foreach (var e in parsed)
        {
            var server = await store.FindServerAsync(e.ServerId);
            var (code, status) = server switch
            {
                null => (404, "failed"),
                _ when e.Tag is null && s_taggedEvents.Contains(e.Name) => (400, "failed"),
                { Host.Length: 0 } => (422, "failed"),
                _ => (200, "completed"),
            };
            if (code == 200)
            {
                accepted++;
                await AcceptExternalEventAsync(store, server!, e, requestId, context);
                LogExternalEvent(loggers.CreateLogger(typeof(ComputeApi)), e.Name, e.Tag ?? "", e.ServerId);
            }

            var echoed = new JsonObject { ["name"] = e.Name, ["server_uuid"] = e.ServerId, ["status"] = status, ["code"] = code };
            if (e.Tag is not null)
            {
                echoed["tag"] = e.Tag;
            }

            reply.Add(echoed);
        }

        if (accepted == 0)
        {
            throw ApiException.NotFound("No instances found for any event");
        }

        return Json.Reply(new JsonObject { ["events"] = reply }, accepted == parsed.Count ? StatusCodes.Status200OK : StatusCodes.Status207MultiStatus);
    }

    private sealed record ExternalEvent(string ServerId, string Name, string Status, string? Tag);

    /// <summary>One event by Nova's schema for this microversion: server_uuid and name required, status and tag optional, nothing else.</summary>
    private static ExternalEvent ParseExternalEvent(JsonNode? node, Microversion version)
    {
        if (node is not JsonObject e)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute events. Each event must be an object.");
        }

        RefuseUnknownProperties(e, "events", ["server_uuid", "name", "status", "tag"]);
        var serverId = Json.OptionalString(e, "server_uuid")
            ?? throw ApiException.BadRequest("Invalid input for field/attribute events. 'server_uuid' is a required property");
        if (!Ids.IsUuid(serverId))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute server_uuid. Value: {serverId}. '{serverId}' is not a 'uuid'");
        }

        var name = Json.OptionalString(e, "name")
            ?? throw ApiException.BadRequest("Invalid input for field/attribute events. 'name' is a required property");
        if (!s_externalEventNames.Any(n => n.Name == name && version.AtLeast(n.Since)))
        {
            var allowed = string.Join(", ", s_externalEventNames.Where(n => version.AtLeast(n.Since)).Select(n => $"'{n.Name}'"));
            throw ApiException.BadRequest($"Invalid input for field/attribute name. Value: {name}. '{name}' is not one of [{allowed}]");
        }

        var status = Json.OptionalString(e, "status") ?? "completed";
        if (!s_eventStatuses.Contains(status))
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute status. Value: {status}. '{status}' is not one of ['failed', 'completed', 'in-progress']");
        }

        var tag = Json.OptionalString(e, "tag");
        if (tag is { Length: > 255 })
        {
            throw ApiException.BadRequest("Invalid input for field/attribute tag. It is longer than 255 characters.");
        }

        return new ExternalEvent(serverId, name, status, tag);
    }

    /// <summary>The instance action Nova records for an accepted event, if any.</summary>
    private static async Task AcceptExternalEventAsync(ComputeStore store, ServerRow server, ExternalEvent e, string requestId, RequestContext context)
    {
        var action = e.Name switch
        {
            "volume-extended" => "extend_volume",
            "power-update" when e.Tag == "POWER_ON" => "start",
            "power-update" when e.Tag == "POWER_OFF" => "stop",
            _ => null,
        };
        if (action is not null)
        {
            await store.StartActionAsync(server.Id, requestId, action, context);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "External event {Name} ({Tag}) accepted for server {ServerId}")]
    private static partial void LogExternalEvent(ILogger logger, string name, string tag, string serverId);
}
