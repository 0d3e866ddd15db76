namespace Ember.Server.Volume;

// Rows are records with settable properties: Dapper fills them one by one, converting SQLite's
// integers to bool, instead of requiring exact constructor types.

/// <summary>How many volumes (every project's) have one status: a row of the metrics' gauge.</summary>
public sealed record VolumeStatusCount
{
    public string Status { get; init; } = "";
    public long Count { get; init; }
}

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

    /// <summary>Whether os-update_readonly_flag has set the flag, so that the volume's metadata shows it as Cinder's does.</summary>
    public bool ReadonlyShown { get; init; }
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

    /// <summary>The QoS specs associated with the type, if any.</summary>
    public string? QosSpecsId { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>A QoS specs entity: Consumer is front-end, back-end or both; Specs holds a JSON object of strings.</summary>
public sealed record QosSpecsRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Consumer { get; init; } = "back-end";
    public string Specs { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>A volume type's encryption spec (Cinder's encryption table); Ember keeps it and encrypts nothing.</summary>
public sealed record EncryptionRow
{
    public string VolumeTypeId { get; init; } = "";
    public string EncryptionId { get; init; } = "";
    public string Provider { get; init; } = "";
    public string? Cipher { get; init; }
    public int? KeySize { get; init; }
    public string ControlLocation { get; init; } = "front-end";
    public DateTime CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
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

    /// <summary>What os-update_snapshot_status last reported; null when nothing did.</summary>
    public string? Progress { get; init; }
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

    /// <summary>3.60's comparisons of created_at or updated_at with a time, all of which must hold.</summary>
    public IReadOnlyList<TimeComparison> Times { get; init; } = [];

    /// <summary>3.65's filter: every Ember volume consumes quota, so false matches none.</summary>
    public bool? ConsumesQuota { get; init; }
}

/// <summary>One of Cinder's time comparison filters (3.60): <c>created_at=gte:2024-01-01T00:00:00</c>.</summary>
public sealed record TimeComparison(string Column, string Operator, DateTime Value)
{
    /// <summary>Cinder's operators and their SQL; the column and the SQL come from here, never from the request.</summary>
    public static readonly IReadOnlyDictionary<string, string> Operators = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["gt"] = ">",
        ["gte"] = ">=",
        ["eq"] = "=",
        ["neq"] = "<>",
        ["lt"] = "<",
        ["lte"] = "<=",
    };
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

/// <summary>A backup row; Metadata holds JSON text, Container is the directory under Volume:BackupPath that holds its files.</summary>
public sealed record BackupRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string? SnapshotId { get; init; }

    /// <summary>The backup an incremental one changes; null for a full backup.</summary>
    public string? ParentId { get; init; }

    /// <summary>The volume a running restore writes (for recovery after a restart).</summary>
    public string? RestoreVolumeId { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string Status { get; init; } = "";
    public string? FailReason { get; init; }
    public string Container { get; init; } = "";
    public string AvailabilityZone { get; init; } = "nova";
    public int Size { get; init; }
    public int ObjectCount { get; init; }
    public bool IsIncremental { get; init; }
    public string Metadata { get; init; } = "{}";

    /// <summary>When the backed-up data was taken: the snapshot's creation, else the backup's.</summary>
    public DateTime DataTimestamp { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>What GET /backups filters on; null is "any".</summary>
public sealed record BackupFilter
{
    public string? ProjectId { get; init; }
    public string? VolumeId { get; init; }
    public string? Name { get; init; }
    public string? Status { get; init; }
}

/// <summary>An open volume transfer; KeyHash is sha256(Salt + auth_key) in hex.</summary>
public sealed record TransferRow
{
    public string Id { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? Name { get; init; }
    public string Salt { get; init; } = "";
    public string KeyHash { get; init; } = "";

    /// <summary>3.55: the snapshots stay with the giving project.</summary>
    public bool NoSnapshots { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>A group type (3.11); GroupSpecs holds a JSON object of strings.</summary>
public sealed record GroupTypeRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Description { get; init; }
    public bool IsPublic { get; init; } = true;
    public string GroupSpecs { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
}
