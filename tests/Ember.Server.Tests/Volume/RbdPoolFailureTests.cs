using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;

namespace Ember.Server.Tests.Volume;

/// <summary>
/// A real Ceph pool that refuses writes: over its byte quota (<c>ceph osd pool set-quota</c>), creates and extends
/// fail in the background, and the volume goes to error with a user message saying why, read with Debian's cinderclient.
/// </summary>
public sealed class RbdPoolFailureTests(RbdEmberFixture fixture) : IClassFixture<RbdEmberFixture>
{
    // Long enough for a paused write to reach the rbd backend's operation timeout (60 s) should the cluster pause it.
    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(3);

    private CephCluster Ceph => fixture.Ceph!;

    private static Task<JsonNode> WaitStatusAsync(ApiClient api, string id, string status) =>
        api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == status, s_wait);

    private static async Task<string> CreateAsync(ApiClient api)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } }, HttpStatusCode.Accepted);
        return created["volume"]!["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> MessageOfAsync(ApiClient api, string resourceId) =>
        (await api.SendAsync(HttpMethod.Get, $"/volume/v3/messages?resource_uuid={resourceId}", apiVersion: "volume 3.5"))["messages"]!.AsArray().Single()!;

    /// <summary>Waits until the mon has (or no longer has) marked the pool full for its quota.</summary>
    private async Task WaitForFullQuotaAsync(bool full)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            var dump = JsonNode.Parse(await Ceph.CephAsync("osd", "dump", "--format", "json"))!;
            var flags = dump["pools"]!.AsArray().Single(p => p!["pool_name"]!.GetValue<string>() == Ceph.Pool)!["flags_names"]!.GetValue<string>();
            if (flags.Contains("full_quota", StringComparison.Ordinal) == full)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"pool flags still '{flags}'");
            await Task.Delay(500);
        }
    }

    private Task<CliResult> CinderAsync(params string[] args) => Cli.RunAsync("cinder", ["--os-volume-api-version", "3.3", .. args], fixture.OpenRc());

    [Fact]
    public async Task Over_its_quota_the_pool_fails_creates_and_extends_with_a_message_that_says_so()
    {
        // The admin's own project: the classic openrc of cinderclient is admin's.
        using var api = new ApiClient(await fixture.ClientAsync());
        var filler = await CreateAsync(api);
        await WaitStatusAsync(api, filler, "available");
        (await Cli.RunAsync("qemu-io", ["-f", "raw", "-c", "write -P 0x33 0 16M", fixture.VolumeTarget(filler)])).EnsureSuccess();

        string created;
        try
        {
            await Ceph.CephAsync("osd", "pool", "set-quota", Ceph.Pool, "max_bytes", (8L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture));
            await WaitForFullQuotaAsync(full: true);

            created = await CreateAsync(api);
            await WaitStatusAsync(api, created, "error");
            await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{filler}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } },
                HttpStatusCode.Accepted);
            await WaitStatusAsync(api, filler, "error_extending");

            var pool = (await api.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools?detail=true"))["pools"]![0]!["capabilities"]!;
            Assert.Equal(0, pool["free_capacity_gb"]!.GetValue<double>());
        }
        finally
        {
            await Ceph.CephAsync("osd", "pool", "set-quota", Ceph.Pool, "max_bytes", "0");
            await WaitForFullQuotaAsync(full: false);
        }

        var createMessage = await MessageOfAsync(api, created);
        Assert.Equal("VOLUME_VOLUME_008_012", createMessage["event_id"]!.GetValue<string>());
        Assert.Equal("create volume from backend storage:Driver failed to create the volume. " + FailureReasons.PoolQuota,
            createMessage["user_message"]!.GetValue<string>());
        var extendMessage = await MessageOfAsync(api, filler);
        Assert.Equal("VOLUME_VOLUME_007_010", extendMessage["event_id"]!.GetValue<string>());
        Assert.Equal("extend volume:Volume Driver failed to extend volume. " + FailureReasons.PoolQuota, extendMessage["user_message"]!.GetValue<string>());

        // As a user reads them with Debian's cinderclient.
        var list = (await CinderAsync("message-list")).EnsureSuccess().StdOut;
        Assert.Contains(createMessage["id"]!.GetValue<string>(), list, StringComparison.Ordinal);
        Assert.Contains("VOLUME_VOLUME_008_012", list, StringComparison.Ordinal);
        Assert.Contains(created, list, StringComparison.Ordinal);
        var shown = (await CinderAsync("message-show", createMessage["id"]!.GetValue<string>())).EnsureSuccess().StdOut;
        Assert.Contains(FailureReasons.PoolQuota, shown, StringComparison.Ordinal);
        Assert.Matches(@"\| request_id\s+\| req-", shown);
        (await CinderAsync("message-delete", extendMessage["id"]!.GetValue<string>())).EnsureSuccess();
        Assert.DoesNotContain(extendMessage["id"]!.GetValue<string>(), (await CinderAsync("message-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);

        // With the quota lifted the pool takes writes again: the admin resets the volume and the extend succeeds.
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{filler}/action",
            new JsonObject { ["os-reset_status"] = new JsonObject { ["status"] = "available" } }, HttpStatusCode.Accepted);
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{filler}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } },
            HttpStatusCode.Accepted);
        await WaitStatusAsync(api, filler, "available");
        Assert.Equal(2L << 30, await fixture.VolumeSizeAsync(filler));

        foreach (var id in new[] { created, filler })
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
            await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
        }
    }
}
