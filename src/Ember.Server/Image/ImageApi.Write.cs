using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Image;

public static partial class ImageApi
{
    private const int DefaultPageSize = 25;
    private const int MaxPageSize = 1000;

    /// <summary>POST /v2/images: a queued image record; the data comes with PUT .../file.</summary>
    private static async Task<IResult> CreateAsync(HttpContext http, ImageService images)
    {
        var context = Authorize(http, "image:add_image");
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var image = await images.CreateAsync(context, NewImage(context, body));
        http.Response.Headers.Location = $"{http.BaseUrl()}/image/v2/images/{image.Id}";
        http.Response.Headers[ImportMethodsHeader] = string.Join(',', ImageService.ImportMethods);
        return Json.Reply(ImageJson.Of(image), StatusCodes.Status201Created);
    }

    /// <summary>A queued image record as POST /v2/images makes it from <paramref name="body"/> (also an import task's image_properties).</summary>
    private static ImageRow NewImage(RequestContext context, JsonObject body)
    {
        var now = Ids.Now();
        var id = Json.OptionalString(body, "id") ?? Ids.NewUuid();
        if (!Ids.IsUuid(id))
        {
            throw ApiException.BadRequest($"Provided object does not match schema 'image': '{id}' is not a valid UUID");
        }

        var image = new ImageRow
        {
            Id = id,
            Status = "queued",
            Visibility = "shared",
            Owner = context.ProjectId!,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var properties = new Dictionary<string, string>();
        foreach (var (key, value) in body)
        {
            if (key == "id")
            {
                continue;
            }

            if (key == "owner")
            {
                image = image with { Owner = OwnerOf(context, value) };
                continue;
            }

            if (ImageJson.ReadOnly.Contains(key))
            {
                throw ApiException.Forbidden($"Attribute '{key}' is read-only.");
            }

            image = Apply(image, properties, key, value);
        }

        return image with { Properties = ImageJson.PropertiesText(properties) };
    }

    /// <summary>Sets one field from a create body or a patch; custom properties must be strings.</summary>
    private static ImageRow Apply(ImageRow image, Dictionary<string, string> properties, string key, JsonNode? value)
    {
        var holder = new JsonObject { [key] = value?.DeepClone() };
        return key switch
        {
            "name" => image with { Name = CheckLength(Json.OptionalString(holder, key), key) },
            "visibility" => image with { Visibility = OneOf(Json.OptionalString(holder, key), Visibilities, key) },
            "protected" => image with { Protected = Json.OptionalBoolean(holder, key) ?? false },
            "os_hidden" => image with { OsHidden = Json.OptionalBoolean(holder, key) ?? false },
            "disk_format" => image with { DiskFormat = OneOfOrNull(Json.OptionalString(holder, key), DiskFormats, key) },
            "container_format" => image with { ContainerFormat = OneOfOrNull(Json.OptionalString(holder, key), ContainerFormats, key) },
            "min_disk" => image with { MinDisk = NonNegative(Json.OptionalInteger(holder, key), key) },
            "min_ram" => image with { MinRam = NonNegative(Json.OptionalInteger(holder, key), key) },
            "tags" => image with { Tags = ImageJson.TagsText(TagList(value)) },
            _ => SetProperty(image, properties, key, value),
        };
    }

    private static ImageRow SetProperty(ImageRow image, Dictionary<string, string> properties, string key, JsonNode? value)
    {
        if (value is not JsonValue v || !v.TryGetValue(out string? text))
        {
            throw ApiException.BadRequest($"Provided object does not match schema 'image': {value?.ToJsonString() ?? "null"} is not of type 'string' (property '{key}')");
        }

        if (key.Length > 255)
        {
            throw ApiException.BadRequest("Property names are limited to 255 characters.");
        }

        properties[key] = text;
        return image;
    }

    /// <summary>
    /// The owner a create or patch asks for: the admin may give an image to any project (Glance's rule), anyone else
    /// only name their own.
    /// </summary>
    private static string OwnerOf(RequestContext context, JsonNode? value)
    {
        if (value is not JsonValue v || !v.TryGetValue(out string? owner) || owner.Length is 0 or > 64)
        {
            throw ApiException.BadRequest("Provided object does not match schema 'image': 'owner' must be a string of 1 to 64 characters");
        }

        return context.IsCloudAdmin || owner == context.ProjectId
            ? owner
            : throw ApiException.Forbidden($"You are not permitted to set the owner of an image to '{owner}'.");
    }

    private static List<string> TagList(JsonNode? value) =>
        value is JsonArray array && array.All(t => t is JsonValue tv && tv.TryGetValue(out string? _))
            ? [.. array.Select(t => t!.GetValue<string>()).Select(t =>
            {
                ImageService.CheckTagLength(t);
                return t;
            })]
            : throw ApiException.BadRequest("Provided object does not match schema 'image': tags must be a list of strings");


    private static string? CheckLength(string? text, string key) =>
        text is { Length: > 255 } ? throw ApiException.BadRequest($"Provided object does not match schema 'image': '{key}' is too long") : text;

    private static string OneOf(string? text, string[] allowed, string key) =>
        text is not null && allowed.Contains(text)
            ? text
            : throw ApiException.BadRequest($"Provided object does not match schema 'image': '{text}' is not one of [{string.Join(", ", allowed)}] ({key})");

    private static string? OneOfOrNull(string? text, string[] allowed, string key) => text is null ? null : OneOf(text, allowed, key);

    private static int NonNegative(long? number, string key) =>
        number is >= 0 and <= int.MaxValue ? (int)number : throw ApiException.BadRequest($"Invalid value for {key}: it must be a non-negative integer.");

    /// <summary>GET /v2/images with Glance's filters and marker/limit paging.</summary>
    private static async Task<IResult> ListAsync(HttpContext http, ImageService images)
    {
        var context = Authorize(http, "image:get_images");
        var query = http.Request.Query;
        var limit = Math.Min(QueryParams.Limit(query) ?? DefaultPageSize, MaxPageSize);
        string? visibility = query["visibility"];
        if (visibility is { Length: > 0 } && visibility != "all" && !Visibilities.Contains(visibility))
        {
            throw ApiException.BadRequest($"Invalid visibility value: {(visibility.Length > 255 ? visibility[..255] : visibility)}");
        }

        var memberStatus = query["member_status"] is { Count: > 0 } asked ? asked.ToString() : "accepted";
        if (memberStatus is not ("pending" or "accepted" or "rejected" or "all"))
        {
            throw ApiException.BadRequest($"Invalid status: {(memberStatus.Length > 255 ? memberStatus[..255] : memberStatus)}");
        }

        var filters = ImageListQuery.Filters(query);
        // Sorting is lazy: this only checks the sort parameters before anything is read.
        _ = ImageListQuery.Sort([], query);
        var memberships = await images.MembershipsAsync(context);
        var rows = await images.ListVisibleAsync(context, memberships);
        rows = visibility switch
        {
            null or "" => rows.Where(i => i.Visibility != "community" || i.Owner == context.ProjectId),
            "all" => rows,
            _ => rows.Where(i => i.Visibility == visibility),
        };

        // Glance: a shared image reaches a member's list once accepted, unless member_status asks otherwise (or "all").
        rows = rows.Where(i => i.Owner == context.ProjectId || !memberships.TryGetValue(i.Id, out var answer) || memberStatus == "all" || answer == memberStatus);
        if (query.ContainsKey("member_status") && visibility == "shared")
        {
            // Only images shared with the caller carry a member status.
            rows = rows.Where(i => memberships.ContainsKey(i.Id));
        }
        rows = rows.Where(i => filters.All(matches => matches(i)));
        if (query["owner"] is { Count: > 0 } owner)
        {
            rows = rows.Where(i => i.Owner == owner.ToString());
        }

        if (query["tag"] is { Count: > 0 } tags)
        {
            rows = rows.Where(i => tags.All(t => ImageJson.TagsOf(i).Contains(t!)));
        }

        rows = rows.Where(i => MatchesAttributeFilters(i, query));
        rows = ImageListQuery.Sort(rows, query);
        var all = rows.ToList();
        if (query["marker"] is { Count: > 0 } marker)
        {
            var index = all.FindIndex(i => i.Id == marker.ToString());
            if (index < 0)
            {
                throw ApiException.BadRequest($"Invalid marker {marker}. Image could not be found.");
            }

            all = all.Skip(index + 1).ToList();
        }

        var page = all.Take(limit).ToList();
        var body = new JsonObject
        {
            ["images"] = new JsonArray([.. page.Select(i => (JsonNode)ImageJson.Of(i))]),
            ["schema"] = "/v2/schemas/images",
            ["first"] = "/v2/images",
        };
        if (page.Count > 0 && page.Count == limit && all.Count > limit)
        {
            body["next"] = $"/v2/images?marker={page[^1].Id}&limit={limit}";
        }

        return Json.Reply(body);
    }

    /// <summary>Query keys of the list that are not attribute filters: paging and the filters handled above.</summary>
    private static readonly HashSet<string> s_listKeys = ["limit", "marker", "visibility", "member_status", "owner", "tag", .. ImageListQuery.Keys];

    /// <summary>
    /// Glance filters a list by any other attribute given as key=value: the core ones by their column, any other key by
    /// the image's additional property of that name (Tempest's createBackup test lists image_type=backup this way).
    /// </summary>
    private static bool MatchesAttributeFilters(ImageRow image, IQueryCollection query)
    {
        Dictionary<string, string>? properties = null;
        foreach (var (key, values) in query)
        {
            if (s_listKeys.Contains(key))
            {
                continue;
            }

            var wanted = values.ToString();
            var actual = key switch
            {
                "checksum" => image.Checksum,
                "os_hash_value" => image.OsHashValue,
                "min_ram" => image.MinRam.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "min_disk" => image.MinDisk.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => (properties ??= ImageJson.PropertiesOf(image)).GetValueOrDefault(key),
            };
            if (!string.Equals(actual, wanted, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>PATCH /v2/images/{id} with a JSON patch (add/replace/remove on top-level fields).</summary>
    private static async Task<IResult> PatchAsync(HttpContext http, ImageService images, string id)
    {
        var context = Authorize(http, "image:modify_image");
        var contentType = http.Request.ContentType ?? "";
        if (!contentType.StartsWith("application/openstack-images-v2.", StringComparison.Ordinal))
        {
            throw new ApiException(ErrorKind.UnsupportedMediaType,
                "Unsupported Content-Type: use application/openstack-images-v2.1-json-patch.");
        }

        var image = await images.GetOwnedAsync(context, id, "modify");
        var operations = await Json.ReadNodeAsync(http.Request, http.RequestAborted) as JsonArray
            ?? throw ApiException.BadRequest("Request body must be a JSON array of operation objects.");

        var properties = ImageJson.PropertiesOf(image);
        foreach (var operation in operations)
        {
            var (op, key) = PatchOperation(operation);
            if (key == "owner" && op is "add" or "replace")
            {
                image = image with { Owner = OwnerOf(context, operation!["value"]) };
                continue;
            }

            if (ImageJson.ReadOnly.Contains(key))
            {
                throw ApiException.Forbidden($"Attribute '{key}' is read-only.");
            }

            if (key is "disk_format" or "container_format" && image.Status != "queued")
            {
                throw ApiException.Forbidden($"Attribute {key} can be only replaced for a queued image.");
            }

            switch (op)
            {
                case "add" or "replace":
                    if (op == "replace" && !ImageJson.Writable.Contains(key) && !properties.ContainsKey(key))
                    {
                        throw ApiException.Conflict($"Property {key} does not exist.");
                    }

                    image = Apply(image, properties, key, operation!["value"]);
                    break;
                case "remove" when ImageJson.Writable.Contains(key):
                    throw ApiException.Forbidden($"Attribute '{key}' is reserved.");
                case "remove":
                    if (!properties.Remove(key))
                    {
                        throw ApiException.Conflict($"Property {key} does not exist.");
                    }

                    break;
                default:
                    throw ApiException.BadRequest($"Operation '{op}' is not supported.");
            }
        }

        return Json.Reply(ImageJson.Of(await images.UpdateAsync(context, image with { Properties = ImageJson.PropertiesText(properties) })));
    }

    private static readonly string[] s_patchOperations = ["add", "remove", "replace"];

    /// <summary>
    /// One change of a PATCH in either of Glance's JSON patch forms: {"op": "replace", "path": "/name"} (RFC 6902,
    /// draft 10) or {"replace": "/name"} (draft 4, the operation as the key), whichever media type names it; Glance's
    /// own clients send the second with the 2.0 type and the first with 2.1.
    /// </summary>
    private static (string Op, string Key) PatchOperation(JsonNode? node)
    {
        if (node is not JsonObject operation)
        {
            throw ApiException.BadRequest("Operation objects must be JSON objects.");
        }

        if (operation.ContainsKey("op"))
        {
            return (Json.RequiredString(operation, "op"), PatchPath(Json.RequiredString(operation, "path")));
        }

        var named = s_patchOperations.Where(operation.ContainsKey).ToList();
        if (named.Count != 1)
        {
            throw ApiException.BadRequest("Operation objects must contain exactly one of \"add\", \"remove\", \"replace\".");
        }

        var path = Json.OptionalString(operation, named[0]) ?? throw ApiException.BadRequest($"Unable to find '{named[0]}' path in operation.");
        return (named[0], PatchPath(path));
    }

    /// <summary>A top-level JSON pointer ("/name"); Ember's images have no nested fields to point into.</summary>
    private static string PatchPath(string path) =>
        path.Length is > 1 and <= 256 && path[0] == '/' && path.IndexOf('/', 1) < 0
            ? path[1..].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)
            : throw ApiException.BadRequest($"Invalid JSON pointer for this resource: '{(path.Length > 256 ? path[..256] : path)}'");
}
