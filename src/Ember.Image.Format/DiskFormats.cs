namespace Ember.Image.Format;

/// <summary>The verdict on an image for a Glance disk_format: accepted, or why not.</summary>
/// <param name="Inspection">The inspection as the declared format reads the bytes (a fixed VHD's footer view for "vhd").</param>
/// <param name="Mismatch">"qcow2 declared raw" when the bytes are not in the declared format; null when they are.</param>
public sealed record ImageVerdict(ImageInspection Inspection, string? Mismatch)
{
    public bool Accepted => Mismatch is null && Inspection.IsSafe;

    /// <summary>Why the image is refused, in one sentence; null when accepted.</summary>
    public string? Reason => Mismatch is not null
        ? $"Image content does not match disk_format: {Mismatch}."
        : Inspection.IsSafe ? null : $"Image has disallowed configuration: {string.Join("; ", Inspection.Problems)}.";
}

/// <summary>One Glance disk_format and QEMU's block driver that reads it (null: QEMU is never given it).</summary>
public sealed record DiskFormat(string Name, string? QemuDriver);

/// <summary>Glance's disk_format names: the one table of them, and the check of what the bytes are against them.</summary>
public static class DiskFormats
{
    /// <summary>Every disk_format Glance knows, in Glance's order. ami/ari/aki and ploop are stored but never booted.</summary>
    public static IReadOnlyList<DiskFormat> All { get; } =
    [
        new("ami", null), new("ari", null), new("aki", null), new("vhd", "vpc"), new("vhdx", "vhdx"), new("vmdk", "vmdk"),
        new("raw", "raw"), new("qcow2", "qcow2"), new("vdi", "vdi"), new("iso", "raw"), new("ploop", null),
    ];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(f => f.Name)];

    /// <summary>QEMU's block driver for a disk_format (any case); null when QEMU is never given that format.</summary>
    public static string? QemuDriver(string diskFormat) =>
        All.FirstOrDefault(f => string.Equals(f.Name, diskFormat, StringComparison.OrdinalIgnoreCase))?.QemuDriver;

    /// <summary>
    /// Judges an inspection against the declared disk_format. Raw (and ami/ari/aki, which are raw kernel,
    /// ramdisk and machine images) accepts plain bytes, partition tables and ISOs; every other format needs its
    /// own header. Then the image must be safe in the format it is read as.
    /// </summary>
    public static ImageVerdict Judge(string? diskFormat, ImageInspection inspection)
    {
        var declared = diskFormat ?? "raw";
        var applied = declared switch
        {
            "raw" or "ami" or "ari" or "aki" when inspection.Format.IsRawFamily() => inspection,
            "iso" when inspection.Format == ImageFormat.Iso => inspection,
            "vhd" when inspection.Format == ImageFormat.Vhd => inspection,
            "vhd" when inspection.AsFixedVhd is { } fixedVhd => fixedVhd,
            "qcow2" when inspection.Format == ImageFormat.Qcow2 => inspection,
            "vmdk" when inspection.Format == ImageFormat.Vmdk => inspection,
            "vhdx" when inspection.Format == ImageFormat.Vhdx => inspection,
            "vdi" when inspection.Format == ImageFormat.Vdi => inspection,
            "ploop" when inspection.Format == ImageFormat.Parallels => inspection,
            _ => null,
        };
        return applied is null
            ? new ImageVerdict(inspection, $"{inspection.Format.Name()} declared {declared}")
            : new ImageVerdict(applied, null);
    }

    /// <summary>
    /// While an upload streams: true when the first bytes already show the declared format cannot match
    /// (a qcow2 header declared raw), so the upload can stop early. A fixed VHD is only known at the end.
    /// </summary>
    public static bool CannotMatch(string? diskFormat, ImageFormat headFormat)
    {
        var declared = diskFormat ?? "raw";
        if (declared == "vhd" && headFormat.IsRawFamily())
        {
            return false;
        }

        var probe = new ImageInspection(headFormat, null, [], [], []);
        return Judge(declared, probe).Mismatch is not null;
    }
}
