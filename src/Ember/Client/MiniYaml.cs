using System.Globalization;
using System.Text.Json.Nodes;

namespace Ember.Client;

/// <summary>
/// Reads the block-style YAML subset that clouds.yaml files use (nested mappings, "- " lists,
/// plain/quoted scalars, comments) into JSON nodes. Flow collections other than [] and {} are not supported.
/// </summary>
public static class MiniYaml
{
    public static JsonNode? Parse(string text)
    {
        var lines = new List<(int Indent, string Text)>();
        foreach (var raw in text.Replace("\r", "", StringComparison.Ordinal).Split('\n'))
        {
            var line = StripComment(raw).TrimEnd();
            if (line.Trim().Length == 0 || line.Trim() == "---")
            {
                continue;
            }

            lines.Add((line.Length - line.TrimStart(' ').Length, line.Trim()));
        }

        var index = 0;
        return lines.Count == 0 ? null : ParseBlock(lines, ref index, lines[0].Indent);
    }

    private static JsonNode? ParseBlock(List<(int Indent, string Text)> lines, ref int index, int indent)
    {
        if (lines[index].Text.StartsWith("- ", StringComparison.Ordinal) || lines[index].Text == "-")
        {
            var array = new JsonArray();
            while (index < lines.Count && lines[index].Indent == indent && lines[index].Text.StartsWith('-'))
            {
                var rest = lines[index].Text[1..].TrimStart();
                if (rest.Length == 0)
                {
                    index++;
                    array.Add(index < lines.Count && lines[index].Indent > indent ? ParseBlock(lines, ref index, lines[index].Indent) : null);
                }
                else if (SplitKey(rest) is not null)
                {
                    // "- key: value" starts a mapping whose other keys are indented under the key.
                    var childIndent = indent + (lines[index].Text.Length - rest.Length);
                    lines[index] = (childIndent, rest);
                    array.Add(ParseBlock(lines, ref index, childIndent));
                }
                else
                {
                    array.Add(Scalar(rest));
                    index++;
                }
            }

            return array;
        }

        var map = new JsonObject();
        while (index < lines.Count && lines[index].Indent == indent)
        {
            var (key, value) = SplitKey(lines[index].Text) ?? throw new FormatException($"cannot read YAML line '{lines[index].Text}'");
            index++;
            if (value.Length > 0)
            {
                map[key] = Scalar(value);
            }
            else if (index < lines.Count && (lines[index].Indent > indent || lines[index].Indent == indent && lines[index].Text.StartsWith('-')))
            {
                map[key] = ParseBlock(lines, ref index, lines[index].Indent);
            }
            else
            {
                map[key] = null;
            }
        }

        return map;
    }

    private static (string Key, string Value)? SplitKey(string text)
    {
        var inQuote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuote != '\0')
            {
                if (c == inQuote)
                {
                    inQuote = '\0';
                }
            }
            else if (c is '"' or '\'' && i == 0)
            {
                inQuote = c;
            }
            else if (c == ':' && (i + 1 == text.Length || text[i + 1] == ' '))
            {
                return (Unquote(text[..i].Trim()), text[(i + 1)..].Trim());
            }
        }

        return null;
    }

    private static JsonNode? Scalar(string text)
    {
        if (text.Length >= 2 && (text[0] == '"' || text[0] == '\''))
        {
            return JsonValue.Create(Unquote(text));
        }

        switch (text)
        {
            case "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE" or "yes" or "Yes":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE" or "no" or "No":
                return JsonValue.Create(false);
            case "[]":
                return new JsonArray();
            case "{}":
                return new JsonObject();
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(text);
    }

    private static string Unquote(string text)
    {
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            return text[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
        }

        if (text.Length >= 2 && text[0] == '\'' && text[^1] == '\'')
        {
            return text[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>Drops a "# comment" that is not inside quotes (YAML needs a space or line start before '#').</summary>
    private static string StripComment(string line)
    {
        var inQuote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (inQuote != '\0')
            {
                if (c == inQuote)
                {
                    inQuote = '\0';
                }
            }
            else if (c is '"' or '\'' && (i == 0 || line[i - 1] is ' ' or ':' or '-'))
            {
                inQuote = c;
            }
            else if (c == '#' && (i == 0 || line[i - 1] == ' '))
            {
                return line[..i];
            }
        }

        return line;
    }
}
