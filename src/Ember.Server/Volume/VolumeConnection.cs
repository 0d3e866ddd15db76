using System.Text.Json.Serialization;

namespace Ember.Server.Volume;

/// <summary>
/// How a connector reaches a volume's data: Cinder's connection_info, one case per transport. The volume side
/// picks the case from the connector (a connector on this host gets the unix socket, another host gets TCP);
/// an RBD volume is the <c>rbd</c> case, which QEMU opens itself with its own Ceph client. Serialized with a <c>transport</c> tag,
/// so a compute host can keep it and a remote one can receive it.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "transport")]
[JsonDerivedType(typeof(NbdUnixConnection), "nbd-unix")]
[JsonDerivedType(typeof(NbdTcpConnection), "nbd-tcp")]
[JsonDerivedType(typeof(RbdConnection), "rbd")]
public abstract record VolumeConnection(bool ReadOnly, bool Multiattach)
{
    /// <summary>Cinder's driver_volume_type: what kind of client the connector needs.</summary>
    [JsonIgnore]
    public abstract string DriverVolumeType { get; }
}

/// <summary>An export of Ember's NBD server; the export name is the credential of the data plane.</summary>
public abstract record NbdConnection(string ExportName, bool ReadOnly, bool Multiattach) : VolumeConnection(ReadOnly, Multiattach)
{
    [JsonIgnore]
    public override string DriverVolumeType => "nbd";
}

/// <summary>NBD over the server's unix socket: for a connector on the volume service's own host.</summary>
public sealed record NbdUnixConnection(string ExportName, string SocketPath, bool ReadOnly, bool Multiattach)
    : NbdConnection(ExportName, ReadOnly, Multiattach);

/// <summary>NBD over TCP, for a connector on another host; <see cref="Tls"/>: STARTTLS with a client certificate.</summary>
public sealed record NbdTcpConnection(string ExportName, string Host, int Port, bool Tls, bool ReadOnly, bool Multiattach)
    : NbdConnection(ExportName, ReadOnly, Multiattach);

/// <summary>
/// A Ceph RBD image that the connector's QEMU opens directly (Cinder's rbd connection_info). It names the cephx user
/// but never carries its key: each compute host holds the key for that user in its own keyring, as Nova keeps it in a
/// libvirt secret.
/// </summary>
/// <param name="Monitors">The cluster's monitors as <c>host:port</c> (messenger v1 or v2 address).</param>
public sealed record RbdConnection(
    string Pool,
    string Image,
    IReadOnlyList<string> Monitors,
    string AuthUser,
    bool ReadOnly,
    bool Multiattach) : VolumeConnection(ReadOnly, Multiattach)
{
    [JsonIgnore]
    public override string DriverVolumeType => "rbd";
}
