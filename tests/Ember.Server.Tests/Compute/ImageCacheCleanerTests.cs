using System.Security.Cryptography;
using Dapper;
using Ember.Server.Compute;
using Ember.Server.Data;
using Ember.Server.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ember.Server.Tests.Compute;

/// <summary>
/// The compute host's image cache cleaner over real files: cache entries, instance overlays that qemu-img made on
/// them, and server rows in a SQLite database of the test's own. The clock is a fake one; file times are set by hand.
/// </summary>
public sealed class ImageCacheCleanerTests : IAsyncLifetime
{
    private const string HostName = "cache-host";
    private static readonly TimeSpan s_minimumAge = TimeSpan.FromHours(1);

    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ember-cache-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private Database _db = null!;
    private ComputeStore _store = null!;
    private ImageCacheCleaner _cleaner = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dataDir);
        _db = Database.Open(null, _dataDir);
        await _db.MigrateAsync(ComputeSchema.Migrations);
        _store = new ComputeStore(_db);
        _cleaner = new ImageCacheCleaner(Options.Create(new EmberOptions { DataDir = _dataDir, HostName = HostName }),
            Options.Create(new ComputeOptions { ImageCacheMinimumAgeSeconds = (int)s_minimumAge.TotalSeconds }), _store, _clock,
            NullLogger<ImageCacheCleaner>.Instance);
        Directory.CreateDirectory(_cleaner.CacheDirectory);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dataDir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Removes_old_unused_images_and_keeps_those_backing_an_overlay_until_they_age_unused()
    {
        var used = await CachedImageAsync(age: TimeSpan.FromDays(2));
        var unused = await CachedImageAsync(age: TimeSpan.FromDays(2));
        var young = await CachedImageAsync(age: TimeSpan.FromMinutes(5));
        // A download in progress and a stranger: never cache entries, whatever their age.
        var partial = Path.Combine(_cleaner.CacheDirectory, Path.GetFileName(unused) + ".0123abcd.partial");
        var stranger = Path.Combine(_cleaner.CacheDirectory, "notes.txt");
        foreach (var file in new[] { partial, stranger })
        {
            await File.WriteAllTextAsync(file, "x");
            File.SetLastWriteTimeUtc(file, Now - TimeSpan.FromDays(2));
        }

        var instance = await OverlayAsync(used);

        Assert.Equal([unused], await _cleaner.CleanAsync(CancellationToken.None));
        Assert.All(new[] { used, young, partial, stranger }, f => Assert.True(File.Exists(f), f));
        Assert.Equal(Now, File.GetLastWriteTimeUtc(used)); // seen in use just now

        // Its server gone, the image still waits out the minimum age from when it was last seen in use.
        Directory.Delete(instance, recursive: true);
        _clock.Advance(s_minimumAge - TimeSpan.FromMinutes(10));
        Assert.Empty(await _cleaner.CleanAsync(CancellationToken.None));
        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(new[] { used, young }.Order(), (await _cleaner.CleanAsync(CancellationToken.None)).Order());
        Assert.All(new[] { partial, stranger }, f => Assert.True(File.Exists(f), f));
    }

    [Fact]
    public async Task A_server_being_built_on_this_host_holds_the_pass_and_one_of_another_host_does_not()
    {
        var unused = await CachedImageAsync(age: TimeSpan.FromDays(2));
        var building = await InsertServerAsync(HostName, VmStates.Building);
        await InsertServerAsync("other-host", VmStates.Building);

        Assert.Empty(await _cleaner.CleanAsync(CancellationToken.None));
        Assert.True(File.Exists(unused));

        // A task under way (a start, a rebuild) holds it too.
        await SetStateAsync(building, VmStates.Stopped, "powering-on");
        Assert.Empty(await _cleaner.CleanAsync(CancellationToken.None));

        await SetStateAsync(building, VmStates.Error, null);
        Assert.Equal([unused], await _cleaner.CleanAsync(CancellationToken.None));
    }

    /// <summary>`ember serve --role compute` runs the cleaner (the all-in-one role has no cache to trim).</summary>
    [Fact]
    public async Task A_compute_host_runs_the_cleaner()
    {
        await using var cluster = await PostgresCluster.CreateAsync();
        var options = new EmberOptions
        {
            Role = EmberRole.Compute,
            HostName = "cache-node",
            DataDir = Path.Combine(_dataDir, "node"),
            Database = await cluster.CreateDatabaseAsync("node"),
            Compute = { Controller = { AuthUrl = "http://127.0.0.1:1/identity/v3", UserName = "ember-compute", Password = "unused" } },
        };
        await using var node = await ComputeNode.StartAsync(options);
        var cleaner = Assert.Single(node.Services.GetServices<IHostedService>().OfType<ImageCacheCleaner>());
        Assert.Equal(Path.Combine(options.DataDir, "image-cache"), cleaner.CacheDirectory);
    }

    private DateTime Now => _clock.GetUtcNow().UtcDateTime;

    /// <summary>A qcow2 image under a cache name (a sha512 in hex), last modified <paramref name="age"/> ago.</summary>
    private async Task<string> CachedImageAsync(TimeSpan age)
    {
        var path = Path.Combine(_cleaner.CacheDirectory, Convert.ToHexStringLower(SHA512.HashData(Guid.NewGuid().ToByteArray())));
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"])).EnsureSuccess();
        File.SetLastWriteTimeUtc(path, Now - age);
        return path;
    }

    /// <summary>An instance directory whose disk is a qcow2 overlay on <paramref name="image"/>, as the host makes it.</summary>
    private async Task<string> OverlayAsync(string image)
    {
        var dir = Path.Combine(_cleaner.InstancesDirectory, Guid.NewGuid().ToString());
        Directory.CreateDirectory(dir);
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", Path.Combine(dir, "disk")])).EnsureSuccess();
        return dir;
    }

    private async Task<string> InsertServerAsync(string host, string vmState)
    {
        var now = Now;
        var server = await _store.InsertServerAsync(new ServerRow
        {
            Id = Guid.NewGuid().ToString(),
            Name = "cache",
            ProjectId = "p",
            UserId = "u",
            FlavorId = "1",
            VmState = vmState,
            Host = host,
            CreatedAt = now,
            UpdatedAt = now,
        }, []);
        return server.Id;
    }

    private async Task SetStateAsync(string id, string vmState, string? taskState)
    {
        await using var c = await _db.OpenAsync();
        await c.ExecuteAsync("UPDATE servers SET vm_state = @VmState, task_state = @TaskState WHERE id = @Id", new { Id = id, VmState = vmState, TaskState = taskState });
    }
}
