using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Tests.Support;
using Ember.Server.Volume;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Tests.Volume;

/// <summary>The volume views written straight to the response, on SQLite.</summary>
public sealed class VolumeRenderTests(EmberFixture fixture) : VolumeRenderCases(fixture), IClassFixture<EmberFixture>;

/// <summary>The volume views written straight to the response, on PostgreSQL.</summary>
public sealed class PostgresVolumeRenderTests(PostgresEmberFixture fixture) : VolumeRenderCases(fixture), IClassFixture<PostgresEmberFixture>;

/// <summary>
/// The list, show and update bodies of a volume are byte for byte what the JsonObject tree they replaced gave, for
/// every branch of the detail: the microversions that add keys, admin and member, metadata with the visible readonly
/// key, volume_image_metadata, attachments. The reference reads the rows with Dapper's own mapping, not the store's.
/// </summary>
public abstract class VolumeRenderCases(EmberFixture fixture)
{
    private const string ReferenceVolumeColumns = "id, project_id, user_id, name, description, size, status, attach_status, volume_type_id, availability_zone, bootable, multiattach, readonly, readonly_shown, snapshot_id, source_volid, image_metadata, metadata, legacy_export, created_at, updated_at";
    private const string ReferenceAttachmentColumns = "id, volume_id, project_id, instance_uuid, attach_status, attach_mode, mountpoint, attached_host, connector, export_name, attach_time, detach_time, created_at, updated_at";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    // One below and one at each version that adds or changes a key of the detail.
    private static readonly Microversion[] s_versions = [new(3, 0), new(3, 13), new(3, 21), new(3, 48), new(3, 61), new(3, 63), new(3, 65), VolumeVersions.Max];

    [Fact]
    public async Task List_show_and_update_bodies_equal_the_tree_shape_at_every_branch()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        using var own = await fixture.NewProjectClientAsync("volume-render");
        var api = own.Api;
        var plain = await CreateAsync(api, new JsonObject { ["size"] = 1 });
        var rich = await CreateAsync(api, new JsonObject
        {
            ["size"] = 2,
            ["name"] = "rich \"quoted\" \u00e9 <b>",
            ["description"] = "line\nbreak",
            ["metadata"] = new JsonObject { ["tier"] = "gold", ["readonly"] = "user's", ["\u00e9t\u00e9"] = "a\"b<c>", ["empty"] = "" },
        });
        await ActAsync(api, rich, "os-update_readonly_flag", new JsonObject { ["readonly"] = true });
        await ActAsync(api, rich, "os-set_image_metadata", new JsonObject { ["metadata"] = new JsonObject { ["image_name"] = "cirros", ["min_ram"] = "0" } }, HttpStatusCode.OK);
        var flagged = await CreateAsync(api, new JsonObject { ["size"] = 1, ["name"] = "flagged", ["metadata"] = new JsonObject { ["k"] = "v" } });
        await ActAsync(api, flagged, "os-update_readonly_flag", new JsonObject { ["readonly"] = false });
        var attached = await CreateAsync(api, new JsonObject { ["size"] = 1, ["name"] = "attached" });
        await ActAsync(api, attached, "os-reserve", new JsonObject());
        await ActAsync(api, attached, "os-attach", new JsonObject { ["instance_uuid"] = Guid.NewGuid().ToString(), ["mountpoint"] = "/dev/vdc" });
        string[] ids = [plain, rich, flagged, attached];

