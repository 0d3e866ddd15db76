using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>
/// Every start: the backend connects (an rbd cluster that cannot be used stops start-up with the reason).
/// First start: the __DEFAULT__ type and the devstack-style "multiattach" type. Every start: volumes, snapshots
/// and attachments left in a transient state by a crash move on (<see cref="VolumeService.RecoverAsync"/>).
/// </summary>
public sealed class VolumeBootstrap(VolumeStore store, VolumeService service, IVolumeBackend backend)
{
    public async Task RunAsync()
    {
        await backend.StartAsync(CancellationToken.None);
        await EnsureTypeAsync(VolumeService.DefaultTypeName, "Default Volume Type", new Dictionary<string, string>());
        await EnsureTypeAsync(VolumeService.MultiattachTypeName, "Volumes of this type can be attached to several servers at once",
            new Dictionary<string, string> { [VolumeService.MultiattachSpec] = VolumeService.MultiattachSpecValue });
        await service.RecoverAsync();
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
