using System.Buffers.Binary;
using System.Text;

namespace Ember.Image.Format;

public sealed partial class ImageInspector
{
    private const int VhdDynamicHeaderSize = 1024;
    private const int VdiHeaderLength = 0x1c8;
    private const uint VdiVersion11 = 0x00010001;

    /// <summary>
    /// VHD with its footer copy at the start (dynamic or differencing). A differencing disk names its parent in
    /// the dynamic header (UTF-16BE, 512 bytes at +64): refused. Fixed VHDs look raw here; see <see cref="InspectRaw"/>.
    /// </summary>
    private ImageInspection? InspectVhd(ReadOnlySpan<byte> head)
    {
        var found = new Findings(ImageFormat.Vhd);
        if (head.Length < Vhd.FooterSize)
        {
            return found.Truncated("vhd footer").Build();
        }

        found.VirtualSize = Vhd.VirtualSize(head);
        var type = BinaryPrimitives.ReadUInt32BigEndian(head[60..]);
        switch (type)
        {
            case Vhd.FixedDisk or Vhd.DynamicDisk:
                return found.Build();
            case Vhd.DifferencingDisk:
                var dataOffset = BinaryPrimitives.ReadUInt64BigEndian(head[16..]);
                if (dataOffset > long.MaxValue - VhdDynamicHeaderSize)
                {
                    return found.Backing("vhd differencing disk parent", "(unreadable)").Build();
                }

                if (!Need((long)dataOffset, VhdDynamicHeaderSize, out var dynamic))
                {
                    return null;
                }

                var name = dynamic.Length == VhdDynamicHeaderSize && dynamic.StartsWith("cxsparse"u8)
                    ? Encoding.BigEndianUnicode.GetString(dynamic.Slice(64, 512)).TrimEnd('\0')
                    : "(unreadable)";
                return found.Backing("vhd differencing disk parent", name).Build();
            default:
                return found.Problem($"vhd disk type {type} is not supported").Build();
        }
    }

    /// <summary>VirtualBox VDI 1.1: normal and fixed images only; undo and differencing images have a parent.</summary>
    private static ImageInspection InspectVdi(ReadOnlySpan<byte> head)
    {
        var found = new Findings(ImageFormat.Vdi);
        if (head.Length < VdiHeaderLength)
        {
            return found.Truncated("vdi header").Build();
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(head[68..]);
        if (version != VdiVersion11)
        {
            return found.Problem($"vdi version 0x{version:x8} is not supported").Build();
        }

        var size = BinaryPrimitives.ReadUInt64LittleEndian(head[368..]);
        found.VirtualSize = size <= long.MaxValue ? (long)size : null;
        var type = BinaryPrimitives.ReadUInt32LittleEndian(head[76..]);
        return type switch
        {
            1 or 2 => found.Build(),
            3 or 4 => found.Backing($"vdi {(type == 3 ? "undo" : "differencing")} image parent", new Guid(head.Slice(440, 16)).ToString()).Build(),
            _ => found.Problem($"vdi image type {type} is not supported").Build(),
        };
    }

    /// <summary>QED: no Glance disk_format names it, so it is refused; its backing file is reported all the same.</summary>
    private ImageInspection? InspectQed(ReadOnlySpan<byte> head)
    {
        var found = new Findings(ImageFormat.Qed);
        if (head.Length < 64)
        {
            return found.Truncated("qed header").Build();
        }

        found.VirtualSize = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(head[48..]), long.MaxValue);
        found.Problem("qed images are not supported");
        var features = BinaryPrimitives.ReadUInt64LittleEndian(head[16..]);
        if ((features & 1) == 0)
        {
            return found.Build();
        }

        var offset = BinaryPrimitives.ReadUInt32LittleEndian(head[56..]);
        var size = BinaryPrimitives.ReadUInt32LittleEndian(head[60..]);
        return BackingName(found, "qed backing file", offset, size, HeadSize);
    }
}
