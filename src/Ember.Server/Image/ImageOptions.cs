using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Image;

/// <summary>Glance's limits on one image's metadata, and the image storage each project may use.</summary>
public sealed class ImageOptions
{
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
}
