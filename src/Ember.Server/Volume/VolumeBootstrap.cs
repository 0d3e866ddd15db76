using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>
/// First start: the __DEFAULT__ type and the devstack-style "multiattach" type. Every start: volumes left in a
/// transient state by a crash move on (creating -> error; deleting is retried by an admin with force-delete).
/// </summary>
public sealed class VolumeBootstrap(VolumeStore store)
{
    public async Task RunAsync()
    {
        await EnsureTypeAsync(VolumeService.DefaultTypeName, "Default Volume Type", new Dictionary<string, string>());
        await EnsureTypeAsync(VolumeService.MultiattachTypeName, "Volumes of this type can be attached to several servers at once",
            new Dictionary<string, string> { [VolumeService.MultiattachSpec] = VolumeService.MultiattachSpecValue });
        foreach (var volume in await store.ListVolumesAsync(null))
        {
            if (volume.Status is "creating" or "extending")
            {
                await store.TransitionAsync(volume.Id, [volume.Status], volume.Status == "creating" ? "error" : "error_extending");
            }
            else if (volume.Status == "deleting")
            {
                await store.TransitionAsync(volume.Id, ["deleting"], "error_deleting");
            }
        }
    }

    private async Task EnsureTypeAsync(string name, string description, Dictionary<string, string> specs)
    {
        if (await store.FindTypeAsync(name) is not null)
        {
            return;
        }

        var now = Ids.Now();
        try
        {
            await store.InsertTypeAsync(new VolumeTypeRow
            {
                Id = Ids.NewUuid(),
                Name = name,
                Description = description,
                IsPublic = true,
                ExtraSpecs = VolumeService.JsonOf(specs),
                CreatedAt = now,
                UpdatedAt = now,
            });
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.Conflict)
        {
            // Created concurrently; fine.
        }
    }
}
