using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Compute;
using Ember.Server.Data;
using Ember.Server.Tests.Fuzz;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Compute;

/// <summary>A host whose API reaches its own compute host only through the database queue; the test drains it by hand.</summary>
public class QueuedHostFixture : FuzzFixture
{
    public QueuedHostFixture()
        : this(onPostgres: false)
    {
    }

    protected QueuedHostFixture(bool onPostgres)
        : base(onPostgres)
    {
    }

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton<IComputeHosts>(sp => new QueuedHosts(sp.GetRequiredService<ComputeHostManager>().Name, sp.GetRequiredService<HostMessageQueue>(),
            sp.GetRequiredService<HostCallClient>()));
        services.AddSingleton<HostMessagePump>();
    }

    public HostMessageQueue Queue => Host.Services.GetRequiredService<HostMessageQueue>();

    public HostMessagePump Pump => Host.Services.GetRequiredService<HostMessagePump>();

    public async Task<IReadOnlyList<(string Kind, string Body)>> WaitingAsync(string serverId)
    {
        await using var c = await Host.Services.GetRequiredService<Database>().OpenAsync();
        var rows = await c.QueryAsync<(string, string)>("SELECT kind, body FROM compute_host_messages WHERE server_id = @serverId ORDER BY seq", new { serverId });
        return [.. rows];
    }

    /// <summary>Every host reached as a remote one without a call listener: casts through the queue only.</summary>
    private sealed class QueuedHosts(string name, HostMessageQueue queue, HostCallClient calls) : IComputeHosts
    {
        public Task<IReadOnlyList<string>> NamesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([name]);

        public Task<IComputeHost> GetAsync(string host, CancellationToken cancellationToken) => Task.FromResult<IComputeHost>(new RemoteComputeHost(host, queue, calls, callUrl: null, certificateSha256: null));
    }
}

public sealed class PostgresQueuedHostFixture() : QueuedHostFixture(onPostgres: true);

public sealed class HostMessageQueueTests(QueuedHostFixture fixture) : HostMessageQueueCases(fixture), IClassFixture<QueuedHostFixture>;

public sealed class PostgresHostMessageQueueTests(PostgresQueuedHostFixture fixture) : HostMessageQueueCases(fixture), IClassFixture<PostgresQueuedHostFixture>
{
    [Fact]
    public async Task A_host_is_notified_of_its_own_casts_only()
    {
        await using var listener = await Fixture.Queue.ListenAsync("host-a", default);
        Assert.NotNull(listener);
        await Fixture.Queue.EnqueueAsync("host-b", new DeleteServer("req-b", Guid.NewGuid().ToString()));
        Assert.False(await listener.WaitAsync(TimeSpan.FromMilliseconds(300), default));
        await Fixture.Queue.EnqueueAsync("host-a", new DeleteServer("req-a", Guid.NewGuid().ToString()));
        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(30), default));
        await DiscardAsync("host-a");
        await DiscardAsync("host-b");
    }

    [Fact]
    public async Task Two_claimers_of_one_host_take_each_cast_exactly_once_in_order()
    {
        var ids = Enumerable.Range(0, 40).Select(_ => Guid.NewGuid().ToString()).ToList();
        foreach (var id in ids)
        {
            await Fixture.Queue.EnqueueAsync("host-c", new DeleteServer("req", id));
        }

        var seen = new System.Collections.Concurrent.ConcurrentQueue<(int Claimer, string Id)>();
        async Task ClaimAllAsync(int claimer)
        {
            while (await Fixture.Queue.ClaimAsync("host-c", 5, async cast =>
                   {
                       seen.Enqueue((claimer, ((DeleteServer)cast.Message).ServerId));
                       await Task.Delay(5); // hold the rows a moment, so the other claimer must skip them
                   }, default) > 0)
            {
            }
        }

        await Task.WhenAll(ClaimAllAsync(1), ClaimAllAsync(2));
        Assert.Equal(ids.Order(), seen.Select(s => s.Id).Order());
        foreach (var claimer in new[] { 1, 2 })
        {
            var mine = seen.Where(s => s.Claimer == claimer).Select(s => ids.IndexOf(s.Id)).ToList();
            Assert.Equal(mine.Order(), mine); // each claimer sees its casts in enqueue order
        }
    }

    private Task DiscardAsync(string host) => Fixture.Queue.ClaimAsync(host, 100, _ => Task.CompletedTask, default);
}

/// <summary>Casts travel through the database to the host, in order, without the boot password, and only when claimed.</summary>
public abstract class HostMessageQueueCases(QueuedHostFixture fixture)
{
    protected QueuedHostFixture Fixture => fixture;

