using System.Text.Json;
using Ember.Server.Common;

namespace Ember.Server.Compute;

// resize, confirmResize and revertResize (nova/compute/api.py), on the server's own host: Ember's hosts keep instance
// disks locally, so it resizes in place, as Nova does with allow_resize_to_same_host=True on the same host.
public sealed partial class ComputeService
{
    private static readonly string[] s_resizeStates = [VmStates.Active, VmStates.Stopped];
    private static readonly string[] s_resizedStates = [VmStates.Resized];

    /// <summary>
    /// resize: the lock, the host, the states, then the flavor (another one, visible to the project, no smaller root
    /// disk); the API claims resize_prep, writes the new flavor keeping the old one, and the host does the rest.
    /// </summary>
    public async Task ResizeAsync(RequestContext ctx, string requestId, ServerRow server, FlavorRow flavor)
    {
        RequireUnlocked(ctx, server);
        var host = await HostOfAsync(server);
        RequireState(server, "resize", s_resizeStates);
        var current = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        if (flavor.Id == current.Id)
        {
            throw ApiException.BadRequest("When resizing, instances must change flavor!");
        }

        var bdms = await store.ListBdmsAsync(server.Id);
        var volumeBacked = server.ImageId is null || bdms.Any(b => b.BootIndex == 0);
        if (!volumeBacked && flavor.Disk < current.Disk)
        {
            throw ApiException.BadRequest("Server disk was unable to be resized because: Unable to resize disk down.");
        }

        if (!volumeBacked && flavor.Disk == 0 && current.Disk > 0)
        {
            throw ApiException.BadRequest("Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.");
        }

        if (!await store.ClaimTaskAsync(server.Id, s_resizeStates, "resize_prep"))
        {
            RequireState(await store.FindServerAsync(server.Id) ?? server with { TaskState = "resize_prep" }, "resize", s_resizeStates);
            throw InvalidState(server with { TaskState = "resize_prep" }, "resize");
        }

        await store.SetResizedFlavorAsync(server.Id, flavor, server.FlavorJson);
        await store.StartActionAsync(server.Id, requestId, "resize", ctx);
        await store.StartMigrationAsync(new MigrationRow
        {
            ServerId = server.Id,
            ProjectId = server.ProjectId,
            UserId = ctx.UserId,
            SourceCompute = server.Host,
            DestCompute = server.Host,
            OldFlavorId = current.Id,
            NewFlavorId = flavor.Id,
            MigrationType = "resize",
            Status = "pre-migrating",
        });
        await host.ResizeAsync(new ResizeServer(requestId, server.Id, ResizeStep.Resize), CancellationToken.None);
    }

    /// <summary>confirmResize: from VERIFY_RESIZE; the host drops the kept root disk, the server is ACTIVE (or SHUTOFF) on the new flavor.</summary>
    public Task ConfirmResizeAsync(RequestContext ctx, string requestId, ServerRow server) =>
        FinishResizeAsync(ctx, requestId, server, "confirmResize", "resize_confirming", ResizeStep.Confirm, "confirming");

    /// <summary>revertResize: from VERIFY_RESIZE; the host puts the kept root disk and the old flavor back.</summary>
    public Task RevertResizeAsync(RequestContext ctx, string requestId, ServerRow server) =>
        FinishResizeAsync(ctx, requestId, server, "revertResize", "resize_reverting", ResizeStep.Revert, "reverting");

    private async Task FinishResizeAsync(RequestContext ctx, string requestId, ServerRow server, string action, string taskState, ResizeStep step,
        string migrationStatus)
    {
        RequireUnlocked(ctx, server);
        var host = await HostOfAsync(server);
        RequireState(server, action, s_resizedStates);
        if (!await store.ClaimTaskAsync(server.Id, s_resizedStates, taskState))
        {
            throw InvalidState(await store.FindServerAsync(server.Id) ?? server, action);
        }

        await store.StartActionAsync(server.Id, requestId, action, ctx);
        await store.SetMigrationStatusAsync(server.Id, "resize", migrationStatus);
        await host.ResizeAsync(new ResizeServer(requestId, server.Id, step), CancellationToken.None);
    }
}
