using Dapper;
using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>Instance actions and their events (os-instance-actions), server tags and the lock.</summary>
public sealed partial class ComputeStore
{
    /// <summary>Records that a request started <paramref name="action"/> on a server (Nova's action_start, on the API side).</summary>
    public async Task StartActionAsync(string serverId, string requestId, string action, RequestContext context)
    {
        await using var c = await db.OpenAsync();
        var now = Ids.Now();
        await c.ExecuteAsync("""
            INSERT INTO instance_actions (server_id, request_id, action, project_id, user_id, start_time, updated_at)
            VALUES (@ServerId, @RequestId, @Action, @ProjectId, @UserId, @Now, @Now)
            """, new { ServerId = serverId, RequestId = requestId, Action = action, ProjectId = context.ProjectId ?? "", context.UserId, Now = now });
    }

    /// <summary>
    /// Starts an event of the action that <paramref name="requestId"/> recorded on the server (Nova's
    /// action_event_start); null when there is none (a cast from an Ember before instance actions, or a recovery).
    /// </summary>
    /// <param name="eventName">The event's name given its action's (a spawn is a build, or an evacuate's rebuild).</param>
    public async Task<long?> StartActionEventAsync(string serverId, string requestId, Func<string, string> eventName, string? host)
    {
        await using var c = await db.OpenAsync();
        var action = await c.QueryFirstOrDefaultAsync<InstanceActionRow>(
            "SELECT * FROM instance_actions WHERE server_id = @ServerId AND request_id = @RequestId ORDER BY id DESC",
            new { ServerId = serverId, RequestId = requestId });
        if (action is null)
        {
            return null;
        }

        var actionId = action.Id;

        var now = Ids.Now();
        await c.ExecuteAsync("UPDATE instance_actions SET updated_at = @Now WHERE id = @Id", new { Id = actionId, Now = now });
        return await c.ExecuteScalarAsync<long>(
            "INSERT INTO instance_action_events (action_id, event, host, start_time) VALUES (@ActionId, @Event, @Host, @Now) RETURNING id",
            new { ActionId = actionId, Event = eventName(action.Action), Host = host, Now = now });
    }

