using Ember.Compute.Qemu;
using Ember.Processes;
using Ember.Server.Volume.Rbd;

namespace Ember.Server.Volume;

/// <summary>
/// The parts of a user message (3.3), after cinder/message/message_field.py: the resource it is about, what was being
/// done (action) and what went wrong (detail), each with Cinder's id and wording, so that the event id
/// (VOLUME_&lt;resource&gt;_&lt;action&gt;_&lt;detail&gt;) means what it means in Cinder. Ember adds a short reason of its own.
/// </summary>
public static class MessageFields
{
    public const string VolumeResource = "VOLUME";
    public const string SnapshotResource = "VOLUME_SNAPSHOT";

    public sealed record Field(string Id, string Text);

    public static readonly Field ScheduleAllocateVolume = new("001", "schedule allocate volume");
    public static readonly Field CopyVolumeToImage = new("003", "copy volume to image");
    public static readonly Field CopyImageToVolume = new("005", "copy image to volume");
    public static readonly Field ExtendVolume = new("007", "extend volume");
    public static readonly Field CreateVolumeFromBackend = new("008", "create volume from backend storage");
    public static readonly Field SnapshotCreate = new("009", "create snapshot");
    public static readonly Field SnapshotDelete = new("010", "delete snapshot");

    public static readonly Field UnknownError = new("001", "An unknown error occurred.");
    public static readonly Field NoBackendAvailable = new("002", "Could not find any available weighted backend.");
    public static readonly Field FailedToUploadVolume = new("004", "Failed to upload volume to image at backend.");
    public static readonly Field DriverFailedExtend = new("010", "Volume Driver failed to extend volume.");
    public static readonly Field DriverFailedCreate = new("012", "Driver failed to create the volume.");
    public static readonly Field SnapshotCreateError = new("013", "Snapshot failed to create.");
    public static readonly Field SnapshotIsBusy = new("015", "Snapshot is busy.");
    public static readonly Field SnapshotDeleteError = new("016", "Snapshot failed to delete.");

    private static readonly Field[] s_actions = [ScheduleAllocateVolume, CopyVolumeToImage, CopyImageToVolume, ExtendVolume, CreateVolumeFromBackend, SnapshotCreate, SnapshotDelete];
    private static readonly Field[] s_details = [UnknownError, NoBackendAvailable, FailedToUploadVolume, DriverFailedExtend, DriverFailedCreate, SnapshotCreateError, SnapshotIsBusy, SnapshotDeleteError];

    public static string EventId(string resourceType, string actionId, string detailId) => $"VOLUME_{resourceType}_{actionId}_{detailId}";

    /// <summary>Cinder's "action:detail" text, with Ember's reason after the detail when there is one.</summary>
    public static string UserMessage(string actionId, string detailId, string? reason)
    {
        var action = s_actions.FirstOrDefault(a => a.Id == actionId)?.Text ?? "unknown action";
        var detail = (s_details.FirstOrDefault(d => d.Id == detailId) ?? UnknownError).Text;
        return reason is null ? $"{action}:{detail}" : $"{action}:{detail} {reason}";
    }
}

/// <summary>
/// Why a background operation failed, in a sentence a user can act on. Only the exception's kind and errno are read:
/// its text (paths, pool names, command lines, stderr) never reaches the user. Null when the cause is not one of these.
/// </summary>
public static class FailureReasons
{
    public const string PoolQuota = "The storage pool's quota is reached.";
    public const string PoolFull = "The storage pool is out of space.";
    public const string ClusterTimeout = "The storage cluster did not answer in time.";
    public const string ClusterRefused = "The storage cluster refused access.";
    public const string DataMissing = "The volume's data is missing from the storage backend.";
    public const string ImageRefused = "The image was refused: its data does not match its disk format or refers to other files.";
    public const string Interrupted = "Ember stopped while the operation ran.";

    private const int Eperm = 1, Enoent = 2, Eacces = 13, Enospc = 28, Eshutdown = 108, Etimedout = 110, Edquot = 122;

    public static string? Of(Exception exception) => exception switch
    {
        OperationCanceledException => Interrupted,
        RbdException rbd => OfErrno(rbd.Errno),
        FileNotFoundException or DirectoryNotFoundException => DataMissing,
        QemuException => ImageRefused,
        ProcessFailedException process => OfText(process.StdErrTail),
        IOException io => OfErrno(io.HResult) ?? OfText(io.Message),
        _ => null,
    };

    /// <summary>librados/librbd errnos (the C calls return -errno), and .NET's IOException.HResult on Unix, which is the errno.</summary>
    private static string? OfErrno(int errno) => errno switch
    {
        Edquot => PoolQuota,
        Enospc => PoolFull,
        Etimedout => ClusterTimeout,
        Eperm or Eacces or Eshutdown => ClusterRefused, // ESHUTDOWN: this client was blocklisted
        Enoent => DataMissing,
        _ => null,
    };

    /// <summary>The strerror text a copy tool (cp, qemu-img) printed.</summary>
    private static string? OfText(string text) =>
        text.Contains("Disk quota exceeded", StringComparison.Ordinal) ? PoolQuota
        : text.Contains("No space left on device", StringComparison.Ordinal) ? PoolFull
        : text.Contains("Connection timed out", StringComparison.Ordinal) ? ClusterTimeout
        : text.Contains("No such file or directory", StringComparison.Ordinal) ? DataMissing
        : null;
}

/// <summary>One user message as stored; the user_message text is made from its ids and reason when shown.</summary>
public sealed record MessageRow
{
    public string Id { get; init; } = "";
    public string ProjectId { get; init; } = "";
    public string RequestId { get; init; } = "";
    public string ResourceType { get; init; } = "";
    public string? ResourceUuid { get; init; }
    public string EventId { get; init; } = "";
    public string ActionId { get; init; } = "";
    public string DetailId { get; init; } = "";
    public string? Reason { get; init; }
    public string MessageLevel { get; init; } = "ERROR";
    public DateTime CreatedAt { get; init; }
    public DateTime ExpiresAt { get; init; }

    public string UserMessage => MessageFields.UserMessage(ActionId, DetailId, Reason);
}

/// <summary>The message list's filters (3.31's resource filters for messages); null filters nothing.</summary>
public sealed record MessageFilter
{
    public string? ProjectId { get; init; }
    public string? ResourceUuid { get; init; }
    public string? ResourceType { get; init; }
    public string? EventId { get; init; }
    public string? RequestId { get; init; }
    public string? MessageLevel { get; init; }
}
