using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Image;

/// <summary>
/// The first image, Glance's limits on one image's size and metadata, the image storage each project may use, and
/// where image data lives: files in the data directory (the default) or a Ceph RBD pool (docs/ceph.md).
/// </summary>
public sealed class ImageOptions : IValidatableObject
{
    /// <summary><c>file</c> (DATA/images) or <c>rbd</c> (images in <see cref="Rbd"/>'s pool, Glance's rbd store).</summary>
    [Required]
    [RegularExpression("^(file|rbd)$", ErrorMessage = "Backend must be 'file' or 'rbd'.")]
    public string Backend { get; set; } = "file";

    /// <summary>The rbd store's cluster, user and pool (Glance's rbd_store_ceph_conf, rbd_store_user, rbd_store_pool); read only when <see cref="Backend"/> is rbd.</summary>
    public Volume.RbdOptions Rbd { get; set; } = new() { Pool = "images" };

    public bool IsRbd => Backend == "rbd";

    /// <summary>Path of the guest image registered as the public image "ember-tiny" on first start.</summary>
    public string? DefaultImagePath { get; set; }

    /// <summary>Largest image upload, in bytes (Glance's image_size_cap, 1 TiB by default).</summary>
    [Range(1, long.MaxValue)]
    public long MaxImageBytes { get; set; } = 1L << 40;

    /// <summary>Custom properties per image (Glance's image_property_quota); -1 is unlimited.</summary>
    [Range(-1, int.MaxValue)]
    public int PropertyQuota { get; set; } = 128;

    /// <summary>Tags per image (Glance's image_tag_quota); -1 is unlimited.</summary>
    [Range(-1, int.MaxValue)]
    public int TagQuota { get; set; } = 128;

    /// <summary>
    /// Bytes of image data a project may store, counting its active images and the upload in progress (Glance's
    /// user_storage_quota, per project); -1 is unlimited. 1000 GiB, as Cinder's default volume gigabytes.
    /// </summary>
    [Range(-1, long.MaxValue)]
    public long StorageQuotaBytes { get; set; } = 1000L << 30;

    /// <summary>Hours a task is kept after it ends, then it is gone (Glance's task_time_to_live, 48).</summary>
    [Range(1, 24 * 365)]
    public int TaskTimeToLiveHours { get; set; } = 48;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        IsRbd ? Rbd.ValidateCluster("Image:Rbd") : [];
}
