using Ember.Server.Common;

namespace Ember.Server.Volume;

// os-retype (cinder/volume/api.py retype): a volume changes its type in place. Ember has one backend, so a retype
// whose new type that backend cannot satisfy would need a migration Ember cannot make: that is a 400 saying so, for
// either migration_policy, rather than a volume left behind in error.
public sealed partial class VolumeService
{
    public async Task RetypeAsync(RequestContext ctx, string id, string newType)
    {
        var volume = await FindVisibleAsync(ctx, id);
        if (volume.Status is not ("available" or "in-use"))
        {
            throw InvalidVolume($"Unable to update type due to incorrect status: {volume.Status} on volume: {volume.Id}. Volume status must be available or in-use.");
        }

        var type = await FindUsableTypeAsync(ctx, newType);
        if (type.Id == volume.VolumeTypeId)
        {
            throw ApiException.BadRequest($"Invalid input received: New volume_type same as original: {type.Id}.");
        }

        if (await store.FindEncryptionAsync(type.Id) is not null)
        {
            throw NoKeyManager(type);
        }

        var multiattach = IsMultiattachType(type);
        if (multiattach)
        {
            policy.Enforce(ctx, "volume:multiattach");
        }

        if (volume.Status == "in-use")
        {
            if (multiattach != volume.Multiattach)
            {
                throw InvalidVolume("Retype of an in-use volume cannot change whether it is multiattach; detach it first.");
            }

            var current = await store.FindTypeAsync(volume.VolumeTypeId);
            if (await FrontEndQosOfAsync(current) != await FrontEndQosOfAsync(type))
            {
                throw ApiException.BadRequest($"Invalid input received: Retype cannot change front-end qos specs for in-use volume: {volume.Id}.");
            }
        }

        if (await NoBackendReasonAsync(type) is { } reason)
        {
            throw ApiException.BadRequest(
                $"Invalid input received: Retype to {type.Name} needs a migration to another backend, and Ember has only one. {reason}");
        }

        if (!await store.RetypeAsync(volume, type.Id, multiattach))
        {
            throw InvalidVolume("The volume changed while it was being retyped; try again.");
        }
    }

    /// <summary>The QoS specs a type's volumes get from the hypervisor (consumer front-end or both), null when none.</summary>
    private async Task<string?> FrontEndQosOfAsync(VolumeTypeRow? type) =>
        type?.QosSpecsId is { } qosId && await store.FindQosSpecsAsync(qosId) is { Consumer: "front-end" or "both" } qos ? qos.Id : null;
}
