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
}
