using System.Buffers.Binary;

namespace Ember.Image.Format;

public sealed partial class ImageInspector
{
    private const int VhdxRegionTableOffset = 192 * 1024;
    private const int VhdxTableSize = 64 * 1024;
    private const int VhdxMaxEntries = 2047;
    private const uint VhdxRegionSignature = 0x69676572; // "regi"
    private const uint VhdxMetadataItemRequired = 1 << 2;
    private const uint VhdxHasParent = 1 << 1;

    private static readonly Guid s_vhdxMetadataRegion = new("8b7ca206-4790-4b9a-b8fe-575f050f886e");
    private static readonly Guid s_vhdxBatRegion = new("2dc27766-f623-4200-9d64-115e9bfd4a08");
    private static readonly Guid s_vhdxFileParameters = new("caa16737-fa36-4d43-b3b6-33f0aa44e76b");
    private static readonly Guid s_vhdxVirtualDiskSize = new("2fa54224-cd1b-4876-b211-5dbed83bf4b8");
    private static readonly Guid s_vhdxParentLocator = new("a8d35f2d-b30b-454d-abf7-d3d84834ab0c");
    private static readonly Guid[] s_vhdxKnownItems =
    [
        s_vhdxFileParameters, s_vhdxVirtualDiskSize, s_vhdxParentLocator,
        new("beca12ab-b2e6-4523-93ef-c309e000c746"), // page 83 data
        new("8141bf1d-a96f-4709-ba47-f233a8faab5f"), // logical sector size
        new("cda348c7-445d-4471-9cc9-e9885251c556"), // physical sector size
    ];

    /// <summary>
    /// VHDX: the region table at 192 KiB points at the metadata region, whose table lists the virtual disk size
    /// and the file parameters (the has-parent flag of a differencing disk). A parent locator, or any required
    /// metadata item or region QEMU would not know, is refused.
    /// </summary>
    private ImageInspection? InspectVhdx()
    {
        var found = new Findings(ImageFormat.Vhdx);
        if (!Need(VhdxRegionTableOffset, VhdxTableSize, out var regions))
        {
            return null;
        }

        if (regions.Length < VhdxTableSize || BinaryPrimitives.ReadUInt32LittleEndian(regions) != VhdxRegionSignature)
        {
            return found.Problem("vhdx region table is missing").Build();
        }

        var count = BinaryPrimitives.ReadUInt32LittleEndian(regions[8..]);
        if (count > VhdxMaxEntries)
        {
            return found.Problem($"vhdx region table has {count} entries").Build();
        }

        long metadataOffset = -1;
        long metadataLength = 0;
        for (var i = 0; i < (int)count; i++)
        {
            var entry = regions.Slice(16 + (32 * i), 32);
            var id = new Guid(entry[..16]);
            if (id == s_vhdxMetadataRegion)
            {
                metadataOffset = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]), long.MaxValue / 2);
                metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(entry[24..]);
            }
            else if (id != s_vhdxBatRegion && (BinaryPrimitives.ReadUInt32LittleEndian(entry[28..]) & 1) != 0)
            {
                found.Problem($"vhdx requires unknown region {id}");
            }
        }

        if (metadataOffset < 0 || metadataLength < VhdxTableSize)
        {
            return found.Problem("vhdx has no metadata region").Build();
        }

        if (!Need(metadataOffset, VhdxTableSize, out var table))
        {
            return null;
        }

        if (table.Length < VhdxTableSize || !table.StartsWith("metadata"u8))
        {
            return found.Problem("vhdx metadata table is missing").Build();
        }

        var items = BinaryPrimitives.ReadUInt16LittleEndian(table[10..]);
        if (items > VhdxMaxEntries)
        {
            return found.Problem($"vhdx metadata table has {items} entries").Build();
        }

        for (var i = 0; i < items; i++)
        {
            var entry = table.Slice(32 + (32 * i), 32);
            var id = new Guid(entry[..16]);
            var itemOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]);
            var itemLength = BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]);
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(entry[24..]);
            if (id == s_vhdxParentLocator)
            {
                found.Backing("vhdx parent locator", "(differencing disk)");
            }
            else if (id == s_vhdxVirtualDiskSize || id == s_vhdxFileParameters)
            {
                if (itemOffset < VhdxTableSize || itemLength < 8 || itemOffset > metadataLength - 8)
                {
                    return found.Problem($"vhdx metadata item {id} is out of its region").Build();
                }

                if (!Need(metadataOffset + itemOffset, 8, out var value))
                {
                    return null;
                }

                if (value.Length < 8)
                {
                    return found.Truncated("vhdx metadata").Build();
                }

                if (id == s_vhdxVirtualDiskSize)
                {
                    var size = BinaryPrimitives.ReadUInt64LittleEndian(value);
                    found.VirtualSize = size <= long.MaxValue ? (long)size : null;
                }
                else if ((BinaryPrimitives.ReadUInt32LittleEndian(value[4..]) & VhdxHasParent) != 0)
                {
                    found.Backing("vhdx file parameters", "(has_parent set)");
                }
            }
            else if ((flags & VhdxMetadataItemRequired) != 0 && !s_vhdxKnownItems.Contains(id))
            {
                found.Problem($"vhdx requires unknown metadata item {id}");
            }
        }

        if (found.VirtualSize is null)
        {
            found.Problem("vhdx has no virtual disk size");
        }

        return found.Build();
    }
}
