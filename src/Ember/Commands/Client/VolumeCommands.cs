using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember volume ...`: volumes, types, attachments and snapshots (Block Storage v3).</summary>
public static class VolumeCommands
{
    private static readonly string[] s_listColumns = ["ID", "Name", "Status", "Size", "Attached to"];

    public static Command Create(ClientOptions g) => Cmd("volume", "Block storage volumes.",
        CreateVolume(g), ListVolumes(g), ShowVolume(g), DeleteVolume(g), SetVolume(g), ExtendVolume(g),
        VolumeTypeCommands.Create(g), AttachmentCommands.Create(g), SnapshotCommands.Create(g));

    private static Command CreateVolume(ClientOptions g)
    {
        var name = new Argument<string>("name") { Description = "Volume name." };
        var size = new Option<int?>("--size") { Description = "Size in GiB." };
        var type = new Option<string?>("--type") { Description = "Volume type (a multiattach type makes a multi-attach volume)." };
        var description = new Option<string?>("--description");
        var image = new Option<string?>("--image") { Description = "Create from this image (name or id)." };
        var snapshot = new Option<string?>("--snapshot") { Description = "Create from this snapshot (name or id)." };
        var source = new Option<string?>("--source") { Description = "Clone this volume (name or id)." };
        var zone = new Option<string?>("--availability-zone");
        var property = PropertyOption();
        var wait = WaitOption();
        var command = Cmd("create", "Create a volume.", name, size, type, description, image, snapshot, source, zone, property, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var api = run.Api;
            var body = new JsonObject
            {
                ["name"] = run.Get(name),
                ["description"] = run.Get(description),
                ["volume_type"] = run.Get(type),
                ["availability_zone"] = run.Get(zone),
                ["metadata"] = Properties(run.Get(property)),
            };
            if (run.Get(image) is { } imageRef)
            {
                body["imageRef"] = Id(await api.FindImageAsync(imageRef, ct));
            }

            int? fallbackSize = null;
            if (run.Get(snapshot) is { } snap)
            {
                var found = await api.FindSnapshotAsync(snap, ct);
                body["snapshot_id"] = Id(found);
                fallbackSize = (int?)found["size"];
            }

            if (run.Get(source) is { } src)
            {
                var found = await api.FindVolumeAsync(src, ct);
                body["source_volid"] = Id(found);
                fallbackSize = (int?)found["size"];
            }

            body["size"] = run.Get(size) ?? fallbackSize ?? throw new CliException("--size is required unless --snapshot or --source is given.");
            var volume = (JsonObject)(await run.Session.PostAsync("volume", "/volumes", new JsonObject { ["volume"] = body }, ct))!["volume"]!;
            if (run.Get(wait))
            {
                volume = await api.WaitForStatusAsync("volume", "/volumes/" + Id(volume), "volume", $"volume {Id(volume)}", ["available"], ct);
            }

            run.Output.Show(Sorted(volume));
            return 0;
        });
        return command;
    }

    private static Command ListVolumes(ClientOptions g)
    {
        var all = new Option<bool>("--all-projects") { Description = "Include every project's volumes (admin)." };
        var name = new Option<string?>("--name");
        var status = new Option<string?>("--status");
        var command = Cmd("list", "List volumes.", all, name, status);
        g.SetAction(command, async (run, ct) =>
        {
            var query = new List<string>();
            if (run.Get(all))
            {
                query.Add("all_tenants=1");
            }

            if (run.Get(name) is { } n)
            {
                query.Add("name=" + Uri.EscapeDataString(n));
            }

            if (run.Get(status) is { } s)
            {
                query.Add("status=" + Uri.EscapeDataString(s));
            }

            var reply = await run.Session.GetAsync("volume", "/volumes/detail" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            var rows = (reply?["volumes"] as JsonArray ?? []).OfType<JsonObject>().Select(v => new[]
            {
                v["id"], v["name"], v["status"], v["size"], V(AttachedTo(v)),
            });
            run.Output.List(s_listColumns, rows);
            return 0;
        });
        return command;
    }

    /// <summary>OSC's "Attached to X on /dev/vdb" for each attachment.</summary>
    public static string AttachedTo(JsonObject volume) => string.Join("\n",
        (volume["attachments"] as JsonArray ?? []).OfType<JsonObject>().Select(a => $"Attached to {a["server_id"]} on {a["device"]} "));

    private static Command ShowVolume(ClientOptions g)
    {
        var volume = new Argument<string>("volume") { Description = "Volume name or id." };
        var command = Cmd("show", "Show a volume.", volume);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(Sorted(await run.Api.FindVolumeAsync(run.Get(volume), ct)));
            return 0;
        });
        return command;
    }

    private static Command DeleteVolume(ClientOptions g)
    {
        var volumes = new Argument<string[]>("volumes") { Description = "Volume names or ids.", Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force") { Description = "Delete whatever the state (os-force_delete, admin)." };
        var purge = new Option<bool>("--purge") { Description = "Delete the volume's snapshots too (cascade)." };
        var wait = WaitOption();
        var command = Cmd("delete", "Delete volumes.", volumes, force, purge, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var failures = 0;
            foreach (var nameOrId in run.Get(volumes))
            {
                try
                {
                    var id = Id(await run.Api.FindVolumeAsync(nameOrId, ct));
                    if (run.Get(force))
                    {
                        await run.Session.PostAsync("volume", $"/volumes/{id}/action", new JsonObject { ["os-force_delete"] = new JsonObject() }, ct);
                    }
                    else
                    {
                        await run.Session.DeleteAsync("volume", $"/volumes/{id}" + (run.Get(purge) ? "?cascade=true" : ""), ct);
                    }

                    if (run.Get(wait))
                    {
                        await run.Api.WaitForDeleteAsync("volume", "/volumes/" + id, "volume", $"volume {id}", ct);
                    }
                }
                catch (CliException e)
                {
                    run.Context.Err.WriteLine($"Failed to delete volume with name or ID '{nameOrId}': {e.Message}");
                    failures++;
                }
            }

            return failures == 0 ? 0 : throw new CliException($"{failures} of {run.Get(volumes).Length} volumes failed to delete.");
        });
        return command;
    }

    private static Command SetVolume(ClientOptions g)
    {
        var volume = new Argument<string>("volume") { Description = "Volume name or id." };
        var name = new Option<string?>("--name");
        var description = new Option<string?>("--description");
        var size = new Option<int?>("--size") { Description = "Extend to this size in GiB." };
        var type = new Option<string?>("--type") { Description = "Retype to this volume type." };
        var property = PropertyOption("Set metadata KEY=VALUE (repeatable).");
        var bootable = new Option<bool>("--bootable");
        var nonBootable = new Option<bool>("--non-bootable");
        var command = Cmd("set", "Change a volume.", volume, name, description, size, type, property, bootable, nonBootable);
        g.SetAction(command, async (run, ct) =>
        {
            var id = Id(await run.Api.FindVolumeAsync(run.Get(volume), ct));
            var update = NameAndDescription(run.Get(name), run.Get(description));

            if (update.Count > 0)
            {
                await run.Session.RequestAsync(HttpMethod.Put, "volume", "/volumes/" + id, new JsonObject { ["volume"] = update }, ct);
            }

            if (run.Get(property) is { Length: > 0 } props)
            {
                await run.Session.PostAsync("volume", $"/volumes/{id}/metadata", new JsonObject { ["metadata"] = Properties(props) }, ct);
            }

            if (run.Get(size) is { } newSize)
            {
                await run.Session.PostAsync("volume", $"/volumes/{id}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = newSize } }, ct);
            }

            if (run.Get(type) is { } newType)
            {
                await run.Session.PostAsync("volume", $"/volumes/{id}/action",
                    new JsonObject { ["os-retype"] = new JsonObject { ["new_type"] = newType, ["migration_policy"] = "never" } }, ct);
            }

            if (run.Get(bootable) || run.Get(nonBootable))
            {
                await run.Session.PostAsync("volume", $"/volumes/{id}/action",
                    new JsonObject { ["os-set_bootable"] = new JsonObject { ["bootable"] = run.Get(bootable) } }, ct);
            }

            return 0;
        });
        return command;
    }

    private static Command ExtendVolume(ClientOptions g)
    {
        var volume = new Argument<string>("volume") { Description = "Volume name or id." };
        var size = new Argument<int>("size") { Description = "New size in GiB." };
        var wait = WaitOption();
        var command = Cmd("extend", "Grow a volume (os-extend).", volume, size, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var found = await run.Api.FindVolumeAsync(run.Get(volume), ct);
            var id = Id(found);
            var before = (string?)found["status"] ?? "available";
            await run.Session.PostAsync("volume", $"/volumes/{id}/action", new JsonObject { ["os-extend"] = new JsonObject { ["new_size"] = run.Get(size) } }, ct);
            if (run.Get(wait))
            {
                await run.Api.WaitForStatusAsync("volume", "/volumes/" + id, "volume", $"volume {id}", [before], ct);
            }

            return 0;
        });
        return command;
    }
}
