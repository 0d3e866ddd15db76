using System.Text.Json.Nodes;
using Ember.Client.Output;

namespace Ember.Commands.Legacy;

/// <summary>The table printers of the 2015 python clients (cinderclient 1.x centers, novaclient and glanceclient align left).</summary>
public static class LegacyFormat
{
    /// <summary>utils.print_dict: Property/Value rows sorted by property.</summary>
    public static string Dict(IEnumerable<(string Key, string Value)> rows, bool centered, string property = "Property")
    {
        var table = new PrettyTable([property, "Value"], centered);
        foreach (var (key, value) in rows.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            table.AddRow(key, value);
        }

        return table.ToString();
    }

    /// <summary>utils.print_list: sorted by column <paramref name="sortBy"/> when given.</summary>
    public static string List(IReadOnlyList<string> headers, IEnumerable<string[]> rows, bool centered, int? sortBy = 0)
    {
        var table = new PrettyTable(headers, centered);
        var ordered = sortBy is { } index ? rows.OrderBy(r => r[index], StringComparer.Ordinal) : rows;
        foreach (var row in ordered)
        {
            table.AddRow(row);
        }

        return table.ToString();
    }

    /// <summary>novaclient's print_dict value: dicts and lists as JSON, None as "-".</summary>
    public static string NovaValue(JsonNode? node) => node switch
    {
        null => "-",
        JsonObject or JsonArray => PyFormat.Dumps(node),
        _ => PyFormat.Str(node),
    };
}