        var hostName = fixture.Host.Services.GetRequiredService<VolumeService>().Backend.HostName;
        foreach (var version in s_versions)
        {
            var header = $"volume {version.Major}.{version.Minor}";
            foreach (var (client, isAdmin, scope) in new[] { (api, false, ""), (admin, true, $"?all_tenants=1&project_id={own.ProjectId}") })
            {
                var rows = await ReferenceRowsAsync(own.ProjectId);
                Assert.Equal(ids.Order(), rows.Volumes.Select(v => v.Id).Order());
                var detail = new JsonArray([.. rows.Volumes.Select(v => (JsonNode)rows.Detail(v, isAdmin, version, fixture.BaseUrl, hostName, withExtensions: true))]);
                Assert.Equal(Json.Serialize(new JsonObject { ["volumes"] = detail }), await BodyAsync(client, "/volume/v3/volumes/detail" + scope, header));
                var summary = new JsonArray([.. rows.Volumes.Select(v => (JsonNode)Summary(v, fixture.BaseUrl))]);
                Assert.Equal(Json.Serialize(new JsonObject { ["volumes"] = summary }), await BodyAsync(client, "/volume/v3/volumes" + scope, header));
                foreach (var v in rows.Volumes)
                {
                    var shown = new JsonObject { ["volume"] = rows.Detail(v, isAdmin, version, fixture.BaseUrl, hostName, withExtensions: true) };
                    Assert.Equal(Json.Serialize(shown), await BodyAsync(client, $"/volume/v3/volumes/{v.Id}", header));
                }
            }
        }

