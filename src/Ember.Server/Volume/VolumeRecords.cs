namespace Ember.Server.Volume;

// Rows are records with settable properties: Dapper fills them one by one, converting SQLite's
// integers to bool, instead of requiring exact constructor types.

/// <summary>One volume as stored. Metadata and ImageMetadata hold JSON text.</summary>
public sealed record VolumeRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? Name { get; init; }
    public string? Description { get; init; }
    public int Size { get; init; }
    public string Status { get; init; } = "";
    public string AttachStatus { get; init; } = "detached";
    public string VolumeTypeId { get; init; } = "";
    public string AvailabilityZone { get; init; } = "nova";
    public bool Bootable { get; init; }
    public bool Multiattach { get; init; }
    public bool Readonly { get; init; }
    public string? SnapshotId { get; init; }
    public string? SourceVolid { get; init; }
    public string? ImageMetadata { get; init; }
    public string Metadata { get; init; } = "{}";
    public string? LegacyExport { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>A volume type; ExtraSpecs holds a JSON object of strings.</summary>
public sealed record VolumeTypeRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Description { get; init; }
    public bool IsPublic { get; init; } = true;
    public string ExtraSpecs { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>An attachment row; AttachStatus is Cinder's attach_status.</summary>
public sealed record AttachmentRow
{
    public string Id { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string? InstanceUuid { get; init; }
    public string AttachStatus { get; init; } = "reserved";
    public string AttachMode { get; init; } = "rw";
    public string? Mountpoint { get; init; }
    public string? AttachedHost { get; init; }
    public string? Connector { get; init; }
    public string? ExportName { get; init; }
    public DateTime? AttachTime { get; init; }
    public DateTime? DetachTime { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>A snapshot row; Metadata holds JSON text.</summary>
public sealed record SnapshotRow
{
    public string Id { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? Name { get; init; }
    public string? Description { get; init; }
    public int Size { get; init; }
    public string Status { get; init; } = "";
    public string Metadata { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>What GET /volumes filters on; null is "any". ProjectId null lists every project.</summary>
public sealed record VolumeFilter
{
    public string? ProjectId { get; init; }
    public string? Name { get; init; }

    /// <summary>The status as the API shows it (<see cref="VolumeJson.DisplayStatus"/>).</summary>
    public string? Status { get; init; }
    public bool? Bootable { get; init; }

    /// <summary>Keys that must all be present with exactly these values.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>What GET /snapshots filters on; null is "any".</summary>
public sealed record SnapshotFilter
{
    public string? ProjectId { get; init; }
    public string? VolumeId { get; init; }
    public string? Name { get; init; }
    public string? Status { get; init; }
}

/// <summary>What GET /attachments filters on; null is "any".</summary>
public sealed record AttachmentFilter
{
    public string? ProjectId { get; init; }
    public string? VolumeId { get; init; }
    public string? InstanceId { get; init; }

    /// <summary>Cinder accepts both status and attach_status: each given must match.</summary>
    public IReadOnlyList<string> AttachStatuses { get; init; } = [];
}
