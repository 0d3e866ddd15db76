namespace Ember.Server.Volume;

/// <summary>
/// Where volume bytes live. The file backend keeps one sparse raw file per volume and Ember's NBD server serves it;
/// the rbd backend keeps one RBD image per volume, which the connector's QEMU opens itself.
/// </summary>
public interface IVolumeBackend
{
    /// <summary>Cinder's host@backend#pool string, shown to admins as os-vol-host-attr:host and as the pool's name.</summary>
    string HostName { get; }

    /// <summary>Connects to where the data lives, before crash recovery resumes any work; a backend that cannot be used fails start-up.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>What get_pools says of the backend besides its capacity.</summary>
    BackendDescription Description { get; }

    /// <summary>An empty volume of exactly <see cref="NewVolume.SizeBytes"/> (thin: nothing is allocated until written).</summary>
    Task CreateAsync(NewVolume volume, CancellationToken cancellationToken);

    /// <summary>Grows the volume; the new space reads as zeros.</summary>
    Task ExtendAsync(string volumeId, long newSizeBytes, CancellationToken cancellationToken);

    /// <summary>Removes the volume's data; a missing volume is not an error.</summary>
    /// <exception cref="VolumeBackendBusyException">The data cannot go yet (Cinder's VolumeIsBusy): the volume stays.</exception>
    Task DeleteAsync(string volumeId, CancellationToken cancellationToken);

    /// <summary>A new volume with the content of another one, then grown to its size.</summary>
    Task CloneAsync(string sourceVolumeId, NewVolume volume, CancellationToken cancellationToken);

    /// <summary>
    /// A new volume holding the image as raw, sized to the volume's size: qemu-img convert, or a copy-on-write clone
    /// where the backend can make one of the image's data (a raw image in an RBD pool of the same cluster).
    /// </summary>
    Task CopyImageAsync(Image.ImageLocation image, NewVolume volume, CancellationToken cancellationToken);

    /// <summary>Writes the volume's data to a new file at <paramref name="path"/> in a Glance <paramref name="diskFormat"/> (qemu-img convert).</summary>
    Task CopyToFileAsync(string volumeId, string path, string diskFormat, CancellationToken cancellationToken);

    /// <summary>Writes the raw bytes of a snapshot of <paramref name="volumeId"/> to a new file at <paramref name="path"/> (what a backup of a snapshot reads).</summary>
    Task CopySnapshotToFileAsync(string volumeId, string snapshotId, string path, CancellationToken cancellationToken);

    /// <summary>
    /// Overwrites the volume from its start with the bytes of the raw file at <paramref name="path"/>, zeros included
    /// (what a restore writes); the file is at most the volume's size, and what lies past its end is left as it was.
    /// </summary>
    Task CopyFromFileAsync(string volumeId, string path, CancellationToken cancellationToken);

    /// <summary>A point-in-time copy of the volume.</summary>
    Task CreateSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken);

    /// <summary>Removes a snapshot of <paramref name="volumeId"/>; a missing one is not an error.</summary>
    /// <exception cref="VolumeBackendBusyException">Volumes depend on it (Cinder's SnapshotIsBusy): the snapshot stays.</exception>
    Task DeleteSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken);

    /// <summary>A new volume with the content of a snapshot of <paramref name="snapshotVolumeId"/>, grown to its size.</summary>
    Task CreateFromSnapshotAsync(string snapshotVolumeId, string snapshotId, NewVolume volume, CancellationToken cancellationToken);

    /// <summary>How a connector reaches the volume: the data plane serves a local file over NBD, or the connector opens it directly.</summary>
    VolumeAccess AccessOf(string volumeId, bool readOnly, bool multiattach);

    /// <summary>The space of the backend's one pool, as the scheduler's get_pools reports it.</summary>
    Task<PoolCapacity> CapacityAsync(CancellationToken cancellationToken);
}

/// <summary>A volume to make: its id, size and whether several servers may attach it (which the rbd backend's image features follow).</summary>
public sealed record NewVolume(string Id, long SizeBytes, bool Multiattach);

/// <summary>How a connector reaches a volume's data.</summary>
public abstract record VolumeAccess;

/// <summary>The NBD data plane exports this local file, one export per attachment.</summary>
public sealed record ServedOverNbd(string Path) : VolumeAccess;

/// <summary>The connector opens the volume itself with this connection (RBD); the volume side exports nothing.</summary>
public sealed record DirectAccess(VolumeConnection Connection) : VolumeAccess;

/// <summary>A pool's space in bytes.</summary>
public sealed record PoolCapacity(long TotalBytes, long FreeBytes);

/// <summary>How a backend describes itself in Cinder's volume stats (volume_backend_name, storage_protocol, driver_version, vendor_name).</summary>
public sealed record BackendDescription(string BackendName, string StorageProtocol, string DriverVersion, string VendorName);

/// <summary>The backend refused because something depends on the data (Cinder's VolumeIsBusy, SnapshotIsBusy): nothing was removed.</summary>
public sealed class VolumeBackendBusyException(string message) : Exception(message);
