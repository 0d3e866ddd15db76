using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Volume;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// Nova's volume proxies (os-volumes, os-snapshots, up to 2.35): the volume service's records in Nova's camelCase
// shapes, called as the user, as Nova calls Cinder. Tempest's compute volume tests and old nova volume-* scripts use
// them; the volume service's own rules decide what the caller sees and may do.
public static partial class ComputeApi
{
    /// <summary>Nova's osapi_max_limit: the most items one page of an offset-paged proxy list holds.</summary>
    private const int ProxyMaxLimit = 1000;

    private static void MapVolumeProxy(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-volumes", (HttpContext http, VolumeService volumes) => ListProxiedVolumesAsync(http, volumes, "os_compute_api:os-volumes:list"));
        v21.MapGet("/os-volumes/detail", (HttpContext http, VolumeService volumes) =>
            ListProxiedVolumesAsync(http, volumes, "os_compute_api:os-volumes:detail"));
        v21.MapGet("/os-volumes/{id}", async (HttpContext http, VolumeService volumes, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-volumes:show");
            var volume = await ProxiedVolumeAsync(volumes, context, id);
            var attachments = await volumes.AttachmentsOfAsync([volume.Id]);
            return Json.Reply(new JsonObject { ["volume"] = NovaVolume(volume, (await volumes.TypeNamesAsync()).GetValueOrDefault(volume.VolumeTypeId), attachments[volume.Id]) });
        });
        v21.MapPost("/os-volumes", CreateProxiedVolumeAsync);
        v21.MapDelete("/os-volumes/{id}", async (HttpContext http, VolumeService volumes, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-volumes:delete");
            await ProxiedVolumeAsync(volumes, context, id);
            await volumes.DeleteVolumeAsync(context, id, cascade: false, force: false);
            return Results.Accepted();
        });

        v21.MapGet("/os-snapshots", (HttpContext http, VolumeService volumes) => ListProxiedSnapshotsAsync(http, volumes, "os_compute_api:os-volumes:snapshots:list"));
        v21.MapGet("/os-snapshots/detail", (HttpContext http, VolumeService volumes) =>
            ListProxiedSnapshotsAsync(http, volumes, "os_compute_api:os-volumes:snapshots:detail"));
        v21.MapGet("/os-snapshots/{id}", async (HttpContext http, VolumeService volumes, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-volumes:snapshots:show");
            return Json.Reply(new JsonObject { ["snapshot"] = NovaSnapshot(await ProxiedSnapshotAsync(volumes, context, id)) });
        });
        v21.MapPost("/os-snapshots", CreateProxiedSnapshotAsync);
        v21.MapDelete("/os-snapshots/{id}", async (HttpContext http, VolumeService volumes, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-volumes:snapshots:delete");
            await ProxiedSnapshotAsync(volumes, context, id);
            await volumes.DeleteSnapshotAsync(context, id, force: false);
            return Results.Accepted();
        });

        // Nova's router has no DELETE on these collections: a blank id ("DELETE /os-volumes/", as Tempest sends) is a 404.
        foreach (var collection in new[] { "/os-volumes", "/os-snapshots" })
        {
            v21.MapDelete(collection, IResult (HttpContext http) =>
            {
                AuthorizeProxy(http, "os_compute_api:os-volumes:delete");
                throw ApiException.NotFound("The resource could not be found.");
            });
        }
    }

    /// <summary>A visible volume, or Nova's VolumeNotFound (a 404 for any id, a malformed one too).</summary>
    private static async Task<VolumeRow> ProxiedVolumeAsync(VolumeService volumes, RequestContext context, string id)
    {
        try
        {
            return await volumes.FindVisibleAsync(context, id);
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw ApiException.NotFound($"Volume {id} could not be found.");
        }
    }

    private static async Task<SnapshotRow> ProxiedSnapshotAsync(VolumeService volumes, RequestContext context, string id)
    {
        try
        {
            return await volumes.FindVisibleSnapshotAsync(context, id);
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw ApiException.NotFound($"Snapshot {id} could not be found.");
        }
    }

