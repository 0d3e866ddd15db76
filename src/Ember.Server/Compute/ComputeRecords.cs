namespace Ember.Server.Compute;

// Rows have parameterless constructors so Dapper converts SQLite's integer booleans property by property.

public sealed record FlavorRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public int Ram { get; init; }
    public int Vcpus { get; init; }
    public int Disk { get; init; }
    public int Ephemeral { get; init; }
    public int Swap { get; init; }
    public double RxtxFactor { get; init; } = 1.0;
    public bool IsPublic { get; init; } = true;
    public string? Description { get; init; }
    public string ExtraSpecs { get; init; } = "{}";
    public DateTime CreatedAt { get; init; }
}

/// <summary>How many servers (every project's) share a host and a vm_state/task_state pair: a row of the metrics' gauge.</summary>
public sealed record ServerStateCount
{
    public string Host { get; init; } = "";
    public string VmState { get; init; } = "";
    public string? TaskState { get; init; }
    public long Count { get; init; }
}

/// <summary>A server. Nova's vm_state/task_state/power_state are kept; the API status is derived from them.</summary>
public sealed record ServerRow
{
    public string Id { get; init; } = "";
    public int InstanceNumber { get; init; }
    public string Name { get; init; } = "";

    /// <summary>Nova's instance hostname (2.90 sets it); null for a server of an Ember before compute-024, which uses its name's.</summary>
    public string? Hostname { get; init; }
    public string? Description { get; init; }
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? ImageId { get; init; }
    public string FlavorId { get; init; } = "";

    /// <summary>The flavor as it was at boot (Nova embeds a copy; the flavor may be deleted later).</summary>
    public string FlavorJson { get; init; } = "{}";

    /// <summary>The flavor before a resize, until it is confirmed or reverted (Nova's old_flavor); null otherwise.</summary>
    public string? OldFlavorJson { get; init; }

    /// <summary>The snapshot of a shelved image-backed server's root disk (Nova's shelved_image_id); unshelve boots from it and deletes it.</summary>
    public string? ShelvedImageId { get; init; }
    public string VmState { get; init; } = VmStates.Building;
    public string? TaskState { get; init; }
    public int PowerState { get; init; }
    public string Metadata { get; init; } = "{}";
    public string? UserData { get; init; }
    public string? KeyName { get; init; }

    /// <summary>The public key of <see cref="KeyName"/> as it was at boot.</summary>
    public string? KeyData { get; init; }

    /// <summary>Nova's string: "True" when the server has a config drive, else "".</summary>
    public string ConfigDrive { get; init; } = "";
    public string? FaultJson { get; init; }
    public string Host { get; init; } = "";

    /// <summary>The zone of its host once placed (Nova's conductor sets it so); before that, the zone the create asked for.</summary>
    public string? AvailabilityZone { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public DateTime? LaunchedAt { get; init; }

    /// <summary>Who locked the server ("owner" or "admin", as Nova's locked_by), null when unlocked.</summary>
    public string? LockedBy { get; init; }

    /// <summary>The reason given to lock (2.73).</summary>
    public string? LockedReason { get; init; }
    public string? AccessIpV4 { get; init; }
    public string? AccessIpV6 { get; init; }

    /// <summary>The reservation of the create that made it (r-xxxxxxxx; shared by the servers of one multiple create).</summary>
    public string? ReservationId { get; init; }

    /// <summary>The server's index among those of its create (0 for a single create).</summary>
    public int LaunchIndex { get; init; }

    /// <summary>The zone the create asked for (Nova's request spec availability_zone, shown from 2.96); null: none.</summary>
    public string? PinnedAvailabilityZone { get; init; }

    /// <summary>The create's scheduler hints as JSON, each value a list (shown from 2.100); null for a server before compute-030.</summary>
    public string? SchedulerHints { get; init; }

    /// <summary>The image's standard properties at boot as JSON (shown from 2.98); null when none were kept.</summary>
    public string? ImageProperties { get; init; }

    public bool Locked => LockedBy is not null;

    public string InstanceName => $"instance-{InstanceNumber:x8}";
}

/// <summary>A volume attached to a server (at boot or later), with the Cinder attachment behind it.</summary>
public sealed record BdmRow
{
    public string Id { get; init; } = "";
    public string ServerId { get; init; } = "";
    public string VolumeId { get; init; } = "";
    public string? AttachmentId { get; init; }

    /// <summary>Without /dev/, e.g. "vdb".</summary>
    public string DeviceName { get; init; } = "";
    public int? BootIndex { get; init; }
    public bool DeleteOnTermination { get; init; }
    public string? Tag { get; init; }

    /// <summary>The NBD connection info from the volume service, kept so a restart can reconnect.</summary>
    public string? ConnectionJson { get; init; }
    public DateTime CreatedAt { get; init; }
}

/// <summary>Nova's vm_state values used here.</summary>
public static class VmStates
{
    public const string Building = "building";
    public const string Active = "active";
    public const string Stopped = "stopped";
    public const string Paused = "paused";
    public const string Suspended = "suspended";
    public const string Error = "error";
    public const string Deleted = "deleted";

    /// <summary>A resize waiting for its confirm or revert (VERIFY_RESIZE).</summary>
    public const string Resized = "resized";

    /// <summary>Shelved, still on its host (only while its offload runs: Ember offloads at once, as Nova with shelved_offload_time=0).</summary>
    public const string Shelved = "shelved";

    /// <summary>Shelved and off any host: no QEMU, no disks, no host resources; its root disk is in the shelved image.</summary>
    public const string ShelvedOffloaded = "shelved_offloaded";

    /// <summary>Running from a rescue disk, its own root disk attached second (RESCUE).</summary>
    public const string Rescued = "rescued";
}

/// <summary>Nova's power_state numbers.</summary>
public static class PowerStates
{
    public const int NoState = 0;
    public const int Running = 1;
    public const int Paused = 3;
    public const int Shutdown = 4;
    public const int Crashed = 6;
}

/// <summary>One row of os-instance-actions: an action a request started on a server.</summary>
public sealed record InstanceActionRow
{
    public long Id { get; init; }
    public string ServerId { get; init; } = "";
    public string RequestId { get; init; } = "";
    public string Action { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string? Message { get; init; }
    public DateTime StartTime { get; init; }
    public DateTime? FinishTime { get; init; }
    public DateTime UpdatedAt { get; init; }
}

/// <summary>One event of an action: a step of its work (compute_stop_instance, ...), on a host, with its result.</summary>
public sealed record InstanceActionEventRow
{
    public long Id { get; init; }
    public long ActionId { get; init; }
    public string Event { get; init; } = "";
    public string? Host { get; init; }
    public DateTime StartTime { get; init; }
    public DateTime? FinishTime { get; init; }
    public string? Result { get; init; }
    public string? Traceback { get; init; }
    public string? Details { get; init; }
}
