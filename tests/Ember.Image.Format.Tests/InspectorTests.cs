using System.Buffers.Binary;
using System.Text;

namespace Ember.Image.Format.Tests;

/// <summary>Images made by qemu-img 7.2 and by hand, fed as a stream and by positional reads.</summary>
public class InspectorTests(QemuImg qemu) : IClassFixture<QemuImg>
{
    private const long Size64M = 64L << 20;

    public static TheoryData<FeedMode> Modes => Feeding.Modes;

    [Theory]
    [InlineData("qcow2", new string[0], ImageFormat.Qcow2, Size64M)]
    [InlineData("qcow2", new[] { "-o", "compat=0.10" }, ImageFormat.Qcow2, Size64M)]
    [InlineData("qcow2", new[] { "-o", "cluster_size=2M" }, ImageFormat.Qcow2, Size64M)]
    [InlineData("vmdk", new string[0], ImageFormat.Vmdk, Size64M)]
    [InlineData("vmdk", new[] { "-o", "subformat=streamOptimized" }, ImageFormat.Vmdk, Size64M)]
    [InlineData("vpc", new string[0], ImageFormat.Vhd, 67125248L)] // CHS-rounded, as qemu-img info says
    [InlineData("vhdx", new string[0], ImageFormat.Vhdx, Size64M)]
    [InlineData("vdi", new string[0], ImageFormat.Vdi, Size64M)]
    public async Task Qemu_img_images_are_detected_sized_and_safe(string format, string[] options, ImageFormat expected, long virtualSize)
    {
        var bytes = await qemu.CreateAsync($"{format}-{options.Length}.img", format, "64M", options);
        foreach (var mode in Feeding.Modes)
        {
            var inspection = Feeding.Inspect(bytes, mode, out var read);
            Assert.Equal(expected, inspection.Format);
            Assert.Equal(virtualSize, inspection.VirtualSize);
            Assert.True(inspection.IsSafe, inspection.ToString());
            // Only headers are read, never the image: at most a 2 MiB qcow2 cluster plus small tables.
            Assert.True(read <= ImageInspector.MaxCapturedBytes, $"{mode}: read {read} bytes");
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_qcow2_backed_by_a_host_file_is_refused(FeedMode mode)
    {
        var bytes = await qemu.CreateAsync($"backed-{mode}.qcow2", "qcow2", "1M", "-b", "/etc/passwd", "-F", "raw");
        var inspection = Feeding.Inspect(bytes, mode);
        Assert.Equal(ImageFormat.Qcow2, inspection.Format);
        Assert.Equal(["/etc/passwd"], inspection.BackingFiles);
        Assert.False(inspection.IsSafe);
        Assert.Contains("qcow2 backing file '/etc/passwd'", inspection.Problems);
        Assert.Equal("Image has disallowed configuration: qcow2 backing file '/etc/passwd'.", DiskFormats.Judge("qcow2", inspection).Reason);
    }

    [Fact]
    public async Task A_json_backing_name_is_refused_and_named_as_such()
    {
        const string Json = """json:{"file.filename":"/etc/passwd"}""";
        var bytes = await qemu.CreateAsync("json.qcow2", "qcow2", "1M", "-u", "-b", Json, "-F", "raw");
        var inspection = Feeding.Inspect(bytes);
        Assert.Equal([Json], inspection.BackingFiles);
        Assert.Contains(inspection.Problems, p => p.Contains("json: specification", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_qcow2_with_an_external_data_file_is_refused(FeedMode mode)
    {
        var bytes = await qemu.CreateAsync($"data-{mode}.qcow2", "qcow2", "1M", "-o", $"data_file={qemu[$"data-{mode}.raw"]}");
        var inspection = Feeding.Inspect(bytes, mode);
        Assert.Equal([qemu[$"data-{mode}.raw"]], inspection.DataFiles);
        Assert.False(inspection.IsSafe);
    }

    [Fact]
    public async Task A_qcow2_with_the_data_file_bit_but_no_name_is_refused()
    {
        var bytes = await qemu.CreateAsync("bit.qcow2", "qcow2", "1M");
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(72), 1 << 2);
        var inspection = Feeding.Inspect(bytes);
        Assert.Single(inspection.DataFiles);
        Assert.Contains("data_file feature bit", inspection.Problems.Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(72, 1UL << 40, "unknown incompatible features")]
    [InlineData(72, 1UL << 1, "marked corrupt")]
    [InlineData(32, 2UL << 32, "encryption")]
    public async Task Qcow2_unsafe_features_are_refused(int offset, ulong value, string problem)
    {
        var bytes = await qemu.CreateAsync($"feature-{offset}-{value}.qcow2", "qcow2", "1M");
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(offset), value | BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(offset)));
        var inspection = Feeding.Inspect(bytes);
        Assert.Contains(inspection.Problems, p => p.Contains(problem, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_qcow2_backing_name_outside_the_header_cluster_is_refused_without_reading_it()
    {
        var bytes = await qemu.CreateAsync("far.qcow2", "qcow2", "1M");
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), 1UL << 40);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), 10);
        var inspection = Feeding.Inspect(bytes);
        Assert.Single(inspection.BackingFiles);
        Assert.False(inspection.IsSafe);
    }

    [Fact]
    public async Task A_qed_is_refused_and_its_backing_file_reported()
    {
        var bytes = await qemu.CreateAsync("b.qed", "qed", "1M", "-b", "/etc/passwd", "-F", "raw");
        var inspection = Feeding.Inspect(bytes);
        Assert.Equal(ImageFormat.Qed, inspection.Format);
        Assert.Equal(["/etc/passwd"], inspection.BackingFiles);
        Assert.False(DiskFormats.Judge("raw", inspection).Accepted);
    }

    [Theory]
    [InlineData("FLAT \"/etc/passwd\" 0")]
    [InlineData("SPARSE \"/var/lib/ember/volumes/volume-x\"")]
    [InlineData("VMFS \"/etc/shadow\"")]
    public void A_vmdk_descriptor_file_with_extents_elsewhere_is_refused(string extent)
    {
        var text = $"""
            # Disk DescriptorFile
            version=1
            CID=fffffffe
            parentCID=ffffffff
            createType="monolithicFlat"

            # Extent description
            RW 2048 {extent}
            """;
        var inspection = Feeding.Inspect(Encoding.ASCII.GetBytes(text));
        Assert.Equal(ImageFormat.Vmdk, inspection.Format);
        Assert.Single(inspection.DataFiles);
        Assert.Equal(2048L * 512, inspection.VirtualSize);
        Assert.False(inspection.IsSafe);
        Assert.Equal("vmdk declared raw", DiskFormats.Judge("raw", inspection).Mismatch);
        Assert.False(DiskFormats.Judge("vmdk", inspection).Accepted);
    }

    [Fact]
    public void A_vmdk_descriptor_without_the_magic_comment_is_still_a_vmdk()
    {
        var inspection = Feeding.Inspect(Encoding.ASCII.GetBytes("version=1\ncreateType=\"vmfs\"\n  rw 100 vmfs \"/etc/passwd\"\n"));
        Assert.Equal(ImageFormat.Vmdk, inspection.Format);
        Assert.Equal(["/etc/passwd"], inspection.DataFiles);
    }

    [Theory]
    [InlineData("RW 131072 SPARSE", "RW 131072 FLAT \"/etc/passwd\" 0", "vmdk FLAT extent '/etc/passwd'")]
    [InlineData("parentCID=ffffffff", "parentFileNameHint=\"/etc/passwd\"", "vmdk parentFileNameHint '/etc/passwd'")]
    [InlineData("monolithicSparse", "vmfsSparse", "createType 'vmfsSparse'")]
    public async Task A_sparse_vmdk_whose_embedded_descriptor_reaches_out_is_refused(string original, string replacement, string problem)
    {
        var bytes = await qemu.CreateAsync($"embedded-{original.Length}.vmdk", "vmdk", "64M");
        PatchText(bytes, original, replacement);
        var inspection = Feeding.Inspect(bytes);
        Assert.Contains(inspection.Problems, p => p.Contains(problem, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_sparse_vmdk_with_capacity_zero_is_refused()
    {
        // QEMU then opens the embedded descriptor as a descriptor file and follows its extents.
        var bytes = await qemu.CreateAsync("cap0.vmdk", "vmdk", "64M");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(12), 0);
        Assert.Contains(Feeding.Inspect(bytes).Problems, p => p.Contains("without capacity", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_differencing_vhd_is_refused_with_its_parent_name()
    {
        var bytes = await qemu.CreateAsync("diff.vhd", "vpc", "64M");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(60), 4);
        var dynamic = (int)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(16));
        Encoding.BigEndianUnicode.GetBytes("C:\\parent.vhd").CopyTo(bytes, dynamic + 64);
        var inspection = Feeding.Inspect(bytes);
        Assert.Equal(["C:\\parent.vhd"], inspection.BackingFiles);
    }

    [Fact]
    public async Task A_differencing_vdi_is_refused()
    {
        var bytes = await qemu.CreateAsync("diff.vdi", "vdi", "64M");
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(76), 4);
        Assert.Single(Feeding.Inspect(bytes).BackingFiles);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_vhdx_with_a_parent_is_refused(FeedMode mode)
    {
        var bytes = await qemu.CreateAsync($"parent-{mode}.vhdx", "vhdx", "64M");
        // The file parameters item of the metadata table (QEMU puts the metadata region at 3 MiB): set has_parent.
        const int Metadata = 3 << 20;
        Assert.Equal("metadata"u8.ToArray(), bytes.AsSpan(Metadata, 8).ToArray());
        var fileParameters = new Guid("caa16737-fa36-4d43-b3b6-33f0aa44e76b");
        var count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(Metadata + 10));
        var entry = Enumerable.Range(0, count).Select(i => Metadata + 32 + (32 * i)).Single(e => new Guid(bytes.AsSpan(e, 16)) == fileParameters);
        var item = Metadata + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(entry + 16));
        bytes[item + 4] |= 2;
        var inspection = Feeding.Inspect(bytes, mode);
        Assert.Equal(ImageFormat.Vhdx, inspection.Format);
        Assert.Single(inspection.BackingFiles);
    }

    [Fact]
    public async Task A_fixed_vhd_looks_raw_but_reads_as_vhd_when_declared_so()
    {
        var bytes = await qemu.CreateAsync("fixed.vhd", "vpc", "16M", "-o", "subformat=fixed");
        foreach (var mode in Feeding.Modes)
        {
            var inspection = Feeding.Inspect(bytes, mode);
            Assert.Equal(ImageFormat.Raw, inspection.Format);
            Assert.Equal(bytes.Length, inspection.VirtualSize);
            var asVhd = DiskFormats.Judge("vhd", inspection);
            Assert.True(asVhd.Accepted, asVhd.Reason);
            Assert.Equal(16781312L, asVhd.Inspection.VirtualSize);
            Assert.True(DiskFormats.Judge("raw", inspection).Accepted);
        }
    }

    [Fact]
    public void Luks_and_parallels_are_recognized()
    {
        var luks = new byte[4096];
        new byte[] { (byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xba, 0xbe }.CopyTo(luks, 0);
        Assert.Equal(ImageFormat.Luks, Feeding.Inspect(luks).Format);
        Assert.False(Feeding.Inspect(luks).IsSafe);

        var parallels = new byte[4096];
        "WithoutFreeSpace"u8.CopyTo(parallels);
        BinaryPrimitives.WriteUInt64LittleEndian(parallels.AsSpan(36), 2048);
        var inspection = Feeding.Inspect(parallels);
        Assert.Equal(ImageFormat.Parallels, inspection.Format);
        Assert.Equal(1L << 20, inspection.VirtualSize);
        Assert.True(DiskFormats.Judge("ploop", inspection).Accepted);
    }

    private static void PatchText(byte[] bytes, string original, string replacement)
    {
        // Replaces from the match to the end of its line. The descriptor sits in zero padding, so a longer
        // replacement shifts the text after it into the padding.
        var at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(original));
        Assert.True(at > 0, $"'{original}' is not in the image");
        var end = bytes.AsSpan(at).IndexOf((byte)0) + at;
        var lineEnd = bytes.AsSpan(at).IndexOf((byte)'\n') + at;
        var rest = Encoding.ASCII.GetString(bytes, lineEnd, end - lineEnd);
        var text = Encoding.ASCII.GetBytes(replacement + rest);
        text.CopyTo(bytes, at);
        Array.Clear(bytes, at + text.Length, Math.Max(0, end - at - text.Length));
    }
}