    /// <summary>
    /// Nova's common.limited: the list in the volume service's order (newest first), cut by offset and limit (at most
    /// <see cref="ProxyMaxLimit"/>). A trailing slash ("GET /os-volumes/", a blank id to Nova) is a 404, as in Nova.
    /// </summary>
    private static PageRequest ProxyPage(HttpContext http)
    {
        if (http.Request.Path.Value is { } path && path.EndsWith('/'))
        {
            throw ApiException.NotFound("The resource could not be found.");
        }

        var query = http.Request.Query;
        // limit=0 is no limit at all to Nova ("limit or max_limit").
        var limit = QueryParams.Limit(query) is { } given and > 0 ? Math.Min(given, ProxyMaxLimit) : ProxyMaxLimit;
        return new PageRequest([], Limit: limit, Offset: QueryParams.Offset(query));
    }

    private static async Task<IResult> ListProxiedVolumesAsync(HttpContext http, VolumeService volumes, string action)
    {
        var context = AuthorizeProxy(http, action);
        var page = await volumes.ListVolumesAsync(context, allTenants: false, new VolumeFilter(), ProxyPage(http), withCount: false);
        var types = await volumes.TypeNamesAsync();
        var attachments = await volumes.AttachmentsOfAsync([.. page.Items.Select(v => v.Id)]);
        // Nova's index and detail views are one and the same.
        return Json.Reply(new JsonObject
        {
            ["volumes"] = new JsonArray([.. page.Items.Select(v => (JsonNode)NovaVolume(v, types.GetValueOrDefault(v.VolumeTypeId), attachments[v.Id]))]),
        });
    }

    private static async Task<IResult> ListProxiedSnapshotsAsync(HttpContext http, VolumeService volumes, string action)
    {
        var context = AuthorizeProxy(http, action);
        var page = await volumes.ListSnapshotsAsync(context, allTenants: false, new SnapshotFilter(), ProxyPage(http));
        return Json.Reply(new JsonObject { ["snapshots"] = new JsonArray([.. page.Items.Select(s => (JsonNode)NovaSnapshot(s))]) });
    }

    /// <summary>
    /// POST os-volumes: Nova's schema (size a positive integer or a string of digits; display_name, display_description,
    /// volume_type, metadata, availability_zone, snapshot_id; nothing else), then Cinder's create as the user. 200, not 202.
    /// </summary>
    private static async Task<IResult> CreateProxiedVolumeAsync(HttpContext http, VolumeService volumes)
    {
        var context = AuthorizeProxy(http, "os_compute_api:os-volumes:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "volume");
        RefuseUnknownProperties(body, "volume", ["size", "display_name", "display_description", "volume_type", "metadata", "availability_zone", "snapshot_id"]);
        var size = ProxiedVolumeSize(body);
        SnapshotRow? snapshot = null;
        if (Json.OptionalString(body, "snapshot_id") is { } snapshotId)
        {
            snapshot = await ProxiedSnapshotAsync(volumes, context, snapshotId);
        }

        var request = new VolumeCreateRequest(size ?? snapshot?.Size ?? 0)
        {
            Name = Limits.Text(Json.OptionalString(body, "display_name"), "display_name"),
            Description = Limits.Text(Json.OptionalString(body, "display_description"), "display_description"),
            VolumeType = Json.OptionalString(body, "volume_type"),
            SnapshotId = snapshot?.Id,
            AvailabilityZone = Json.OptionalString(body, "availability_zone"),
            Metadata = Json.OptionalStringMap(body, "metadata") is { } given ? Limits.CinderMetadata(given) : null,
        };
        if (request.Size < 1)
        {
            throw ApiException.BadRequest($"Invalid input received: Volume size '{request.Size}' must be an integer and greater than 0.");
        }

        var created = await volumes.CreateVolumeAsync(context, request);
        http.Response.Headers.Location = $"{http.BaseUrl()}/compute/v2.1/os-volumes/{created.Id}";
        return Json.Reply(new JsonObject { ["volume"] = NovaVolume(created, (await volumes.TypeNamesAsync()).GetValueOrDefault(created.VolumeTypeId), []) });
    }

    /// <summary>Nova's schema for size: an integer of at least 1, or a string of digits (whose value Cinder then checks).</summary>
    private static int? ProxiedVolumeSize(JsonObject body)
    {
        switch (body["size"])
        {
            case null when body.ContainsKey("snapshot_id"):
                return null;
            case JsonValue value when value.TryGetValue(out long number) && number is >= 1 and <= int.MaxValue:
                return (int)number;
            case JsonValue value when value.TryGetValue(out string? text) && text.Length is > 0 and <= 10 && text.All(char.IsAsciiDigit)
                && int.TryParse(text, out var parsed):
                return parsed;
            default:
                var shown = body["size"]?.ToJsonString() ?? "None";
                throw ApiException.BadRequest($"Invalid input for field/attribute size. Value: {shown}. {shown} is not valid under any of the given schemas");
        }
    }

    /// <summary>POST os-snapshots: volume_id, force (strict boolean), display_name, display_description; 200 with the new snapshot.</summary>
    private static async Task<IResult> CreateProxiedSnapshotAsync(HttpContext http, VolumeService volumes)
    {
        var context = AuthorizeProxy(http, "os_compute_api:os-volumes:snapshots:create");
        var body = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "snapshot");
        RefuseUnknownProperties(body, "snapshot", ["volume_id", "force", "display_name", "display_description"]);
        var volumeId = Json.OptionalString(body, "volume_id")
            ?? throw ApiException.BadRequest("Invalid input for field/attribute snapshot. Value: {}. 'volume_id' is a required property");
        var force = Json.OptionalBoolean(body, "force") ?? false;
        var snapshot = await volumes.CreateSnapshotAsync(context, volumeId,
            Limits.Text(Json.OptionalString(body, "display_name"), "display_name"),
            Limits.Text(Json.OptionalString(body, "display_description"), "display_description"), metadata: null, force);
        return Json.Reply(new JsonObject { ["snapshot"] = NovaSnapshot(snapshot) });
    }

