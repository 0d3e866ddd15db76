using Ember.Server.Volume;

namespace Ember.Server.Compute;

/// <summary>
/// Tells the volume service which attachments a server still uses, so a user cannot delete one from under a
/// running VM through the Cinder API (the OSSA-2023-003 rule); compute detaches through os-volume_attachments.
/// </summary>
public sealed class ComputeVolumeConsumers(ComputeStore store) : IVolumeConsumers
{
    public async Task<bool> IsAttachmentInUseAsync(string instanceId, string volumeId, string attachmentId) =>
        (await store.ListBdmsAsync(instanceId)).Any(b => b.VolumeId == volumeId && b.AttachmentId == attachmentId);
}
