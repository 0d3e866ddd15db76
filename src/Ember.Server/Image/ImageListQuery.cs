using System.Globalization;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Ember.Server.Image;

/// <summary>
/// Glance's list query read as Glance reads it: the comparison filters (created_at/updated_at with gt:, gte:, lt:,
/// lte:, eq:, neq:; size_min/size_max), the "in:" lists of name, id, status and the formats, the boolean filters,
/// and the two sort syntaxes (sort_key/sort_dir repeated, or sort=key:dir,...). Every value is checked before any
/// image is read: a bad one is Glance's 400.
/// </summary>
internal static class ImageListQuery
{
    private static readonly string[] s_sortKeys = ["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"];

    private static readonly string[] s_timeFormats =
        ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFK", "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HHK", "yyyy-MM-dd"];

    /// <summary>The query keys read here; the list treats any other as an attribute or property filter.</summary>
    public static readonly HashSet<string> Keys =
        ["name", "id", "status", "container_format", "disk_format", "created_at", "updated_at", "size_min", "size_max",
         "virtual_size_min", "virtual_size_max", "os_hidden", "protected", "sort_key", "sort_dir", "sort"];

    /// <summary>A predicate per filter present in <paramref name="query"/>.</summary>
    public static List<Func<ImageRow, bool>> Filters(IQueryCollection query)
    {
        var filters = new List<Func<ImageRow, bool>>();
        foreach (var (key, column) in new (string, Func<ImageRow, string?>)[]
                 {
                     ("name", i => i.Name), ("id", i => i.Id), ("status", i => i.Status),
                     ("container_format", i => i.ContainerFormat), ("disk_format", i => i.DiskFormat),
                 })
        {
            if (Single(query, key) is { } expression)
            {
                var wanted = InOrEqual(expression);
                filters.Add(i => column(i) is { } value && wanted.Contains(value));
            }
        }

        foreach (var (key, column) in new (string, Func<ImageRow, DateTime>)[] { ("created_at", i => i.CreatedAt), ("updated_at", i => i.UpdatedAt) })
        {
            if (Single(query, key) is { } expression)
            {
                var compare = TimeComparison(key, expression);
                filters.Add(i => compare(WholeSeconds(column(i))));
            }
        }

        foreach (var (key, column) in new (string, Func<ImageRow, long?>)[] { ("size", i => i.Size), ("virtual_size", i => i.VirtualSize) })
        {
            if (Single(query, key + "_min") is { } min)
            {
                var bound = RangeBound(min);
                filters.Add(i => column(i) >= bound);
            }

            if (Single(query, key + "_max") is { } max)
            {
                var bound = RangeBound(max);
                filters.Add(i => column(i) <= bound);
            }
        }

        // Glance lists only images that are not hidden unless os_hidden=true asks for only the hidden ones.
        var hidden = Boolean(query, "os_hidden") ?? false;
        filters.Add(i => i.OsHidden == hidden);
        if (Boolean(query, "protected") is { } isProtected)
        {
            filters.Add(i => i.Protected == isProtected);
        }

        return filters;
    }

    /// <summary>The sort keys and directions: created_at desc by default, then id for a total order (markers need one).</summary>
    public static IOrderedEnumerable<ImageRow> Sort(IEnumerable<ImageRow> images, IQueryCollection query)
    {
        var keys = new List<string>();
        var directions = new List<string>();
        if (query.TryGetValue("sort", out var sort))
        {
            if (query.ContainsKey("sort_key") || query.ContainsKey("sort_dir"))
            {
                throw ApiException.BadRequest("Old and new sorting syntax cannot be combined");
            }

            foreach (var part in sort.ToString().Trim().Split(','))
            {
                var (key, _, direction) = Partition(part, ':');
                keys.Add(SortKey(key.Trim()));
                directions.Add(SortDirection(direction.Length == 0 ? "desc" : direction.Trim()));
            }
        }
        else
        {
            keys.AddRange(query["sort_key"].Select(k => SortKey(k!.Trim())));
            directions.AddRange(query["sort_dir"].Select(d => SortDirection(d!.Trim())));
            if (directions.Count > 1 && directions.Count != keys.Count)
            {
                throw ApiException.BadRequest("Number of sort dirs does not match the number of sort keys");
            }
        }

        if (keys.Count == 0)
        {
            keys.Add("created_at");
        }

        if (directions.Count == 0)
        {
            directions.Add("desc");
        }

        IOrderedEnumerable<ImageRow>? ordered = null;
        for (var n = 0; n < keys.Count; n++)
        {
            var selector = SortSelector(keys[n]);
            var descending = (directions.Count == 1 ? directions[0] : directions[n]) == "desc";
            ordered = (ordered, descending) switch
            {
                (null, true) => images.OrderByDescending(selector),
                (null, false) => images.OrderBy(selector),
                (_, true) => ordered.ThenByDescending(selector),
                (_, false) => ordered.ThenBy(selector),
            };
        }

        return directions[^1] == "desc" ? ordered!.ThenByDescending(i => i.Id, StringComparer.Ordinal) : ordered!.ThenBy(i => i.Id, StringComparer.Ordinal);
    }

