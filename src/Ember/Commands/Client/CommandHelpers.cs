using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;

namespace Ember.Commands.Client;

/// <summary>Small pieces the resource commands share.</summary>
public static class CommandHelpers
{
    public static Command Cmd(string name, string description, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option:
                    command.Options.Add(option);
                    break;
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Command sub:
                    command.Subcommands.Add(sub);
                    break;
            }
        }

        return command;
    }

    public static Option<string[]> PropertyOption(string description = "Property KEY=VALUE (repeatable).") =>
        new("--property") { Description = description, AllowMultipleArgumentsPerToken = false };

    public static Option<bool> WaitOption() => new("--wait") { Description = "Wait until the operation is done, showing progress." };

    /// <summary>KEY=VALUE pairs into a JSON object.</summary>
    public static JsonObject Properties(IEnumerable<string>? pairs)
    {
        var result = new JsonObject();
        foreach (var pair in pairs ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"Expected KEY=VALUE, got '{pair}'.");
            }

            result[pair[..eq]] = pair[(eq + 1)..];
        }

        return result;
    }

    /// <summary>The record's fields sorted by name, without the ones OSC hides (links).</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> Sorted(JsonObject item, params string[] drop) =>
        item.Where(p => p.Key != "links" && !drop.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal);

    public static JsonNode? V(string? text) => text is null ? null : JsonValue.Create(text);

    /// <summary>
    /// Runs <paramref name="action"/> on each item; a failure is reported through <paramref name="failed"/> and the
    /// rest still run, as the python clients' multi-delete commands do. Returns how many failed.
    /// </summary>
    public static async Task<int> EachReportingFailuresAsync(IEnumerable<string> items, Func<string, Task> action, Action<string, CliException> failed)
    {
        var failures = 0;
        foreach (var item in items)
        {
            try
            {
                await action(item);
            }
            catch (CliException e)
            {
                failed(item, e);
                failures++;
            }
        }

        return failures;
    }

    /// <summary>The {"name","description"} part of an update body, with only the fields the user gave.</summary>
    public static JsonObject NameAndDescription(string? name, string? description)
    {
        var update = new JsonObject();
        if (name is not null)
        {
            update["name"] = name;
        }

        if (description is not null)
        {
            update["description"] = description;
        }

        return update;
    }

    public static string Id(JsonObject item) => (string?)item["id"] ?? throw new CliException("reply without an id");
}
