using System.Buffers.Binary;

namespace Ember.Image.Format.Tests;

/// <summary>Raw bytes, partition tables and ISOs from hand-built byte arrays; the streaming bound; the disk_format verdicts.</summary>
public class RawFamilyTests
{
    private static byte[] Random(int length, int seed = 7)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mbr(int length, byte type)
    {
        var bytes = new byte[length];
        bytes[446] = 0x80;
        bytes[446 + 4] = type;
        bytes[510] = 0x55;
        bytes[511] = 0xAA;
        return bytes;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(511)]
    [InlineData(70_000)]
    public void Plain_bytes_are_raw_of_their_own_length(int length)
    {
        var bytes = Random(length);
        bytes.AsSpan(0, Math.Min(4, length)).Clear(); // no accidental magic
        foreach (var mode in Feeding.Modes)
        {
            var inspection = Feeding.Inspect(bytes, mode);
            Assert.Equal(ImageFormat.Raw, inspection.Format);
            Assert.Equal(length, inspection.VirtualSize);
            Assert.True(inspection.IsSafe);
            Assert.True(DiskFormats.Judge("raw", inspection).Accepted);
        }
    }

    [Fact]
    public void Partition_tables_and_isos_are_raw_family()
    {
        var mbr = Mbr(1 << 20, 0x83);
        Assert.Equal(ImageFormat.Mbr, Feeding.Inspect(mbr).Format);

        var gpt = Mbr(1 << 20, 0xEE);
        "EFI PART"u8.CopyTo(gpt.AsSpan(512));
        Assert.Equal(ImageFormat.Gpt, Feeding.Inspect(gpt).Format);

        var iso = new byte[1 << 20];
        iso[0x8000] = 1;
        "CD001"u8.CopyTo(iso.AsSpan(0x8001));
        var inspection = Feeding.Inspect(iso);
        Assert.Equal(ImageFormat.Iso, inspection.Format);
        Assert.True(DiskFormats.Judge("iso", inspection).Accepted);
        Assert.True(DiskFormats.Judge("raw", inspection).Accepted);

        Assert.Equal("mbr declared iso", DiskFormats.Judge("iso", Feeding.Inspect(mbr)).Mismatch);
        Assert.Equal("mbr declared qcow2", DiskFormats.Judge("qcow2", Feeding.Inspect(mbr)).Mismatch);
    }

    [Fact]
    public void A_55aa_signature_with_bad_boot_flags_is_just_raw()
    {
        var bytes = Mbr(4096, 0x83);
        bytes[446] = 0x17;
        Assert.Equal(ImageFormat.Raw, Feeding.Inspect(bytes).Format);
    }

    [Fact]
    public void A_qcow2_header_is_known_from_the_first_chunk_so_an_upload_stops_early()
    {
        var head = new byte[ImageInspector.HeadSize];
        new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3 }.CopyTo(head, 0);
        var inspector = new ImageInspector();
        inspector.Feed(0, head.AsSpan(0, 4096));
        Assert.Null(inspector.Format); // the head is not complete and the length is not known
        inspector.Feed(4096, head.AsSpan(4096));
        Assert.Equal(ImageFormat.Qcow2, inspector.Format);
        Assert.True(DiskFormats.CannotMatch("raw", ImageFormat.Qcow2));
        Assert.False(DiskFormats.CannotMatch("qcow2", ImageFormat.Qcow2));
        Assert.False(DiskFormats.CannotMatch("vhd", ImageFormat.Raw)); // a fixed VHD's footer comes last
        Assert.True(DiskFormats.CannotMatch("qcow2", ImageFormat.Raw));
    }

    [Fact]
    public void A_long_raw_stream_keeps_only_the_head_and_the_tail()
    {
        var inspector = new ImageInspector();
        var chunk = Random(1 << 20, seed: 3);
        chunk.AsSpan(0, 8).Clear();
        long offset = 0;
        for (var i = 0; i < 64; i++, offset += chunk.Length)
        {
            inspector.Feed(offset, chunk);
        }

        inspector.SetLength(offset);
        Assert.Null(inspector.NextWanted); // the footer check used the tail it kept
        Assert.Equal(ImageInspector.HeadSize, inspector.CapturedBytes);
        Assert.Equal(offset, inspector.Inspect().VirtualSize);
    }

    [Fact]
    public void A_truncated_qcow2_header_is_unsafe()
    {
        var bytes = new byte[50];
        new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3 }.CopyTo(bytes, 0);
        var inspection = Feeding.Inspect(bytes);
        Assert.Equal(ImageFormat.Qcow2, inspection.Format);
        Assert.Contains("qcow2 header is truncated", inspection.Problems);
    }

    [Fact]
    public void Bytes_left_out_make_the_verdict_unsafe()
    {
        var vmdk = new byte[4096];
        "KDMV"u8.CopyTo(vmdk);
        BinaryPrimitives.WriteUInt64LittleEndian(vmdk.AsSpan(12), 2048);
        BinaryPrimitives.WriteUInt64LittleEndian(vmdk.AsSpan(28), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(vmdk.AsSpan(36), 1);
        var inspector = new ImageInspector();
        inspector.SetLength(1L << 30); // a large image of which only the first bytes are fed
        inspector.Feed(0, vmdk);
        Assert.Equal(new ByteRange(4096, ImageInspector.HeadSize - 4096), inspector.NextWanted);
        var inspection = inspector.Inspect();
        Assert.False(inspection.IsSafe);
        Assert.Contains("were not inspected", inspection.Problems.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Raw_declared_qcow2_is_a_mismatch()
    {
        var verdict = DiskFormats.Judge("qcow2", Feeding.Inspect(new byte[4096]));
        Assert.False(verdict.Accepted);
        Assert.Equal("Image content does not match disk_format: raw declared qcow2.", verdict.Reason);
    }
}
