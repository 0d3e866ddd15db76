using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>First start: a couple of the usual flavors, so a fresh cloud can boot a server at once.</summary>
public sealed class ComputeBootstrap(ComputeStore store)
{
    private static readonly (string Id, string Name, int Ram, int Disk, int Vcpus)[] s_flavors =
    [
        ("1", "m1.tiny", 512, 1, 1),
        ("2", "m1.small", 2048, 20, 1),
    ];

    public async Task RunAsync()
    {
        if ((await store.ListFlavorsAsync()).Count > 0)
        {
            return;
        }

        foreach (var (id, name, ram, disk, vcpus) in s_flavors)
        {
            await store.InsertFlavorAsync(new FlavorRow { Id = id, Name = name, Ram = ram, Disk = disk, Vcpus = vcpus, CreatedAt = Ids.Now() });
        }
    }
}
