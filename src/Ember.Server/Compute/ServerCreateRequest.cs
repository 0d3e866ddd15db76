using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>A volume to attach at boot, from block_device_mapping (legacy) or block_device_mapping_v2.</summary>
public sealed record BootVolume(string VolumeId, string? DeviceName, int? BootIndex, bool DeleteOnTermination, string? Tag);

/// <summary>One entry of a server create's <c>networks</c> list: a network (with an optional fixed IP) or an existing port.</summary>
public sealed record NicRequest(string? NetworkId, string? PortId, string? FixedIp, string? Tag);

/// <summary>How a server create asks for network interfaces (Nova's <c>networks</c>).</summary>
public enum NetworkMode
{
    /// <summary>No <c>networks</c> (below 2.37): the project's only network, or none when it has none (ambiguity is a 409).</summary>
    Default,

    /// <summary><c>"auto"</c> (2.37): the project's network, or one allocated for it the first time (Nova's get-me-a-network).</summary>
    Auto,

    /// <summary><c>"none"</c>: no interface.</summary>
    None,

    /// <summary>A list of networks and ports, in guest order (eth0, eth1, ...).</summary>
    Explicit,
}

/// <summary>The parsed body of POST /servers.</summary>
public sealed record ServerCreateRequest
{
    public required string Name { get; init; }

    /// <summary>2.90's hostname; null: made from the name.</summary>
    public string? Hostname { get; init; }
    public string? Description { get; init; }
    public string? ImageId { get; init; }
    public required string FlavorRef { get; init; }
    public string? AccessIpV4 { get; init; }
    public string? AccessIpV6 { get; init; }

    /// <summary>The reservation of the whole create (several servers share it with min_count/max_count).</summary>
    public string? ReservationId { get; init; }

    /// <summary>This server's index in a multiple create.</summary>
    public int LaunchIndex { get; init; }
    public Dictionary<string, string> Metadata { get; init; } = [];
    public string? UserData { get; init; }
    public string? KeyName { get; init; }

    /// <summary>The public key of <see cref="KeyName"/>, looked up by the API.</summary>
    public string? KeyData { get; init; }

    /// <summary>Nova's config_drive: the host builds a config-2 drive for the guest.</summary>
    public bool ConfigDrive { get; init; }
    public string? AdminPass { get; init; }
    public List<BootVolume> Volumes { get; init; } = [];

    /// <summary>Volumes the request asks to be made at boot (block_device_mapping_v2 image->volume and blank->volume).</summary>
    public List<NewVolumeMapping> NewVolumes { get; init; } = [];

    public NetworkMode NetworkMode { get; init; } = NetworkMode.Default;

    /// <summary>The interfaces asked for when <see cref="NetworkMode"/> is <see cref="NetworkMode.Explicit"/>.</summary>
    public List<NicRequest> Nics { get; init; } = [];

    /// <summary>Nova's security_groups (names or ids of the project's groups) for the ports Nova makes; empty: the project's default group.</summary>
    public List<string> SecurityGroups { get; init; } = [];

    /// <summary>os:scheduler_hints as Nova's request spec keeps them (each value a list), shown from 2.100; null: none given.</summary>
    public string? SchedulerHints { get; init; }

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

    /// <summary>2.74's host: the only host the scheduler may pick, its filters still run (unlike a forced host).</summary>
    public string? RequestedHost { get; init; }

    /// <summary>2.74's hypervisor_hostname: the only compute node the scheduler may pick.</summary>
    public string? RequestedNode { get; init; }

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
