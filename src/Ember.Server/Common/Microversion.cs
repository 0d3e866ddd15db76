using System.Text.RegularExpressions;

namespace Ember.Server.Common;

/// <summary>An OpenStack API microversion such as compute 2.60 or volume 3.54.</summary>
public readonly partial record struct Microversion(int Major, int Minor) : IComparable<Microversion>
{
    public const string HeaderName = "OpenStack-API-Version";

    public int CompareTo(Microversion other) => (Major, Minor).CompareTo((other.Major, other.Minor));

    public static bool operator <(Microversion a, Microversion b) => a.CompareTo(b) < 0;

    public static bool operator >(Microversion a, Microversion b) => a.CompareTo(b) > 0;

    public static bool operator <=(Microversion a, Microversion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(Microversion a, Microversion b) => a.CompareTo(b) >= 0;

    /// <summary>True when this is at least <see cref="Major"/>.<paramref name="minor"/>.</summary>
    public bool AtLeast(int minor) => this >= new Microversion(Major, minor);

    public override string ToString() => $"{Major}.{Minor}";

    /// <summary>The version named for <paramref name="service"/> in OpenStack-API-Version values ("compute 2.60, volume 3.54"), or null.</summary>
    public static string? Requested(IEnumerable<string?> headerValues, string service)
    {
        string? requested = null;
        foreach (var part in headerValues.SelectMany(v => (v ?? "").Split(',')))
        {
            var words = part.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is [var name, var value] && name.Equals(service, StringComparison.OrdinalIgnoreCase))
            {
                requested = value;
            }
        }

        return requested;
    }

    /// <summary>
    /// The version a request asks for: none means <paramref name="min"/>, "latest" <paramref name="max"/>; a malformed
    /// one is a 400 and one out of range a 406, with the messages Nova and Cinder use.
    /// </summary>
    public static Microversion Parse(string? requested, Microversion min, Microversion max)
    {
        if (string.IsNullOrWhiteSpace(requested))
        {
            return min;
        }

        if (requested.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            return max;
        }

        var match = Format().Match(requested);
        if (!match.Success || !int.TryParse(match.Groups[1].Value, out var major) || !int.TryParse(match.Groups[2].Value, out var minor))
        {
            throw ApiException.BadRequest($"API Version String {requested} is of invalid format. Must be of format MajorNum.MinorNum.");
        }

        var version = new Microversion(major, minor);
        return version < min || version > max
            ? throw new ApiException(ErrorKind.NotAcceptable, $"Version {version} is not supported by the API. Minimum is {min} and maximum is {max}.")
            : version;
    }

    /// <summary>MajorNum.MinorNum without leading zeros, as both services' API_VERSION_REQUEST regexes demand.</summary>
    [GeneratedRegex(@"^([1-9]\d*)\.([1-9]\d*|0)$")]
    private static partial Regex Format();
}