    private static void RefuseUnknownProperties(JsonObject body, string name, string[] allowed)
    {
        if (body.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {name}. Additional properties are not allowed ('{unknown}' was unexpected)");
        }
    }

    /// <summary>
    /// Nova's volume view: Cinder's volume in camelCase. attachments holds the first server the volume is attached to
    /// (the volume's id as the attachment's, as Nova does), or one empty object when it is attached to none.
    /// </summary>
    private static JsonObject NovaVolume(VolumeRow v, string? typeName, IEnumerable<AttachmentRow> attachments)
    {
        var attached = attachments.FirstOrDefault(a => a.AttachStatus == "attached" && a.InstanceUuid is not null);
        var attachment = new JsonObject();
        if (attached is not null)
        {
            attachment["id"] = v.Id;
            attachment["volumeId"] = v.Id;
            attachment["serverId"] = attached.InstanceUuid;
            if (attached.Mountpoint is { Length: > 0 } device)
            {
                attachment["device"] = device;
            }
        }

        return new JsonObject
        {
            ["id"] = v.Id,
            ["status"] = VolumeJson.DisplayStatus(v.Status),
            ["size"] = v.Size,
            ["availabilityZone"] = v.AvailabilityZone,
            ["createdAt"] = Ids.CinderTime(v.CreatedAt),
            ["attachments"] = new JsonArray(attachment),
            ["displayName"] = v.Name,
            ["displayDescription"] = v.Description,
            ["volumeType"] = typeName,
            ["snapshotId"] = v.SnapshotId,
            ["metadata"] = Json.ToJson(VolumeService.MapOf(v.Metadata)),
        };
    }

    /// <summary>Nova's snapshot view; size is the volume's size when the snapshot was taken, as Cinder's volume_size.</summary>
    private static JsonObject NovaSnapshot(SnapshotRow s) => new()
    {
        ["id"] = s.Id,
        ["volumeId"] = s.VolumeId,
        ["status"] = s.Status,
        ["size"] = s.Size,
        ["createdAt"] = Ids.CinderTime(s.CreatedAt),
        ["displayName"] = s.Name,
        ["displayDescription"] = s.Description,
    };
}
