using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

/// <summary>A compute API microversion, e.g. 2.60. Requests name it in OpenStack-API-Version or the legacy Nova header.</summary>
public readonly record struct ComputeVersion(int Major, int Minor) : IComparable<ComputeVersion>
{
    public static readonly ComputeVersion Min = new(2, 1);

    /// <summary>The newest microversion Ember implements: 2.60 enables multi-attach volumes.</summary>
    public static readonly ComputeVersion Max = new(2, 60);

    private const string ItemKey = "ember.compute-version";

    public int CompareTo(ComputeVersion other) => (Major, Minor).CompareTo((other.Major, other.Minor));

    public static bool operator <(ComputeVersion a, ComputeVersion b) => a.CompareTo(b) < 0;

    public static bool operator >(ComputeVersion a, ComputeVersion b) => a.CompareTo(b) > 0;

    public static bool operator <=(ComputeVersion a, ComputeVersion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(ComputeVersion a, ComputeVersion b) => a.CompareTo(b) >= 0;

    /// <summary>True when the request's version is at least <paramref name="minor"/> (2.x).</summary>
    public bool AtLeast(int minor) => this >= new ComputeVersion(2, minor);

    public override string ToString() => $"{Major}.{Minor}";

    /// <summary>The request's version (2.1 when it names none), echoed on the response; 406 when out of range.</summary>
    public static ComputeVersion Of(HttpContext http)
    {
        if (http.Items[ItemKey] is ComputeVersion known)
        {
            return known;
        }

        var version = Parse(RequestedText(http));
        http.Items[ItemKey] = version;
        return version;
    }

    /// <summary>Adds the version headers Nova sends on every versioned response, errors included.</summary>
    public static void Echo(HttpContext http)
    {
        ComputeVersion version;
        try
        {
            version = Of(http);
        }
        catch (ApiException)
        {
            version = Min;
        }

        http.Response.Headers["OpenStack-API-Version"] = $"compute {version}";
        http.Response.Headers["X-OpenStack-Nova-API-Version"] = version.ToString();
        http.Response.Headers.Vary = "OpenStack-API-Version, X-OpenStack-Nova-API-Version";
    }

    private static string? RequestedText(HttpContext http)
    {
        foreach (var header in http.Request.Headers["OpenStack-API-Version"])
        {
            var parts = header?.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts is [var service, var value] && service.Equals("compute", StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        var legacy = http.Request.Headers["X-OpenStack-Nova-API-Version"].ToString();
        return string.IsNullOrWhiteSpace(legacy) ? null : legacy.Trim();
    }

    public static ComputeVersion Parse(string? text)
    {
        if (text is null)
        {
            return Min;
        }

        if (text.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            return Max;
        }

        var parts = text.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var major) || !int.TryParse(parts[1], out var minor))
        {
            throw ApiException.BadRequest($"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.");
        }

        var version = new ComputeVersion(major, minor);
        return version < Min || version > Max
            ? throw new ApiException(ErrorKind.NotAcceptable, $"Version {text} is not supported by the API. Minimum is {Min} and maximum is {Max}.")
            : version;
    }
}
