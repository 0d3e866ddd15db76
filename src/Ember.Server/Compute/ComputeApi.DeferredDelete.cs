using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

// restore and forceDelete (Nova's os-deferred-delete). Ember deletes at once, as Nova does with its default
// reclaim_instance_interval of 0: no server is ever SOFT_DELETED, so restore always meets Nova's state check (409),
// and forceDelete is the plain delete.
public static partial class ComputeApi
{
    private static IResult RestoreServer(HttpContext http, RequestContext context, ServerRow server)
    {
        http.Enforce(context, "os_compute_api:os-deferred-delete:restore");
        throw ApiException.Conflict($"Cannot 'restore' instance {server.Id} while it is in vm_state {server.VmState}");
    }

    private static async Task<IResult> ForceDeleteServerAsync(HttpContext http, ComputeService compute, RequestContext context, ServerRow server)
    {
        http.Enforce(context, "os_compute_api:os-deferred-delete:force");
        await compute.DeleteAsync(context, RequestId(http), server);
        return Results.Accepted();
    }
}
