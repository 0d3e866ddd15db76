using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>A volume to attach at boot, from block_device_mapping (legacy) or block_device_mapping_v2.</summary>
public sealed record BootVolume(string VolumeId, string? DeviceName, int? BootIndex, bool DeleteOnTermination, string? Tag);

/// <summary>The parsed body of POST /servers.</summary>
public sealed record ServerCreateRequest
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public string? ImageId { get; init; }
    public required string FlavorRef { get; init; }
    public Dictionary<string, string> Metadata { get; init; } = [];
    public string? UserData { get; init; }
    public string? KeyName { get; init; }
    public string? AdminPass { get; init; }
    public List<BootVolume> Volumes { get; init; } = [];

    /// <summary>The server group of os:scheduler_hints' "group".</summary>
    public string? GroupId { get; init; }

    /// <summary>availability_zone: the zone asked for, or a forced host.</summary>
    public ZoneRequest Zone { get; init; } = ZoneRequest.None;
}

/// <summary>
/// availability_zone of a server create, with Nova's legacy "zone:host", "zone:host:node" and "zone::node" forms that
/// let an admin force the host (and/or its hypervisor hostname). An empty part counts as not given.
/// </summary>
public sealed record ZoneRequest(string? Name, string? ForcedHost = null, string? ForcedNode = null)
{
    public static ZoneRequest None { get; } = new(Name: null);

    /// <summary>A host or node is forced: Nova's os_compute_api:servers:create:forced_host, and no scheduler filters.</summary>
    public bool IsForced => ForcedHost is not null || ForcedNode is not null;

    /// <summary>Splits as Nova's parse_availability_zone does; more than two colons is its 400.</summary>
    public static ZoneRequest Parse(string? text)
    {
        if (text is null || !text.Contains(':', StringComparison.Ordinal))
        {
            return new(Part(text));
        }

        var parts = text.Split(':');
        return parts.Length switch
        {
            2 => new(Part(parts[0]), Part(parts[1])),
            3 when text.Contains("::", StringComparison.Ordinal) => new(Part(parts[0]), ForcedNode: Part(parts[2])),
            3 => new(Part(parts[0]), Part(parts[1]), Part(parts[2])),
            _ => throw ApiException.BadRequest("Invalid input received: Unable to parse availability_zone"),
        };
    }

    private static string? Part(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
