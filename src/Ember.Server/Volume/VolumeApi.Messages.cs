using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// User messages (cinder/api/v3/messages.py): from 3.3; paging, sorting and the column filters from 3.5.
public static partial class VolumeApi
{
    private static void MapMessages(RouteGroupBuilder v3)
    {
        v3.MapGet("/messages", (Delegate)(ListMessagesAsync));
        v3.MapGet("/messages/{id}", (Delegate)(ShowMessageAsync));
        v3.MapDelete("/messages/{id}", (Delegate)(DeleteMessageAsync));
    }

    private static async Task<IResult> ListMessagesAsync(HttpContext http)
    {
        RequireVersion(http, VolumeVersions.Messages);
        var ctx = Authorize(http, "message:get_all");
        var query = http.Request.Query;
        var filter = new MessageFilter();
        var page = PageRequest.All;
        if (http.VolumeVersion() >= VolumeVersions.MessagesPagination)
        {
            page = PageRequestOf(http.Request);
            filter = new MessageFilter
            {
                ResourceUuid = query["resource_uuid"].FirstOrDefault(),
                ResourceType = query["resource_type"].FirstOrDefault(),
                EventId = query["event_id"].FirstOrDefault(),
                RequestId = query["request_id"].FirstOrDefault(),
                MessageLevel = query["message_level"].FirstOrDefault(),
                ProjectId = query["project_id"].FirstOrDefault(),
            };
        }

        var messages = await Service(http).ListMessagesAsync(ctx, IsTrue(http.Request, "all_tenants"), filter, page);
        var body = new JsonObject { ["messages"] = new JsonArray([.. messages.Items.Select(m => Message(http, m))]) };
        if (QueryParams.NextLink(http, messages, m => m.Id, page.Limit) is { } next)
        {
            body["messages_links"] = next;
        }

        return Json.Reply(body);
    }

    private static async Task<IResult> ShowMessageAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.Messages);
        var ctx = Authorize(http, "message:get");
        return Json.Reply(new JsonObject { ["message"] = Message(http, await Service(http).FindVisibleMessageAsync(ctx, id)) });
    }

    private static async Task<IResult> DeleteMessageAsync(HttpContext http, string id)
    {
        RequireVersion(http, VolumeVersions.Messages);
        var ctx = Authorize(http, "message:delete");
        await Service(http).DeleteMessageAsync(ctx, id);
        return Results.NoContent();
    }

    /// <summary>Cinder's message view: resource_uuid only when the message is about one resource.</summary>
    private static JsonObject Message(HttpContext http, MessageRow m)
    {
        var view = new JsonObject
        {
            ["id"] = m.Id,
            ["event_id"] = m.EventId,
            ["user_message"] = m.UserMessage,
            ["message_level"] = m.MessageLevel,
            ["created_at"] = Ids.CinderTime(m.CreatedAt),
            ["guaranteed_until"] = Ids.CinderTime(m.ExpiresAt),
            ["request_id"] = m.RequestId,
            ["links"] = VolumeJson.Links(http.BaseUrl(), m.ProjectId, "messages", m.Id),
            ["resource_type"] = m.ResourceType,
        };
        if (m.ResourceUuid is { } uuid)
        {
            view["resource_uuid"] = uuid;
        }

        return view;
    }
}
