using System.Text.Json.Nodes;

namespace Ember.Server.Tests.Volume;

/// <summary>The Ceph test fixture itself: a cluster comes up, client.ember can use its pool, dispose leaves nothing.</summary>
public sealed class CephClusterTests
{
    [Fact]
    public async Task Ember_user_creates_and_reads_an_image_and_dispose_removes_everything()
    {
        var cluster = await CephCluster.CreateAsync();
        var pids = new List<int>();
        try
        {
            var ember = new[] { "-c", cluster.ConfPath, "--id", CephCluster.User, "--keyring", cluster.KeyringPath };
            (await Cli.RunAsync("rbd", [.. ember, "create", "--size", "64M", $"{cluster.Pool}/probe"])).EnsureSuccess();
            var info = JsonNode.Parse((await Cli.RunAsync("rbd", [.. ember, "info", "--format", "json", $"{cluster.Pool}/probe"])).EnsureSuccess().StdOut)!;
            Assert.Equal(64L << 20, info["size"]!.GetValue<long>());
            Assert.Contains("probe", await cluster.RbdAsync("ls", cluster.Pool), StringComparison.Ordinal);

            // client.ember's caps stop at its pool: it may not read the cluster's auth database.
            var denied = await Cli.RunAsync("ceph", [.. ember, "auth", "ls"]);
            Assert.NotEqual(0, denied.ExitCode);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.KeyringPath));
            Assert.DoesNotContain("key", await File.ReadAllTextAsync(cluster.ConfPath), StringComparison.Ordinal);
            Assert.NotNull(cluster.OsdPid);
            pids.Add(cluster.OsdPid!.Value);
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        Assert.False(Directory.Exists(cluster.Dir));
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still runs"));
    }

    [Fact]
    public async Task Two_clusters_run_side_by_side()
    {
        await using var first = await CephCluster.CreateAsync();
        await using var second = await CephCluster.CreateAsync(pool: "other");
        Assert.NotEqual(first.MonV1Port, second.MonV1Port);
        await first.RbdAsync("create", "--size", "1M", $"{first.Pool}/a");
        Assert.DoesNotContain("a", (await second.RbdAsync("ls", second.Pool)).Split('\n'));
    }

    [Fact]
    public async Task A_durable_cluster_keeps_its_data_across_an_osd_killed_and_started_again()
    {
        await using var cluster = await CephCluster.CreateAsync(durable: true);
        var dir = Directory.CreateTempSubdirectory("ember-ceph-data-").FullName;
        try
        {
            var data = new byte[1 << 20];
            Random.Shared.NextBytes(data);
            await File.WriteAllBytesAsync(Path.Combine(dir, "in"), data);
            await cluster.RbdAsync("import", Path.Combine(dir, "in"), $"{cluster.Pool}/kept");

            var before = cluster.OsdPid;
            await cluster.KillOsdAsync();
            Assert.False(Directory.Exists($"/proc/{before}"));
            cluster.StartOsd();

            await cluster.RbdAsync("export", $"{cluster.Pool}/kept", Path.Combine(dir, "out"));
            Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(dir, "out")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
