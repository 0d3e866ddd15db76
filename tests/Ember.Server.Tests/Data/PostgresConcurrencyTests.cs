using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Volume;

namespace Ember.Server.Tests.Data;

/// <summary>A PostgreSQL cluster with the volume schema, for store-level races without HTTP in between.</summary>
public sealed class PostgresStoreFixture : IAsyncLifetime
{
    public PostgresCluster Cluster { get; private set; } = null!;

    public Database Database { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await PostgresCluster.CreateAsync();
        Database = Database.Open(await Cluster.CreateDatabaseAsync("stores"), dataDir: Cluster.Dir);
        await Database.MigrateAsync(VolumeSchema.Migrations);
        await new VolumeStore(Database).InsertTypeAsync(new VolumeTypeRow { Id = "t", Name = "t", ExtraSpecs = "{}", CreatedAt = Ids.Now(), UpdatedAt = Ids.Now() });
    }

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>
/// Quota checks under many writers at once, straight on the store: on PostgreSQL's READ COMMITTED two
/// INSERT ... WHERE (SELECT COUNT(*) ...) &lt; quota statements can both pass on the same snapshot unless they hold the
/// project's lock. Many rounds, since a race that needs two statements to overlap does not show every time.
/// </summary>
public sealed class PostgresConcurrencyTests(PostgresStoreFixture pg) : IClassFixture<PostgresStoreFixture>
{
    [Fact]
    public async Task Parallel_inserts_over_the_volume_quota_never_pass_it()
    {
        var store = new VolumeStore(pg.Database);
        var limits = QuotaLimits.Defaults with { Volumes = 5, Gigabytes = -1 };
        var overshoots = new List<string>();
        for (var round = 0; round < 20; round++)
        {
            var project = $"p{round}";
            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => store.InsertVolumeWithinQuotaAsync(new VolumeRow
            {
                Id = Ids.NewUuid(),
                ProjectId = project,
                UserId = "u",
                Size = 1,
                Status = "creating",
                VolumeTypeId = "t",
                CreatedAt = Ids.Now(),
                UpdatedAt = Ids.Now(),
            }, limits))));
            var usage = await store.UsageOfAsync(project);
            if (results.Count(r => r) != 5 || usage.Volumes != 5)
            {
                overshoots.Add($"round {round}: {results.Count(r => r)} inserted, {usage.Volumes} stored");
            }
        }

        Assert.Empty(overshoots);
    }

    [Fact]
    public async Task Parallel_reserves_of_a_multiattach_volume_stop_at_the_attachment_cap()
    {
        var store = new VolumeStore(pg.Database);
        var overshoots = new List<string>();
        for (var round = 0; round < 20; round++)
        {
            var volume = Ids.NewUuid();
            Assert.True(await store.InsertVolumeWithinQuotaAsync(new VolumeRow
            {
                Id = volume,
                ProjectId = "cap",
                UserId = "u",
                Size = 1,
                Status = "available",
                VolumeTypeId = "t",
                Multiattach = true,
                CreatedAt = Ids.Now(),
                UpdatedAt = Ids.Now(),
            }, QuotaLimits.Defaults with { Volumes = -1, Gigabytes = -1 }));
            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => store.ReserveAsync(new AttachmentRow
            {
                Id = Ids.NewUuid(),
                VolumeId = volume,
                ProjectId = "cap",
                InstanceUuid = Ids.NewUuid(),
                CreatedAt = Ids.Now(),
                UpdatedAt = Ids.Now(),
            }, ["available", "reserved", "in-use"], maxAttachments: 3))));
            var stored = (await store.ListAttachmentsAsync(volume)).Count;
            if (results.Count(r => r) != 3 || stored != 3)
            {
                overshoots.Add($"round {round}: {results.Count(r => r)} reserved, {stored} stored");
            }
        }

        Assert.Empty(overshoots);
    }
}
