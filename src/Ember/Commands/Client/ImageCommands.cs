using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Ember.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember image ...` (Image v2).</summary>
public static class ImageCommands
{
    public static Command Create(ClientOptions g) => Cmd("image", "Images.", CreateImage(g), List(g), Show(g), Delete(g), Save(g));

    private static Command CreateImage(ClientOptions g)
    {
        var name = new Argument<string>("name");
        var file = new Option<string?>("--file") { Description = "Upload this file as the image data." };
        var diskFormat = new Option<string>("--disk-format") { DefaultValueFactory = _ => "raw" };
        var containerFormat = new Option<string>("--container-format") { DefaultValueFactory = _ => "bare" };
        var isPublic = new Option<bool>("--public");
        var isPrivate = new Option<bool>("--private");
        var shared = new Option<bool>("--shared");
        var minDisk = new Option<int?>("--min-disk");
        var minRam = new Option<int?>("--min-ram");
        var property = PropertyOption();
        var command = Cmd("create", "Create an image and upload its data.", name, file, diskFormat, containerFormat, isPublic, isPrivate, shared, minDisk, minRam, property);
        g.SetAction(command, async (run, ct) =>
        {
            var body = Properties(run.Get(property));
            body["name"] = run.Get(name);
            body["disk_format"] = run.Get(diskFormat);
            body["container_format"] = run.Get(containerFormat);
            if (run.Get(isPublic) || run.Get(isPrivate) || run.Get(shared))
            {
                body["visibility"] = run.Get(isPublic) ? "public" : run.Get(shared) ? "shared" : "private";
            }

            if (run.Get(minDisk) is { } disk)
            {
                body["min_disk"] = disk;
            }

            if (run.Get(minRam) is { } ram)
            {
                body["min_ram"] = ram;
            }

            var image = (JsonObject)(await run.Session.PostAsync("image", "/images", body, ct))!;
            if (run.Get(file) is { } path)
            {
                image = await UploadAsync(run, Id(image), path, ct);
            }

            run.Output.Show(Sorted(image));
            return 0;
        });
        return command;
    }

    /// <summary>PUT the file to /images/{id}/file, streamed, with a progress bar on a terminal; returns the image after.</summary>
    public static async Task<JsonObject> UploadAsync(ClientRun run, string id, string path, CancellationToken ct)
    {
        var stream = File.OpenRead(path);
        var length = stream.Length;
        using var content = new StreamContent(new ProgressStream(stream, length, run.Context.ErrIsTerminal ? run.Context.Err : null), 1 << 20);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        using var response = await run.Session.SendAsync(HttpMethod.Put, "image", $"/images/{id}/file", content, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw OpenStackSession.ErrorFrom(response, await OpenStackSession.ReadJsonAsync(response, ct));
        }

        return (JsonObject)(await run.Session.GetAsync("image", "/images/" + id, ct))!;
    }

    private static Command List(ClientOptions g)
    {
        var command = Cmd("list", "List images.");
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.List(["ID", "Name", "Status"], (await ListAllAsync(run.Session, ct)).Select(i => new[] { i["id"], i["name"], i["status"] }));
            return 0;
        });
        return command;
    }

    /// <summary>Every page of GET /images (follows "next").</summary>
    public static async Task<List<JsonObject>> ListAllAsync(OpenStackSession session, CancellationToken ct)
    {
        var images = new List<JsonObject>();
        var path = "/images?limit=100";
        for (var page = 0; page < 1000; page++)
        {
            var reply = await session.GetAsync("image", path, ct);
            var batch = (reply?["images"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            images.AddRange(batch);
            var next = (string?)reply?["next"];
            if (next is null || batch.Count == 0)
            {
                break;
            }

            // "next" is relative to the service root and already carries /v2.
            path = next.StartsWith("/v2", StringComparison.Ordinal) ? next[3..] : next;
        }

        return images;
    }

    private static Command Show(ClientOptions g)
    {
        var image = new Argument<string>("image");
        var command = Cmd("show", "Show an image.", image);
        g.SetAction(command, async (run, ct) =>
        {
            run.Output.Show(Sorted(await run.Api.FindImageAsync(run.Get(image), ct)));
            return 0;
        });
        return command;
    }

    private static Command Delete(ClientOptions g)
    {
        var images = new Argument<string[]>("images") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("delete", "Delete images.", images);
        g.SetAction(command, async (run, ct) =>
        {
            await DeleteAllAsync(run, run.Get(images), ct);
            return 0;
        });
        return command;
    }

    /// <summary>Deletes images by name or id; shared with `glance image-delete`.</summary>
    public static async Task DeleteAllAsync(ClientRun run, IEnumerable<string> images, CancellationToken ct)
    {
        foreach (var image in images)
        {
            await run.Session.DeleteAsync("image", "/images/" + Id(await run.Api.FindImageAsync(image, ct)), ct);
        }
    }

    private static Command Save(ClientOptions g)
    {
        var image = new Argument<string>("image");
        var file = new Option<string?>("--file") { Description = "Write here (default: stdout)." };
        var command = Cmd("save", "Download an image's data.", image, file);
        g.SetAction(command, async (run, ct) =>
        {
            await DownloadAsync(run, Id(await run.Api.FindImageAsync(run.Get(image), ct)), run.Get(file), ct);
            return 0;
        });
        return command;
    }

    public static async Task DownloadAsync(ClientRun run, string id, string? file, CancellationToken ct)
    {
        using var response = await run.Session.SendAsync(HttpMethod.Get, "image", $"/images/{id}/file", null, ct, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            throw OpenStackSession.ErrorFrom(response, await OpenStackSession.ReadJsonAsync(response, ct));
        }

        if (response.StatusCode == System.Net.HttpStatusCode.NoContent)
        {
            throw new CliException($"Image {id} has no data.");
        }

        await using var source = await response.Content.ReadAsStreamAsync(ct);
        var length = response.Content.Headers.ContentLength ?? 0;
        await using var progress = new ProgressStream(source, length, file is not null && run.Context.ErrIsTerminal ? run.Context.Err : null);
        if (file is null)
        {
            var stdout = run.Context.OpenStdout?.Invoke() ?? throw new CliException("No standard output to write to; use --file.");
            await progress.CopyToAsync(stdout, ct);
            await stdout.FlushAsync(ct);
        }
        else
        {
            await using var target = File.Create(file);
            await progress.CopyToAsync(target, ct);
        }
    }
}
