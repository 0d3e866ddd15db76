using System.Buffers.Binary;

namespace Ember.Image.Format;

public sealed partial class ImageInspector
{
    private const uint VdiSignature = 0xbeda107f;

    private static ReadOnlySpan<byte> QcowMagic => [(byte)'Q', (byte)'F', (byte)'I', 0xfb];

    private static ReadOnlySpan<byte> LuksMagic => [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xba, 0xbe];

    /// <summary>Identifies the format from the first bytes, in the spirit of QEMU's probes but with no scoring.</summary>
    internal static ImageFormat Detect(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith(QcowMagic))
        {
            return head.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(head[4..]) == 1 ? ImageFormat.Qcow : ImageFormat.Qcow2;
        }

        if (head.StartsWith("QED\0"u8))
        {
            return ImageFormat.Qed;
        }

        if (head.StartsWith("KDMV"u8) || head.StartsWith("COWD"u8))
        {
            return ImageFormat.Vmdk;
        }

        if (head.StartsWith("vhdxfile"u8))
        {
            return ImageFormat.Vhdx;
        }

        if (head.StartsWith("conectix"u8))
        {
            return ImageFormat.Vhd;
        }

        if (head.Length >= 68 && BinaryPrimitives.ReadUInt32LittleEndian(head[64..]) == VdiSignature)
        {
            return ImageFormat.Vdi;
        }

        if (head.StartsWith(LuksMagic))
        {
            return ImageFormat.Luks;
        }

        if (head.StartsWith("WithoutFreeSpace"u8) || head.StartsWith("WithouFreSpacExt"u8))
        {
            return ImageFormat.Parallels;
        }

        if (Vmdk.IsDescriptorText(head))
        {
            return ImageFormat.Vmdk;
        }

        if (IsIso(head))
        {
            return ImageFormat.Iso;
        }

        if (head.Length >= 1024 && HasMbrSignature(head) && head[512..].StartsWith("EFI PART"u8))
        {
            return ImageFormat.Gpt;
        }

        return HasValidMbr(head) ? ImageFormat.Mbr : ImageFormat.Raw;
    }

    /// <summary>ISO 9660 ("CD001") or a UDF bridge ("BEA01", "NSR02/03") volume descriptor from sector 16 on.</summary>
    private static bool IsIso(ReadOnlySpan<byte> head)
    {
        for (var offset = 0x8001; offset + 5 <= head.Length && offset <= 0x9001; offset += 0x800)
        {
            var id = head.Slice(offset, 5);
            if (id.SequenceEqual("CD001"u8) || id.SequenceEqual("BEA01"u8) || id.SequenceEqual("NSR02"u8) || id.SequenceEqual("NSR03"u8))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasMbrSignature(ReadOnlySpan<byte> head) => head.Length >= 512 && head[510] == 0x55 && head[511] == 0xAA;

    /// <summary>An MBR whose four entries have valid boot flags and at least one partition.</summary>
    private static bool HasValidMbr(ReadOnlySpan<byte> head)
    {
        if (!HasMbrSignature(head))
        {
            return false;
        }

        var any = false;
        for (var i = 0; i < 4; i++)
        {
            var entry = head.Slice(446 + (16 * i), 16);
            if (entry[0] is not (0x00 or 0x80))
            {
                return false;
            }

            any |= entry[4] != 0;
        }

        return any;
    }

    /// <summary>Raw family (raw, mbr, gpt, iso): QEMU reads the bytes as they are; the guest sees the whole file.</summary>
    private ImageInspection? InspectRaw(ImageFormat format)
    {
        if (_length is not { } length)
        {
            return null;
        }

        var found = new Findings(format) { VirtualSize = length };
        if (length >= 2 * Vhd.FooterSize)
        {
            if (!Need(length - Vhd.FooterSize, Vhd.FooterSize, out var footer))
            {
                return null;
            }

            if (footer.StartsWith("conectix"u8) && BinaryPrimitives.ReadUInt32BigEndian(footer[60..]) == Vhd.FixedDisk)
            {
                found.AsFixedVhd = new Findings(ImageFormat.Vhd) { VirtualSize = Vhd.VirtualSize(footer) }.Build();
            }
        }

        return found.Build();
    }

    /// <summary>Parallels has no backing-file field; its header gives the size in sectors.</summary>
    private static ImageInspection InspectParallels(ReadOnlySpan<byte> head)
    {
        var found = new Findings(ImageFormat.Parallels);
        if (head.Length < 64)
        {
            return found.Truncated("parallels header").Build();
        }

        found.VirtualSize = SectorsToBytes(BinaryPrimitives.ReadUInt64LittleEndian(head[36..]), found, "parallels");
        return found.Build();
    }

    internal static long? SectorsToBytes(ulong sectors, Findings found, string what)
    {
        if (sectors > long.MaxValue / 512)
        {
            found.Problem($"{what} size of {sectors} sectors is out of range");
            return null;
        }

        return (long)sectors * 512;
    }
}