    [Fact]
    public async Task Every_cast_comes_back_as_the_message_that_was_queued_and_a_call_is_not_queued()
    {
        var server = Guid.NewGuid().ToString();
        var volume = new VolumeDisk("bdm-1", "volume-1", "attachment-1", "/dev/vdb", null);
        object[] casts =
        [
            new SpawnServer("req-1", server, new FlavorSpec(64, 1, 1), new ImageSpec("image-1"), [volume], "Boot-S3cret-pw"),
            new AttachVolume("req-2", server, volume),
            new DetachVolume("req-3", server, volume),
            new DetachInterface("req-6", server, "port-1"),
            new PowerAction("req-4", server, PowerActionKind.HardReboot),
            new DeleteServer("req-5", server),
            new SnapshotServer("req-7", server, "image-2"),
            new RebuildServer("req-8", server, "secret"),
            new ResizeServer("req-9", server, ResizeStep.Revert),
            new ShelveServer("req-10", server, ShelveStep.Shelve, "image-3"),
            new RescueServer("req-11", server, Unrescue: false, "image-4", "rescue-pw"),
        ];
        foreach (var cast in casts)
        {
            await fixture.Queue.EnqueueAsync("round-trip", cast);
        }

        var taken = new List<QueuedCast>();
        await fixture.Queue.ClaimAsync("round-trip", 20, cast =>
        {
            taken.Add(cast);
            return Task.CompletedTask;
        }, default);

        Assert.Equal([HostMessageQueue.Spawn, HostMessageQueue.Attach, HostMessageQueue.Detach, HostMessageQueue.DetachPort, HostMessageQueue.Power,
            HostMessageQueue.Delete, HostMessageQueue.Snapshot, HostMessageQueue.Rebuild,
            HostMessageQueue.Resize, HostMessageQueue.Shelve, HostMessageQueue.Rescue], taken.Select(c => c.Kind));
        Assert.All(taken, c => Assert.Equal(server, c.ServerId));
        // Records holding lists compare by reference: compare them as JSON. The spawn, rebuild and rescue come back without their password.
        var expected = casts.Select(m => m switch
        {
            SpawnServer spawn => spawn with { AdminPass = null },
            RebuildServer rebuild => rebuild with { AdminPass = null },
            RescueServer rescue => rescue with { AdminPass = null },
            _ => m,
        });
        Assert.Equal(expected.Select(Json), taken.Select(c => Json(c.Message)));
        await Assert.ThrowsAsync<ArgumentException>(() => fixture.Queue.EnqueueAsync("round-trip", new ConsoleOutputRequest("req-6", server, null)));
    }

    private static string Json(object message) => JsonSerializer.Serialize(message, ComputeHostJson.Default.GetTypeInfo(message.GetType())!);

    [Fact]
    public async Task A_spawn_waits_in_the_database_without_its_password_until_the_host_claims_it_and_so_does_the_delete()
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        var (image, flavor) = await fixture.ImageAndFlavorAsync(api, "queued");
        var server = (await api.SendAsync(HttpMethod.Post, "/compute/v2.1/servers", new JsonObject
        {
            ["server"] = new JsonObject { ["name"] = "queued", ["imageRef"] = image, ["flavorRef"] = flavor, ["adminPass"] = "Boot-S3cret-pw", ["networks"] = "none" },
        }, HttpStatusCode.Accepted, "compute 2.37"))["server"]!["id"]!.GetValue<string>();

        var waiting = await fixture.WaitingAsync(server);
        var spawn = Assert.Single(waiting);
        Assert.Equal(HostMessageQueue.Spawn, spawn.Kind);
        Assert.DoesNotContain("Boot-S3cret-pw", spawn.Body, StringComparison.Ordinal);
        Assert.Equal("BUILD", (await api.SendAsync(HttpMethod.Get, $"/compute/v2.1/servers/{server}"))["server"]!["status"]!.GetValue<string>());

        Assert.True(await fixture.Pump.DrainAsync(default) >= 1);
        Assert.Empty(await fixture.WaitingAsync(server));
        // The host took it: QEMU is /bin/false here, so the boot fails on the host and the row says so.
        await api.WaitForAsync($"/compute/v2.1/servers/{server}", s => s["server"]!["status"]!.GetValue<string>() == "ERROR", TimeSpan.FromSeconds(60));

        await api.SendAsync(HttpMethod.Delete, $"/compute/v2.1/servers/{server}", expect: HttpStatusCode.NoContent);
        Assert.Equal([HostMessageQueue.Delete], (await fixture.WaitingAsync(server)).Select(m => m.Kind));
        await fixture.Pump.DrainAsync(default);
        await api.WaitGoneAsync($"/compute/v2.1/servers/{server}", TimeSpan.FromSeconds(60));
    }
}
