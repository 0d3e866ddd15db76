using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Volume;

/// <summary>User messages on SQLite.</summary>
public sealed class VolumeMessageTests(EmberFixture fixture) : VolumeMessageCases(fixture), IClassFixture<EmberFixture>;

/// <summary>User messages on PostgreSQL.</summary>
public sealed class PostgresVolumeMessageTests(PostgresEmberFixture fixture) : VolumeMessageCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>User messages with volumes on Ceph RBD.</summary>
public sealed class RbdVolumeMessageTests(RbdEmberFixture fixture) : VolumeMessageCases(fixture), IClassFixture<RbdEmberFixture>;

/// <summary>
/// The user messages API (3.3): a background operation that fails leaves its volume or snapshot in error and a
/// message saying why, which only its project sees. The failure is real: the volume's data is removed behind Ember's
/// back (the file deleted, or the RBD image removed with the rbd CLI), so the backend's own call fails.
/// </summary>
public abstract class VolumeMessageCases(EmberFixture fixture)
{
    private const string V33 = "volume 3.3";
    private const string V35 = "volume 3.5";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private static async Task<string> CreateAvailableAsync(ApiClient api, int size = 1)
    {
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = size } },
            HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    /// <summary>Removes the volume's data where the backend keeps it, as a lost disk or an operator's mistake would.</summary>
    private async Task RemoveDataAsync(string volumeId)
    {
        if (fixture.Ceph is { } ceph)
        {
            await ceph.RbdAsync("rm", $"{ceph.Pool}/volume-{volumeId}");
        }
        else
        {
            File.Delete(Path.Combine(fixture.DataDir, "volumes", "volume-" + volumeId));
        }

        Assert.Null(await fixture.VolumeSizeAsync(volumeId));
    }

    /// <summary>A volume whose extend failed in the background; returns it with the request id of the extend.</summary>
    private async Task<(string VolumeId, string RequestId)> FailedExtendAsync(ApiClient api)
    {
        var id = await CreateAvailableAsync(api);
        await RemoveDataAsync(id);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/volume/v3/volumes/{id}/action")
        {
            Content = JsonContent(new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } }),
        };
        using var response = await api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var requestId = response.Headers.GetValues("x-openstack-request-id").Single();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "error_extending", s_wait);
        // The message is written just after the status changes: the tests read it (and what writing it purged) next.
        await api.WaitForAsync("/volume/v3/messages",
            j => j["messages"]!.AsArray().Any(m => m!["resource_uuid"]?.GetValue<string>() == id), s_wait, V33);
        return (id, requestId);
    }

    private static StringContent JsonContent(JsonNode body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    private static async Task<JsonNode> MessageOfAsync(ApiClient api, string resourceId)
    {
        var messages = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V33))["messages"]!.AsArray();
        return messages.Single(m => m!["resource_uuid"]?.GetValue<string>() == resourceId)!;
    }

    private static DateTime TimeOf(JsonNode message, string key) =>
        DateTime.Parse(message[key]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    [Fact]
    public async Task A_failed_extend_leaves_a_message_with_its_reason_that_only_its_project_reads_and_may_delete()
    {
        using var project = await fixture.NewProjectClientAsync("messages");
        var api = project.Api;
        var (volumeId, requestId) = await FailedExtendAsync(api);

        var message = await MessageOfAsync(api, volumeId);
        var id = message["id"]!.GetValue<string>();
        Assert.Equal("VOLUME_VOLUME_007_010", message["event_id"]!.GetValue<string>());
        Assert.Equal("extend volume:Volume Driver failed to extend volume. " + FailureReasons.DataMissing, message["user_message"]!.GetValue<string>());
        Assert.Equal("ERROR", message["message_level"]!.GetValue<string>());
        Assert.Equal("VOLUME", message["resource_type"]!.GetValue<string>());
        Assert.Equal(requestId, message["request_id"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(2592000), TimeOf(message, "guaranteed_until") - TimeOf(message, "created_at"));
        Assert.EndsWith($"/volume/v3/{project.ProjectId}/messages/{id}", message["links"]![0]!["href"]!.GetValue<string>(), StringComparison.Ordinal);
        var text = message.ToJsonString();
        Assert.DoesNotContain(fixture.DataDir, text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);

        var shown = (await api.SendAsync(HttpMethod.Get, $"/volume/v3/messages/{id}", apiVersion: V33))["message"]!;
        Assert.Equal(message.ToJsonString(), shown.ToJsonString());

        // Below 3.3 the routes do not exist, as in Cinder.
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/volume/v3/messages"), (HttpMethod.Get, $"/volume/v3/messages/{id}"), (HttpMethod.Delete, $"/volume/v3/messages/{id}") })
        {
            var (status, body, _) = await api.TrySendAsync(method, path, apiVersion: "volume 3.2");
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Equal(404, body!["itemNotFound"]!["code"]!.GetValue<int>());
        }

        // Another project neither lists, reads nor deletes it; the cloud admin lists it with all_tenants only.
        using (var other = await fixture.NewProjectClientAsync("messages-other"))
        {
            var listed = (await other.Api.SendAsync(HttpMethod.Get, "/volume/v3/messages?all_tenants=1", apiVersion: V35))["messages"]!.AsArray();
            Assert.DoesNotContain(listed, m => m!["id"]!.GetValue<string>() == id);
            Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/messages/{id}", apiVersion: V33)).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await other.Api.TrySendAsync(HttpMethod.Delete, $"/volume/v3/messages/{id}", apiVersion: V33)).Status);
        }

        using (var admin = new ApiClient(await fixture.ClientAsync()))
        {
            var own = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V35))["messages"]!.AsArray();
            Assert.DoesNotContain(own, m => m!["id"]!.GetValue<string>() == id);
            var all = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/messages?all_tenants=1", apiVersion: V35))["messages"]!.AsArray();
            Assert.Contains(all, m => m!["id"]!.GetValue<string>() == id);
        }

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/messages/{id}", expect: HttpStatusCode.NoContent, apiVersion: V33);
        Assert.Equal(HttpStatusCode.NotFound, (await api.TrySendAsync(HttpMethod.Get, $"/volume/v3/messages/{id}", apiVersion: V33)).Status);
        Assert.Empty((await api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V33))["messages"]!.AsArray());

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volumeId}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/volumes/{volumeId}", s_wait);
    }

    [Fact]
    public async Task A_failed_snapshot_create_leaves_a_message_about_the_snapshot_and_messages_page_sort_and_filter()
    {
        using var project = await fixture.NewProjectClientAsync("messages-snap");
        var api = project.Api;
        var (extended, _) = await FailedExtendAsync(api);

        var volumeId = await CreateAvailableAsync(api);
        await RemoveDataAsync(volumeId);
        var snapshot = await api.SendAsync(HttpMethod.Post, "/volume/v3/snapshots",
            new JsonObject { ["snapshot"] = new JsonObject { ["volume_id"] = volumeId } }, HttpStatusCode.Accepted);
        var snapshotId = snapshot["snapshot"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/snapshots/{snapshotId}", j => j["snapshot"]!["status"]!.GetValue<string>() == "error", s_wait);

        var message = await MessageOfAsync(api, snapshotId);
        Assert.Equal("VOLUME_VOLUME_SNAPSHOT_009_013", message["event_id"]!.GetValue<string>());
        Assert.Equal("VOLUME_SNAPSHOT", message["resource_type"]!.GetValue<string>());
        Assert.Equal("create snapshot:Snapshot failed to create. " + FailureReasons.DataMissing, message["user_message"]!.GetValue<string>());

        // 3.5: limit, marker and sort; the column filters.
        var ascending = await api.WalkPagesAsync("/volume/v3/messages?limit=1&sort=created_at:asc", "messages", V35);
        Assert.Equal(2, ascending.Count);
        Assert.Equal(message["id"]!.GetValue<string>(), ascending[1]);
        var descending = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V35))["messages"]!.AsArray()
            .Select(m => m!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ascending.AsEnumerable().Reverse(), descending);
        var filtered = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages?resource_type=VOLUME_SNAPSHOT", apiVersion: V35))["messages"]!.AsArray();
        Assert.Equal(snapshotId, filtered.Single()!["resource_uuid"]!.GetValue<string>());
        var byEvent = (await api.SendAsync(HttpMethod.Get, "/volume/v3/messages?event_id=VOLUME_VOLUME_007_010", apiVersion: V35))["messages"]!.AsArray();
        Assert.Equal(extended, byEvent.Single()!["resource_uuid"]!.GetValue<string>());
        var (badSort, _, _) = await api.TrySendAsync(HttpMethod.Get, "/volume/v3/messages?sort=updated_at", apiVersion: V35);
        Assert.Equal(HttpStatusCode.BadRequest, badSort);

        await api.SendAsync(HttpMethod.Delete, $"/volume/v3/snapshots/{snapshotId}", expect: HttpStatusCode.Accepted);
        await api.WaitGoneAsync($"/volume/v3/snapshots/{snapshotId}", s_wait);
        foreach (var id in new[] { volumeId, extended })
        {
            await api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{id}", expect: HttpStatusCode.Accepted);
            await api.WaitGoneAsync($"/volume/v3/volumes/{id}", s_wait);
        }
    }

    [Fact]
    public async Task Expired_messages_are_neither_listed_nor_shown_and_the_next_message_purges_them()
    {
        using var project = await fixture.NewProjectClientAsync("messages-ttl");
        var store = fixture.Host.Services.GetRequiredService<VolumeStore>();
        var longAgo = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var created = Ids.Now().AddDays(-31);
        var expired = new MessageRow
        {
            Id = Ids.NewUuid(),
            ProjectId = project.ProjectId,
            RequestId = "req-" + Ids.NewUuid(),
            ResourceType = MessageFields.VolumeResource,
            ResourceUuid = Ids.NewUuid(),
            EventId = "VOLUME_VOLUME_008_012",
            ActionId = "008",
            DetailId = "012",
            CreatedAt = created,
            ExpiresAt = created.AddSeconds(2592000),
        };
        await store.InsertMessageAsync(expired);
        Assert.NotNull(await store.FindMessageAsync(expired.Id, longAgo));

        Assert.Empty((await project.Api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V33))["messages"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await project.Api.TrySendAsync(HttpMethod.Get, $"/volume/v3/messages/{expired.Id}", apiVersion: V33)).Status);

        var (volumeId, _) = await FailedExtendAsync(project.Api);
        Assert.Null(await store.FindMessageAsync(expired.Id, longAgo));
        Assert.Single((await project.Api.SendAsync(HttpMethod.Get, "/volume/v3/messages", apiVersion: V33))["messages"]!.AsArray());

        await project.Api.SendAsync(HttpMethod.Delete, $"/volume/v3/volumes/{volumeId}", expect: HttpStatusCode.Accepted);
        await project.Api.WaitGoneAsync($"/volume/v3/volumes/{volumeId}", s_wait);
    }
}

