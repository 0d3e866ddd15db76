using Ember.Compute.Qemu;
using Ember.Image.Format;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>
/// Where image bytes live (Glance's store): files under DATA/images (the default) or an RBD pool (Image:Backend
/// rbd). Uploads arrive in a temporary file, hashed and inspected by <see cref="ImageStore"/>, and are then handed
/// over whole; stored data never changes.
/// </summary>
public interface IImageData
{
    /// <summary>Connects to where the data lives; a store that cannot be used fails start-up.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Makes the checked upload in <paramref name="uploadedFile"/> the image's data (it may move the file).</summary>
    Task StoreAsync(string imageId, string uploadedFile, CancellationToken cancellationToken);

    /// <summary>Inspects the stored data again, reading only the ranges the inspector asks for.</summary>
    /// <exception cref="FileNotFoundException">The image has no data.</exception>
    Task<ImageInspection> InspectAsync(string imageId, CancellationToken cancellationToken);

    /// <summary>A seekable stream of the stored bytes, or null when the image has no data.</summary>
    Task<Stream?> OpenReadAsync(string imageId, CancellationToken cancellationToken);

    /// <summary>Removes the data; missing data is not an error.</summary>
    /// <exception cref="ImageInUseException">Something outside the image service depends on it (copy-on-write clones): nothing was removed.</exception>
    Task DeleteAsync(string imageId, CancellationToken cancellationToken);

    /// <summary>Where a volume backend or a compute host reads the image's data.</summary>
    ImageLocation LocationOf(string imageId, string diskFormat);
}

/// <summary>Where an image's data is, with its Glance disk_format.</summary>
public abstract record ImageLocation(string DiskFormat)
{
    /// <summary>A qemu-img source that names the format and opens no backing file, whatever the header says.</summary>
    public abstract string QemuImgSource();
}

/// <summary>A local file.</summary>
public sealed record ImageFileLocation(string Path, string DiskFormat) : ImageLocation(DiskFormat)
{
    public override string QemuImgSource() => ImageFiles.QemuImgSource(Path, DiskFormat);
}

/// <summary>
/// The protected snapshot of an RBD image (Glance's rbd://FSID/POOL/IMAGE/SNAP location), read as
/// <see cref="Cluster"/>'s user: a volume backend on the same cluster (same fsid) can clone it instead of copying.
/// </summary>
public sealed record RbdImageLocation(string ClusterFsid, Volume.RbdOptions Cluster, string Image, string Snapshot, string DiskFormat)
    : ImageLocation(DiskFormat)
{
    public override string QemuImgSource() => ImageFiles.QemuImgSource(ImageFiles.QemuRbdFile(Cluster.QemuFilename(Image, Snapshot)), DiskFormat);
}

/// <summary>Glance's InUseByStore: the backend refuses to remove data others still read.</summary>
public sealed class ImageInUseException(string message) : Exception(message);

/// <summary>Image data as files DATA/images/&lt;id&gt;, the default.</summary>
public sealed class FileImageData(IOptions<EmberOptions> host) : IImageData
{
    /// <summary>Also where uploads are received, whatever the store.</summary>
    public static string DirectoryOf(EmberOptions host) => System.IO.Path.Combine(host.DataDir, "images");

    private readonly string _directory = DirectoryOf(host.Value);

    public string FileOf(string imageId) => System.IO.Path.Combine(_directory, imageId);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoreAsync(string imageId, string uploadedFile, CancellationToken cancellationToken)
    {
        File.Move(uploadedFile, FileOf(imageId), overwrite: true);
        return Task.CompletedTask;
    }

    public Task<ImageInspection> InspectAsync(string imageId, CancellationToken cancellationToken) =>
        ImageFiles.InspectAsync(FileOf(imageId), cancellationToken);

    public Task<Stream?> OpenReadAsync(string imageId, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<Stream?>(new FileStream(FileOf(imageId), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task DeleteAsync(string imageId, CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(FileOf(imageId));
        }
        catch (DirectoryNotFoundException)
        {
            // No image has had data yet, so there is no directory: a queued image has nothing to delete.
        }

        return Task.CompletedTask;
    }

    public ImageLocation LocationOf(string imageId, string diskFormat) => new ImageFileLocation(FileOf(imageId), diskFormat);
}
