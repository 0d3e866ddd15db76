using System.CommandLine;
using System.Text.Json.Nodes;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember volume snapshot ...`.</summary>
public static class SnapshotCommands
{
    public static Command Create(ClientOptions g) => Cmd("snapshot", "Volume snapshots.", CreateSnapshot(g), List(g), Show(g), Delete(g));

    private static Command CreateSnapshot(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var volume = new Option<string?>("--volume") { Description = "Volume to snapshot (default: the volume named like the snapshot)." };
        var description = new Option<string?>("--description");
        var force = new Option<bool>("--force") { Description = "Snapshot an in-use volume." };
        var wait = WaitOption();
        var command = Cmd("create", "Create a snapshot.", name, volume, description, force, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var volumeId = Id(await run.Api.FindVolumeAsync(run.Get(volume) ?? run.Get(name), ct));
            var body = new JsonObject { ["volume_id"] = volumeId, ["name"] = run.Get(name), ["description"] = run.Get(description), ["force"] = run.Get(force) };
            var snapshot = (JsonObject)(await run.Session.PostAsync("volume", "/snapshots", new JsonObject { ["snapshot"] = body }, ct))!["snapshot"]!;
            if (run.Get(wait))
            {
                snapshot = await run.Api.WaitForStatusAsync("volume", "/snapshots/" + Id(snapshot), "snapshot", $"snapshot {Id(snapshot)}", ["available"], ct);
            }

            run.Output.Show(Sorted(snapshot));
            return 0;
        });
        return command;
    }

    private static Command List(ClientOptions g)
    {
        var volume = new Option<string?>("--volume");
        var command = Cmd("list", "List snapshots.", volume);
        g.SetAction(command, async (run, ct) =>
        {
            var query = run.Get(volume) is { } v ? "?volume_id=" + Id(await run.Api.FindVolumeAsync(v, ct)) : "";
            var reply = await run.Session.GetAsync("volume", "/snapshots/detail" + query, ct);
            run.Output.List(["ID", "Name", "Description", "Status", "Size"], (reply?["snapshots"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(s => new[] { s["id"], s["name"], s["description"], s["status"], s["size"] }));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var snapshot = new Argument<string>("snapshot");
        var command = Cmd("show", "Show a snapshot.", snapshot);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(Sorted(await run.Api.FindSnapshotAsync(run.Get(snapshot), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var snapshots = new Argument<string[]>("snapshots") { Arity = ArgumentArity.OneOrMore };
        var wait = WaitOption();
        var command = Cmd("delete", "Delete snapshots.", snapshots, wait);
        g.SetAction(command, async (run, ct) =>
        {
            foreach (var snapshot in run.Get(snapshots))
            {
                var id = Id(await run.Api.FindSnapshotAsync(snapshot, ct));
                await run.Session.DeleteAsync("volume", "/snapshots/" + id, ct);
                if (run.Get(wait))
                {
                    await run.Api.WaitForDeleteAsync("volume", "/snapshots/" + id, "snapshot", $"snapshot {id}", ct);
                }
            }

            return 0;
        });
        return command;
    }
}
