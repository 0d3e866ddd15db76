using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember server ...` (Compute v2.1 at microversion 2.60, which allows multi-attach volumes).</summary>
public static class ServerCommands
{
    public static Command Create(ClientOptions g) => Cmd("server", "Virtual machines.",
        CreateServer(g), List(g), Show(g), Delete(g),
        Action(g, "stop", "Stop a server.", () => new JsonObject { ["os-stop"] = null }, "shutoff"),
        Action(g, "start", "Start a server.", () => new JsonObject { ["os-start"] = null }, "active"),
        Reboot(g),
        Cmd("add", "Add something to a server.", AddVolume(g)),
        Cmd("remove", "Remove something from a server.", RemoveVolume(g)),
        ServerConsole.Create(g, ConsoleLog(g)),
        Exec(g));

    private static Command CreateServer(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var flavor = new Option<string>("--flavor") { Description = "Flavor name or id.", Required = true };
        var image = new Option<string?>("--image") { Description = "Image name or id." };
        var volume = new Option<string?>("--volume") { Description = "Boot from this volume (name or id) instead of an image." };
        var bdm = new Option<string[]>("--block-device-mapping") { Description = "DEV=ID:TYPE:SIZE:DELETE-ON-TERMINATE, as novaclient (repeatable)." };
        var nic = new Option<string>("--nic") { Description = "auto or none.", DefaultValueFactory = _ => "auto" };
        var key = new Option<string?>("--key-name");
        var zone = new Option<string?>("--availability-zone");
        var property = PropertyOption("Metadata KEY=VALUE (repeatable).");
        var wait = WaitOption();
        var command = Cmd("create", "Create a server.", name, flavor, image, volume, bdm, nic, key, zone, property, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var api = run.Api;
            var body = new JsonObject
            {
                ["name"] = run.Get(name),
                ["flavorRef"] = Id(await api.FindFlavorAsync(run.Get(flavor), ct)),
                ["imageRef"] = run.Get(image) is { } i ? Id(await api.FindImageAsync(i, ct)) : "",
                ["networks"] = run.Get(nic),
                ["min_count"] = 1,
                ["max_count"] = 1,
            };
            if (run.Get(key) is { } k)
            {
                body["key_name"] = k;
            }

            if (run.Get(zone) is { } z)
            {
                body["availability_zone"] = z;
            }

            if (run.Get(property) is { Length: > 0 } props)
            {
                body["metadata"] = Properties(props);
            }

            if (run.Get(volume) is { } v)
            {
                body["block_device_mapping_v2"] = new JsonArray(new JsonObject
                {
                    ["uuid"] = Id(await api.FindVolumeAsync(v, ct)),
                    ["source_type"] = "volume",
                    ["destination_type"] = "volume",
                    ["boot_index"] = 0,
                    ["delete_on_termination"] = false,
                });
            }
            else if (run.Get(image) is null)
            {
                throw new CliException("Either --image or --volume is required.");
            }

            if (run.Get(bdm) is { Length: > 0 } mappings)
            {
                body["block_device_mapping"] = new JsonArray([.. mappings.Select(LegacyBlockDevice.Parse)]);
            }

            var created = (JsonObject)(await run.Session.PostAsync("compute", "/servers", new JsonObject { ["server"] = body }, ct))!["server"]!;
            var id = Id(created);
            var server = run.Get(wait)
                ? await api.WaitForStatusAsync("compute", "/servers/" + id, "server", $"server {id}", ["active"], ct)
                : (JsonObject)(await run.Session.GetAsync("compute", "/servers/" + id, ct))!["server"]!;
            if (created["adminPass"] is { } pass)
            {
                server["adminPass"] = pass.DeepClone();
            }

            run.Output.Show(ServerFields(server));
            return 0;
        });
        return command;
    }

    /// <summary>Show fields with flavor, image and addresses flattened as OSC does.</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> ServerFields(JsonObject server)
    {
        var copy = (JsonObject)server.DeepClone();
        copy["flavor"] = FlavorText(server);
        copy["image"] = server["image"] is JsonObject image ? (string?)image["id"] : "N/A (booted from volume)";
        copy["addresses"] = AddressText(server);
        return Sorted(copy);
    }

    /// <summary>The flavor's name at 2.47+ (embedded flavor), its id below.</summary>
    public static string? FlavorText(JsonObject server) =>
        server["flavor"] is JsonObject f ? (string?)f["original_name"] ?? (string?)f["id"] : (string?)server["flavor"];

    public static string AddressText(JsonObject server) => string.Join("; ",
        (server["addresses"] as JsonObject ?? []).Select(n => $"{n.Key}={string.Join(", ", (n.Value as JsonArray ?? []).Select(a => (string?)a?["addr"]))}"));

    private static Command List(ClientOptions g)
    {
        var all = new Option<bool>("--all-projects");
        var command = Cmd("list", "List servers.", all);
        g.SetAction(command, async (run, ct) =>
        {
            var reply = await run.Session.GetAsync("compute", "/servers/detail" + (run.Get(all) ? "?all_tenants=1" : ""), ct);
            run.Output.List(["ID", "Name", "Status", "Networks", "Image", "Flavor"], (reply?["servers"] as JsonArray ?? []).OfType<JsonObject>().Select(s => new[]
            {
                s["id"], s["name"], s["status"], V(AddressText(s)), V(s["image"] is JsonObject i ? (string?)i["id"] : "N/A (booted from volume)"), V(FlavorText(s)),
            }));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var command = Cmd("show", "Show a server.", server);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(ServerFields(await run.Api.FindServerAsync(run.Get(server), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var servers = new Argument<string[]>("servers") { Arity = ArgumentArity.OneOrMore };
        var wait = WaitOption();
        var command = Cmd("delete", "Delete servers.", servers, wait);
        g.SetAction(command, async (run, ct) =>
        {
            foreach (var server in run.Get(servers))
            {
                var id = Id(await run.Api.FindServerAsync(server, ct));
                await run.Session.DeleteAsync("compute", "/servers/" + id, ct);
                if (run.Get(wait))
                {
                    await run.Api.WaitForDeleteAsync("compute", "/servers/" + id, "server", $"server {id}", ct);
                }
            }

            return 0;
        });
        return command;
    }

    private static Command Action(ClientOptions g, string verb, string description, Func<JsonObject> body, string doneStatus)
    {
        var servers = new Argument<string[]>("servers") { Arity = ArgumentArity.OneOrMore };
        var wait = WaitOption();
        var command = Cmd(verb, description, servers, wait);
        g.SetAction(command, async (run, ct) =>
        {
            foreach (var server in run.Get(servers))
            {
                var id = Id(await run.Api.FindServerAsync(server, ct));
                await run.Session.PostAsync("compute", $"/servers/{id}/action", body(), ct);
                if (run.Get(wait))
                {
                    await run.Api.WaitForStatusAsync("compute", "/servers/" + id, "server", $"server {id}", [doneStatus], ct);
                }
            }

            return 0;
        });
        return command;
    }

    private static Command Reboot(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var hard = new Option<bool>("--hard");
        var wait = WaitOption();
        var command = Cmd("reboot", "Reboot a server.", server, hard, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var id = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            await run.Session.PostAsync("compute", $"/servers/{id}/action", new JsonObject { ["reboot"] = new JsonObject { ["type"] = run.Get(hard) ? "HARD" : "SOFT" } }, ct);
            if (run.Get(wait))
            {
                await run.Api.WaitForStatusAsync("compute", "/servers/" + id, "server", $"server {id}", ["active"], ct);
            }

            return 0;
        });
        return command;
    }

    private static Command AddVolume(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var volume = new Argument<string>("volume");
        var device = new Option<string?>("--device") { Description = "Device name, e.g. /dev/vdb (a hint)." };
        var wait = WaitOption();
        var command = Cmd("volume", "Attach a volume to a server.", server, volume, device, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var volumeId = Id(await run.Api.FindVolumeAsync(run.Get(volume), ct));
            var body = new JsonObject { ["volumeId"] = volumeId };
            if (run.Get(device) is { } d)
            {
                body["device"] = d;
            }

            var reply = await run.Session.PostAsync("compute", $"/servers/{serverId}/os-volume_attachments", new JsonObject { ["volumeAttachment"] = body }, ct);
            if (run.Get(wait))
            {
                await WaitForAttachmentAsync(run.Api, volumeId, serverId, attached: true, ct);
            }

            if (reply?["volumeAttachment"] is JsonObject attachment)
            {
                run.Output.Show([
                    new("ID", attachment["id"]?.DeepClone()), new("Server ID", attachment["serverId"]?.DeepClone()),
                    new("Volume ID", attachment["volumeId"]?.DeepClone()), new("Device", attachment["device"]?.DeepClone()),
                ]);
            }

            return 0;
        });
        return command;
    }

    private static Command RemoveVolume(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var volume = new Argument<string>("volume");
        var wait = WaitOption();
        var command = Cmd("volume", "Detach a volume from a server.", server, volume, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var serverId = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var volumeId = Id(await run.Api.FindVolumeAsync(run.Get(volume), ct));
            await run.Session.DeleteAsync("compute", $"/servers/{serverId}/os-volume_attachments/{volumeId}", ct);
            if (run.Get(wait))
            {
                await WaitForAttachmentAsync(run.Api, volumeId, serverId, attached: false, ct);
            }

            return 0;
        });
        return command;
    }

    /// <summary>Waits until the volume lists (or no longer lists) an attachment to the server, as tempest does for multi-attach.</summary>
    public static async Task WaitForAttachmentAsync(CloudApi api, string volumeId, string serverId, bool attached, CancellationToken ct)
    {
        var what = $"volume {volumeId} {(attached ? "attach to" : "detach from")} {serverId}";
        for (var delay = 250; ; delay = Math.Min(delay * 2, 2000))
        {
            var volume = (JsonObject)(await api.Session.GetAsync("volume", "/volumes/" + volumeId, ct))!["volume"]!;
            var status = (string?)volume["status"] ?? "";
            var present = (volume["attachments"] as JsonArray ?? []).OfType<JsonObject>().Any(a => (string?)a["server_id"] == serverId);
            if (present == attached && status is "in-use" or "available")
            {
                return;
            }

            if (status.StartsWith("error", StringComparison.Ordinal))
            {
                throw new CliException($"{what}: volume went to status {status}");
            }

            await Task.Delay(delay, ct);
        }
    }

    private static Command ConsoleLog(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var lines = new Option<int?>("--lines") { Description = "Only the last N lines." };
        var command = Cmd("log", "Show the server's serial console output.", server, lines);
        g.SetAction(command, async (run, ct) =>
        {
            var id = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var args = new JsonObject();
            if (run.Get(lines) is { } n)
            {
                args["length"] = n;
            }

            var reply = await run.Session.PostAsync("compute", $"/servers/{id}/action", new JsonObject { ["os-getConsoleOutput"] = args }, ct);
            run.Context.Out.Write((string?)reply?["output"] ?? "");
            return 0;
        });
        return command;
    }

    private static Command Exec(ClientOptions g)
    {
        var server = new Argument<string>("server");
        var commandLine = new Argument<string[]>("command") { Description = "Program and arguments to run in the guest (after --).", Arity = ArgumentArity.OneOrMore };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the command.", DefaultValueFactory = _ => 60 };
        var command = Cmd("exec", "Run a command in the guest through its agent (Ember extension ember-exec); exits with its exit code.", server, commandLine, timeout);
        g.SetAction(command, async (run, ct) =>
        {
            var id = Id(await run.Api.FindServerAsync(run.Get(server), ct));
            var body = new JsonObject
            {
                ["ember-exec"] = new JsonObject { ["command"] = new JsonArray([.. run.Get(commandLine).Select(a => JsonValue.Create(a))]), ["timeout"] = run.Get(timeout) },
            };
            var reply = await run.Session.PostAsync("compute", $"/servers/{id}/action", body, ct);
            run.Context.Out.Write((string?)reply?["stdout"] ?? "");
            run.Context.Err.Write((string?)reply?["stderr"] ?? "");
            return (int?)reply?["exit_code"] ?? throw new CliException("ember-exec reply without exit_code");
        });
        return command;
    }
}

/// <summary>novaclient's --block-device-mapping DEV=ID:TYPE:SIZE:DELETE-ON-TERMINATE into a legacy mapping.</summary>
public static class LegacyBlockDevice
{
    public static JsonNode Parse(string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new CliException($"Invalid --block-device-mapping '{text}': expected <dev-name>=<id>:<type>:<size(GiB)>:<delete-on-terminate>.");
        }

        var mapping = new JsonObject { ["device_name"] = text[..eq] };
        var parts = text[(eq + 1)..].Split(':');
        // As novaclient: a type starting "snap" means a snapshot id, anything else a volume id; blanks are left out.
        if (parts.Length > 1 && parts[1].StartsWith("snap", StringComparison.Ordinal))
        {
            mapping["snapshot_id"] = parts[0];
        }
        else
        {
            mapping["volume_id"] = parts[0];
        }

        if (parts.Length > 2 && parts[2].Length > 0)
        {
            mapping["volume_size"] = parts[2];
        }

        if (parts.Length > 3 && parts[3].Length > 0)
        {
            mapping["delete_on_termination"] = parts[3];
        }

        return mapping;
    }
}
