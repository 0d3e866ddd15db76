using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Server.Data;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Common;

/// <summary>List query parameters shared by the APIs: paging limits, next links and name filters, with 400s instead of 500s.</summary>
public static class QueryParams
{
    /// <summary>How long a user's name filter may run against one name before the request is refused.</summary>
    private static readonly TimeSpan s_regexTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>The "limit" parameter: null when absent, a non-negative integer, else a 400 in Nova/Cinder/Glance's words.</summary>
    public static int? Limit(IQueryCollection query) => NonNegative(query, "limit");

    /// <summary>The "offset" parameter of Nova's offset-paged lists (os-server-groups): 0 when absent, else as <see cref="Limit"/>.</summary>
    public static int Offset(IQueryCollection query) => NonNegative(query, "offset") ?? 0;

    private static int? NonNegative(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        if (!int.TryParse(values.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw ApiException.BadRequest($"{name} param must be an integer");
        }

        return value < 0 ? throw ApiException.BadRequest($"{name} param must be positive") : value;
    }

    /// <summary>
    /// A user-supplied regular expression (Nova matches server names this way): one that does not compile is a 400, and
    /// matching is bounded by a timeout so that a catastrophic pattern cannot hold a thread.
    /// </summary>
    public static Regex UserRegex(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, s_regexTimeout);
        }
        catch (ArgumentException ex)
        {
            throw ApiException.BadRequest($"Invalid regular expression '{pattern}': {ex.Message}");
        }
    }

    /// <summary>Whether <paramref name="regex"/> matches <paramref name="input"/>; a match that runs out of time is a 400.</summary>
    public static bool IsMatch(Regex regex, string input)
    {
        try
        {
            return regex.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            throw ApiException.BadRequest($"The regular expression '{regex}' took too long to match.");
        }
    }

    /// <summary>
    /// Cinder's and Nova's "next" link (the body's <c>…_links</c>) when a page is full: the same request (filters,
    /// sort, limit) from after the page's last row. As in both services (and as Tempest's pagination tests expect),
    /// an exactly full last page links to an empty one. <paramref name="limit"/> is the limit the list applied (null
    /// when none, or when the request's version does not page). The offset is left out: the marker places the next page.
    /// </summary>
    public static JsonArray? NextLink<T>(HttpContext http, Page<T> page, Func<T, string> idOf, int? limit)
    {
        var full = limit is { } size && page.Items.Count >= size;
        if (!(page.HasMore || full) || page.Items.Count == 0)
        {
            return null;
        }

        var query = http.Request.Query
            .Where(p => p.Key is not ("marker" or "offset"))
            .SelectMany(p => p.Value.Select(v => KeyValuePair.Create(p.Key, v)))
            .Append(KeyValuePair.Create("marker", (string?)idOf(page.Items[^1])));
        return [new JsonObject { ["href"] = $"{http.BaseUrl()}{http.Request.Path}{QueryString.Create(query)}", ["rel"] = "next" }];
    }
}
