using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Volume;

// User messages (3.3, cinder/message/api.py): what went wrong in work that ran after the request had its 202.
public sealed partial class VolumeService
{
    public static ApiException MessageNotFound(string id) => ApiException.NotFound($"Message {id} could not be found.");

    /// <summary>The request id of the request being served (x-openstack-request-id), for the messages of the work it starts.</summary>
    private string CurrentRequestId() =>
        httpContext.HttpContext?.Response.Headers["x-openstack-request-id"].ToString() is { Length: > 0 } id ? id : "req-" + Ids.NewUuid();

    /// <summary>
    /// An error handler for background work: the resource's status change, then, when it applied (the resource was not
    /// deleted meanwhile), a message to its project saying which action failed and why (<see cref="FailureReasons"/>).
    /// Made on the request thread, so it keeps that request's id.
    /// </summary>
    private Func<Exception, Task> FailWithMessage(string projectId, string resourceType, string resourceId, MessageFields.Field action,
        MessageFields.Field detail, Func<Task<bool>> setStatus)
    {
        var requestId = CurrentRequestId();
        return async e =>
        {
            if (!await setStatus())
            {
                return;
            }

            await RecordFailureAsync(projectId, requestId, resourceType, resourceId, action, detail, FailureReasons.Of(e));
        };
    }

    /// <summary>Records that <paramref name="action"/> on a resource failed, kept for Volume:MessageTtlSeconds.</summary>
    private Task RecordFailureAsync(string projectId, string requestId, string resourceType, string resourceId, MessageFields.Field action,
        MessageFields.Field detail, string? reason)
    {
        var now = Ids.Now();
        return store.InsertMessageAsync(new MessageRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            RequestId = requestId,
            ResourceType = resourceType,
            ResourceUuid = resourceId,
            EventId = MessageFields.EventId(resourceType, action.Id, detail.Id),
            ActionId = action.Id,
            DetailId = detail.Id,
            Reason = reason,
            CreatedAt = now,
            ExpiresAt = now.AddSeconds(options.Value.MessageTtlSeconds),
        });
    }

    /// <summary>A message of the caller's project (any for the cloud admin) that has not expired.</summary>
    public async Task<MessageRow> FindVisibleMessageAsync(RequestContext ctx, string id)
    {
        var row = await store.FindMessageAsync(id, Ids.Now());
        return row is not null && CanSee(ctx, row.ProjectId) ? row : throw MessageNotFound(id);
    }

    public async Task<Page<MessageRow>> ListMessagesAsync(RequestContext ctx, bool allTenants, MessageFilter filter, PageRequest page) =>
        await store.ListMessagesAsync(filter with { ProjectId = ListScope(ctx, allTenants, filter.ProjectId) }, Ids.Now(), page)
            ?? throw MarkerNotFound(page.Marker);

    public async Task DeleteMessageAsync(RequestContext ctx, string id)
    {
        _ = await FindVisibleMessageAsync(ctx, id);
        if (!await store.DeleteMessageAsync(id))
        {
            throw MessageNotFound(id);
        }
    }
}
