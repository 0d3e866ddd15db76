using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;
using Ember.Client.Output;
using Ember.Commands.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Legacy;

/// <summary>`nova` with the syntax and tables of python-novaclient 2015, speaking compute microversion 2.60.</summary>
public static class NovaShell
{
    /// <summary>The rows `nova boot` printed in the seed; `nova show` prints the same (plus one row per network).</summary>
    public static readonly string[] ServerRows =
    [
        "OS-DCF:diskConfig", "OS-EXT-AZ:availability_zone", "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
        "OS-EXT-SRV-ATTR:instance_name", "OS-EXT-STS:power_state", "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state",
        "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at", "accessIPv4", "accessIPv6", "adminPass", "config_drive", "created",
        "flavor", "hostId", "id", "image", "key_name", "metadata", "name", "os-extended-volumes:volumes_attached", "progress",
        "security_groups", "status", "tenant_id", "updated", "user_id",
    ];

    public static readonly string[] FlavorColumns = ["ID", "Name", "Memory_MB", "Disk", "Ephemeral", "Swap", "VCPUs", "RXTX_Factor", "Is_Public"];

    public static readonly string[] VolumeAttachRows = ["device", "id", "serverId", "volumeId"];

    public static RootCommand Create(CliContext context)
    {
        var g = new ClientOptions(context, withOutputOptions: false);
        var root = new RootCommand("nova: Compute commands in the 2015 novaclient syntax (Ember; compute API 2.60).");
        g.AddTo(root);
        foreach (var command in new[]
        {
            Boot(g), List(g), Show(g), Delete(g), FlavorCreate(g), FlavorList(g), VolumeAttach(g), VolumeDetach(g), VolumeAttachments(g), ConsoleLog(g),
        })
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static Command Boot(ClientOptions g)
    {
        var name = new Argument<string>("name") { Description = "Name for the new server." };
        var flavor = new Option<string>("--flavor") { Description = "Name or ID of flavor.", Required = true };
        var image = new Option<string?>("--image") { Description = "Name or ID of image." };
        var bdm = new Option<string[]>("--block-device-mapping") { Description = "<dev-name>=<id>:<type>:<size(GB)>:<delete-on-terminate>." };
        var nic = new Option<string>("--nic") { Description = "auto or none.", DefaultValueFactory = _ => "auto" };
        var key = new Option<string?>("--key-name", "--key_name");
        var zone = new Option<string?>("--availability-zone", "--availability_zone");
        var meta = new Option<string[]>("--meta") { Description = "KEY=VALUE (repeatable)." };
        var poll = new Option<bool>("--poll") { Description = "Report the server boot progress until it completes." };
        var command = Cmd("boot", "Boot a new server.", name, flavor, image, bdm, nic, key, zone, meta, poll);
        g.SetAction(command, async (run, ct) =>
        {
            var api = run.Api;
            var flavorObj = await api.FindFlavorAsync(run.Get(flavor), ct);
            var body = new JsonObject
            {
                ["name"] = run.Get(name),
                ["imageRef"] = run.Get(image) is { } i ? Id(await api.FindImageAsync(i, ct)) : "",
                ["flavorRef"] = Id(flavorObj),
                ["min_count"] = 1,
                ["max_count"] = 1,
            };
            if (run.Get(bdm) is { Length: > 0 } mappings)
            {
                body["block_device_mapping"] = new JsonArray([.. mappings.Select(LegacyBlockDevice.Parse)]);
            }
            else if (run.Get(image) is null)
            {
                throw new CliException("you need to specify at least one source ID (Image, Snapshot, or Volume), a block device mapping or provide a set of properties to match against an image");
            }

            body["networks"] = run.Get(nic);
            if (run.Get(key) is { } k)
            {
                body["key_name"] = k;
            }

            if (run.Get(zone) is { } z)
            {
                body["availability_zone"] = z;
            }

            if (run.Get(meta) is { Length: > 0 } m)
            {
                body["metadata"] = Properties(m);
            }

            var created = (JsonObject)(await run.Session.PostAsync("compute", "/servers", new JsonObject { ["server"] = body }, ct))!["server"]!;
            // As novaclient: keep what only the create reply has (adminPass), then show the full server.
            var server = (JsonObject)(await run.Session.GetAsync("compute", "/servers/" + Id(created), ct))!["server"]!;
            foreach (var (field, value) in created)
            {
                if (!server.ContainsKey(field))
                {
                    server[field] = value?.DeepClone();
                }
            }

            run.Context.Out.WriteLine(await ServerTableAsync(api, server, flavorObj, ct));
            if (run.Get(poll))
            {
                await api.WaitForStatusAsync("compute", "/servers/" + Id(created), "server", $"Server building", ["active"], ct);
                run.Context.Out.WriteLine("\nFinished");
            }

            return 0;
        });
        return command;
    }

    /// <summary>novaclient's _print_server: flavor and image as "name (id)", security groups joined, one row per network.</summary>
    public static async Task<string> ServerTableAsync(CloudApi api, JsonObject server, JsonObject? flavor, CancellationToken ct) =>
        ServerTable(server, await FlavorTextAsync(api, server, flavor, ct), await ImageTextAsync(api, server, ct));

    /// <summary>The table for a server whose flavor and image were already named.</summary>
    public static string ServerTable(JsonObject server, string flavorText, string imageText)
    {
        var rows = ServerRows.Select(k => (k, LegacyFormat.NovaValue(server[k]))).ToDictionary(r => r.k, r => r.Item2);
        rows["flavor"] = flavorText;
        rows["image"] = imageText;
        rows["security_groups"] = server["security_groups"] is JsonArray groups
            ? string.Join(", ", groups.Select(s => (string?)s?["name"]).Distinct().Order(StringComparer.Ordinal))
            : "-";
        foreach (var (network, addresses) in server["addresses"] as JsonObject ?? [])
        {
            rows[network + " network"] = string.Join(", ", (addresses as JsonArray ?? []).Select(a => (string?)a?["addr"]));
        }

        return LegacyFormat.Dict(rows.Select(r => (r.Key, r.Value)), centered: false);
    }

    private static async Task<string> FlavorTextAsync(CloudApi api, JsonObject server, JsonObject? known, CancellationToken ct)
    {
        if (server["flavor"] is not JsonObject f)
        {
            return "-";
        }

        // Below 2.47 the server names its flavor by id; from 2.47 it embeds a copy with original_name.
        var id = (string?)f["id"];
        var name = (string?)f["original_name"];
        if (known is not null && ((string?)known["id"] == id || (string?)known["name"] == name))
        {
            return $"{known["name"]} ({known["id"]})";
        }

        try
        {
            var found = await api.FindFlavorAsync(id ?? name ?? "", ct);
            return $"{found["name"]} ({found["id"]})";
        }
        catch (CliException)
        {
            return id is null ? name ?? "-" : $"Flavor not found ({id})";
        }
    }

    private static async Task<string> ImageTextAsync(CloudApi api, JsonObject server, CancellationToken ct)
    {
        if (server["image"] is not JsonObject image || (string?)image["id"] is not { } id)
        {
            return "Attempt to boot from volume - no image supplied";
        }

        try
        {
            return $"{(await api.FindImageAsync(id, ct))["name"]} ({id})";
        }
        catch (CliException)
        {
            return $"Image not found ({id})";
        }
    }

    private static readonly string[] s_powerStates = ["NOSTATE", "Running", "", "Paused", "Shutdown", "", "Crashed", "Suspended"];

    private static Command List(ClientOptions g)
    {
        var all = new Option<bool>("--all-tenants", "--all_tenants");
        var command = Cmd("list", "List active servers.", all);
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("compute", "/servers/detail" + (run.Get(all) ? "?all_tenants=1" : ""), ct);
            var rows = (reply?["servers"] as JsonArray ?? []).OfType<JsonObject>().Select(s => new[]
            {
                PyFormat.Str(s["id"]), PyFormat.Str(s["name"]), PyFormat.Str(s["status"]),
                LegacyFormat.NovaValue(s["OS-EXT-STS:task_state"]),
                (int?)s["OS-EXT-STS:power_state"] is { } p && p >= 0 && p < s_powerStates.Length ? s_powerStates[p] : "NOSTATE",
                string.Join("; ", (s["addresses"] as JsonObject ?? []).Select(n => $"{n.Key}={string.Join(", ", (n.Value as JsonArray ?? []).Select(a => (string?)a?["addr"]))}")),
            });
            run.Context.Out.WriteLine(LegacyFormat.List(["ID", "Name", "Status", "Task State", "Power State", "Networks"], rows, centered: false, sortBy: 1));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var server = new Argument<string>("server") { Description = "Name or ID of server." };
        var command = Cmd("show", "Show details about the given server.", server);
        g.SetAction(command, async (run, ct) =>
        {
            run.Context.Out.WriteLine(await ServerTableAsync(run.Api, await run.Api.FindServerAsync(run.Get(server), ct), null, ct));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var servers = new Argument<string[]>("server") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Immediately shut down and delete specified server(s).", servers);
        g.SetAction(command, async (run, ct) =>
        {
            var failed = await EachReportingFailuresAsync(run.Get(servers), async server =>
            {
                await run.Session.DeleteAsync("compute", "/servers/" + Id(await run.Api.FindServerAsync(server, ct)), ct);
                run.Context.Out.WriteLine($"Request to delete server {server} has been accepted.");
            }, (_, e) => run.Context.Err.WriteLine(e.Message));
            return failed == 0 ? 0 : throw new CliException("Unable to delete the specified server(s).");
        });
        return command;
    }

    public static string[] FlavorRow(JsonObject f) =>
    [
        PyFormat.Str(f["id"]), PyFormat.Str(f["name"]), PyFormat.Str(f["ram"]), PyFormat.Str(f["disk"]),
        PyFormat.Str(f["OS-FLV-EXT-DATA:ephemeral"] ?? 0), f["swap"] is JsonValue swap && swap.ToString() is not ("0" or "") ? PyFormat.Str(swap) : "",
        PyFormat.Str(f["vcpus"]), PyFormat.Float(f["rxtx_factor"] ?? 1.0), PyFormat.Str(f["os-flavor-access:is_public"] ?? true),
    ];

    private static Command FlavorCreate(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var id = new Argument<string>("id") { Description = "Unique ID of the new flavor; 'auto' generates a UUID." };
        var ram = new Argument<int>("ram") { Description = "Memory size in MB." };
        var disk = new Argument<int>("disk") { Description = "Disk size in GB." };
        var vcpus = new Argument<int>("vcpus") { Description = "Number of vcpus." };
        var ephemeral = new Option<int>("--ephemeral") { DefaultValueFactory = _ => 0 };
        var swap = new Option<int>("--swap") { DefaultValueFactory = _ => 0 };
        var rxtx = new Option<double>("--rxtx-factor") { DefaultValueFactory = _ => 1.0 };
        var isPublic = new Option<string>("--is-public") { DefaultValueFactory = _ => "True" };
        var command = Cmd("flavor-create", "Create a new flavor.", name, id, ram, disk, vcpus, ephemeral, swap, rxtx, isPublic);
        g.SetAction(command, async (run, ct) =>
        {
            var flavorId = run.Get(id) == "auto" ? null : run.Get(id);
            var body = FlavorCommands.FlavorBody(run.Get(name), flavorId, run.Get(ram), run.Get(disk), run.Get(vcpus), run.Get(ephemeral), run.Get(swap),
                run.Get(rxtx), !string.Equals(run.Get(isPublic), "false", StringComparison.OrdinalIgnoreCase));
            var flavor = (JsonObject)(await run.Session.PostAsync("compute", "/flavors", new JsonObject { ["flavor"] = body }, ct))!["flavor"]!;
            run.Context.Out.WriteLine(LegacyFormat.List(FlavorColumns, [FlavorRow(flavor)], centered: false));
            return 0;
        });
        return command;
    }

    private static Command FlavorList(ClientOptions g)
    {
        var all = new Option<bool>("--all") { Description = "Display all flavors (Admin only)." };
        var command = Cmd("flavor-list", "Print a list of available 'flavors'.", all);
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("compute", "/flavors/detail" + (run.Get(all) ? "?is_public=None" : ""), ct);
            run.Context.Out.WriteLine(LegacyFormat.List(FlavorColumns, (reply?["flavors"] as JsonArray ?? []).OfType<JsonObject>().Select(FlavorRow), centered: false));
            return 0;
        });
        return command;
    }

    private static Command VolumeAttach(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var volume = new Argument<string>("volume");
        var device = new Argument<string?>("device") { Arity = ArgumentArity.ZeroOrOne, Description = "Name of the device e.g. /dev/vdb; 'auto' for autoassign." };
        var command = Cmd("volume-attach", "Attach a volume to a server.", server, volume, device);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var body = new JsonObject { ["volumeId"] = Id(await run.Api.FindVolumeAsync(run.Get(volume), ct)) };
            if (run.Get(device) is { } d && d != "auto")
            {
                body["device"] = d;
            }

            var reply = await run.Session.PostAsync("compute", $"/servers/{serverId}/os-volume_attachments", new JsonObject { ["volumeAttachment"] = body }, ct);
            var attachment = reply?["volumeAttachment"] as JsonObject ?? [];
            run.Context.Out.WriteLine(LegacyFormat.Dict(VolumeAttachRows.Select(k => (k, LegacyFormat.NovaValue(attachment[k]))), centered: false));
            return 0;
        });
        return command;
    }

    private static Command VolumeDetach(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var volume = new Argument<string>("volume") { Description = "ID of the volume to detach." };
        var command = Cmd("volume-detach", "Detach a volume from a server.", server, volume);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var volumeId = CloudApi.LooksLikeUuid(run.Get(volume)) ? run.Get(volume) : Id(await run.Api.FindVolumeAsync(run.Get(volume), ct));
            await run.Session.DeleteAsync("compute", $"/servers/{serverId}/os-volume_attachments/{volumeId}", ct);
            return 0;
        });
        return command;
    }

    private static Command VolumeAttachments(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var command = Cmd("volume-attachments", "List all the volumes attached to a server.", server);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var reply = await run.Session.GetAsync("compute", $"/servers/{serverId}/os-volume_attachments", ct);
            var rows = (reply?["volumeAttachments"] as JsonArray ?? []).OfType<JsonObject>().Select(a => new[]
            {
                PyFormat.Str(a["id"] ?? a["volumeId"]), PyFormat.Str(a["device"]), PyFormat.Str(a["serverId"]), PyFormat.Str(a["volumeId"]),
            });
            run.Context.Out.WriteLine(LegacyFormat.List(["ID", "DEVICE", "SERVER ID", "VOLUME ID"], rows, centered: false));
            return 0;
        });
        return command;
    }

    private static Command ConsoleLog(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var length = new Option<int?>("--length") { Description = "Length in lines to tail." };
        var command = Cmd("console-log", "Get console log output of a server.", server, length);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var args = new JsonObject();
            if (run.Get(length) is { } n)
            {
                args["length"] = n;
            }

            var reply = await run.Session.PostAsync("compute", $"/servers/{serverId}/action", new JsonObject { ["os-getConsoleOutput"] = args }, ct);
            run.Context.Out.Write((string?)reply?["output"] ?? "");
            return 0;
        });
        return command;
    }
}