        // A page with a next link and a count, and the update reply (no extension keys).
        var page = await BodyAsync(api, "/volume/v3/volumes/detail?limit=2&with_count=true", "volume 3.45");
        var paged = JsonNode.Parse(page)!;
        Assert.Equal(2, paged["volumes"]!.AsArray().Count);
        Assert.Equal(4, paged["count"]!.GetValue<int>());
        Assert.Contains("marker=", paged["volumes_links"]![0]!["href"]!.GetValue<string>(), StringComparison.Ordinal);
        var (status, _, updated) = await api.TrySendAsync(HttpMethod.Put, $"/volume/v3/volumes/{flagged}",
            new JsonObject { ["volume"] = new JsonObject { ["description"] = "now described" } }, "volume 3.65");
        Assert.Equal(HttpStatusCode.OK, status);
        var after = await ReferenceRowsAsync(own.ProjectId);
        var flaggedRow = after.Volumes.Single(v => v.Id == flagged);
        Assert.Equal(Json.Serialize(new JsonObject { ["volume"] = after.Detail(flaggedRow, false, new(3, 65), fixture.BaseUrl, hostName, withExtensions: false) }), updated);
    }

    private static async Task<string> BodyAsync(ApiClient client, string path, string version)
    {
        var (status, _, text) = await client.TrySendAsync(HttpMethod.Get, path, apiVersion: version);
        Assert.True(status == HttpStatusCode.OK, $"GET {path} at {version}: {(int)status} {text}");
        return text;
    }

    private static async Task<string> CreateAsync(ApiClient api, JsonObject volume)
    {
        var id = (await api.SendAsync(HttpMethod.Post, "/volume/v3/volumes", new JsonObject { ["volume"] = volume }, HttpStatusCode.Accepted))["volume"]!["id"]!.GetValue<string>();
        await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == "available", s_wait);
        return id;
    }

    private static Task ActAsync(ApiClient api, string id, string action, JsonObject args, HttpStatusCode expect = HttpStatusCode.Accepted) =>
        api.SendAsync(HttpMethod.Post, $"/volume/v3/volumes/{id}/action", new JsonObject { [action] = args }, expect);

    private async Task<ReferenceRows> ReferenceRowsAsync(string projectId)
    {
        var db = fixture.Host.Services.GetRequiredService<Database>();
        await using var c = await db.OpenAsync();
        var volumes = (await c.QueryAsync<VolumeRow>($"SELECT {ReferenceVolumeColumns} FROM volumes WHERE project_id = @P ORDER BY created_at DESC, id DESC", new { P = projectId })).ToList();
        var attachments = (await c.QueryAsync<AttachmentRow>($"SELECT {ReferenceAttachmentColumns} FROM volume_attachments ORDER BY created_at, id")).ToLookup(a => a.VolumeId);
        var types = (await c.QueryAsync<(string Id, string Name)>("SELECT id, name FROM volume_types")).ToDictionary(t => t.Id, t => t.Name);
        return new ReferenceRows(volumes, attachments, types);
    }

    private static JsonArray Links(string baseUrl, string projectId, string id) =>
    [
        new JsonObject { ["href"] = $"{baseUrl}/volume/v3/{projectId}/volumes/{id}", ["rel"] = "self" },
        new JsonObject { ["href"] = $"{baseUrl}/volume/{projectId}/volumes/{id}", ["rel"] = "bookmark" },
    ];

    private static JsonObject Summary(VolumeRow v, string baseUrl) => new() { ["id"] = v.Id, ["links"] = Links(baseUrl, v.ProjectId, v.Id), ["name"] = v.Name };

    /// <summary>The rows as Dapper maps them, and the JsonObject detail the API built from them before it wrote bodies directly.</summary>
    private sealed record ReferenceRows(List<VolumeRow> Volumes, ILookup<string, AttachmentRow> Attachments, Dictionary<string, string> Types)
    {
        public JsonObject Detail(VolumeRow v, bool isAdmin, Microversion version, string baseUrl, string hostName, bool withExtensions)
        {
            var metadata = VolumeService.MapOf(v.Metadata);
            if (v.ReadonlyShown)
            {
                metadata["readonly"] = v.Readonly ? "True" : "False";
            }

            var attachments = new JsonArray();
            foreach (var a in Attachments[v.Id].Where(a => a.AttachStatus == "attached"))
            {
                attachments.Add(new JsonObject
                {
                    ["id"] = v.Id,
                    ["attachment_id"] = a.Id,
                    ["volume_id"] = v.Id,
                    ["server_id"] = a.InstanceUuid,
                    ["host_name"] = isAdmin ? a.AttachedHost : null,
                    ["device"] = a.Mountpoint,
                    ["attached_at"] = a.AttachTime is { } t ? Ids.CinderTime(t) : null,
                });
            }

            var o = new JsonObject
            {
                ["id"] = v.Id,
                ["status"] = VolumeJson.DisplayStatus(v.Status),
                ["size"] = v.Size,
                ["availability_zone"] = v.AvailabilityZone,
                ["created_at"] = Ids.CinderTime(v.CreatedAt),
                ["updated_at"] = Ids.CinderTime(v.UpdatedAt),
                ["name"] = v.Name,
                ["description"] = v.Description,
                ["volume_type"] = Types.GetValueOrDefault(v.VolumeTypeId, ""),
                ["snapshot_id"] = v.SnapshotId,
                ["source_volid"] = v.SourceVolid,
                ["metadata"] = Json.ToJson(metadata),
                ["links"] = Links(baseUrl, v.ProjectId, v.Id),
                ["user_id"] = v.UserId,
                ["bootable"] = v.Bootable ? "true" : "false",
                ["encrypted"] = false,
                ["replication_status"] = "disabled",
                ["consistencygroup_id"] = null,
                ["multiattach"] = v.Multiattach,
                ["attachments"] = attachments,
            };
            if (isAdmin)
            {
                o["migration_status"] = null;
            }

            if (version >= new Microversion(3, 13))
            {
                o["group_id"] = null;
            }

            if (version >= new Microversion(3, 21) && isAdmin)
            {
                o["provider_id"] = null;
            }

            if (version >= new Microversion(3, 61) && isAdmin)
            {
                o["cluster_name"] = null;
            }

            if (version >= new Microversion(3, 63))
            {
                o["volume_type_id"] = v.VolumeTypeId;
            }

            if (version >= new Microversion(3, 65))
            {
                o["consumes_quota"] = true;
            }

            if (version >= new Microversion(3, 48))
            {
                o["shared_targets"] = false;
                o["service_uuid"] = VolumeJson.ServiceUuid;
            }

            if (withExtensions)
            {
                o["os-vol-tenant-attr:tenant_id"] = v.ProjectId;
                if (isAdmin)
                {
                    o["os-vol-host-attr:host"] = hostName;
                    o["os-vol-mig-status-attr:migstat"] = null;
                    o["os-vol-mig-status-attr:name_id"] = null;
                }

                if (v.ImageMetadata is not null)
                {
                    o["volume_image_metadata"] = Json.ToJson(VolumeService.MapOf(v.ImageMetadata));
                }
            }

            return o;
        }
    }
}
