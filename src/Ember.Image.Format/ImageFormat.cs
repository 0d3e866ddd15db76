namespace Ember.Image.Format;

/// <summary>What the bytes of an image are, as far as its header tells.</summary>
public enum ImageFormat
{
    /// <summary>No known image header: plain disk bytes.</summary>
    Raw,

    /// <summary>Raw disk bytes starting with a valid MBR partition table.</summary>
    Mbr,

    /// <summary>Raw disk bytes with a GPT partition table (and its protective MBR).</summary>
    Gpt,

    /// <summary>An ISO 9660 (or UDF bridge) optical disc image; raw bytes to QEMU.</summary>
    Iso,

    /// <summary>QEMU copy-on-write, versions 2 and 3.</summary>
    Qcow2,

    /// <summary>QEMU copy-on-write version 1 (legacy, its own backing-file field).</summary>
    Qcow,

    /// <summary>QEMU enhanced disk.</summary>
    Qed,

    /// <summary>VMware disk: a sparse extent with an embedded descriptor, or a text descriptor.</summary>
    Vmdk,

    /// <summary>Virtual PC / Hyper-V VHD (QEMU's vpc driver).</summary>
    Vhd,

    /// <summary>Hyper-V VHDX.</summary>
    Vhdx,

    /// <summary>VirtualBox disk image.</summary>
    Vdi,

    /// <summary>LUKS encrypted volume.</summary>
    Luks,

    /// <summary>Parallels / Virtuozzo (Glance's "ploop").</summary>
    Parallels,
}

/// <summary>Names as Glance and QEMU spell them.</summary>
public static class ImageFormatNames
{
    public static string Name(this ImageFormat format) => format switch
    {
        ImageFormat.Raw => "raw",
        ImageFormat.Mbr => "mbr",
        ImageFormat.Gpt => "gpt",
        ImageFormat.Iso => "iso",
        ImageFormat.Qcow2 => "qcow2",
        ImageFormat.Qcow => "qcow",
        ImageFormat.Qed => "qed",
        ImageFormat.Vmdk => "vmdk",
        ImageFormat.Vhd => "vhd",
        ImageFormat.Vhdx => "vhdx",
        ImageFormat.Vdi => "vdi",
        ImageFormat.Luks => "luks",
        ImageFormat.Parallels => "ploop",
        _ => format.ToString(),
    };

    /// <summary>Formats whose bytes QEMU reads as they are (driver raw): raw, mbr, gpt, iso.</summary>
    public static bool IsRawFamily(this ImageFormat format) =>
        format is ImageFormat.Raw or ImageFormat.Mbr or ImageFormat.Gpt or ImageFormat.Iso;
}
