using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Image;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// Nova's image proxy (/images and their metadata, up to 2.35): the image service's records in Nova's shapes. Tempest's
// compute image tests and novaclient's image commands read images here; the image service's own rules decide who may
// see, change or delete what.
public static partial class ComputeApi
{
    /// <summary>Nova's default metadata_items quota, which also bounds image metadata through the proxy.</summary>
    private const int ImageMetadataItems = 128;

    private static void MapImageProxy(RouteGroupBuilder v21)
    {
        v21.MapGet("/images", (HttpContext http, ImageService images) => ListProxiedImagesAsync(http, images, detail: false));
        v21.MapGet("/images/detail", (HttpContext http, ImageService images) => ListProxiedImagesAsync(http, images, detail: true));
        v21.MapGet("/images/{id}", async (HttpContext http, ImageService images, string id) =>
        {
            var context = ImageProxyContext(http);
            return Json.Reply(new JsonObject { ["image"] = NovaImage(http, await ProxiedImageAsync(images, context, id)) });
        });
        // Nova's router has no DELETE on the collection: "DELETE /images/" (a blank id) is its 404, not a 405.
        v21.MapDelete("/images", IResult (HttpContext http) =>
        {
            ImageProxyContext(http);
            throw ApiException.NotFound("The resource could not be found.");
        });
        v21.MapDelete("/images/{id}", async (HttpContext http, ImageService images, string id) =>
        {
            var context = ImageProxyContext(http);
            await ProxiedImageAsync(images, context, id);
            await images.DeleteAsync(context, id);
            return Results.NoContent();
        });

        v21.MapGet("/images/{id}/metadata", async (HttpContext http, ImageService images, string id) =>
        {
            var context = ImageProxyContext(http);
            return Json.Reply(new JsonObject { ["metadata"] = MetadataJson(ImageJson.PropertiesOf(await ProxiedImageAsync(images, context, id))) });
        });
        v21.MapPost("/images/{id}/metadata", (HttpContext http, ImageService images, string id) =>
            ChangeImageMetadataAsync(http, images, id, replace: false));
        v21.MapPut("/images/{id}/metadata", (HttpContext http, ImageService images, string id) =>
            ChangeImageMetadataAsync(http, images, id, replace: true));
        v21.MapGet("/images/{id}/metadata/{key}", async (HttpContext http, ImageService images, string id, string key) =>
        {
            var context = ImageProxyContext(http);
            var properties = ImageJson.PropertiesOf(await ProxiedImageAsync(images, context, id));
            return properties.TryGetValue(key, out var value)
                ? Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = value } })
                : throw ApiException.NotFound("Image not found.");
        });
        v21.MapPut("/images/{id}/metadata/{key}", async (HttpContext http, ImageService images, string id, string key) =>
        {
            var context = ImageProxyContext(http);
            var meta = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "meta");
            if (meta.Count != 1 || !meta.ContainsKey(key))
            {
                throw ApiException.BadRequest(meta.Count != 1 ? "Request body contains too many items" : "Request body and URI mismatch");
            }

            var image = await ProxiedImageAsync(images, context, id);
            var properties = ImageJson.PropertiesOf(image);
            properties[key] = MetadataValue(key, meta[key]);
            await SaveImageMetadataAsync(images, context, image, properties);
            return Json.Reply(new JsonObject { ["meta"] = new JsonObject { [key] = properties[key] } });
        });
        v21.MapDelete("/images/{id}/metadata/{key}", async (HttpContext http, ImageService images, string id, string key) =>
        {
            var context = ImageProxyContext(http);
            var image = await ProxiedImageAsync(images, context, id);
            var properties = ImageJson.PropertiesOf(image);
            if (!properties.Remove(key))
            {
                throw ApiException.NotFound($"Image {id} does not have a metadata key {key}.");
            }

            await SaveImageMetadataAsync(images, context, image, properties);
            return Results.NoContent();
        });
    }

    private static RequestContext ImageProxyContext(HttpContext http) =>
        ComputeVersion.Of(http).AtLeast(LastProxyVersion + 1) ? throw ApiException.NotFound("The resource could not be found.") : http.RequireProjectContext();

    /// <summary>A visible image, or Nova's "Image not found." (the image service's own words are Glance's).</summary>
    private static async Task<ImageRow> ProxiedImageAsync(ImageService images, RequestContext context, string id) =>
        await images.FindVisibleAsync(context, id) ?? throw ApiException.NotFound("Image not found.");

    private static async Task<IResult> ListProxiedImagesAsync(HttpContext http, ImageService images, bool detail)
    {
        var context = ImageProxyContext(http);
        var query = http.Request.Query;
        var name = QueryText(query, "name");
        var status = QueryText(query, "status");
        var server = QueryText(query, "server");
        var type = QueryText(query, "type");
        var minRam = QueryInt(query, "minRam");
        var minDisk = QueryInt(query, "minDisk");
        var changesSince = query.ContainsKey("changes-since") ? ChangesTime(query, "changes-since") : null;
        var visible = (await images.ListVisibleAsync(context, await images.MembershipsAsync(context)))
            .Where(i => i.Status != "deleted")
            .Where(i => name is null || i.Name == name)
            .Where(i => status is null || string.Equals(NovaImageStatus(i.Status), status, StringComparison.OrdinalIgnoreCase))
            .Where(i => minRam is null || i.MinRam >= minRam)
            .Where(i => minDisk is null || i.MinDisk >= minDisk)
            .Where(i => changesSince is null || i.UpdatedAt >= changesSince)
            .Where(i => server is null && type is null || Matches(ImageJson.PropertiesOf(i), server, type))
            // Glance's default order: newest first.
            .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id, StringComparer.Ordinal)
            .ToList();

        var limit = QueryParams.Limit(query);
        if (QueryText(query, "marker") is { } marker)
        {
            var at = visible.FindIndex(i => i.Id == marker);
            visible = at < 0 ? throw ApiException.BadRequest($"marker [{marker}] not found") : visible[(at + 1)..];
        }

        var page = new Page<ImageRow>([.. limit is { } n ? visible.Take(n) : visible], limit is { } max && visible.Count > max);
        var body = new JsonObject
        {
            ["images"] = new JsonArray([.. page.Items.Select(i => (JsonNode)(detail ? NovaImage(http, i) : new JsonObject
            {
                ["id"] = i.Id,
                ["name"] = i.Name,
                ["links"] = ImageLinks(http, i.Id),
            }))]),
        };
        if (QueryParams.NextLink(http, page, i => i.Id, limit) is { } next)
        {
            body["images_links"] = next;
        }

        return Json.Reply(body);

        static bool Matches(Dictionary<string, string> properties, string? server, string? type) =>
            (server is null || (properties.TryGetValue("instance_uuid", out var uuid) && server.EndsWith(uuid, StringComparison.Ordinal)))
            && (type is null || (properties.TryGetValue("image_type", out var kind) ? kind : "image") == type);
    }

    private static string? QueryText(IQueryCollection query, string name) => query[name] is { Count: > 0 } v ? v.ToString() : null;

    private static int? QueryInt(IQueryCollection query, string name) =>
        QueryText(query, name) is not { } text ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
        : throw ApiException.BadRequest($"Invalid {name} filter [{text}]");

    /// <summary>Nova's image view: Glance's status in Nova's words, properties as metadata, and the snapshot's server.</summary>
    private static JsonObject NovaImage(HttpContext http, ImageRow image)
    {
        var properties = ImageJson.PropertiesOf(image);
        var json = new JsonObject
        {
            ["id"] = image.Id,
            ["name"] = image.Name,
            ["minRam"] = image.MinRam,
            ["minDisk"] = image.MinDisk,
            ["metadata"] = MetadataJson(properties),
            ["created"] = Ids.ZuluSeconds(image.CreatedAt),
            ["updated"] = Ids.ZuluSeconds(image.UpdatedAt),
            ["status"] = NovaImageStatus(image.Status),
            ["progress"] = image.Status switch { "active" => 100, "saving" or "importing" => 50, "queued" => 25, _ => 0 },
            ["OS-EXT-IMG-SIZE:size"] = image.Size,
            ["links"] = ImageLinks(http, image.Id),
        };
        if (properties.TryGetValue("instance_uuid", out var serverId))
        {
            json["server"] = new JsonObject { ["id"] = serverId, ["links"] = ComputeJson.Links(http, "servers", serverId) };
        }

        return json;
    }

    /// <summary>Nova's image links: self and bookmark here, alternate at the image service.</summary>
    private static JsonArray ImageLinks(HttpContext http, string id)
    {
        var links = ComputeJson.Links(http, "images", id);
        var root = ServiceRoot(http);
        links.Add(new JsonObject { ["rel"] = "alternate", ["type"] = "application/vnd.openstack.image", ["href"] = $"{root}/image/images/{id}" });
        return links;
    }

    private static string ServiceRoot(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";

    private static string NovaImageStatus(string glanceStatus) => glanceStatus switch
    {
        "active" => "ACTIVE",
        "queued" or "saving" or "importing" or "uploading" => "SAVING",
        "deleted" or "pending_delete" => "DELETED",
        "killed" => "ERROR",
        _ => "UNKNOWN",
    };

    private static JsonObject MetadataJson(Dictionary<string, string> properties) =>
        new([.. properties.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]);

    /// <summary>POST merges the body's metadata into the image's, PUT replaces it; both answer with all of it.</summary>
    private static async Task<IResult> ChangeImageMetadataAsync(HttpContext http, ImageService images, string id, bool replace)
    {
        var context = ImageProxyContext(http);
        var metadata = Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "metadata");
        var image = await ProxiedImageAsync(images, context, id);
        var properties = replace ? [] : ImageJson.PropertiesOf(image);
        foreach (var (key, value) in metadata)
        {
            properties[key] = MetadataValue(key, value);
        }

        if (replace)
        {
            // PUT replaces the metadata, not what the image service keeps as its own properties of a snapshot.
            foreach (var (key, value) in ImageJson.PropertiesOf(image).Where(p => !metadata.ContainsKey(p.Key) && IsSystemProperty(p.Key)))
            {
                properties[key] = value;
            }
        }

        await SaveImageMetadataAsync(images, context, image, properties);
        return Json.Reply(new JsonObject { ["metadata"] = MetadataJson(properties) });
    }

    private static bool IsSystemProperty(string key) => key is "instance_uuid" or "image_type" or "base_image_ref" or "owner_id" or "user_id"
        or "block_device_mapping" or "bdm_v2" or "root_device_name";

    private static string MetadataValue(string key, JsonNode? value)
    {
        if (key.Length is 0 or > 255)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute metadata. Metadata keys must be 1 to 255 characters long.");
        }

        return value is JsonValue v && v.TryGetValue<string>(out var text) && text.Length <= 255
            ? text
            : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Metadata values must be strings of at most 255 characters.");
    }

    private static async Task SaveImageMetadataAsync(ImageService images, RequestContext context, ImageRow image, Dictionary<string, string> properties)
    {
        if (properties.Count > ImageMetadataItems)
        {
            throw ApiException.Forbidden($"Quota exceeded for metadata items: Requested {properties.Count}, but at most {ImageMetadataItems} are allowed");
        }

        var owned = await images.GetOwnedAsync(context, image.Id, "modify");
        await images.UpdateAsync(context, owned with { Properties = ImageJson.PropertiesText(properties) });
    }
}
