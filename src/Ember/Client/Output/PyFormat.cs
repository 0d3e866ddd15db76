using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ember.Client.Output;

/// <summary>How python 2015 clients printed values: str() of the decoded JSON, or json.dumps for dicts and lists.</summary>
public static class PyFormat
{
    /// <summary>Python str(): None, True/False, numbers as parsed, dicts and lists as their repr.</summary>
    public static string Str(JsonNode? node) => node switch
    {
        null => "None",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => Repr(node),
    };

    public static string Repr(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return "None";
            case JsonObject obj:
                return "{" + string.Join(", ", obj.Select(p => QuoteRepr(p.Key) + ": " + Repr(p.Value))) + "}";
            case JsonArray array:
                return "[" + string.Join(", ", array.Select(Repr)) + "]";
            case JsonValue v:
                return v.GetValueKind() switch
                {
                    JsonValueKind.String => QuoteRepr(v.GetValue<string>()),
                    JsonValueKind.True => "True",
                    JsonValueKind.False => "False",
                    JsonValueKind.Null => "None",
                    _ => v.ToJsonString(),
                };
            default:
                return node.ToJsonString();
        }
    }

    /// <summary>Python json.dumps with its default ", " and ": " separators.</summary>
    public static string Dumps(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return "null";
            case JsonObject obj:
                return "{" + string.Join(", ", obj.Select(p => JsonValue.Create(p.Key).ToJsonString() + ": " + Dumps(p.Value))) + "}";
            case JsonArray array:
                return "[" + string.Join(", ", array.Select(Dumps)) + "]";
            default:
                return node.ToJsonString();
        }
    }

    /// <summary>A Python float as str() prints it: 1 -> "1.0".</summary>
    public static string Float(JsonNode? node)
    {
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return Str(node);
        }

        var d = double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture);
        return d == Math.Floor(d) && Math.Abs(d) < 1e16 ? d.ToString("0.0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture);
    }

    private static string QuoteRepr(string text)
    {
        var quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var result = new StringBuilder().Append(quote);
        foreach (var c in text)
        {
            result.Append(c switch
            {
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                _ when c == quote => "\\" + c,
                _ => c.ToString(),
            });
        }

        return result.Append(quote).ToString();
    }
}
