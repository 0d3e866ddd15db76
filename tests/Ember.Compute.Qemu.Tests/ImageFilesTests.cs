using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>
/// The driver never lets QEMU or qemu-img follow a file named inside a user's image: overlays refuse such a base,
/// the root disk's -blockdev names the base with no backing of its own, and qemu-img sources carry backing null.
/// Checked with qemu-io and qemu-img on a base whose own backing file holds a secret.
/// </summary>
public sealed class ImageFilesTests : IDisposable
{
    private const string Secret = "HOSTSECRETBYTES";
    private readonly TempDir _dir = new();
    private readonly QemuDriver _driver = new(new QemuDriverOptions { Accelerator = "tcg" }, NullLoggerFactory.Instance);

    public void Dispose() => _dir.Dispose();

    /// <summary>A qcow2 whose backing file is a "host file" holding <see cref="Secret"/>: reading it through QEMU shows the secret.</summary>
    private async Task<string> EvilBaseAsync()
    {
        var secret = _dir["secret"];
        await File.WriteAllTextAsync(secret, Secret + new string('\0', 4096));
        var evil = _dir["evil.qcow2"];
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", secret, "-F", "raw", evil, "1M"])).EnsureSuccess();
        Assert.Contains(Secret, await QemuIoReadAsync("-f", "qcow2", evil)); // the attack works when QEMU follows the header
        return evil;
    }

    private static async Task<string> QemuIoReadAsync(params string[] source)
    {
        var result = (await Cli.RunAsync("qemu-io", ["-r", "-c", "read -v 0 32", .. source])).EnsureSuccess();
        // qemu-io -v prints hex and the ASCII column; keep the ASCII column.
        return string.Concat(result.StdOut.Split('\n').Where(l => l.Contains(':', StringComparison.Ordinal) && l.Length > 60).Select(l => l[^16..]));
    }

    [Fact]
    public async Task An_overlay_on_a_base_with_a_backing_file_is_refused_and_not_created()
    {
        var evil = await EvilBaseAsync();
        var error = await Assert.ThrowsAsync<QemuException>(() => _driver.CreateOverlayAsync(evil, "qcow2", _dir["o/disk"], null, default));
        Assert.Contains($"qcow2 backing file '{_dir["secret"]}'", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir["o/disk"]));

        var raw = _dir["bytes.raw"];
        await File.WriteAllBytesAsync(raw, new byte[4096]);
        var mismatch = await Assert.ThrowsAsync<QemuException>(() => _driver.CreateOverlayAsync(evil, "raw", _dir["o/disk"], null, default));
        Assert.Contains("qcow2 declared raw", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_root_blockdev_names_the_base_and_gives_it_no_backing_so_qemu_reads_no_host_byte()
    {
        var evil = await EvilBaseAsync();
        // An overlay made before the inspector (or by hand) on the malicious base.
        var overlay = _dir["disk"];
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b", evil, overlay, "1M"])).EnsureSuccess();
        Assert.Contains(Secret, await QemuIoReadAsync("-f", "qcow2", overlay));

        var blockdev = QemuCommandLine.Blockdev(new FileDisk("vda", overlay, "qcow2", Backing: new ImageBase(evil, "qcow2")));
        Assert.Equal("qcow2", (string)blockdev["backing"]!["driver"]!);
        Assert.Equal(evil, (string)blockdev["backing"]!["file"]!["filename"]!);
        Assert.True(blockdev["backing"]!.AsObject().ContainsKey("backing"));
        Assert.Null(blockdev["backing"]!["backing"]);
        blockdev.Remove("node-name");
        blockdev.Remove("discard");
        var read = await QemuIoReadAsync("json:" + blockdev.ToJsonString());
        Assert.DoesNotContain(Secret, read);
        Assert.Equal(new string('.', 32), read);
    }

    [Fact]
    public void A_raw_base_gets_no_backing_option_its_driver_would_reject()
    {
        var blockdev = QemuCommandLine.Blockdev(new FileDisk("vda", "/i/disk", "qcow2", Backing: new ImageBase("/images/base", "raw")));
        Assert.Equal("raw", (string)blockdev["backing"]!["driver"]!);
        Assert.False(blockdev["backing"]!.AsObject().ContainsKey("backing"));
        Assert.False(QemuCommandLine.Blockdev(new FileDisk("vda", "/i/disk", "qcow2")).ContainsKey("backing"));
    }

    [Fact]
    public async Task A_qemu_img_source_opens_no_backing_file()
    {
        var evil = await EvilBaseAsync();
        var source = ImageFiles.QemuImgSource(evil, "qcow2");
        Assert.Equal("qcow2", (string)JsonNode.Parse(source["json:".Length..])!["driver"]!);
        var target = _dir["out.raw"];
        (await Cli.RunAsync("qemu-img", ["convert", "-q", "-f", "qcow2", "-O", "raw", source, target])).EnsureSuccess();
        Assert.DoesNotContain(Secret, Encoding.ASCII.GetString(await File.ReadAllBytesAsync(target)));
    }

    [Fact]
    public async Task Virtual_sizes_come_from_the_header()
    {
        var image = _dir["v.vmdk"];
        (await Cli.RunAsync("qemu-img", ["create", "-q", "-f", "vmdk", image, "40M"])).EnsureSuccess();
        Assert.Equal(40L << 20, await _driver.GetVirtualSizeAsync(image, "vmdk", default));
    }
}
