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

    public bool IsRbd => Backend == "rbd";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsRbd)
        {
            yield break;
        }

        if (string.IsNullOrEmpty(Rbd.ConfPath) || !File.Exists(Rbd.ConfPath))
        {
            yield return new ValidationResult($"the rbd backend needs Volume:Rbd:ConfPath, a readable ceph.conf naming the monitors (got '{Rbd.ConfPath}').", [nameof(Rbd)]);
        }

        if (Rbd.KeyringPath is { } keyring && !File.Exists(keyring))
        {
            yield return new ValidationResult($"Volume:Rbd:KeyringPath '{keyring}' does not exist.", [nameof(Rbd)]);
        }
    }
}

/// <summary>The rbd backend (Cinder's rbd_ceph_conf, rbd_user, rbd_keyring_conf, rbd_pool, rbd_max_clone_depth).</summary>
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
}
