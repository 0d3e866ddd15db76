using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>lock/unlock and os-resetState: rows only, no host work.</summary>
public sealed partial class ComputeService
{
    /// <summary>lock: by the owner or an admin (Nova's locked_by), with a reason from 2.73; any state, and again when locked.</summary>
    public async Task LockAsync(RequestContext ctx, string requestId, ServerRow server, string? reason)
    {
        await store.StartActionAsync(server.Id, requestId, "lock", ctx);
        await store.SetLockAsync(server.Id, IsOwner(ctx, server) ? "owner" : "admin", reason);
    }

    /// <summary>
    /// unlock: a lock an admin set may be lifted by an admin only (Nova's unlock_override policy, 403 for anyone else);
    /// an unlocked server stays so.
    /// </summary>
    public async Task UnlockAsync(RequestContext ctx, string requestId, ServerRow server, Func<bool> mayOverride)
    {
        var expected = server.LockedBy is null || server.LockedBy == (IsOwner(ctx, server) ? "owner" : "admin");
        if (!expected && !mayOverride())
        {
            throw ApiException.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.");
        }

        await store.StartActionAsync(server.Id, requestId, "unlock", ctx);
        await store.SetLockAsync(server.Id, null, null);
    }

    /// <summary>os-resetState (admin): vm_state active or error, task_state cleared; the host and QEMU are not asked.</summary>
    public Task ResetStateAsync(ServerRow server, string state) => store.ResetStateAsync(server.Id, state switch
    {
        "active" => VmStates.Active,
        "error" => VmStates.Error,
        _ => throw ApiException.BadRequest($"Invalid input for field/attribute state. Value: {state}. '{state}' is not one of ['active', 'error']"),
    });

    /// <summary>Nova's is_expected_locked_by: the caller's project owns the server (an admin's own project counts as owner too).</summary>
    private static bool IsOwner(RequestContext ctx, ServerRow server) => ctx.ProjectId == server.ProjectId;
}
