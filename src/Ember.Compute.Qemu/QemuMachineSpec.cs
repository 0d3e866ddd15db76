namespace Ember.Compute.Qemu;

/// <summary>Everything needed to start one server's QEMU process.</summary>
/// <param name="Id">Server id; also the SMBIOS UUID when it parses as one.</param>
/// <param name="InstanceDir">Per-server directory for sockets, pidfile and console log (created if missing).</param>
/// <param name="RootDisk">The boot disk (vda, bootindex 0): a qcow2 overlay file, or a volume for boot from volume.</param>
/// <param name="Disks">Extra disks at boot, in guest order (vdb, vdc, ...).</param>
public sealed record QemuMachineSpec(
    string Id,
    string InstanceDir,
    int MemoryMiB,
    int Vcpus,
    QemuDisk RootDisk,
    IReadOnlyList<NbdDisk> Disks);

/// <summary>A virtio-blk disk. <see cref="DeviceName"/> (vda, vdb...) names the QEMU device and block node.</summary>
public abstract record QemuDisk(string DeviceName, string? Serial)
{
    /// <summary>virtio-blk carries at most 20 serial bytes (VIRTIO_BLK_ID_BYTES); Nova truncates volume ids the same way.</summary>
    public const int MaxSerialLength = 20;

    internal string DeviceId => "disk-" + DeviceName;

    internal string NodeName => "node-" + DeviceName;

    internal string? TruncatedSerial => Serial is { Length: > MaxSerialLength } s ? s[..MaxSerialLength] : Serial;
}

/// <summary>A local image file (the root overlay).</summary>
/// <param name="Backing">
/// The overlay's base image, named on the command line so QEMU opens exactly that file in that format and
/// nothing the base's own header may name (its backing is null).
/// </param>
public sealed record FileDisk(string DeviceName, string Path, string Format, string? Serial = null, ImageBase? Backing = null)
    : QemuDisk(DeviceName, Serial);

/// <summary>A base image file and its Glance disk_format.</summary>
public sealed record ImageBase(string Path, string Format);

/// <summary>
/// An NBD export (an Ember volume): over a unix socket when <see cref="UnixSocketPath"/> is set, else TCP. Always added
/// over QMP, never on QEMU's command line: the export name is a credential and argv is world-readable.
/// </summary>
/// <param name="Shareable">Multi-attach: <c>share-rw=on</c>, host cache off and guest write cache off (every write FUA).</param>
/// <param name="TlsCredentialsDir">
/// For TCP: a directory with ca-cert.pem, client-cert.pem and client-key.pem (QEMU's <c>tls-creds-x509</c>, endpoint
/// client); QEMU then negotiates STARTTLS and checks the server's certificate against <see cref="Host"/>.
/// </param>
public sealed record NbdDisk(
    string DeviceName,
    string? Serial,
    string ExportName,
    string? UnixSocketPath,
    string? Host,
    int Port,
    bool ReadOnly,
    bool Shareable,
    string? TlsCredentialsDir = null)
    : QemuDisk(DeviceName, Serial)
{
    internal string TlsObjectId => "tls-" + DeviceName;

    internal bool UsesTls => UnixSocketPath is null && TlsCredentialsDir is not null;
}
