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

        var admin = await identity.FindProjectAsync(null, "admin", IdentityStore.DefaultDomainId);
        var now = Ids.Now();
        var image = new ImageRow
        {
            Id = Ids.NewUuid(),
            Name = DefaultImageName,
            Status = "queued",
            Visibility = "public",
            DiskFormat = "qcow2",
            ContainerFormat = "bare",
            Owner = admin?.Id ?? "admin",
            CreatedAt = now,
            UpdatedAt = now,
        };
        await images.InsertAsync(image);
        await using var source = File.OpenRead(options.Image.DefaultImagePath);
        await images.UploadAsync(image, source, null, null, cancellationToken);
        LogRegistered(logger, DefaultImageName, image.Id);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Default image {Path} does not exist; not registering it")]
    private static partial void LogMissing(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered public image {Name} ({Id})")]
    private static partial void LogRegistered(ILogger logger, string name, string id);
}
