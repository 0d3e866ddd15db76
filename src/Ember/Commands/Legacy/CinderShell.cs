using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;
using Ember.Client.Output;
using Ember.Commands.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Legacy;

/// <summary>`cinder` with the syntax and centered tables of python-cinderclient 1.x (2015).</summary>
public static class CinderShell
{
    /// <summary>The rows `cinder create` and `cinder show` printed in the seed (a Liberty volume); missing keys print None.</summary>
    public static readonly string[] VolumeRows =
    [
        "attachments", "availability_zone", "bootable", "consistencygroup_id", "created_at", "description", "encrypted", "id",
        "metadata", "multiattach", "name", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat", "os-vol-mig-status-attr:name_id",
        "os-vol-tenant-attr:tenant_id", "os-volume-replication:driver_data", "os-volume-replication:extended_status",
        "replication_status", "size", "snapshot_id", "source_volid", "status", "user_id", "volume_type",
    ];

    public static readonly string[] ListColumns = ["ID", "Status", "Name", "Size", "Volume Type", "Bootable", "Multiattach", "Attached to"];

    public static RootCommand Create(CliContext context)
    {
        var g = new ClientOptions(context, withOutputOptions: false);
        var root = new RootCommand("cinder: Block Storage commands in the 2015 cinderclient syntax (Ember).");
        g.AddTo(root);
        foreach (var command in new[] { CreateVolume(g), List(g), Show(g), Delete(g), TypeList(g), TypeCreate(g), AttachmentList(g) })
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    public static string VolumeTable(JsonObject volume) =>
        LegacyFormat.Dict(VolumeRows.Select(k => (k, PyFormat.Str(volume[k]))), centered: true);

    private static Command CreateVolume(ClientOptions g)
    {
        var size = new Argument<int?>("size") { Description = "Size in GiB.", Arity = ArgumentArity.ZeroOrOne };
        var name = new Option<string?>("--name", "--display-name", "--display_name");
        var description = new Option<string?>("--description", "--display-description", "--display_description");
        var type = new Option<string?>("--volume-type", "--volume_type");
        var zone = new Option<string?>("--availability-zone", "--availability_zone");
        var snapshot = new Option<string?>("--snapshot-id", "--snapshot_id");
        var source = new Option<string?>("--source-volid", "--source_volid");
        var image = new Option<string?>("--image-id", "--image_id", "--image");
        var metadata = new Option<string[]>("--metadata") { AllowMultipleArgumentsPerToken = true, Description = "KEY=VALUE ..." };
        var multiattach = new Option<bool>("--allow-multiattach") { Description = "Allow the volume to be attached more than once." };
        var command = Cmd("create", "Creates a volume.", size, name, description, type, zone, snapshot, source, image, metadata, multiattach);
        g.SetAction(command, async (run, ct) =>
        {
            if (run.Get(size) is null && run.Get(snapshot) is null && run.Get(source) is null)
            {
                throw new CliException("Size is a required parameter if snapshot or source volume is not specified.");
            }

            // The body cinderclient 1.x sent: multiattach always present, true with --allow-multiattach.
            var body = new JsonObject
            {
                ["size"] = run.Get(size),
                ["consistencygroup_id"] = null,
                ["snapshot_id"] = run.Get(snapshot),
                ["name"] = run.Get(name),
                ["description"] = run.Get(description),
                ["volume_type"] = run.Get(type),
                ["availability_zone"] = run.Get(zone),
                ["metadata"] = Properties(run.Get(metadata)),
                ["imageRef"] = run.Get(image) is { } i ? Id(await run.Api.FindImageAsync(i, ct)) : null,
                ["source_volid"] = run.Get(source),
                ["multiattach"] = run.Get(multiattach),
            };
            var created = await run.Session.PostAsync("volume", "/volumes", new JsonObject { ["volume"] = body }, ct);
            var id = Id((JsonObject)created!["volume"]!);
            var volume = (JsonObject)(await run.Session.GetAsync("volume", "/volumes/" + id, ct))!["volume"]!;
            run.Context.Out.WriteLine(VolumeTable(volume));
            return 0;
        });
        return command;
    }

    private static Command List(ClientOptions g)
    {
        var all = new Option<bool>("--all-tenants", "--all_tenants");
        var command = Cmd("list", "Lists all volumes.", all);
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("volume", "/volumes/detail" + (run.Get(all) ? "?all_tenants=1" : ""), ct);
            var rows = (reply?["volumes"] as JsonArray ?? []).OfType<JsonObject>().Select(v => new[]
            {
                PyFormat.Str(v["id"]), PyFormat.Str(v["status"]), PyFormat.Str(v["name"]), PyFormat.Str(v["size"]),
                PyFormat.Str(v["volume_type"]), PyFormat.Str(v["bootable"]), PyFormat.Str(v["multiattach"]),
                string.Join(", ", (v["attachments"] as JsonArray ?? []).Select(a => (string?)a?["server_id"])),
            });
            run.Context.Out.WriteLine(LegacyFormat.List(ListColumns, rows, centered: true));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var volume = new Argument<string>("volume") { Description = "Name or ID of volume." };
        var command = Cmd("show", "Shows volume details.", volume);
        g.SetAction(command, async (run, ct) =>
        {
            run.Context.Out.WriteLine(VolumeTable(await run.Api.FindVolumeAsync(run.Get(volume), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var volumes = new Argument<string[]>("volume") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Removes one or more volumes.", volumes);
        g.SetAction(command, async (run, ct) =>
        {
            var failed = await EachReportingFailuresAsync(run.Get(volumes), async volume =>
            {
                await run.Session.DeleteAsync("volume", "/volumes/" + Id(await run.Api.FindVolumeAsync(volume, ct)), ct);
                run.Context.Out.WriteLine($"Request to delete volume {volume} has been accepted.");
            }, (volume, e) => run.Context.Err.WriteLine($"Delete for volume {volume} failed: {e.Message}"));
            return failed == 0 ? 0 : throw new CliException("Unable to delete any of the specified volumes.");
        });
        return command;
    }

    public static readonly string[] TypeColumns = ["ID", "Name", "Description", "Is_Public"];

    private static string[] TypeRow(JsonObject t) =>
        [PyFormat.Str(t["id"]), PyFormat.Str(t["name"]), PyFormat.Str(t["description"]), PyFormat.Str(t["is_public"] ?? t["os-volume-type-access:is_public"])];

    private static Command TypeList(ClientOptions g)
    {
        var command = Cmd("type-list", "Lists available 'volume types'.");
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("volume", "/types", ct);
            run.Context.Out.WriteLine(LegacyFormat.List(TypeColumns, (reply?["volume_types"] as JsonArray ?? []).OfType<JsonObject>().Select(TypeRow), centered: true));
            return 0;
        });
        return command;
    }

    private static Command TypeCreate(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var description = new Option<string?>("--description");
        var isPublic = new Option<string>("--is-public") { DefaultValueFactory = _ => "True" };
        var command = Cmd("type-create", "Creates a volume type.", name, description, isPublic);
        g.SetAction(command, async (run, ct) =>
        {
            var body = new JsonObject
            {
                ["name"] = run.Get(name),
                ["description"] = run.Get(description),
                ["os-volume-type-access:is_public"] = !string.Equals(run.Get(isPublic), "false", StringComparison.OrdinalIgnoreCase),
            };
            var type = (JsonObject)(await run.Session.PostAsync("volume", "/types", new JsonObject { ["volume_type"] = body }, ct))!["volume_type"]!;
            run.Context.Out.WriteLine(LegacyFormat.List(TypeColumns, [TypeRow(type)], centered: true));
            return 0;
        });
        return command;
    }

    private static Command AttachmentList(ClientOptions g)
    {
        var volume = new Option<string?>("--volume-id");
        var command = Cmd("attachment-list", "Lists all attachments (microversion 3.27+).", volume);
        g.SetAction(command, async (run, ct) =>
        {
            run.Session.VolumeMicroversion = "3.44";
            var query = run.Get(volume) is { } v ? "?volume_id=" + Id(await run.Api.FindVolumeAsync(v, ct)) : "";
            var reply = await run.Session.GetAsync("volume", "/attachments" + query, ct);
            var rows = (reply?["attachments"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(a => new[] { PyFormat.Str(a["id"]), PyFormat.Str(a["volume_id"]), PyFormat.Str(a["status"]), PyFormat.Str(a["instance"]) });
            run.Context.Out.WriteLine(LegacyFormat.List(["ID", "Volume ID", "Status", "Server ID"], rows, centered: true));
            return 0;
        });
        return command;
    }
}
