namespace Ember.Server.Volume;

/// <summary>
/// Where volume bytes live. The file backend keeps one sparse raw file per volume; a Ceph RBD backend
/// would map the same calls to rbd create/resize/rm/clone/snap and hand out a different connection.
/// </summary>
public interface IVolumeBackend
{
    /// <summary>Cinder's host@backend#pool string, shown to admins as os-vol-host-attr:host.</summary>
    string HostName { get; }

    /// <summary>An empty volume of exactly <paramref name="sizeBytes"/> (sparse: no blocks are allocated).</summary>
    Task CreateAsync(string volumeId, long sizeBytes, CancellationToken cancellationToken);

    /// <summary>Grows the volume; the new space reads as zeros.</summary>
    Task ExtendAsync(string volumeId, long newSizeBytes, CancellationToken cancellationToken);

    /// <summary>Removes the volume's data; a missing volume is not an error.</summary>
    Task DeleteAsync(string volumeId, CancellationToken cancellationToken);

    /// <summary>A new volume with the content of another one, then grown to <paramref name="sizeBytes"/>.</summary>
    Task CloneAsync(string sourceVolumeId, string volumeId, long sizeBytes, CancellationToken cancellationToken);

    /// <summary>A new volume holding the image converted to raw (qemu-img convert), then sized to <paramref name="sizeBytes"/>.</summary>
    Task CopyImageAsync(string imagePath, string? diskFormat, string volumeId, long sizeBytes, CancellationToken cancellationToken);

    /// <summary>A point-in-time copy of the volume.</summary>
    Task CreateSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken);

    Task DeleteSnapshotAsync(string snapshotId, CancellationToken cancellationToken);

    /// <summary>A new volume with the snapshot's content, grown to <paramref name="sizeBytes"/>.</summary>
    Task CreateFromSnapshotAsync(string snapshotId, string volumeId, long sizeBytes, CancellationToken cancellationToken);

    /// <summary>The local file the NBD data plane serves for this volume.</summary>
    string ExportPath(string volumeId);
}
