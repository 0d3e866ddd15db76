using Ember.Compute.Qemu;
using Ember.Server.Image;

namespace Ember.Server.Compute;

/// <summary>Where a compute host gets the bytes of an image for a root disk: a local file in the format QEMU reads.</summary>
public interface IHostImageSource
{
    Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken);
}

/// <summary>
/// All-in-one: the image service's own file, checked at every boot (the overlay reads its base at every boot).
/// A compute host on another machine downloads into a cache of its own instead (issue 13).
/// </summary>
public sealed class LocalImageSource(ImageStore store, ImageService images) : IHostImageSource
{
    public async Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var row = await store.FindAsync(image.Id) ?? throw new InvalidOperationException($"Image {image.Id} is gone.");
        var (path, _) = await images.PrepareForUseAsync(row, cancellationToken);
        return new ImageBase(path, row.DiskFormat ?? "raw");
    }
}
