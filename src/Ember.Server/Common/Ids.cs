using System.Security.Cryptography;

namespace Ember.Server.Common;

/// <summary>Identifier and timestamp formats, as each OpenStack service prints them.</summary>
public static class Ids
{
    /// <summary>Keystone ids: 32 hex digits, no dashes.</summary>
    public static string NewHexId() => Guid.NewGuid().ToString("N");

    /// <summary>Nova, Cinder and Glance ids: dashed UUIDs.</summary>
    public static string NewUuid() => Guid.NewGuid().ToString("D");

    public static bool IsUuid(string? text) => Guid.TryParse(text, out _);

    /// <summary>A secret that is safe in URLs and headers.</summary>
    public static string NewSecret(int bytes = 32) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static DateTime Now() => Now(TimeProvider.System);

    /// <summary>The clock's time as the database keeps it: UTC, whole microseconds.</summary>
    public static DateTime Now(TimeProvider clock) => DateTime.SpecifyKind(TruncateToMicroseconds(clock.GetUtcNow().UtcDateTime), DateTimeKind.Utc);

    /// <summary>Cinder style: 2018-11-29T06:50:07.770785 (no zone).</summary>
    public static string CinderTime(DateTime t) => AsUtc(t).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff");

    /// <summary>Nova and Glance style: 2015-08-06T04:00:11Z.</summary>
    public static string ZuluSeconds(DateTime t) => AsUtc(t).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    /// <summary>Keystone style: 2015-11-07T02:58:43.578887Z.</summary>
    public static string KeystoneTime(DateTime t) => AsUtc(t).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'");

    public static DateTime AsUtc(DateTime t) => t.Kind == DateTimeKind.Utc ? t : DateTime.SpecifyKind(t, DateTimeKind.Utc);

    private static DateTime TruncateToMicroseconds(DateTime t) => new(t.Ticks - (t.Ticks % 10), t.Kind);
}
