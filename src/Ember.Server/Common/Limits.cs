namespace Ember.Server.Common;

/// <summary>Name and metadata limits as Nova and Cinder have them: 255-character names, keys and values; 128 items.</summary>
public static class Limits
{
    public const int MaxLength = 255;

    /// <summary>Nova's metadata_items quota, which Ember applies to Cinder's metadata too.</summary>
    public const int MaxMetadataItems = 128;

    /// <summary>A name or description of at most 255 characters, refused in the words of Nova's and Cinder's schema checks.</summary>
    public static string? Text(string? value, string field) =>
        value is { Length: > MaxLength }
            ? throw ApiException.BadRequest($"Invalid input for field/attribute {field}. Value: {value[..16]}…. It is longer than {MaxLength} characters.")
            : value;

    /// <summary>Cinder's metadata checks (blank key, key or value over 255) and an item cap; returns the map.</summary>
    public static Dictionary<string, string> CinderMetadata(Dictionary<string, string> metadata)
    {
        foreach (var (key, value) in metadata)
        {
            if (key.Length == 0)
            {
                throw ApiException.BadRequest("Metadata property key blank.");
            }

            if (key.Length > MaxLength)
            {
                throw ApiException.BadRequest($"Metadata property key greater than {MaxLength} characters.");
            }

            if (value.Length > MaxLength)
            {
                throw ApiException.BadRequest($"Metadata property value greater than {MaxLength} characters.");
            }
        }

        return metadata.Count > MaxMetadataItems
            ? throw ApiException.Forbidden($"Maximum number of metadata items exceeds {MaxMetadataItems}")
            : metadata;
    }

    /// <summary>Nova's metadata schema (keys 1-255, values up to 255) and its metadata_items quota (403).</summary>
    public static Dictionary<string, string> NovaMetadata(Dictionary<string, string> metadata)
    {
        foreach (var (key, value) in metadata)
        {
            if (key.Length is 0 or > MaxLength || value.Length > MaxLength)
            {
                throw ApiException.BadRequest(
                    $"Invalid input for field/attribute metadata. Keys must be 1 to {MaxLength} characters and values at most {MaxLength}.");
            }
        }

        return metadata.Count > MaxMetadataItems
            ? throw ApiException.Forbidden($"Maximum number of metadata items exceeds {MaxMetadataItems}")
            : metadata;
    }
}