/// <summary>Volume:MessageTtlSeconds sets how long a message is guaranteed to stay (Cinder's message_ttl).</summary>
public sealed class VolumeMessageTtlTests(VolumeMessageTtlTests.HourTtlFixture fixture) : IClassFixture<VolumeMessageTtlTests.HourTtlFixture>
{
    public sealed class HourTtlFixture : EmberFixture
    {
        protected override Task ConfigureAsync(EmberOptions options)
        {
            options.Volume.MessageTtlSeconds = 3600;
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task A_message_is_guaranteed_for_the_configured_ttl()
    {
        using var project = await fixture.NewProjectClientAsync("ttl");
        var api = project.Api;
        var created = await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = new JsonObject { ["size"] = 1 } }, HttpStatusCode.Accepted);
        var id = created["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromSeconds(60));
        File.Delete(Path.Combine(fixture.DataDir, "volumes", "volume-" + id));
        await api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = 2 } }, HttpStatusCode.Accepted);
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "error_extending", TimeSpan.FromSeconds(60));

        // The message is written just after the status changes (as in VolumeMessageCases' FailedExtendAsync).
        var message = (await api.WaitForAsync("/volume/v3/messages", j => j["messages"]!.AsArray().Count > 0, TimeSpan.FromSeconds(60), "volume 3.3"))
            ["messages"]!.AsArray().Single()!;
        static DateTime At(JsonNode m, string key) =>
            DateTime.Parse(m[key]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        Assert.Equal(TimeSpan.FromHours(1), At(message, "guaranteed_until") - At(message, "created_at"));
    }
}
