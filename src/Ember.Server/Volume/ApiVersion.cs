using Ember.Server.Common;

namespace Ember.Server.Volume;

/// <summary>A volume API microversion (3.x), from the OpenStack-API-Version header.</summary>
public readonly record struct ApiVersion(int Major, int Minor) : IComparable<ApiVersion>
{
    public static readonly ApiVersion Min = new(3, 0);

    /// <summary>The newest version whose every response field Ember serves (3.54: attachment mode).</summary>
    public static readonly ApiVersion Max = new(3, 54);

    public static readonly ApiVersion GroupId = new(3, 13);
    public static readonly ApiVersion ProviderId = new(3, 21);
    public static readonly ApiVersion NewAttach = new(3, 27);
    public static readonly ApiVersion ExtendInUse = new(3, 42);
    public static readonly ApiVersion AttachmentComplete = new(3, 44);
    public static readonly ApiVersion VolumeListCount = new(3, 45);
    public static readonly ApiVersion SharedTargets = new(3, 48);
    public static readonly ApiVersion AttachmentMode = new(3, 54);

    public const string HeaderName = "OpenStack-API-Version";

    public override string ToString() => $"{Major}.{Minor}";

    public int CompareTo(ApiVersion other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    public static bool operator <(ApiVersion a, ApiVersion b) => a.CompareTo(b) < 0;

    public static bool operator >(ApiVersion a, ApiVersion b) => a.CompareTo(b) > 0;

    public static bool operator <=(ApiVersion a, ApiVersion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(ApiVersion a, ApiVersion b) => a.CompareTo(b) >= 0;

    /// <summary>
    /// The version a request asks for: none means 3.0, "latest" the maximum; a malformed one is a 400 and one out of
    /// range a 406, as in cinder/api/openstack/api_version_request.py.
    /// </summary>
    public static ApiVersion FromHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return Min;
        }

        string? requested = null;
        foreach (var part in header.Split(','))
        {
            var words = part.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 2 && words[0].Equals("volume", StringComparison.OrdinalIgnoreCase))
            {
                requested = words[1];
            }
        }

        if (requested is null)
        {
            return Min;
        }

        if (requested.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            return Max;
        }

        var dot = requested.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !int.TryParse(requested[..dot], out var major) || !int.TryParse(requested[(dot + 1)..], out var minor)
            || major < 0 || minor < 0 || requested[(dot + 1)..].StartsWith('0') && requested.Length - dot > 2)
        {
            throw ApiException.BadRequest($"API Version String {requested} is of invalid format. Must be of format MajorNum.MinorNum.");
        }

        var version = new ApiVersion(major, minor);
        if (version < Min || version > Max)
        {
            throw new ApiException(ErrorKind.NotAcceptable, $"Version {version} is not supported by the API. Minimum is {Min} and maximum is {Max}.");
        }

        return version;
    }
}
