using System.Text.Json.Nodes;

namespace Ember.Compute.Qemu.Tests;

public class QemuCommandLineTests
{
    private static readonly QemuMachineSpec s_spec = new(
        "3f2a8a64-7f8e-4b7a-9d5e-0123456789ab",
        "/tmp/inst,x",
        256,
        2,
        new FileDisk("vda", "/tmp/inst/disk.qcow2", "qcow2"),
        [
            new NbdDisk("vdb", "0123456789abcdefghijKLMN", "vol-1", "/run/nbd.sock", null, 0, ReadOnly: false, Shareable: true),
            new NbdDisk("vdc", "vol-2", "vol-2", null, "127.0.0.1", 10809, ReadOnly: true, Shareable: false),
        ]);

    [Fact]
    public void Only_the_file_root_disk_is_on_the_command_line_and_no_export_name_is()
    {
        var args = QemuCommandLine.Build(s_spec, "tcg");
        var devices = Values(args, "-device").Where(d => d.StartsWith('{')).Select(d => JsonNode.Parse(d)!).ToList();
        Assert.Equal(["disk-vda"], devices.Select(d => (string)d["id"]!));
        Assert.Equal(0, (int)devices[0]["bootindex"]!);
        Assert.Equal("-S", args[^1]); // the NBD disks are added over QMP before "cont"
        Assert.All(args, a => Assert.DoesNotContain("vol-1", a, StringComparison.Ordinal));
        Assert.All(args, a => Assert.DoesNotContain("nbd", a, StringComparison.Ordinal));

        var fromVolume = s_spec with { RootDisk = s_spec.Disks[0] with { DeviceName = "vda" }, Disks = [] };
        var bootFromVolume = QemuCommandLine.Build(fromVolume, "tcg");
        Assert.DoesNotContain("-blockdev", bootFromVolume);
        Assert.All(bootFromVolume, a => Assert.DoesNotContain("vol-1", a, StringComparison.Ordinal));
    }

