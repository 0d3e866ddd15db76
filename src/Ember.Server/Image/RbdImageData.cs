using Ember.Compute.Qemu;
using Ember.Image.Format;
using Ember.Server.Common;
using Ember.Server.Volume;
using Ember.Server.Volume.Rbd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>
/// Image data in an RBD pool, as Glance's rbd store keeps it: image <c>&lt;id&gt;</c> holding the bytes as uploaded,
/// with a protected snapshot <c>snap</c> that readers open and that volumes on the same cluster are cloned from
/// (copy-on-write, instant whatever the size). While such clones exist the snapshot cannot be unprotected, so the
/// image cannot be deleted: Glance's 409 "in use through the backend store".
/// </summary>
/// <remarks>
/// One rados connection for the process, made at start. librados calls block, so each runs on a thread of its own.
/// </remarks>
public sealed partial class RbdImageData(IOptions<ImageOptions> options, ILogger<RbdImageData> logger) : IImageData, IDisposable
{
    /// <summary>Glance's snapshot name for the image's data.</summary>
    public const string SnapshotName = "snap";

    /// <summary>The unit of copying in and reading ahead: RBD's default object size.</summary>
    private const int ChunkBytes = 4 << 20;

    private readonly RbdOptions _options = options.Value.Rbd;
    private RadosCluster? _cluster;
    private RbdPool? _pool;
    private string _fsid = "";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RbdThread.RunAsync(() =>
            {
                var cluster = RadosCluster.Connect(_options.ConfPath!, _options.User, _options.KeyringPath,
                    TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds), TimeSpan.FromSeconds(_options.OperationTimeoutSeconds));
                try
                {
                    _pool = cluster.OpenPool(_options.Pool);
                    _fsid = cluster.Fsid;
                    _cluster = cluster;
                }
                catch
                {
                    cluster.Dispose();
                    throw;
                }
            }, cancellationToken);
        }
        catch (RbdException e)
        {
            throw new ConfigurationException($"Image:Rbd: cannot use the Ceph cluster: {e.Message}");
        }

        LogConnected(logger, _options.User, _options.Pool, _fsid);
    }

    public void Dispose()
    {
        _pool?.Dispose();
        _cluster?.Dispose();
    }

    /// <summary>
    /// Copies the file into a new image, leaving zero chunks unwritten (the image is thin), then snapshots and protects
    /// it. A failure removes what was made; a full pool is Glance's 413 "Image storage media is full".
    /// </summary>
    public Task StoreAsync(string imageId, string uploadedFile, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RemoveData(pool, imageId); // what a crashed upload of this image may have left
        using var file = File.OpenHandle(uploadedFile);
        var length = RandomAccess.GetLength(file);
        try
        {
            pool.Create(imageId, (ulong)length);
            using var image = pool.Open(imageId);
            var buffer = new byte[ChunkBytes];
            for (long offset = 0; offset < length; offset += ChunkBytes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = buffer.AsSpan(0, RandomAccess.Read(file, buffer, offset));
                if (chunk.ContainsAnyExcept((byte)0))
                {
                    image.Write((ulong)offset, chunk);
                }
            }

            image.CreateSnapshot(SnapshotName);
            image.ProtectSnapshot(SnapshotName);
        }
        catch (Exception e)
        {
            RemoveData(pool, imageId);
            if (e is RbdException { Errno: RbdException.NoSpace or RbdException.QuotaExceeded })
            {
                throw new ApiException(ErrorKind.RequestTooLarge, $"Image storage media is full: {e.Message}");
            }

            throw;
        }
    }, cancellationToken);

    public Task<ImageInspection> InspectAsync(string imageId, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        using var image = OpenSnapshot(pool, imageId) ?? throw new FileNotFoundException($"Image {imageId} has no data in pool {_options.Pool}.");
        var inspector = new ImageInspector();
        inspector.SetLength((long)image.Size);
        // The reads complete synchronously on this thread.
        return ImageFiles.FinishAsync(inspector, (offset, buffer, _) => ValueTask.FromResult(image.Read((ulong)offset, buffer.Span)), cancellationToken)
            .GetAwaiter().GetResult();
    }, cancellationToken);

    public Task<Stream?> OpenReadAsync(string imageId, CancellationToken cancellationToken) =>
        Connection.RunAsync<Stream?>(pool => OpenSnapshot(pool, imageId) is { } image ? new RbdImageStream(image, ChunkBytes) : null, cancellationToken);

    /// <summary>Glance's rbd delete: unprotect (EBUSY while clones exist: in use), remove the snapshot, remove the image.</summary>
    public Task DeleteAsync(string imageId, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        try
        {
            RemoveData(pool, imageId);
        }
        catch (RbdException e) when (e.Errno == RbdException.Busy)
        {
            throw new ImageInUseException($"The image cannot be deleted because it is in use through the backend store outside of Glance. ({e.Message})");
        }
    }, cancellationToken);

    public ImageLocation LocationOf(string imageId, string diskFormat) => new RbdImageLocation(_fsid, _options, imageId, SnapshotName, diskFormat);

    /// <summary>The image's snapshot opened read-only, or null when the image or its snapshot is not there.</summary>
    private static RbdImage? OpenSnapshot(RbdPool pool, string imageId)
    {
        try
        {
            return pool.OpenReadOnly(imageId, SnapshotName);
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            return null;
        }
    }

    /// <summary>Removes the image and its snapshot, each step tolerating what an earlier attempt already removed.</summary>
    /// <exception cref="RbdException">EBUSY: the snapshot has clones, or a client has the image open.</exception>
    private static void RemoveData(RbdPool pool, string imageId)
    {
        RbdImage image;
        try
        {
            image = pool.Open(imageId);
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            return;
        }

        using (image)
        {
            if (image.SnapshotNames().Contains(SnapshotName))
            {
                try
                {
                    image.UnprotectSnapshot(SnapshotName);
                }
                catch (RbdException e) when (e.Errno == RbdException.InvalidArgument)
                {
                    // Not protected: a store that failed before protecting it.
                }

                image.RemoveSnapshot(SnapshotName);
            }
        }

        try
        {
            pool.Remove(imageId);
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            // Removed meanwhile.
        }
    }

    /// <summary>The I/O context made at start, whose <see cref="RbdPool.RunAsync(Action{RbdPool}, CancellationToken)"/> runs each call sequence.</summary>
    private RbdPool Connection => _pool ?? throw new InvalidOperationException("The rbd image store is not connected.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Image data in Ceph as client.{User}, pool {Pool}, cluster {Fsid}")]
    private static partial void LogConnected(ILogger logger, string user, string pool, string fsid);
}
