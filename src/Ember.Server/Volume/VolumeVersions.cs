using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>The volume API's microversions (3.x) that change what Ember serves.</summary>
public static class VolumeVersions
{
    public static readonly Microversion Min = new(3, 0);

    /// <summary>The newest version whose every response field Ember serves (3.54: attachment mode).</summary>
    public static readonly Microversion Max = new(3, 54);

    public static readonly Microversion GroupId = new(3, 13);
    public static readonly Microversion ProviderId = new(3, 21);
    public static readonly Microversion NewAttach = new(3, 27);
    public static readonly Microversion ExtendInUse = new(3, 42);
    public static readonly Microversion AttachmentComplete = new(3, 44);
    public static readonly Microversion VolumeListCount = new(3, 45);
    public static readonly Microversion SharedTargets = new(3, 48);
    public static readonly Microversion AttachmentMode = new(3, 54);

    /// <summary>The version an OpenStack-API-Version header asks of the volume service.</summary>
    public static Microversion FromHeader(string? header) => Microversion.Parse(Microversion.Requested([header], "volume"), Min, Max);
}
