using System.CommandLine;
using System.Text.Json.Nodes;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember volume attachment ...`: the Cinder attachments API (microversion 3.27+, complete at 3.44).</summary>
public static class AttachmentCommands
{
    public static Command Create(ClientOptions g) => Cmd("attachment", "Volume attachments (Cinder attachments API).",
        CreateAttachment(g), List(g), Show(g), Delete(g), Complete(g));

    private static Command CreateAttachment(ClientOptions g)
    {
        var volume = new Argument<string>("volume") { Description = "Volume name or id." };
        var server = new Argument<string>("server") { Description = "Server name or id (the instance the attachment is for)." };
        var connect = new Option<bool>("--connect") { Description = "Send a connector now (the attachment goes to attaching)." };
        var host = new Option<string?>("--host") { Description = "Connector host name." };
        var ip = new Option<string?>("--ip") { Description = "Connector IP address." };
        var initiator = new Option<string?>("--initiator") { Description = "Connector initiator." };
        var mountpoint = new Option<string?>("--mountpoint") { Description = "Connector mountpoint, e.g. /dev/vdb." };
        var mode = new Option<string?>("--mode") { Description = "rw or ro (microversion 3.54)." };
        mode.AcceptOnlyFromAmong("rw", "ro");
        var wait = WaitOption();
        var command = Cmd("create", "Create an attachment (reserve the volume for a server).", volume, server, connect, host, ip, initiator, mountpoint, mode, wait);
        g.SetAction(command, async (run, ct) =>
        {
            var volumeId = Id(await run.Api.FindVolumeAsync(run.Get(volume), ct));
            var serverRef = run.Get(server);
            var serverId = Ember.Client.CloudApi.LooksLikeUuid(serverRef) ? serverRef : Id(await run.Api.FindServerAsync(serverRef, ct));
            var body = new JsonObject { ["volume_uuid"] = volumeId, ["instance_uuid"] = serverId };
            if (run.Get(connect))
            {
                body["connector"] = new JsonObject
                {
                    ["host"] = run.Get(host) ?? Environment.MachineName,
                    ["ip"] = run.Get(ip) ?? "127.0.0.1",
                    ["initiator"] = run.Get(initiator),
                    ["platform"] = "x86_64",
                    ["os_type"] = "linux",
                    ["multipath"] = false,
                    ["mountpoint"] = run.Get(mountpoint),
                };
            }

            run.Session.VolumeMicroversion = "3.44";
            if (run.Get(mode) is { } m)
            {
                body["mode"] = m;
                run.Session.VolumeMicroversion = "3.54";
            }

            var attachment = (JsonObject)(await run.Session.PostAsync("volume", "/attachments", new JsonObject { ["attachment"] = body }, ct))!["attachment"]!;
            if (run.Get(wait) && run.Get(connect))
            {
                await run.Api.WaitForStatusAsync("volume", "/volumes/" + volumeId, "volume", $"volume {volumeId}", ["attaching", "in-use"], ct);
            }

            run.Output.Show(Sorted(attachment));
            return 0;
        });
        return command;
    }

    private static Command List(ClientOptions g)
    {
        var volume = new Option<string?>("--volume-id") { Description = "Only this volume's attachments." };
        var all = new Option<bool>("--all-projects");
        var command = Cmd("list", "List attachments.", volume, all);
        g.SetAction(command, async (run, ct) =>
        {
            run.Session.VolumeMicroversion = "3.44";
            var query = new List<string>();
            if (run.Get(volume) is { } v)
            {
                query.Add("volume_id=" + Id(await run.Api.FindVolumeAsync(v, ct)));
            }

            if (run.Get(all))
            {
                query.Add("all_tenants=1");
            }

            var reply = await run.Session.GetAsync("volume", "/attachments" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            run.Output.List(["ID", "Volume ID", "Server ID", "Status"], (reply?["attachments"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(a => new[] { a["id"], a["volume_id"], a["instance"], a["status"] }));
            return 0;
        });
        return command;
    }

    private static Command Show(ClientOptions g)
    {
        var attachment = new Argument<string>("attachment") { Description = "Attachment id." };
        var command = Cmd("show", "Show an attachment.", attachment);
        g.SetAction(command, async (run, ct) =>
        {
            run.Session.VolumeMicroversion = "3.44";
            var reply = await run.Session.GetAsync("volume", "/attachments/" + Uri.EscapeDataString(run.Get(attachment)), ct);
            run.Output.Show(Sorted((JsonObject)reply!["attachment"]!));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var attachments = new Argument<string[]>("attachments") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Delete attachments (detach).", attachments);
        g.SetAction(command, async (run, ct) =>
        {
            run.Session.VolumeMicroversion = "3.44";
            foreach (var id in run.Get(attachments))
            {
                await run.Session.DeleteAsync("volume", "/attachments/" + Uri.EscapeDataString(id), ct);
            }

            return 0;
        });
        return command;
    }

    private static Command Complete(ClientOptions g)
    {
        var attachment = new Argument<string>("attachment") { Description = "Attachment id." };
        var command = Cmd("complete", "Mark an attachment attached (os-complete; the volume goes in-use).", attachment);
        g.SetAction(command, async (run, ct) =>
        {
            run.Session.VolumeMicroversion = "3.44";
            await run.Session.PostAsync("volume", $"/attachments/{Uri.EscapeDataString(run.Get(attachment))}/action", new JsonObject { ["os-complete"] = new JsonObject() }, ct);
            return 0;
        });
        return command;
    }
}
