using System.CommandLine;
using System.Text.Json.Nodes;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember flavor ...`.</summary>
public static class FlavorCommands
{
    public static Command Create(ClientOptions g) => Cmd("flavor", "Flavors (server sizes).", CreateFlavor(g), List(g), Show(g), Delete(g));

    private static Command CreateFlavor(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var id = new Option<string?>("--id") { Description = "Flavor id (default: generated)." };
        var ram = new Option<int>("--ram") { Description = "Memory in MiB.", DefaultValueFactory = _ => 256 };
        var disk = new Option<int>("--disk") { Description = "Root disk in GiB.", DefaultValueFactory = _ => 0 };
        var vcpus = new Option<int>("--vcpus") { DefaultValueFactory = _ => 1 };
        var ephemeral = new Option<int>("--ephemeral") { DefaultValueFactory = _ => 0 };
        var swap = new Option<int>("--swap") { DefaultValueFactory = _ => 0 };
        var rxtx = new Option<double>("--rxtx-factor") { DefaultValueFactory = _ => 1.0 };
        var isPrivate = new Option<bool>("--private");
        var property = PropertyOption("Extra spec KEY=VALUE (repeatable).");
        var command = Cmd("create", "Create a flavor (admin).", name, id, ram, disk, vcpus, ephemeral, swap, rxtx, isPrivate, new Option<bool>("--public"), property);
        g.SetAction(command, async (run, ct) =>
        {
            var body = FlavorBody(run.Get(name), run.Get(id), run.Get(ram), run.Get(disk), run.Get(vcpus), run.Get(ephemeral), run.Get(swap), run.Get(rxtx), !run.Get(isPrivate));
            var flavor = (JsonObject)(await run.Session.PostAsync("compute", "/flavors", new JsonObject { ["flavor"] = body }, ct))!["flavor"]!;
            if (run.Get(property) is { Length: > 0 } props)
            {
                var reply = await run.Session.PostAsync("compute", $"/flavors/{Id(flavor)}/os-extra_specs", new JsonObject { ["extra_specs"] = Properties(props) }, ct);
                flavor["extra_specs"] = reply?["extra_specs"]?.DeepClone();
            }

            run.Output.Show(Sorted(flavor));
            return 0;
        });
        return command;
    }

    /// <summary>The body novaclient sends; a null id lets Nova generate a UUID.</summary>
    public static JsonObject FlavorBody(string name, string? id, int ram, int disk, int vcpus, int ephemeral, int swap, double rxtx, bool isPublic) => new()
    {
        ["name"] = name,
        ["ram"] = ram,
        ["vcpus"] = vcpus,
        ["disk"] = disk,
        ["id"] = id,
        ["swap"] = swap,
        ["OS-FLV-EXT-DATA:ephemeral"] = ephemeral,
        ["rxtx_factor"] = rxtx,
        ["os-flavor-access:is_public"] = isPublic,
    };

    private static Command List(ClientOptions g)
    {
        var all = new Option<bool>("--all") { Description = "Public and private flavors." };
        var command = Cmd("list", "List flavors.", all);
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("compute", "/flavors/detail" + (run.Get(all) ? "?is_public=None" : ""), ct);
            run.Output.List(["ID", "Name", "RAM", "Disk", "Ephemeral", "VCPUs", "Is Public"], (reply?["flavors"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(f => new[] { f["id"], f["name"], f["ram"], f["disk"], f["OS-FLV-EXT-DATA:ephemeral"], f["vcpus"], f["os-flavor-access:is_public"] }));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var flavor = new Argument<string>("flavor");
        var command = Cmd("show", "Show a flavor.", flavor);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(Sorted(await run.Api.FindFlavorAsync(run.Get(flavor), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var flavors = new Argument<string[]>("flavors") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Delete flavors (admin).", flavors);
        g.SetAction(command, async (run, ct) =>
        {
            foreach (var flavor in run.Get(flavors))
            {
                await run.Session.DeleteAsync("compute", "/flavors/" + Uri.EscapeDataString(Id(await run.Api.FindFlavorAsync(flavor, ct))), ct);
            }

            return 0;
        });
        return command;
    }
}
