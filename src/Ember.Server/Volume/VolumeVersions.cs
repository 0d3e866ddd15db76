using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>The volume API's microversions (3.x) that change what Ember serves.</summary>
public static class VolumeVersions
{
    public static readonly Microversion Min = new(3, 0);

    /// <summary>
    /// The newest version whose every response field and rule Ember serves for the resources it has (3.70; 3.58 and
    /// 3.70 change only groups and encrypted volumes' transfers, which Ember does not have at any version).
    /// cinderclient 9.1 asks for 3.70 and warns on every command when the server's maximum is lower.
    /// </summary>
    public static readonly Microversion Max = new(3, 70);

    public static readonly Microversion UploadImageParams = new(3, 1);
    public static readonly Microversion Messages = new(3, 3);
    public static readonly Microversion MessagesPagination = new(3, 5);
    public static readonly Microversion VolumeSummary = new(3, 12);
    public static readonly Microversion BackupUpdate = new(3, 9);
    public static readonly Microversion GroupTypes = new(3, 11);
    public static readonly Microversion GroupId = new(3, 13);
    public static readonly Microversion ProviderId = new(3, 21);
    public static readonly Microversion NewAttach = new(3, 27);
    public static readonly Microversion VolumeSummaryMetadata = new(3, 36);
    public static readonly Microversion ExtendInUse = new(3, 42);
    public static readonly Microversion AttachmentComplete = new(3, 44);
    public static readonly Microversion VolumeListCount = new(3, 45);
    public static readonly Microversion BackupProjectAttribute = new(3, 18);
    public static readonly Microversion BackupMetadata = new(3, 43);
    public static readonly Microversion VolumeFromBackup = new(3, 47);
    public static readonly Microversion SharedTargets = new(3, 48);
    public static readonly Microversion AttachmentMode = new(3, 54);
    public static readonly Microversion TransfersV355 = new(3, 55);
    public static readonly Microversion BackupUserId = new(3, 56);
    public static readonly Microversion TransferDetails = new(3, 57);
    public static readonly Microversion TimeComparisonFilters = new(3, 60);
    public static readonly Microversion ClusterName = new(3, 61);
    public static readonly Microversion DefaultTypes = new(3, 62);
    public static readonly Microversion VolumeTypeId = new(3, 63);
    public static readonly Microversion ConsumesQuota = new(3, 65);
    public static readonly Microversion SnapshotInUse = new(3, 66);
    public static readonly Microversion Reimage = new(3, 68);

    /// <summary>The version an OpenStack-API-Version header asks of the volume service.</summary>
    public static Microversion FromHeader(string? header) => Microversion.Parse(Microversion.Requested([header], "volume"), Min, Max);
}
