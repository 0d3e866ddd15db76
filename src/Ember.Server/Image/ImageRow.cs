namespace Ember.Server.Image;

/// <summary>One image as stored. Tags and Properties hold JSON text.</summary>
public sealed record ImageRow
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public required string Status { get; init; }
    public required string Visibility { get; init; }
    public bool Protected { get; init; }
    public bool OsHidden { get; init; }
    public string? DiskFormat { get; init; }
    public string? ContainerFormat { get; init; }
    public long? Size { get; init; }
    public long? VirtualSize { get; init; }
    public string? Checksum { get; init; }
    public string? OsHashAlgo { get; init; }
    public string? OsHashValue { get; init; }
    public int MinDisk { get; init; }
    public int MinRam { get; init; }
    public required string Owner { get; init; }
    public string Tags { get; init; } = "[]";
    public string Properties { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}