    private static Func<ImageRow, object?> SortSelector(string key) => key switch
    {
        "name" => i => i.Name,
        "status" => i => i.Status,
        "container_format" => i => i.ContainerFormat,
        "disk_format" => i => i.DiskFormat,
        "size" => i => i.Size,
        "id" => i => i.Id,
        "updated_at" => i => i.UpdatedAt,
        _ => i => i.CreatedAt,
    };

    private static string SortKey(string key) => s_sortKeys.Contains(key)
        ? key
        : throw ApiException.BadRequest($"Invalid sort key: {Clip(key)}. It must be one of the following: {string.Join(", ", s_sortKeys)}.");

    private static string SortDirection(string direction) => direction is "asc" or "desc"
        ? direction
        : throw ApiException.BadRequest($"Invalid sort direction: {Clip(direction)}");

    /// <summary>"in:a,b" or "eq:a" or "a" (Glance's split_filter_op); any other operator is a 400, as in Glance.</summary>
    private static HashSet<string> InOrEqual(string expression)
    {
        var (op, threshold) = SplitOperator(expression);
        return op switch
        {
            "in" => [.. QuotedList(threshold)],
            "eq" => [threshold],
            _ => throw ApiException.BadRequest($"Unable to filter by unknown operator '{Clip(op)}'."),
        };
    }

    /// <summary>A comparison of a time (UTC, whole seconds, as Glance stores and shows it) with the filter's ISO 8601 time.</summary>
    private static Func<DateTime, bool> TimeComparison(string key, string expression)
    {
        var (op, text) = SplitOperator(expression);
        if (ParseTime(text) is not { } threshold)
        {
            throw ApiException.BadRequest($"Bad \"{key}\" query filter format. Use ISO 8601 DateTime notation.");
        }

        return op switch
        {
            "gt" => t => t > threshold,
            "gte" => t => t >= threshold,
            "lt" => t => t < threshold,
            "lte" => t => t <= threshold,
            "neq" => t => t != threshold,
            "eq" => t => t == threshold,
            _ => throw ApiException.BadRequest("Unable to filter on a unknown operator."),
        };
    }

    /// <summary>
    /// Operator and threshold of "op:value"; a value without one, or a whole value that is an ISO 8601 time (it has
    /// colons of its own), compares for equality.
    /// </summary>
    private static (string Op, string Threshold) SplitOperator(string expression)
    {
        if (!expression.Contains(':') || ParseTime(expression) is not null)
        {
            return ("eq", expression);
        }

        var (op, _, threshold) = Partition(expression, ':');
        return (op, threshold);
    }

    private static DateTime? ParseTime(string text) =>
        DateTimeOffset.TryParseExact(text.Trim(), s_timeFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? WholeSeconds(parsed.UtcDateTime)
            : null;

    private static DateTime WholeSeconds(DateTime t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    private static long RangeBound(string text) => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var bound)
        ? bound
        : throw ApiException.BadRequest("Unable to filter on a range with a non-numeric value.");

    private static bool? Boolean(IQueryCollection query, string key) => Single(query, key) switch
    {
        null => null,
        var text when text.Equals("true", StringComparison.OrdinalIgnoreCase) => true,
        var text when text.Equals("false", StringComparison.OrdinalIgnoreCase) => false,
        var text => throw ApiException.BadRequest($"Invalid value '{Clip(text)}' for '{key}' filter. Valid values are 'true' or 'false'."),
    };

    /// <summary>Values of an "in:" list: comma separated, a value with commas in double quotes (the API-WG rule Glance follows).</summary>
    private static IEnumerable<string> QuotedList(string text)
    {
        var value = new System.Text.StringBuilder();
        var quoted = false;
        for (var n = 0; n < text.Length; n++)
        {
            var c = text[n];
            if (c == '\\' && quoted && n + 1 < text.Length)
            {
                value.Append(text[++n]);
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                yield return value.ToString();
                value.Clear();
            }
            else
            {
                value.Append(c);
            }
        }

        if (quoted)
        {
            throw ApiException.BadRequest($"Invalid filter value {Clip(text)}. The quote is not closed.");
        }

        yield return value.ToString();
    }

    /// <summary>The last value of a query key (Glance reads the last of repeated keys), or null when it is absent.</summary>
    private static string? Single(IQueryCollection query, string key) =>
        query.TryGetValue(key, out StringValues values) && values.Count > 0 ? values[^1] : null;

    private static (string Left, char? Separator, string Right) Partition(string text, char separator)
    {
        var at = text.IndexOf(separator);
        return at < 0 ? (text, null, "") : (text[..at], separator, text[(at + 1)..]);
    }

    /// <summary>What of a caller's value goes back in an error message: no more than 255 characters.</summary>
    private static string Clip(string text) => text.Length > 255 ? text[..255] : text;
}
