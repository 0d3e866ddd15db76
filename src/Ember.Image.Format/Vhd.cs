using System.Buffers.Binary;

namespace Ember.Image.Format;

/// <summary>The VHD footer (big-endian, 512 bytes): a copy at offset 0 for dynamic disks, the only one at the end for fixed ones.</summary>
internal static class Vhd
{
    public const int FooterSize = 512;
    public const uint FixedDisk = 2;
    public const uint DynamicDisk = 3;
    public const uint DifferencingDisk = 4;

    private const long MaxGeometrySectors = 65535L * 16 * 255;

    /// <summary>
    /// The size QEMU's vpc driver gives the guest: the footer's current_size for images made by tools that set
    /// it exactly (QEMU, Hyper-V, Disk2VHD, XenServer), the CHS geometry for Virtual PC's own, unless the
    /// geometry is at its maximum.
    /// </summary>
    public static long? VirtualSize(ReadOnlySpan<byte> footer)
    {
        var creator = footer.Slice(28, 4);
        var currentSize = BinaryPrimitives.ReadUInt64BigEndian(footer[48..]);
        long cylinders = BinaryPrimitives.ReadUInt16BigEndian(footer[56..]);
        long heads = footer[58];
        long sectors = footer[59];
        var useChs = !creator.SequenceEqual("win "u8) && !creator.SequenceEqual("qem2"u8) && !creator.SequenceEqual("d2v "u8)
            && !creator.SequenceEqual("CTXS"u8) && !creator.SequenceEqual("tap\0"u8);
        var chs = cylinders * heads * sectors;
        if (!useChs || chs == MaxGeometrySectors)
        {
            return currentSize <= long.MaxValue ? (long)currentSize : null;
        }

        return chs * 512;
    }
}
