using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Identity;

/// <summary>
/// Keystone's list filters: an exact match on an attribute (<c>?name=x</c>), Keystone's inexact operators on text
/// (<c>?name__contains=x</c>, <c>__startswith</c>, <c>__endswith</c>, each with an <c>i</c> prefix for case-insensitive),
/// and booleans read as Keystone reads them (anything but a false word is true). A filter absent from the query
/// lets every row through.
/// </summary>
internal static class IdentityFilter
{
    private static readonly string[] s_operators = ["contains", "startswith", "endswith"];

    public static bool Text(IQueryCollection query, string key, string? value)
    {
        if (query.TryGetValue(key, out var exact) && exact.ToString() != value)
        {
            return false;
        }

        foreach (var op in s_operators)
        {
            foreach (var (suffix, comparison) in new[] { (op, StringComparison.Ordinal), ("i" + op, StringComparison.OrdinalIgnoreCase) })
            {
                if (query.TryGetValue($"{key}__{suffix}", out var wanted) && !Matches(op, value ?? "", wanted.ToString(), comparison))
                {
                    return false;
                }
            }
        }

        return true;
    }

    public static bool Flag(IQueryCollection query, string key, bool value) =>
        !query.TryGetValue(key, out var wanted) || (Json.ParseBoolean(wanted.ToString()) ?? true) == value;

    private static bool Matches(string op, string value, string wanted, StringComparison comparison) => op switch
    {
        "contains" => value.Contains(wanted, comparison),
        "startswith" => value.StartsWith(wanted, comparison),
        _ => value.EndsWith(wanted, comparison),
    };
}
