using System.CommandLine;
using System.Text.Json.Nodes;
using Ember.Client;
using Ember.Client.Output;
using Ember.Commands.Client;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Legacy;

/// <summary>`glance` with the 2015 (Image v1 client) syntax and tables, over the Image v2 API.</summary>
public static class GlanceShell
{
    public static readonly string[] ListColumns = ["ID", "Name", "Disk Format", "Container Format", "Size", "Status"];

    /// <summary>The fields glanceclient v1 printed for an image.</summary>
    public static readonly string[] ImageRows =
    [
        "checksum", "container_format", "created_at", "deleted", "deleted_at", "disk_format", "id", "is_public",
        "min_disk", "min_ram", "name", "owner", "protected", "size", "status", "updated_at", "virtual_size",
    ];

    /// <summary>v2 image keys that are not custom properties.</summary>
    private static readonly HashSet<string> s_coreKeys =
    [
        "checksum", "container_format", "created_at", "disk_format", "id", "min_disk", "min_ram", "name", "owner", "protected", "size",
        "status", "updated_at", "virtual_size", "visibility", "os_hidden", "os_hash_algo", "os_hash_value", "tags", "locations",
        "self", "file", "schema", "direct_url", "stores",
    ];

    public static RootCommand Create(CliContext context)
    {
        var g = new ClientOptions(context, withOutputOptions: false);
        var root = new RootCommand("glance: Image commands in the 2015 glanceclient syntax (Ember).");
        g.AddTo(root);
        foreach (var command in new[] { ImageList(g), ImageCreate(g), ImageShow(g), ImageDelete(g), ImageDownload(g) })
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static string Cell(JsonNode? node) => node is null ? "" : PyFormat.Str(node);

    private static Command ImageList(ClientOptions g)
    {
        var command = Cmd("image-list", "List images you can access.");
        g.SetAction(command, async (run, ct) =>
        {
            var images = await ImageCommands.ListAllAsync(run.Session, ct);
            var rows = images.Select(i => new[] { Cell(i["id"]), Cell(i["name"]), Cell(i["disk_format"]), Cell(i["container_format"]), Cell(i["size"]), Cell(i["status"]) });
            run.Context.Out.WriteLine(LegacyFormat.List(ListColumns, rows, centered: false, sortBy: null));
            return 0;
        });
        return command;
    }

    /// <summary>The v1 view of a v2 image: is_public from visibility, custom properties as "Property 'k'".</summary>
    public static string ImageTable(JsonObject image)
    {
        var rows = new List<(string, string)>();
        foreach (var key in ImageRows)
        {
            var value = key switch
            {
                "is_public" => (string?)image["visibility"] == "public" ? "True" : "False",
                "deleted" => "False",
                "deleted_at" => "None",
                _ => PyFormat.Str(image[key]),
            };
            rows.Add((key, value));
        }

        foreach (var (key, value) in image.Where(p => !s_coreKeys.Contains(p.Key)))
        {
            rows.Add(($"Property '{key}'", PyFormat.Str(value)));
        }

        return LegacyFormat.Dict(rows, centered: false);
    }

    private static Command ImageCreate(ClientOptions g)
    {
        var name = new Option<string?>("--name");
        var diskFormat = new Option<string?>("--disk-format");
        var containerFormat = new Option<string?>("--container-format");
        var file = new Option<string?>("--file");
        var isPublic = new Option<string?>("--is-public") { Description = "True or False." };
        var visibility = new Option<string?>("--visibility");
        var minDisk = new Option<int?>("--min-disk");
        var minRam = new Option<int?>("--min-ram");
        var property = new Option<string[]>("--property") { Description = "KEY=VALUE (repeatable)." };
        var progress = new Option<bool>("--progress") { Description = "Show upload progress bar." };
        var command = Cmd("image-create", "Create a new image.", name, diskFormat, containerFormat, file, isPublic, visibility, minDisk, minRam, property, progress);
        g.SetAction(command, async (run, ct) =>
        {
            var body = Properties(run.Get(property));
            body["name"] = run.Get(name);
            if (run.Get(diskFormat) is { } df)
            {
                body["disk_format"] = df;
            }

            if (run.Get(containerFormat) is { } cf)
            {
                body["container_format"] = cf;
            }

            var vis = run.Get(visibility)
                ?? (run.Get(isPublic) is { } p ? (string.Equals(p, "true", StringComparison.OrdinalIgnoreCase) ? "public" : "private") : null);
            if (vis is not null)
            {
                body["visibility"] = vis;
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
                image = await ImageCommands.UploadAsync(run, Id(image), path, ct);
            }

            run.Context.Out.WriteLine(ImageTable(image));
            return 0;
        });
        return command;
    }

    private static Command ImageShow(ClientOptions g)
    {
        var image = new Argument<string>("image") { Description = "Name or ID of image to describe." };
        var command = Cmd("image-show", "Describe a specific image.", image);
        g.SetAction(command, async (run, ct) =>
        {
            run.Context.Out.WriteLine(ImageTable(await run.Api.FindImageAsync(run.Get(image), ct)));
            return 0;
        });
        return command;
    }

    private static Command ImageDelete(ClientOptions g)
    {
        var images = new Argument<string[]>("image") { Arity = ArgumentArity.OneOrMore };
        var command = Cmd("image-delete", "Delete specified image(s).", images);
        g.SetAction(command, async (run, ct) =>
        {
            await ImageCommands.DeleteAllAsync(run, run.Get(images), ct);
            return 0;
        });
        return command;
    }

    private static Command ImageDownload(ClientOptions g)
    {
        var image = new Argument<string>("image");
        var file = new Option<string?>("--file") { Description = "Local file to save downloaded image data to (default: stdout)." };
        var progress = new Option<bool>("--progress");
        var command = Cmd("image-download", "Download a specific image.", image, file, progress);
        g.SetAction(command, async (run, ct) =>
        {
            await ImageCommands.DownloadAsync(run, Id(await run.Api.FindImageAsync(run.Get(image), ct)), run.Get(file), ct);
            return 0;
        });
        return command;
    }
}
