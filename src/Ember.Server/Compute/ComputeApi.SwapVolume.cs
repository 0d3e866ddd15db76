using Ember.Server.Common;
using Ember.Server.Volume;

namespace Ember.Server.Compute;

// Swap volume (PUT os-volume_attachments/{volume} with another volumeId): Nova's checks, in Nova's order and with its
// statuses, before its compute driver would mirror the disk. Ember has no mirror yet, so a request that passes them all
// is refused with 501 and changes nothing.
public static partial class ComputeApi
{
    private static readonly string[] s_swapStates = [VmStates.Active, VmStates.Paused, VmStates.Suspended, VmStates.Stopped, VmStates.Resized];

    private static async Task CheckSwapVolumeAsync(VolumeService volumes, ComputeStore store, RequestContext context, string serverId, string oldId, string newId)
    {
        var old = await ProxiedVolumeAsync(volumes, context, oldId);
        VolumeRow replacement;
        try
        {
            replacement = await volumes.FindVisibleAsync(context, newId);
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            // The new volume is in the body, not the URL: a 400, as Nova answers.
            throw ApiException.BadRequest($"Volume {newId} could not be found.");
        }

        var server = await FindServerAsync(store, context, serverId);
        if (server.TaskState is not null || !s_swapStates.Contains(server.VmState))
        {
            throw ApiException.Conflict($"Cannot 'swap_volume' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        var attachments = await volumes.AttachmentsOfAsync([old.Id, replacement.Id]);
        var oldAttached = attachments[old.Id].Where(a => a.AttachStatus == "attached").ToList();
        if (old.Multiattach && oldAttached.Count > 1)
        {
            throw ApiException.BadRequest("Swapping multi-attach volumes with more than one read/write attachment is not supported.");
        }

        if (!oldAttached.Any(a => a.InstanceUuid == server.Id))
        {
            throw ApiException.BadRequest("Invalid volume: Old volume is attached to a different instance.");
        }

        if (attachments[replacement.Id].Any(a => a.AttachStatus == "attached"))
        {
            throw ApiException.BadRequest("Invalid volume: New volume must be detached in order to swap.");
        }

        if (replacement.Size < old.Size)
        {
            throw ApiException.BadRequest("Invalid volume: New volume must be the same size or larger.");
        }

        if (!(await store.ListBdmsAsync(server.Id)).Any(b => b.VolumeId == old.Id))
        {
            throw ApiException.NotFound($"No volume Block Device Mapping with id {old.Id}.");
        }
    }
}
