using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Image;

/// <summary>The first image, Glance's limits on one image's size and metadata, and the image storage each project may use.</summary>
public sealed class ImageOptions
{
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
}
