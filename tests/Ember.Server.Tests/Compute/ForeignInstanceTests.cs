using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>A compute host that starts removes the instances of servers it no longer owns (evacuated or deleted while it was down).</summary>
public sealed class ForeignInstanceTests : IDisposable
{
    private readonly RestartableDataDir _data = new("foreign");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task An_instance_directory_of_a_server_this_host_does_not_own_is_removed_at_start()
    {
        await (await _data.StartAsync()).DisposeAsync();
        var foreign = Path.Combine(_data.DataDir, "instances", Guid.NewGuid().ToString());
        Directory.CreateDirectory(foreign);
        await File.WriteAllTextAsync(Path.Combine(foreign, "console.log"), "a guest that lives elsewhere now\n");

        await using var restarted = await _data.StartAsync();

        Assert.False(Directory.Exists(foreign));
    }
}
