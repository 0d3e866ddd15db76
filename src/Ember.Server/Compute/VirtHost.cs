using System.Collections.Concurrent;
using Ember.Compute.Qemu;

namespace Ember.Server.Compute;

/// <summary>The QEMU machines this process runs, by server id, and a lock per server so its operations take turns.</summary>
public sealed class VirtHost
{
    private readonly ConcurrentDictionary<string, QemuMachine> _machines = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new();

    public QemuMachine? Find(string serverId) => _machines.TryGetValue(serverId, out var machine) ? machine : null;

    public void Add(QemuMachine machine) => _machines[machine.Id] = machine;

    public QemuMachine? Remove(string serverId) => _machines.TryRemove(serverId, out var machine) ? machine : null;

    public IReadOnlyCollection<QemuMachine> All => [.. _machines.Values];

    /// <summary>Runs <paramref name="work"/> with the server's lock held: attach, detach, power actions never overlap.</summary>
    public async Task<T> WithServerLockAsync<T>(string serverId, Func<Task<T>> work)
    {
        var gate = _locks.GetOrAdd(serverId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync();
        try
        {
            return await work();
        }
        finally
        {
            gate.Release();
        }
    }

    public Task WithServerLockAsync(string serverId, Func<Task> work) =>
        WithServerLockAsync(serverId, async () =>
        {
            await work();
            return true;
        });
}
