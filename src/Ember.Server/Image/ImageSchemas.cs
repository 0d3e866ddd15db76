using System.Text.Json.Nodes;

namespace Ember.Server.Image;

/// <summary>
/// JSON schemas glanceclient downloads before it creates, lists or patches images. It validates
/// replies against them, so nullable fields must allow null.
/// </summary>
internal static class ImageSchemas
{
    public static JsonObject Image() => new()
    {
        ["name"] = "image",
        ["additionalProperties"] = new JsonObject { ["type"] = "string" },
        ["links"] = new JsonArray(
            new JsonObject { ["rel"] = "self", ["href"] = "{self}" },
            new JsonObject { ["rel"] = "enclosure", ["href"] = "{file}" },
            new JsonObject { ["rel"] = "describedby", ["href"] = "{schema}" }),
        ["properties"] = new JsonObject
        {
            ["id"] = Prop("string", "An identifier for the image", readOnly: false, pattern: "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"),
            ["name"] = Nullable("string", "Descriptive name for the image", maxLength: 255),
            ["status"] = Enum("Status of the image", readOnly: true, "queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"),
            ["visibility"] = Enum("Scope of image accessibility", readOnly: false, ImageApi.Visibilities),
            ["protected"] = Prop("boolean", "If true, image will not be deletable."),
            ["os_hidden"] = Prop("boolean", "If true, image will not appear in default image list response."),
            ["checksum"] = Nullable("string", "md5 hash of image contents.", readOnly: true, maxLength: 32),
            ["os_hash_algo"] = Nullable("string", "Algorithm to calculate the os_hash_value", readOnly: true, maxLength: 64),
            ["os_hash_value"] = Nullable("string", "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", readOnly: true, maxLength: 128),
            ["owner"] = Nullable("string", "Owner of the image", maxLength: 255),
            ["size"] = Nullable("integer", "Size of image file in bytes", readOnly: true),
            ["virtual_size"] = Nullable("integer", "Virtual size of image in bytes", readOnly: true),
            ["container_format"] = NullableEnum("Format of the container", ImageApi.ContainerFormats),
            ["disk_format"] = NullableEnum("Format of the disk", ImageApi.DiskFormats),
            ["created_at"] = Prop("string", "Date and time of image registration", readOnly: true),
            ["updated_at"] = Prop("string", "Date and time of the last image modification", readOnly: true),
            ["tags"] = new JsonObject
            {
                ["type"] = "array",
                ["description"] = "List of strings related to the image",
                ["items"] = new JsonObject { ["type"] = "string", ["maxLength"] = 255 },
            },
            ["direct_url"] = Prop("string", "URL to access the image file kept in external store", readOnly: true),
            ["min_ram"] = Prop("integer", "Amount of ram (in MB) required to boot image."),
            ["min_disk"] = Prop("integer", "Amount of disk space (in GB) required to boot image."),
            ["self"] = Prop("string", "An image self url", readOnly: true),
            ["file"] = Prop("string", "An image file url", readOnly: true),
            ["schema"] = Prop("string", "An image schema url", readOnly: true),
            ["locations"] = new JsonObject
            {
                ["type"] = "array",
                ["description"] = "A set of URLs to access the image file kept in external store",
                ["items"] = new JsonObject { ["type"] = "object" },
            },
        },
    };

    public static JsonObject Images() => new()
    {
        ["name"] = "images",
        ["properties"] = new JsonObject
        {
            ["images"] = new JsonObject { ["type"] = "array", ["items"] = Image() },
            ["schema"] = new JsonObject { ["type"] = "string" },
            ["first"] = new JsonObject { ["type"] = "string" },
            ["next"] = new JsonObject { ["type"] = "string" },
        },
        ["links"] = new JsonArray(
            new JsonObject { ["rel"] = "first", ["href"] = "{first}" },
            new JsonObject { ["rel"] = "next", ["href"] = "{next}" },
            new JsonObject { ["rel"] = "describedby", ["href"] = "{schema}" }),
    };

    private static JsonObject Prop(string type, string description, bool readOnly = false, string? pattern = null)
    {
        var json = new JsonObject { ["type"] = type, ["description"] = description };
        if (readOnly)
        {
            json["readOnly"] = true;
        }

        if (pattern is not null)
        {
            json["pattern"] = pattern;
        }

        return json;
    }

    private static JsonObject Nullable(string type, string description, bool readOnly = false, int? maxLength = null)
    {
        var json = new JsonObject { ["type"] = new JsonArray("null", type), ["description"] = description };
        if (readOnly)
        {
            json["readOnly"] = true;
        }

        if (maxLength is { } max)
        {
            json["maxLength"] = max;
        }

        return json;
    }

    private static JsonObject Enum(string description, bool readOnly, params string[] values)
    {
        var json = new JsonObject
        {
            ["type"] = "string",
            ["description"] = description,
            ["enum"] = new JsonArray([.. values.Select(v => (JsonNode)v)]),
        };
        if (readOnly)
        {
            json["readOnly"] = true;
        }

        return json;
    }

    private static JsonObject NullableEnum(string description, string[] values)
    {
        var items = new JsonArray((JsonNode?)null);
        foreach (var v in values)
        {
            items.Add(v);
        }

        return new JsonObject { ["type"] = new JsonArray("null", "string"), ["description"] = description, ["enum"] = items };
    }
}
