using Ember.Compute.Qemu;
using Ember.Server.Image;

namespace Ember.Server.Compute;

/// <summary>Where a compute host gets the bytes of an image for a root disk: a local file in the format QEMU reads.</summary>
public interface IHostImageSource
{
    Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken);

    /// <summary>The image's properties as strings; the host reads the additional ones (kernel_id, ramdisk_id, os_command_line).</summary>
    Task<IReadOnlyDictionary<string, string>> PropertiesAsync(ImageSpec image, CancellationToken cancellationToken);

    /// <summary>
    /// Fills the queued image <paramref name="imageId"/> of <paramref name="projectId"/> with the qcow2 file
    /// <paramref name="file"/> (a snapshot), with every check of an upload; the image is active when this returns.
    /// The file is consumed: moved or deleted.
    /// </summary>
    Task UploadAsync(string imageId, string projectId, string file, CancellationToken cancellationToken);

    /// <summary>Deletes an image the host could not fill (a failed snapshot); one already gone is no error.</summary>
    Task DiscardAsync(string imageId, CancellationToken cancellationToken);
}

/// <summary>
/// All-in-one: the image service's own file, checked at every boot (the overlay reads its base at every boot). Data
/// in an RBD pool is copied into the host's <see cref="ImageCache"/> first, as a compute host on another machine
/// copies what it downloads (issue 13).
/// </summary>
public sealed class LocalImageSource(ImageStore store, ImageService images, ImageCache cache) : IHostImageSource
{
    public async Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var row = await store.FindAsync(image.Id) ?? throw new InvalidOperationException($"Image {image.Id} is gone.");
        var (location, _) = await images.PrepareForUseAsync(row, cancellationToken);
        return location is ImageFileLocation file
            ? new ImageBase(file.Path, file.DiskFormat)
            : await cache.FetchAsync(row.Id, row.OsHashValue, row.Size ?? 0, location.DiskFormat,
                async ct => await store.OpenDataAsync(row.Id, ct) ?? throw new InvalidOperationException($"Image {row.Id} has no data."),
                cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, string>> PropertiesAsync(ImageSpec image, CancellationToken cancellationToken) =>
        ImageJson.PropertiesOf(await store.FindAsync(image.Id) ?? throw new InvalidOperationException($"Image {image.Id} is gone."));

    public Task UploadAsync(string imageId, string projectId, string file, CancellationToken cancellationToken) =>
        images.UploadFromFileAsync(ServiceContext(projectId), imageId, (staged, _) =>
        {
            File.Move(file, staged, overwrite: true);
            return Task.CompletedTask;
        }, cancellationToken);

    public Task DiscardAsync(string imageId, CancellationToken cancellationToken) => images.DiscardAsync(imageId);

    /// <summary>The compute service in the image owner's project: it may fill that project's queued image.</summary>
    private static Common.RequestContext ServiceContext(string projectId) =>
        new("ember-compute", "ember-compute", "default", projectId, null, ["admin"], DateTime.MaxValue);
}
