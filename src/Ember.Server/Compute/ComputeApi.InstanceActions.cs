using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

/// <summary>os-instance-actions: what was done to a server, by whom, and how each step on its host ended.</summary>
public static partial class ComputeApi
{
    private static void MapInstanceActions(RouteGroupBuilder v21)
    {
        v21.MapGet("/servers/{id}/os-instance-actions", ListInstanceActionsAsync);
        v21.MapGet("/servers/{id}/os-instance-actions/{requestId}", ShowInstanceActionAsync);
    }

    private static async Task<IResult> ListInstanceActionsAsync(HttpContext http, ComputeStore store, string id)
    {
        var context = Authorize(http, "os_compute_api:os-instance-actions:list");
        var version = ComputeVersion.Of(http);
        var (_, actions) = await ActionsOfAsync(store, context, id, version);
        var query = http.Request.Query;
        if (version.AtLeast(58))
        {
            var since = ChangesTime(query, "changes-since");
            var before = version.AtLeast(66) ? ChangesTime(query, "changes-before") : null;
            actions = [.. actions.Where(a => (since is null || a.UpdatedAt >= since) && (before is null || a.UpdatedAt <= before))];
            if (query["marker"] is { Count: > 0 } marker)
            {
                var at = actions.ToList().FindIndex(a => a.RequestId == marker.ToString());
                actions = at >= 0 ? actions.Skip(at + 1).ToList() : throw ApiException.BadRequest($"Marker {marker} could not be found.");
            }
        }

        var limit = version.AtLeast(58) ? QueryParams.Limit(query) : null;
        var page = limit is { } n ? actions.Take(n).ToList() : actions;
        var body = new JsonObject { ["instanceActions"] = new JsonArray([.. page.Select(a => (JsonNode)ActionView(a, version))]) };
        if (limit is { } max && page.Count == max && max > 0)
        {
            body["links"] = new JsonArray(new JsonObject
            {
                ["rel"] = "next",
                ["href"] = $"{http.BaseUrl()}/compute/v2.1/servers/{id}/os-instance-actions?limit={max}&marker={Uri.EscapeDataString(page[^1].RequestId)}",
            });
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowInstanceActionAsync(HttpContext http, ComputeStore store, string id, string requestId)
    {
        var context = Authorize(http, "os_compute_api:os-instance-actions:show");
        var version = ComputeVersion.Of(http);
        var (projectId, actions) = await ActionsOfAsync(store, context, id, version);
        var action = actions.FirstOrDefault(a => a.RequestId == requestId)
            ?? throw ApiException.NotFound($"Action for request_id {requestId} on instance {id} not found");
        var json = ActionView(action, version);
        // Events: to admins only before 2.51, to everyone from 2.51; the traceback and (2.62) the host to admins only.
        var admin = http.Allows(context, "os_compute_api:os-instance-actions:events");
        if (admin || version.AtLeast(51))
        {
            var showDetails = http.Allows(context, "os_compute_api:os-instance-actions:events:details");
            var events = new JsonArray();
            foreach (var e in await store.ListActionEventsAsync(action.Id))
            {
                var view = new JsonObject
                {
                    ["event"] = e.Event,
                    ["start_time"] = Ids.CinderTime(e.StartTime),
                    ["finish_time"] = e.FinishTime is { } finished ? Ids.CinderTime(finished) : null,
                    ["result"] = e.Result,
                };
                if (admin)
                {
                    view["traceback"] = e.Traceback;
                }

                // 2.84: a failed event's fault message (events recorded before details were kept have it as traceback).
                if (version.AtLeast(84) && showDetails)
                {
                    view["details"] = e.Details ?? (e.Result == "Error" ? e.Traceback : null);
                }

                if (version.AtLeast(62))
                {
                    if (admin)
                    {
                        view["host"] = e.Host ?? "";
                    }

                    view["hostId"] = e.Host is { Length: > 0 } host
                        ? Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(projectId + host))[..28])
                        : "";
                }

                events.Add(view);
            }

            json["events"] = events;
        }

        return Json.Reply(new JsonObject { ["instanceAction"] = json });
    }

    /// <summary>
    /// The server's actions, newest first, and its project. A deleted server's actions stay readable from 2.21 (Nova
    /// reads them with read_deleted=yes), to an admin and to the project that owned it (the project of its create).
    /// </summary>
    private static async Task<(string ProjectId, IReadOnlyList<InstanceActionRow> Actions)> ActionsOfAsync(ComputeStore store,
        RequestContext context, string id, Microversion version)
    {
        if (await store.FindServerAsync(id) is { } server)
        {
            return context.IsCloudAdmin || server.ProjectId == context.ProjectId
                ? (server.ProjectId, await store.ListActionsAsync(id))
                : throw ApiException.NotFound($"Instance {id} could not be found.");
        }

        var actions = version.AtLeast(21) ? await store.ListActionsAsync(id) : [];
        var owner = actions.Count > 0 ? actions[^1].ProjectId : null;
        return owner is not null && (context.IsCloudAdmin || owner == context.ProjectId)
            ? (owner, actions)
            : throw ApiException.NotFound($"Instance {id} could not be found.");
    }

    private static JsonObject ActionView(InstanceActionRow action, Microversion version)
    {
        var json = new JsonObject
        {
            ["action"] = action.Action,
            ["instance_uuid"] = action.ServerId,
            ["request_id"] = action.RequestId,
            ["user_id"] = action.UserId,
            ["project_id"] = action.ProjectId,
            ["start_time"] = Ids.CinderTime(action.StartTime),
            ["message"] = action.Message,
        };
        if (version.AtLeast(58))
        {
            json["updated_at"] = Ids.CinderTime(action.UpdatedAt);
        }

        return json;
    }

    /// <summary>changes-since / changes-before: an ISO 8601 time; anything else is Nova's 400.</summary>
    internal static DateTime? ChangesTime(IQueryCollection query, string name)
    {
        if (query[name] is not { Count: > 0 } values)
        {
            return null;
        }

        // ISO 8601 only, as Nova's date-time check: DateTime.TryParse alone would take "2011/01/01" too.
        var text = values.ToString();
        return text.Length <= 64 && IsoDateTime().IsMatch(text) && DateTime.TryParse(text, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : throw ApiException.BadRequest($"Invalid input for query parameters {name}. Value: {text}. '{text}' is not a 'date-time'");
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex IsoDateTime();
}