    /// <summary>
    /// Finishes an event with "Success" or "Error"; an error marks its action's message "Error", as Nova does, and keeps
    /// its message as the event's details (2.84; Ember's failures are messages, so traceback and details agree).
    /// </summary>
    public async Task FinishActionEventAsync(long eventId, bool success, string? traceback)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var now = Ids.Now();
        var actionId = await c.ExecuteScalarAsync<long>("SELECT action_id FROM instance_action_events WHERE id = @Id", new { Id = eventId }, tx);
        await c.ExecuteAsync(
            "UPDATE instance_action_events SET finish_time = @Now, result = @Result, traceback = @Traceback, details = @Details WHERE id = @Id",
            new { Id = eventId, Now = now, Result = success ? "Success" : "Error", Traceback = traceback, Details = success ? null : traceback }, tx);
        await c.ExecuteAsync(
            "UPDATE instance_actions SET finish_time = @Now, updated_at = @Now, message = CASE WHEN @Error THEN 'Error' ELSE message END WHERE id = @Id",
            new { Id = actionId, Now = now, Error = !success }, tx);
        await tx.CommitAsync();
    }

    /// <summary>Records a finished event at once (the API's own steps, e.g. a create no host took).</summary>
    public async Task RecordActionEventAsync(string serverId, string requestId, string eventName, string? host, bool success, string? traceback)
    {
        if (await StartActionEventAsync(serverId, requestId, _ => eventName, host) is { } eventId)
        {
            await FinishActionEventAsync(eventId, success, traceback);
        }
    }

    /// <summary>A server's actions, newest first (Nova orders by created_at and id, descending).</summary>
    public async Task<IReadOnlyList<InstanceActionRow>> ListActionsAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<InstanceActionRow>(
            "SELECT * FROM instance_actions WHERE server_id = @ServerId ORDER BY start_time DESC, id DESC", new { ServerId = serverId })];
    }

    public async Task<IReadOnlyList<InstanceActionEventRow>> ListActionEventsAsync(long actionId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<InstanceActionEventRow>(
            "SELECT * FROM instance_action_events WHERE action_id = @Id ORDER BY start_time, id", new { Id = actionId })];
    }

    // ---- lock, tags ----

    /// <summary>Sets or clears the lock (<paramref name="lockedBy"/> null unlocks).</summary>
    public async Task SetLockAsync(string serverId, string? lockedBy, string? reason)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET locked_by = @LockedBy, locked_reason = @Reason, updated_at = @Now WHERE id = @Id",
            new { Id = serverId, LockedBy = lockedBy, Reason = reason, Now = Ids.Now() });
    }

    /// <summary>Sets vm_state and clears task_state (os-resetState), keeping the power state.</summary>
    public async Task ResetStateAsync(string serverId, string vmState)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET vm_state = @VmState, task_state = NULL, updated_at = @Now WHERE id = @Id",
            new { Id = serverId, VmState = vmState, Now = Ids.Now() });
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(string serverId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<string>("SELECT tag FROM server_tags WHERE server_id = @Id ORDER BY tag", new { Id = serverId })];
    }

    /// <summary>The tags of several servers at once (a list page).</summary>
    public async Task<ILookup<string, string>> ListTagsAsync(IReadOnlyList<string> serverIds)
    {
        if (serverIds.Count == 0)
        {
            return Array.Empty<string>().ToLookup(s => s);
        }

        await using var c = await db.OpenAsync();
        var rows = await c.QueryAsync<(string ServerId, string Tag)>(
            $"SELECT server_id, tag FROM server_tags WHERE server_id {db.Dialect.In("@Ids")} ORDER BY tag", new { Ids = serverIds.ToArray() });
        return rows.ToLookup(r => r.ServerId, r => r.Tag);
    }

    /// <summary>Every server's tags (the list's tag filters; tags are few per server).</summary>
    public async Task<ILookup<string, string>> ListAllTagsAsync()
    {
        await using var c = await db.OpenAsync();
        return (await c.QueryAsync<(string ServerId, string Tag)>("SELECT server_id, tag FROM server_tags")).ToLookup(r => r.ServerId, r => r.Tag);
    }

    /// <summary>Replaces a server's tags.</summary>
    public async Task ReplaceTagsAsync(string serverId, IReadOnlyCollection<string> tags)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("DELETE FROM server_tags WHERE server_id = @Id", new { Id = serverId }, tx);
        foreach (var tag in tags.Distinct(StringComparer.Ordinal))
        {
            await c.ExecuteAsync("INSERT INTO server_tags (server_id, tag) VALUES (@Id, @Tag)", new { Id = serverId, Tag = tag }, tx);
        }

        await c.ExecuteAsync("UPDATE servers SET updated_at = @Now WHERE id = @Id", new { Id = serverId, Now = Ids.Now() }, tx);
        await tx.CommitAsync();
    }

    /// <summary>Adds one tag; false when the server had it already.</summary>
    public async Task<bool> AddTagAsync(string serverId, string tag)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            INSERT INTO server_tags (server_id, tag)
            SELECT @Id, @Tag WHERE NOT EXISTS (SELECT 1 FROM server_tags WHERE server_id = @Id AND tag = @Tag)
            """, new { Id = serverId, Tag = tag }) == 1;
    }

    /// <summary>Removes one tag (null: all); false when it was not there.</summary>
    public async Task<bool> RemoveTagAsync(string serverId, string? tag)
    {
        await using var c = await db.OpenAsync();
        if (tag is null)
        {
            await c.ExecuteAsync("DELETE FROM server_tags WHERE server_id = @Id", new { Id = serverId });
            return true;
        }

        return await c.ExecuteAsync("DELETE FROM server_tags WHERE server_id = @Id AND tag = @Tag", new { Id = serverId, Tag = tag }) > 0;
    }
}
