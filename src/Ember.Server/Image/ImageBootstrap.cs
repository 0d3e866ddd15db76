using Ember.Server.Common;
using Ember.Server.Identity;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Image;

/// <summary>Registers the project's guest image as the public image "ember-tiny" when it is not there yet.</summary>
public sealed partial class ImageBootstrap(ImageStore images, IdentityStore identity, ILogger<ImageBootstrap> logger)
{
    public const string DefaultImageName = "ember-tiny";

    public async Task RunAsync(EmberOptions options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.Image.DefaultImagePath))
        {
            return;
        }

        if (!File.Exists(options.Image.DefaultImagePath))
        {
            LogMissing(logger, options.Image.DefaultImagePath);
            return;
        }

        if ((await images.ListAsync()).Any(i => i.Name == DefaultImageName && i.Status == "active"))
        {
            return;
        }

        var owner = (await identity.FindProjectAsync(null, "admin", IdentityStore.DefaultDomainId))?.Id ?? "admin";
        var properties = new Dictionary<string, string>();
        // The kernel and initramfs beside the disk (tools/guest-image/build.sh leaves NAME.kernel and NAME.initrd):
        // registered as aki / ari images and named by the disk's kernel_id / ramdisk_id, the guest boots without
        // firmware disk boot and boot loader (docs/guest-image.md). The disk keeps its boot loader for other clouds.
        var stem = Path.ChangeExtension(options.Image.DefaultImagePath, null);
        if (File.Exists(stem + ".kernel") && File.Exists(stem + ".initrd"))
        {
            properties["kernel_id"] = await RegisterAsync(DefaultImageName + "-kernel", "aki", stem + ".kernel", owner, [], cancellationToken);
            properties["ramdisk_id"] = await RegisterAsync(DefaultImageName + "-ramdisk", "ari", stem + ".initrd", owner, [], cancellationToken);
            properties["os_command_line"] = GuestCommandLine;
        }

        await RegisterAsync(DefaultImageName, "qcow2", options.Image.DefaultImagePath, owner, properties, cancellationToken);
    }

    /// <summary>
    /// The guest image's kernel command line for direct kernel boot: its boot loader's line (serial console, reboot 5 s
    /// after a panic, quiet), then what spares an emulated CPU work this guest has no use for (bench/boot measures it).
    /// </summary>
    public const string GuestCommandLine = "console=ttyS0,115200 panic=5 quiet cryptomgr.notests no_timer_check audit=0 "
        + "rcupdate.rcu_expedited=1 8250.nr_uarts=1 i8042.noaux";

    private async Task<string> RegisterAsync(string name, string format, string path, string owner, Dictionary<string, string> properties,
        CancellationToken cancellationToken)
    {
        var now = Ids.Now();
        var image = new ImageRow
        {
            Id = Ids.NewUuid(),
            Name = name,
            Status = "queued",
            Visibility = "public",
            DiskFormat = format,
            // Glance's convention: a kernel or ramdisk image is in an aki / ari container, a disk image in none.
            ContainerFormat = format is "aki" or "ari" ? format : "bare",
            Owner = owner,
            Properties = ImageJson.PropertiesText(properties),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await images.InsertAsync(image);
        await using var source = File.OpenRead(path);
        await images.UploadAsync(image, source, null, null, cancellationToken);
        LogRegistered(logger, name, image.Id);
        return image.Id;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Default image {Path} does not exist; not registering it")]
    private static partial void LogMissing(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered public image {Name} ({Id})")]
    private static partial void LogRegistered(ILogger logger, string name, string id);
}
