namespace Ember.Compute.Qemu;

/// <summary>Everything needed to start one server's QEMU process.</summary>
/// <param name="Id">Server id; also the SMBIOS UUID when it parses as one.</param>
/// <param name="InstanceDir">Per-server directory for sockets, pidfile and console log (created if missing).</param>
/// <param name="RootDisk">The boot disk (vda, bootindex 0): a qcow2 overlay file, or a volume for boot from volume.</param>
/// <param name="Disks">Extra disks at boot, in guest order (vdb, vdc, ...).</param>
/// <param name="Nics">Network interfaces at boot, in guest order (eth0, eth1, ...).</param>
/// <param name="ConfigDrive">A config drive image (ISO 9660), attached read-only as a CD-ROM on the IDE bus, as Nova does.</param>
/// <param name="RescuedRoot">In a rescue, the server's own root disk, attached second (vdb) behind the rescue disk, as Nova's rescue does.</param>
/// <param name="Kernel">Boot this kernel directly instead of the root disk's boot loader.</param>
public sealed record QemuMachineSpec(
    string Id,
    string InstanceDir,
    int MemoryMiB,
    int Vcpus,
    QemuDisk RootDisk,
    IReadOnlyList<NetworkDisk> Disks,
    IReadOnlyList<QemuNic>? Nics = null,
    string? ConfigDrive = null,
    FileDisk? RescuedRoot = null,
    KernelBoot? Kernel = null);

/// <summary>
/// Direct kernel boot (<c>-kernel/-initrd/-append</c>): QEMU loads the kernel and initramfs itself, so neither the
/// firmware's disk boot nor a boot loader runs. Nova's libvirt driver boots an image with Glance's kernel_id and
/// ramdisk_id properties this way, with its os_command_line.
/// </summary>
public sealed record KernelBoot(string KernelPath, string? RamdiskPath, string CommandLine)
{
    /// <summary>x86's COMMAND_LINE_SIZE, terminating NUL included: a longer line would be cut by the kernel.</summary>
    public const int MaxCommandLineLength = 2047;
}

/// <summary>
/// A virtio-net interface on a tap the host's network plane made beforehand (persistent, on the network's bridge):
/// QEMU only opens it by name, so it needs no helper script and no privilege to create interfaces.
/// </summary>
/// <param name="Id">Names the QEMU netdev and device (a port id is fine: it is shortened to a valid QEMU id).</param>
/// <param name="Mtu">Told to the guest through virtio-net's host_mtu, as Nova does for tenant networks.</param>
public sealed record QemuNic(string Id, string TapName, string MacAddress, int? Mtu)
{
    /// <summary>QEMU ids are letters, digits, '-', '.', '_' and start with a letter.</summary>
    internal string NetdevId => "net-" + new string([.. Id.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-').Take(36)]);

    internal string DeviceId => "nic-" + NetdevId[4..];
}

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
/// A volume QEMU reaches over the network (NBD or Ceph RBD). Always added over QMP, never on QEMU's command line:
/// what opens it (an export name, a cephx key) is a credential and argv is world-readable.
/// </summary>
/// <param name="Shareable">Multi-attach: <c>share-rw=on</c>, host cache off and guest write cache off (every write FUA).</param>
public abstract record NetworkDisk(string DeviceName, string? Serial, bool ReadOnly, bool Shareable) : QemuDisk(DeviceName, Serial)
{
    /// <summary>The ids a disk's QMP credential object may have (TLS credentials of NBD, the key of RBD), for detach.</summary>
    internal static string[] CredentialObjectIds(string deviceName) => [NbdDisk.TlsObjectIdOf(deviceName), RbdDisk.KeyObjectIdOf(deviceName)];
}

/// <summary>An NBD export (an Ember volume): over a unix socket when <see cref="UnixSocketPath"/> is set, else TCP.</summary>
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
    : NetworkDisk(DeviceName, Serial, ReadOnly, Shareable)
{
    internal string TlsObjectId => TlsObjectIdOf(DeviceName);

    internal bool UsesTls => UnixSocketPath is null && TlsCredentialsDir is not null;

    internal static string TlsObjectIdOf(string deviceName) => "tls-" + deviceName;
}

/// <summary>
/// A Ceph RBD image, opened by QEMU's own rbd driver (Debian's qemu-block-extra) as the cephx <see cref="User"/>,
/// whose key reaches QEMU as a QMP <c>secret</c> object.
/// </summary>
/// <param name="Monitors">The cluster's monitors as <c>host:port</c> (<c>[v6]:port</c> for IPv6).</param>
public sealed record RbdDisk(
    string DeviceName,
    string? Serial,
    string Pool,
    string Image,
    IReadOnlyList<string> Monitors,
    string User,
    CephKey Key,
    bool ReadOnly,
    bool Shareable)
    : NetworkDisk(DeviceName, Serial, ReadOnly, Shareable)
{
    internal string KeyObjectId => KeyObjectIdOf(DeviceName);

    internal static string KeyObjectIdOf(string deviceName) => "key-" + deviceName;
}

/// <summary>A cephx key (base64, as a keyring holds it); never printed, so a logged disk does not leak it.</summary>
public sealed record CephKey(string Base64)
{
    public override string ToString() => "(cephx key)";
}
