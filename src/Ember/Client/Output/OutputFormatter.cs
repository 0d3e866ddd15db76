using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ember.Client.Output;

/// <summary>Prints a record or a list like python-openstackclient (cliff): -f table|json|value and -c COLUMN.</summary>
public sealed class OutputFormatter(TextWriter output, string format, IReadOnlyList<string> columns)
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One record as Field/Value rows, in the given order.</summary>
    public void Show(IEnumerable<KeyValuePair<string, JsonNode?>> fields)
    {
        var all = fields.ToList();
        var selected = Select(all.Select(f => f.Key).ToList());
        var rows = all.Where(f => selected.Contains(f.Key)).ToList();
        switch (format)
        {
            case "json":
                var obj = new JsonObject();
                foreach (var (key, value) in rows)
                {
                    obj[key] = value?.DeepClone();
                }

                output.WriteLine(obj.ToJsonString(s_indented));
                break;
            case "value":
                foreach (var (_, value) in rows)
                {
                    output.WriteLine(Text(value));
                }

                break;
            default:
                var table = new PrettyTable(["Field", "Value"]);
                foreach (var (key, value) in rows)
                {
                    table.AddRow(key, Text(value));
                }

                output.WriteLine(table.ToString());
                break;
        }
    }

    /// <summary>A list with the given column headers; each row has one value per column.</summary>
    public void List(IReadOnlyList<string> headers, IEnumerable<JsonNode?[]> rows)
    {
        var selected = Select(headers);
        var indexes = Enumerable.Range(0, headers.Count).Where(i => selected.Contains(headers[i])).ToArray();
        var data = rows.ToList();
        switch (format)
        {
            case "json":
                var array = new JsonArray();
                foreach (var row in data)
                {
                    var obj = new JsonObject();
                    foreach (var i in indexes)
                    {
                        obj[headers[i]] = row[i]?.DeepClone();
                    }

                    array.Add((JsonNode)obj);
                }

                output.WriteLine(array.ToJsonString(s_indented));
                break;
            case "value":
                foreach (var row in data)
                {
                    output.WriteLine(string.Join(' ', indexes.Select(i => Text(row[i]))));
                }

                break;
            default:
                var table = new PrettyTable([.. indexes.Select(i => headers[i])]);
                foreach (var row in data)
                {
                    table.AddRow([.. indexes.Select(i => Text(row[i]))]);
                }

                output.WriteLine(table.ToString());
                break;
        }
    }

    /// <summary>cliff's formatting of one value in table and value output.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        null => "None",
        JsonObject obj => string.Join(", ", obj.Select(p => $"{p.Key}='{Text(p.Value)}'")),
        JsonArray array when array.All(a => a is JsonValue) => string.Join(", ", array.Select(Text)),
        JsonArray array => string.Join("\n", array.Select(a => a is JsonObject o ? Text(o) : Text(a))),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => "True",
            JsonValueKind.False => "False",
            JsonValueKind.Null => "None",
            _ => v.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    private HashSet<string> Select(IReadOnlyList<string> available)
    {
        if (columns.Count == 0)
        {
            return [.. available];
        }

        var chosen = available.Where(columns.Contains).ToHashSet();
        return chosen.Count > 0 ? chosen : throw new CliException($"No recognized column names in {PyFormat.Repr(new JsonArray([.. columns.Select(c => JsonValue.Create(c))]))}. Recognized columns are {PyFormat.Repr(new JsonArray([.. available.Select(c => JsonValue.Create(c))]))}.");
    }
}
