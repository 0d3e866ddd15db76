using System.Buffers.Binary;

namespace Ember.Image.Format;

public sealed partial class ImageInspector
{
    /// <summary>
    /// VMDK. A sparse extent ("KDMV") carries its descriptor inside: it must be monolithicSparse or
    /// streamOptimized with exactly one SPARSE extent (itself), no parentFileNameHint, and a capacity (a sparse
    /// header with capacity 0 makes QEMU open its descriptor's extents as files). A text descriptor file has only
    /// extents in other files (FLAT, SPARSE, VMFS... "/etc/passwd"), so it is always refused, as is the old COWD.
    /// </summary>
    private ImageInspection? InspectVmdk(ReadOnlySpan<byte> head)
    {
        var found = new Findings(ImageFormat.Vmdk);
        if (head.StartsWith("COWD"u8))
        {
            return found.Problem("vmdk version 3 (COWD) images are not supported").Build();
        }

        if (!head.StartsWith("KDMV"u8))
        {
            var text = Vmdk.Parse(head);
            found.VirtualSize = SectorsToBytes(text.Extents.Aggregate(0UL, (sum, e) => sum + Math.Min(e.Sectors, uint.MaxValue)), found, "vmdk");
            CheckDescriptor(found, text, embedded: false);
            return found.Build();
        }

        if (head.Length < 80)
        {
            return found.Truncated("vmdk sparse header").Build();
        }

        var capacity = BinaryPrimitives.ReadUInt64LittleEndian(head[12..]);
        var descriptorOffset = BinaryPrimitives.ReadUInt64LittleEndian(head[28..]);
        var descriptorSize = BinaryPrimitives.ReadUInt64LittleEndian(head[36..]);
        found.VirtualSize = SectorsToBytes(capacity, found, "vmdk capacity");
        if (capacity == 0)
        {
            found.Problem("vmdk sparse header without capacity defers to its descriptor's extents");
        }

        if (descriptorOffset == 0)
        {
            return found.Build();
        }

        if (descriptorSize > Vmdk.MaxDescriptorSize / 512 || descriptorOffset > long.MaxValue / 512)
        {
            return found.Problem($"vmdk embedded descriptor ({descriptorSize} sectors at sector {descriptorOffset}) is out of range").Build();
        }

        if (!Need((long)descriptorOffset * 512, (int)descriptorSize * 512, out var descriptor))
        {
            return null;
        }

        if (descriptor.Length < (int)descriptorSize * 512)
        {
            return found.Truncated("vmdk embedded descriptor").Build();
        }

        CheckDescriptor(found, Vmdk.Parse(descriptor), embedded: true);
        return found.Build();
    }

    private static void CheckDescriptor(Findings found, Vmdk.Descriptor descriptor, bool embedded)
    {
        if (!embedded)
        {
            found.Problem("vmdk descriptor file: its data is in other files");
        }
        else if (descriptor.CreateType is not { } type || !Vmdk.AllowedCreateTypes.Contains(type, StringComparer.Ordinal))
        {
            found.Problem($"vmdk createType '{descriptor.CreateType}' is not one of {string.Join(", ", Vmdk.AllowedCreateTypes)}");
        }

        if (descriptor.ParentFileNameHint is { } parent)
        {
            found.Backing("vmdk parentFileNameHint", parent);
        }

        foreach (var line in descriptor.BadLines)
        {
            found.Problem($"vmdk descriptor line '{line}' is not a valid extent");
        }

        // The one extent a sparse image may describe is itself; QEMU does not open it again.
        var selfOnly = embedded && descriptor.Extents.Count == 1 && descriptor.Extents[0].Type == "SPARSE";
        if (selfOnly)
        {
            return;
        }

        if (embedded && descriptor.Extents.Count == 0)
        {
            found.Problem("vmdk embedded descriptor has no extent");
        }

        foreach (var extent in descriptor.Extents)
        {
            if (extent.FileName is { } file)
            {
                found.DataFile($"vmdk {extent.Type} extent", file);
            }
            else if (embedded)
            {
                found.Problem($"vmdk {extent.Type} extent in a sparse image");
            }
        }
    }
}
