using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ember.OpenStack;

/// <summary>
/// YAML files (clouds.yaml, secure.yaml) as JSON nodes, through YamlDotNet's document model: reading keeps every
/// scalar as text (null for ~, null and empty), writing quotes every string so no YAML reader mistakes a password
/// like 123456 or yes for a number or a boolean.
/// </summary>
public static class Yaml
{
    /// <summary>The first document of <paramref name="text"/>, or null when there is none.</summary>
    /// <exception cref="YamlException">The text is not YAML.</exception>
    public static JsonNode? Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : ToJson(stream.Documents[0].RootNode);
    }

    /// <summary>One YAML document; object keys keep their order.</summary>
    public static string Write(JsonNode node, string? headerComment = null)
    {
        var writer = new StringWriter();
        if (headerComment is not null)
        {
            writer.WriteLine("# " + headerComment);
        }

        new YamlStream(new YamlDocument(ToYaml(node))).Save(writer, assignAnchors: false);
        // Save ends the document with "...": a plain file does not need the marker.
        return writer.ToString().Replace("\n...\n", "\n", StringComparison.Ordinal);
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(ToJson)]),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };

    private static YamlNode ToYaml(JsonNode? node) => node switch
    {
        JsonObject obj => new YamlMappingNode(obj.Select(p => KeyValuePair.Create<YamlNode, YamlNode>(new YamlScalarNode(p.Key), ToYaml(p.Value)))),
        JsonArray array => new YamlSequenceNode(array.Select(ToYaml)),
        JsonValue value when value.TryGetValue(out string? text) => new YamlScalarNode(text) { Style = ScalarStyle.SingleQuoted },
        JsonValue value => new YamlScalarNode(value.ToJsonString()) { Style = ScalarStyle.Plain },
        _ => new YamlScalarNode("~") { Style = ScalarStyle.Plain },
    };
}
