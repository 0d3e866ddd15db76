using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Volume transfers on SQLite.</summary>
public sealed class VolumeTransferTests(EmberFixture fixture) : VolumeTransferCases(fixture), IClassFixture<EmberFixture>;

/// <summary>Volume transfers on PostgreSQL.</summary>
public sealed class PostgresVolumeTransferTests(PostgresEmberFixture fixture) : VolumeTransferCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>Cinder's volume transfers between two projects of their own, over raw HTTP.</summary>
public abstract class VolumeTransferCases(EmberFixture fixture)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static async Task<string> CreateAvailableAsync(ApiClient api, string name)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes",
            new JsonObject { ["volume"] = new JsonObject { ["size"] = 1, ["name"] = name } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static async Task<int> VolumesInUseAsync(ApiClient api, string projectId) =>
        (await api.SendAsync(HttpMethod.Get, $"/volume/v3/os-quota-sets/{projectId}?usage=true"))["quota_set"]!["volumes"]!["in_use"]!.GetValue<int>();

    [Fact]
    public async Task A_volume_and_its_snapshot_move_to_the_project_that_accepts_with_the_key()
    {
        using var giver = await fixture.NewProjectClientAsync("xfer-from");
        using var taker = await fixture.NewProjectClientAsync("xfer-to");
        var volume = await CreateAvailableAsync(giver.Api, "moving");
        var snapshot = (await giver.Api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volume } }, HttpStatusCode.Accepted))["snapshot"]!["id"]!.GetValue<string>();
        await giver.Api.WaitForAsync($"/volume/v3/snapshots/{snapshot}", j => j["snapshot"]!["status"]!.GetValue<string>() == "available", s_wait);

        var created = await giver.Api.SendAsync(HttpMethod.Post, "/volume/v3/os-volume-transfer",
            new JsonObject { ["transfer"] = new JsonObject { ["volume_id"] = volume, ["name"] = "gift" } }, HttpStatusCode.Accepted);
        var transfer = created["transfer"]!["id"]!.GetValue<string>();
        var authKey = created["transfer"]!["auth_key"]!.GetValue<string>();
        Assert.Equal(16, authKey.Length);
        var awaiting = await giver.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("awaiting-transfer", awaiting["volume"]!["status"]!.GetValue<string>());
        var (deleteRefused, _, _) = await giver.Api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}");
        Assert.Equal(HttpStatusCode.BadRequest, deleteRefused);

        // The key is shown once; what is stored is only its salted hash.
        var shown = await giver.Api.SendAsync(HttpMethod.Get, $"/volume/v3/os-volume-transfer/{transfer}", apiVersion: "volume 3.57");
        Assert.Null(shown["transfer"]!["auth_key"]);
        Assert.Equal(giver.ProjectId, shown["transfer"]!["source_project_id"]!.GetValue<string>());
        Assert.False(shown["transfer"]!["no_snapshots"]!.GetValue<bool>());
        if (!fixture.OnPostgres)
        {
            foreach (var file in Directory.GetFiles(fixture.DataDir, "ember.db*"))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream, Encoding.Latin1);
                Assert.DoesNotContain(authKey, await reader.ReadToEndAsync(), StringComparison.Ordinal);
            }
        }

        var listed = await giver.Api.SendAsync(HttpMethod.Get, "/volume/v3/os-volume-transfer/detail");
        Assert.Contains(listed["transfers"]!.AsArray(), t => t!["id"]!.GetValue<string>() == transfer);

        // The other project does not see the offer, and a wrong key is refused.
        var (hidden, _, _) = await taker.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/os-volume-transfer/{transfer}");
        Assert.Equal(HttpStatusCode.NotFound, hidden);
        var (wrongKey, wrongBody, _) = await taker.Api.TrySendAsync(HttpMethod.Post, $"/volume/v3/os-volume-transfer/{transfer}/accept",
            new JsonObject { ["accept"] = new JsonObject { ["auth_key"] = "not-the-key" } });
        Assert.Equal(HttpStatusCode.BadRequest, wrongKey);
        Assert.StartsWith("Invalid auth key", wrongBody!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var accepted = await taker.Api.SendAsync(HttpMethod.Post, $"/volume/v3/os-volume-transfer/{transfer}/accept",
            new JsonObject { ["accept"] = new JsonObject { ["auth_key"] = authKey } }, HttpStatusCode.Accepted);
        Assert.Equal(volume, accepted["transfer"]!["volume_id"]!.GetValue<string>());

        // The volume, its snapshot and their quota usage moved; the transfer is gone.
        var moved = await taker.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("available", moved["volume"]!["status"]!.GetValue<string>());
        var (gone, _, _) = await giver.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
        await taker.Api.SendAsync(HttpMethod.Get, $"/volume/v3/snapshots/{snapshot}");
        Assert.Equal(0, await VolumesInUseAsync(giver.Api, giver.ProjectId));
        Assert.Equal(1, await VolumesInUseAsync(taker.Api, taker.ProjectId));
        var (transferGone, _, _) = await giver.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/os-volume-transfer/{transfer}");
        Assert.Equal(HttpStatusCode.NotFound, transferGone);
    }

    [Fact]
    public async Task Volume_transfers_of_3_55_take_no_snapshots_and_an_accept_over_quota_or_a_delete_leaves_the_volume_with_its_owner()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var giver = await fixture.NewProjectClientAsync("xfer355-from");
        using var taker = await fixture.NewProjectClientAsync("xfer355-to");
        var volume = await CreateAvailableAsync(giver.Api, "kept");

        var (old, _, _) = await giver.Api.TrySendAsync(HttpMethod.Get, "/volume/v3/volume-transfers", apiVersion: "volume 3.54");
        Assert.Equal(HttpStatusCode.NotFound, old);

        var created = await giver.Api.SendAsync(HttpMethod.Post, "/volume/v3/volume-transfers",
            new JsonObject { ["transfer"] = new JsonObject { ["volume_id"] = volume, ["no_snapshots"] = true } }, HttpStatusCode.Accepted, "volume 3.57");
        Assert.True(created["transfer"]!["no_snapshots"]!.GetValue<bool>());
        var transfer = created["transfer"]!["id"]!.GetValue<string>();
        var authKey = created["transfer"]!["auth_key"]!.GetValue<string>();

        // The taker has no room: 413, and the volume still awaits the transfer in its own project.
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{taker.ProjectId}", new JsonObject { ["quota_set"] = new JsonObject { ["volumes"] = 0 } });
        var (over, overBody, _) = await taker.Api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volume-transfers/{transfer}/accept",
            new JsonObject { ["accept"] = new JsonObject { ["auth_key"] = authKey } }, apiVersion: "volume 3.55");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over);
        Assert.Contains("VolumeLimitExceeded", overBody!.ToJsonString(), StringComparison.Ordinal);
        var still = await giver.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("awaiting-transfer", still["volume"]!["status"]!.GetValue<string>());

        // Withdrawn: the volume is available again and the key no longer works.
        await giver.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volume-transfers/{transfer}", expect: HttpStatusCode.Accepted, apiVersion: "volume 3.55");
        var back = await giver.Api.SendAsync(HttpMethod.Get, $"/volume/v3/volumes/{volume}");
        Assert.Equal("available", back["volume"]!["status"]!.GetValue<string>());
        await admin.SendAsync(HttpMethod.Put, $"/volume/v3/os-quota-sets/{taker.ProjectId}", new JsonObject { ["quota_set"] = new JsonObject { ["volumes"] = 10 } });
        var (withdrawn, _, _) = await taker.Api.TrySendAsync(HttpMethod.Post, $"/volume/v3/volume-transfers/{transfer}/accept",
            new JsonObject { ["accept"] = new JsonObject { ["auth_key"] = authKey } }, apiVersion: "volume 3.55");
        Assert.Equal(HttpStatusCode.NotFound, withdrawn);
        await giver.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volume}", expect: HttpStatusCode.Accepted);
    }
}