    [Fact]
    public void Kernel_boot_passes_kernel_initrd_and_command_line_and_takes_the_boot_index_off_the_root_disk()
    {
        var spec = s_spec with { Kernel = new KernelBoot("/images/k", "/images/r", "console=ttyS0 quiet panic=5") };
        var args = QemuCommandLine.Build(spec, "tcg");
        Assert.Equal(["/images/k"], Values(args, "-kernel"));
        Assert.Equal(["/images/r"], Values(args, "-initrd"));
        Assert.Equal(["console=ttyS0 quiet panic=5"], Values(args, "-append")); // one argument, spaces and all
        var root = JsonNode.Parse(Values(args, "-device").Single(d => d.StartsWith('{')))!;
        Assert.Null(root["bootindex"]); // QEMU's kernel loader is what the firmware boots

        var noRamdisk = QemuCommandLine.Build(spec with { Kernel = spec.Kernel! with { RamdiskPath = null } }, "tcg");
        Assert.DoesNotContain("-initrd", noRamdisk);
        Assert.DoesNotContain("-kernel", QemuCommandLine.Build(s_spec, "tcg"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_kernel_command_line_with_a_control_character_or_too_long_is_refused_before_qemu_starts(bool tooLong)
    {
        var line = tooLong ? new string('x', KernelBoot.MaxCommandLineLength + 1) : "console=ttyS0\ninit=/bin/sh";
        using var dir = new TempDir();
        var driver = new QemuDriver(new QemuDriverOptions { Accelerator = "tcg", QemuBinary = "/nonexistent/qemu" },
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var spec = s_spec with { InstanceDir = dir["vm"], Disks = [], Kernel = new KernelBoot("/images/k", null, line) };
        var ex = await Assert.ThrowsAsync<QemuException>(() => driver.StartAsync(spec, default));
        Assert.Contains("kernel command line", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tcp_nbd_disk_with_tls_credentials_names_its_tls_creds_object()
    {
        var disk = (NbdDisk)s_spec.Disks[1] with { TlsCredentialsDir = "/data/nbd-tls/client" };
        var blockdev = QemuCommandLine.Blockdev(disk);
        Assert.Equal("tls-vdc", (string)blockdev["tls-creds"]!);
        var creds = QemuCommandLine.CredentialObject(disk)!;
        Assert.Equal("tls-creds-x509", (string)creds["qom-type"]!);
        Assert.Equal("tls-vdc", (string)creds["id"]!);
        Assert.Equal("client", (string)creds["endpoint"]!);
        Assert.Equal("/data/nbd-tls/client", (string)creds["dir"]!);
        // Without credentials, or over the unix socket, no TLS.
        Assert.Null(QemuCommandLine.Blockdev(s_spec.Disks[1])["tls-creds"]);
        Assert.Null(QemuCommandLine.Blockdev((NbdDisk)s_spec.Disks[0] with { TlsCredentialsDir = "/x" })["tls-creds"]);
        Assert.Null(QemuCommandLine.CredentialObject(s_spec.Disks[1]));
    }

    [Fact]
    public void Rbd_disk_names_its_monitors_user_and_key_secret_and_the_key_only_goes_into_the_secret_object()
    {
        var disk = new RbdDisk("vdd", "vol-3", "volumes", "volume-3", ["127.0.0.1:6789", "[::1]:3300"], "ember",
            new CephKey("QVFCa2V5"), ReadOnly: false, Shareable: true);
        var blockdev = QemuCommandLine.Blockdev(disk);
        Assert.Equal("rbd", (string)blockdev["driver"]!);
        Assert.Equal(("volumes", "volume-3", "ember"), ((string)blockdev["pool"]!, (string)blockdev["image"]!, (string)blockdev["user"]!));
        Assert.Equal([("127.0.0.1", "6789"), ("::1", "3300")],
            blockdev["server"]!.AsArray().Select(m => ((string)m!["host"]!, (string)m["port"]!)));
        Assert.Equal("key-vdd", (string)blockdev["key-secret"]!);
        Assert.True((bool)blockdev["cache"]!["direct"]!);
        Assert.DoesNotContain("QVFCa2V5", blockdev.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("QVFCa2V5", disk.ToString(), StringComparison.Ordinal);

        var secret = QemuCommandLine.CredentialObject(disk)!;
        Assert.Equal(("secret", "key-vdd", "QVFCa2V5", "base64"),
            ((string)secret["qom-type"]!, (string)secret["id"]!, (string)secret["data"]!, (string)secret["format"]!));
        Assert.True((bool)QemuCommandLine.Device(disk, bootIndex: null)["share-rw"]!);

        Assert.Throws<QemuException>(() => QemuCommandLine.Blockdev(disk with { Monitors = ["no-port"] }));
    }

    [Fact]
    public void Shareable_nbd_disk_gets_share_rw_no_write_cache_and_direct_io()
    {
        var device = QemuCommandLine.Device(s_spec.Disks[0], bootIndex: null);
        Assert.True((bool)device["share-rw"]!);
        Assert.Equal("off", (string)device["write-cache"]!);
        Assert.Equal("0123456789abcdefghij", (string)device["serial"]!); // 20 chars, as Nova truncates

        var blockdev = QemuCommandLine.Blockdev(s_spec.Disks[0]);
        Assert.Equal("nbd", (string)blockdev["driver"]!);
        Assert.Equal("unix", (string)blockdev["server"]!["type"]!);
        Assert.Equal("/run/nbd.sock", (string)blockdev["server"]!["path"]!);
        Assert.Equal("vol-1", (string)blockdev["export"]!);
        Assert.True((bool)blockdev["cache"]!["direct"]!);
    }

    [Fact]
    public void Tcp_nbd_disk_sends_the_port_as_a_string_and_read_only_is_on_the_node()
    {
        var blockdev = QemuCommandLine.Blockdev(s_spec.Disks[1]);
        Assert.Equal("inet", (string)blockdev["server"]!["type"]!);
        Assert.Equal("10809", blockdev["server"]!["port"]!.GetValue<string>());
        Assert.True((bool)blockdev["read-only"]!);
        var device = QemuCommandLine.Device(s_spec.Disks[1], bootIndex: null);
        Assert.Null(device["share-rw"]);
        Assert.Null(device["write-cache"]);
    }

    [Fact]
    public void Commas_in_paths_are_doubled_in_key_value_options()
    {
        var args = QemuCommandLine.Build(s_spec, "tcg");
        Assert.Contains(Values(args, "-chardev"), c => c.Contains("path=/tmp/inst,,x/qmp.sock,", StringComparison.Ordinal));
        Assert.Contains("-uuid", args);
    }

    [Fact]
    public void Kvm_uses_the_host_cpu_and_tcg_does_not()
    {
        Assert.Contains("host", Values(QemuCommandLine.Build(s_spec, "kvm"), "-cpu"));
        Assert.Empty(Values(QemuCommandLine.Build(s_spec, "tcg"), "-cpu"));
    }

    [Theory]
    [InlineData("qcow2", "qcow2")]
    [InlineData("RAW", "raw")]
    [InlineData("vhd", "vpc")]
    [InlineData("iso", "raw")]
    public void Glance_disk_formats_map_to_qemu_drivers(string glance, string qemu) =>
        Assert.Equal(qemu, ImageFiles.QemuFormat(glance));

    [Fact]
    public void Unknown_disk_format_and_formats_qemu_is_never_given_are_refused()
    {
        Assert.Throws<QemuException>(() => ImageFiles.QemuFormat("nbd"));
        Assert.Throws<QemuException>(() => ImageFiles.QemuFormat("ploop"));
    }

    private static List<string> Values(List<string> args, string option) =>
        [.. args.Select((a, i) => (a, i)).Where(x => x.a == option).Select(x => args[x.i + 1])];
}
