using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Volume;

/// <summary>Where volume data lives: sparse files in the data directory (the default) or a Ceph RBD pool.</summary>
public sealed class VolumeOptions : IValidatableObject
{
    /// <summary><c>file</c> (sparse files under DATA/volumes, served over NBD) or <c>rbd</c> (images in <see cref="Rbd"/>'s pool).</summary>
    [Required]
    [RegularExpression("^(file|rbd)$", ErrorMessage = "Backend must be 'file' or 'rbd'.")]
    public string Backend { get; set; } = "file";

    /// <summary>The rbd backend's cluster, user and pool; read only when <see cref="Backend"/> is rbd.</summary>
    public RbdOptions Rbd { get; set; } = new();

    /// <summary>How long a user message is kept (Cinder's message_ttl, 30 days); expired ones are not listed and are purged.</summary>
    [Range(1, int.MaxValue)]
    public int MessageTtlSeconds { get; set; } = 2592000;

    /// <summary>
    /// Where backups keep their chunks and manifests (Cinder's backup_posix_path); null: DATA/backups. A directory of
    /// its own on another disk is what makes a backup outlive the volume's disk.
    /// </summary>
    public string? BackupPath { get; set; }

    public bool IsRbd => Backend == "rbd";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsRbd)
        {
            yield break;
        }

        foreach (var result in Rbd.ValidateCluster("Volume:Rbd"))
        {
            yield return result;
        }
    }
}

/// <summary>
/// A Ceph cluster, user and pool: the rbd volume backend's (Cinder's rbd_ceph_conf, rbd_user, rbd_keyring_conf,
/// rbd_pool, rbd_max_clone_depth) and the image store's on rbd (Glance's rbd_store_ceph_conf, rbd_store_user, rbd_store_pool).
/// </summary>
public sealed class RbdOptions
{
    /// <summary>A ceph.conf that names the monitors (mon host) and the auth settings.</summary>
    public string? ConfPath { get; set; }

    /// <summary>The cephx user without "client." (Cinder's rbd_user); it needs mon 'profile rbd' osd 'profile rbd pool=POOL'.</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9_.-]{1,64}$", ErrorMessage = "User must be a cephx id like 'cinder' (letters, digits, '_', '.', '-').")]
    public string User { get; set; } = "ember";

    /// <summary>The user's keyring; null: where ceph.conf's keyring setting (or librados' default) points.</summary>
    public string? KeyringPath { get; set; }

    /// <summary>The RBD pool that holds the volumes (created and <c>rbd pool init</c>-ed by the operator).</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9_.-]{1,128}$", ErrorMessage = "Pool must be a Ceph pool name (letters, digits, '_', '.', '-').")]
    public string Pool { get; set; } = "volumes";

    /// <summary>How long connecting may wait for the monitors (client_mount_timeout); start-up fails after it.</summary>
    [Range(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>How long one mon or OSD operation may take (rados_mon_op_timeout, rados_osd_op_timeout) before the volume goes to error.</summary>
    [Range(1, 3600)]
    public int OperationTimeoutSeconds { get; set; } = 60;

    /// <summary>Cinder's rbd_max_clone_depth: a volume cloned from a volume that is this deep in a clone chain is flattened.</summary>
    [Range(1, 64)]
    public int MaxCloneDepth { get; set; } = 5;

    /// <summary>What a section naming a cluster must have before anything connects: a readable conf and, if set, a keyring.</summary>
    public IEnumerable<ValidationResult> ValidateCluster(string section)
    {
        if (string.IsNullOrEmpty(ConfPath) || !File.Exists(ConfPath))
        {
            yield return new ValidationResult($"the rbd backend needs {section}:ConfPath, a readable ceph.conf naming the monitors (got '{ConfPath}').", [section]);
        }

        if (KeyringPath is { } keyring && !File.Exists(keyring))
        {
            yield return new ValidationResult($"{section}:KeyringPath '{keyring}' does not exist.", [section]);
        }
    }

    /// <summary>
    /// QEMU's <c>rbd:</c> filename for <paramref name="image"/> (at <paramref name="snapshot"/>) in this pool, as this user,
    /// with the conf, the keyring path (never the key) and the operation timeout: qemu-img's librbd would otherwise wait
    /// forever on a pool that filled up. ':', '@' and '\' in values are escaped.
    /// </summary>
    public string QemuFilename(string image, string? snapshot = null)
    {
        static string Escape(string value) => value.Replace(@"\", @"\\", StringComparison.Ordinal)
            .Replace(":", @"\:", StringComparison.Ordinal).Replace("@", @"\@", StringComparison.Ordinal);
        var timeout = OperationTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var at = snapshot is null ? "" : "@" + Escape(snapshot);
        var filename = $"rbd:{Escape(Pool)}/{Escape(image)}{at}:id={Escape(User)}:conf={Escape(ConfPath!)}"
            + $":rados_osd_op_timeout={timeout}:rados_mon_op_timeout={timeout}";
        return KeyringPath is { } keyring ? filename + ":keyring=" + Escape(keyring) : filename;
    }
}
