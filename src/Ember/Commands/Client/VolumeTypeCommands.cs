using System.CommandLine;
using System.Text.Json.Nodes;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember volume type ...`.</summary>
public static class VolumeTypeCommands
{
    /// <summary>The extra spec Cinder compares exactly to decide multi-attach.</summary>
    public const string MultiattachSpec = "<is> True";

    public static Command Create(ClientOptions g) => Cmd("type", "Volume types.", CreateType(g), List(g), Show(g), Delete(g), Set(g));

    private static Command CreateType(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var description = new Option<string?>("--description");
        var property = PropertyOption("Extra spec KEY=VALUE (repeatable).");
        var multiattach = new Option<bool>("--multiattach") { Description = "Shortcut for --property multiattach=\"<is> True\"." };
        var isPrivate = new Option<bool>("--private");
        var command = Cmd("create", "Create a volume type.", name, description, property, multiattach, isPrivate, new Option<bool>("--public"));
        g.SetAction(command, async (run, ct) =>
        {
            var specs = Properties(run.Get(property));
            if (run.Get(multiattach))
            {
                specs["multiattach"] = MultiattachSpec;
            }

            var body = new JsonObject
            {
                ["name"] = run.Get(name),
                ["description"] = run.Get(description),
                ["os-volume-type-access:is_public"] = !run.Get(isPrivate),
                ["extra_specs"] = specs,
            };
            var type = (JsonObject)(await run.Session.PostAsync("volume", "/types", new JsonObject { ["volume_type"] = body }, ct))!["volume_type"]!;
            run.Output.Show(Sorted(type));
            return 0;
        });
        return command;
    }

    private static Command List(ClientOptions g)
    {
        var command = Cmd("list", "List volume types.");
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("volume", "/types?is_public=None", ct);
            run.Output.List(["ID", "Name", "Is Public", "Properties"], (reply?["volume_types"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(t => new[] { t["id"], t["name"], t["is_public"] ?? t["os-volume-type-access:is_public"], t["extra_specs"] }));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var type = new Argument<string>("type") { Description = "Type name or id." };
        var command = Cmd("show", "Show a volume type.", type);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(Sorted(await run.Api.FindVolumeTypeAsync(run.Get(type), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var types = new Argument<string[]>("types") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Delete volume types.", types);
        g.SetAction(command, async (run, ct) =>
        {
            foreach (var type in run.Get(types))
            {
                await run.Session.DeleteAsync("volume", "/types/" + Id(await run.Api.FindVolumeTypeAsync(type, ct)), ct);
            }

            return 0;
        });
        return command;
    }

    private static Command Set(ClientOptions g)
    {
        var type = new Argument<string>("type");
        var name = new Option<string?>("--name");
        var description = new Option<string?>("--description");
        var property = PropertyOption("Extra spec KEY=VALUE (repeatable).");
        var command = Cmd("set", "Change a volume type or its extra specs.", type, name, description, property);
        g.SetAction(command, async (run, ct) =>
        {
            var id = Id(await run.Api.FindVolumeTypeAsync(run.Get(type), ct));
            var update = NameAndDescription(run.Get(name), run.Get(description));

            if (update.Count > 0)
            {
                await run.Session.RequestAsync(HttpMethod.Put, "volume", "/types/" + id, new JsonObject { ["volume_type"] = update }, ct);
            }

            if (run.Get(property) is { Length: > 0 } props)
            {
                await run.Session.PostAsync("volume", $"/types/{id}/extra_specs", new JsonObject { ["extra_specs"] = Properties(props) }, ct);
            }

            return 0;
        });
        return command;
    }
}
