using System.Buffers.Binary;
using System.Text;

namespace Ember.Image.Format;

public sealed partial class ImageInspector
{
    // qcow2 header fields (big-endian), docs/interop/qcow2.txt in QEMU.
    private const int QcowV2HeaderLength = 72;
    private const int QcowV3HeaderLength = 104;
    private const int QcowMaxBackingName = 1023;

    private const ulong QcowIncompatDirty = 1 << 0;
    private const ulong QcowIncompatCorrupt = 1 << 1;
    private const ulong QcowIncompatDataFile = 1 << 2;
    private const ulong QcowIncompatCompression = 1 << 3;
    private const ulong QcowIncompatExtendedL2 = 1 << 4;
    private const ulong QcowIncompatKnown = QcowIncompatDirty | QcowIncompatCorrupt | QcowIncompatDataFile | QcowIncompatCompression | QcowIncompatExtendedL2;

    private const uint QcowExtEnd = 0;
    private const uint QcowExtBackingFormat = 0xe2792aca;
    private const uint QcowExtDataFile = 0x44415441;

    /// <summary>
    /// qcow2 (and legacy qcow v1): the virtual size, the backing file name (at backing_file_offset, read by QEMU
    /// whenever that offset is not 0), the external data file (incompatible feature bit 2 and the "DATA" header
    /// extension), encryption and feature bits QEMU would need to understand. The header extensions lie in the
    /// first cluster, so that cluster (at most 2 MiB) is the region read.
    /// </summary>
    private ImageInspection? InspectQcow(ReadOnlySpan<byte> head)
    {
        var found = new Findings(_format!.Value);
        if (head.Length < QcowV2HeaderLength)
        {
            return found.Truncated("qcow2 header").Build();
        }

        var version = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
        var backingOffset = BinaryPrimitives.ReadUInt64BigEndian(head[8..]);
        var backingSize = BinaryPrimitives.ReadUInt32BigEndian(head[16..]);
        if (version == 1)
        {
            // qcow v1: backing name at the same offsets, then mtime, size (u64 at 24). QEMU still opens it.
            found.VirtualSize = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(head[24..]), long.MaxValue);
            found.Problem("qcow version 1 images are not supported");
            return BackingName(found, "qcow backing file", backingOffset, backingSize, HeadSize);
        }

        if (version is not (2 or 3))
        {
            return found.Problem($"qcow2 version {version} is not supported").Build();
        }

        var clusterBits = BinaryPrimitives.ReadUInt32BigEndian(head[20..]);
        if (clusterBits is < 9 or > 21)
        {
            return found.Problem($"qcow2 cluster_bits {clusterBits} is out of range").Build();
        }

        var clusterSize = 1 << (int)clusterBits;
        var size = BinaryPrimitives.ReadUInt64BigEndian(head[24..]);
        found.VirtualSize = size <= long.MaxValue ? (long)size : null;
        if (size > long.MaxValue)
        {
            found.Problem("qcow2 size is out of range");
        }

        var cryptMethod = BinaryPrimitives.ReadUInt32BigEndian(head[32..]);
        if (cryptMethod != 0)
        {
            found.Problem($"qcow2 encryption (crypt_method {cryptMethod}) is not supported");
        }

        var headerLength = QcowV2HeaderLength;
        var dataFileBit = false;
        if (version == 3)
        {
            if (head.Length < QcowV3HeaderLength)
            {
                return found.Truncated("qcow2 v3 header").Build();
            }

            var incompatible = BinaryPrimitives.ReadUInt64BigEndian(head[72..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(head[100..]);
            if (length < QcowV3HeaderLength || length % 8 != 0 || length > clusterSize)
            {
                return found.Problem($"qcow2 header_length {length} is invalid").Build();
            }

            headerLength = (int)length;
            if ((incompatible & QcowIncompatCorrupt) != 0)
            {
                found.Problem("qcow2 image is marked corrupt");
            }

            if ((incompatible & ~QcowIncompatKnown) != 0)
            {
                found.Problem($"qcow2 has unknown incompatible features 0x{incompatible & ~QcowIncompatKnown:x}");
            }

            dataFileBit = (incompatible & QcowIncompatDataFile) != 0;
        }

        if (backingOffset != 0 && backingOffset >= (ulong)clusterSize)
        {
            return found.Backing("qcow2 backing file", $"(name at offset {backingOffset}, outside the header cluster)").Build();
        }

        // The whole first cluster: header, extensions (up to the backing name, or the cluster's end) and the name.
        if (!Need(0, clusterSize, out var cluster))
        {
            return null;
        }

        var extensionsEnd = backingOffset != 0 ? (int)backingOffset : clusterSize;
        string? dataFile = null;
        var position = headerLength;
        while (position + 8 <= Math.Min(extensionsEnd, cluster.Length))
        {
            var type = BinaryPrimitives.ReadUInt32BigEndian(cluster[position..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(cluster[(position + 4)..]);
            if (type == QcowExtEnd)
            {
                break;
            }

            if (length > extensionsEnd - position - 8 || position + 8 + length > cluster.Length)
            {
                found.Problem($"qcow2 header extension 0x{type:x8} overruns the header");
                break;
            }

            var body = cluster.Slice(position + 8, (int)length);
            if (type == QcowExtDataFile)
            {
                dataFile = Encoding.UTF8.GetString(body);
            }
            else if (type == QcowExtBackingFormat && backingOffset == 0)
            {
                found.Problem("qcow2 has a backing format but no backing file");
            }

            position += 8 + (int)((length + 7) & ~7u);
        }

        if (dataFile is not null || dataFileBit)
        {
            found.DataFile("qcow2 external data file", dataFile ?? "(data_file feature bit set, name given at open)");
        }

        return BackingName(found, "qcow2 backing file", backingOffset, backingSize, clusterSize);
    }

    private ImageInspection? BackingName(Findings found, string what, ulong offset, uint size, int limit)
    {
        if (offset == 0)
        {
            return found.Build();
        }

        if (size > QcowMaxBackingName || offset + size > (ulong)limit)
        {
            return found.Backing(what, $"(a {size}-byte name at offset {offset})").Build();
        }

        if (!Need((long)offset, (int)size, out var name))
        {
            return null;
        }

        return found.Backing(what, Encoding.UTF8.GetString(name)).Build();
    }
}
