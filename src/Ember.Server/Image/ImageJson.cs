using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;

namespace Ember.Server.Image;

/// <summary>The Glance v2 image document: core fields plus custom properties at the top level.</summary>
internal static class ImageJson
{
    /// <summary>Fields Glance computes; a PATCH may not touch them.</summary>
    public static readonly HashSet<string> ReadOnly = ["id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
        "owner", "created_at", "updated_at", "self", "file", "schema", "locations", "direct_url"];

    /// <summary>Core fields a caller may set.</summary>
    public static readonly HashSet<string> Writable = ["name", "visibility", "protected", "os_hidden", "disk_format", "container_format",
        "min_disk", "min_ram", "tags"];

    public static JsonObject Of(ImageRow image)
    {
        var json = new JsonObject
        {
            ["id"] = image.Id,
            ["name"] = image.Name,
            ["status"] = image.Status,
            ["visibility"] = image.Visibility,
            ["protected"] = image.Protected,
            ["os_hidden"] = image.OsHidden,
            ["disk_format"] = image.DiskFormat,
            ["container_format"] = image.ContainerFormat,
            ["size"] = image.Size,
            ["virtual_size"] = image.VirtualSize,
            ["checksum"] = image.Checksum,
            ["os_hash_algo"] = image.OsHashAlgo,
            ["os_hash_value"] = image.OsHashValue,
            ["min_disk"] = image.MinDisk,
            ["min_ram"] = image.MinRam,
            ["owner"] = image.Owner,
            ["tags"] = new JsonArray([.. TagsOf(image).Select(t => (JsonNode)t)]),
            ["created_at"] = Ids.ZuluSeconds(image.CreatedAt),
            ["updated_at"] = Ids.ZuluSeconds(image.UpdatedAt),
            ["self"] = $"/v2/images/{image.Id}",
            ["file"] = $"/v2/images/{image.Id}/file",
            ["schema"] = "/v2/schemas/image",
        };
        foreach (var (key, value) in PropertiesOf(image))
        {
            json[key] = value;
        }

        return json;
    }

    public static List<string> TagsOf(ImageRow image) => JsonSerializer.Deserialize<List<string>>(image.Tags) ?? [];

    public static string TagsText(IEnumerable<string> tags) => JsonSerializer.Serialize(tags.Distinct().ToList());

    public static Dictionary<string, string> PropertiesOf(ImageRow image) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(image.Properties) ?? [];

    public static string PropertiesText(Dictionary<string, string> properties) => JsonSerializer.Serialize(properties);
}
