using Ember.Testing;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu.Tests;

/// <summary>
/// A real guest on RBD volumes of a real single-node Ceph cluster, opened by QEMU's own rbd driver: one at boot (vdb,
/// shareable: an image without exclusive-lock, as Cinder makes multi-attach images) and one hot-plugged (vdc). What the
/// guest writes is what `rbd export` reads from the cluster, and the cephx key is in no argv and no log. The OSD runs on
/// bluestore, so it can be killed under a guest's writes and started again.
/// </summary>
[Collection("guest")]
public sealed class RbdGuestTests(RbdGuestTests.Fixture guest) : IClassFixture<RbdGuestTests.Fixture>
{
    private static readonly TimeSpan s_exec = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task The_boot_volume_on_rbd_is_vdb_and_guest_writes_land_in_the_image()
    {
        Assert.Equal("/dev/vdb", await DeviceOfAsync("rbd-boot"));
        await ShAsync("printf 'written-through-rbd' | dd of=/dev/vdb bs=4096 conv=fsync 2>/dev/null");

        var exported = await guest.ExportAsync("boot");
        Assert.Equal("written-through-rbd", System.Text.Encoding.ASCII.GetString(exported, 0, 19));
    }

    [Fact]
    public async Task A_hot_plugged_rbd_volume_is_writable_and_unplugs()
    {
        await guest.Ceph.RbdAsync("create", "--size", "64M", $"{guest.Ceph.Pool}/hot");
        await guest.Machine.AttachDiskAsync(guest.Disk("vdc", "rbd-hot", "hot", shareable: false), default);
        var device = await DeviceOfAsync("rbd-hot");
        await ShAsync($"printf 'hot-rbd' | dd of={device} bs=4096 conv=fsync 2>/dev/null");
        Assert.Equal("hot-rbd", System.Text.Encoding.ASCII.GetString(await guest.ExportAsync("hot"), 0, 7));

        await guest.Machine.DetachDiskAsync("vdc", default);
        Assert.Equal("gone", await ShAsync($"[ -e {device} ] && echo present || echo gone"));
        // Unplugged, QEMU holds no watch on the image any more: it can be removed.
        await guest.Ceph.RbdAsync("rm", $"{guest.Ceph.Pool}/hot");
    }

    [Fact]
    public async Task The_cephx_key_is_in_no_argument_and_no_log_line()
    {
        var cmdline = await File.ReadAllTextAsync($"/proc/{guest.Machine.Pid}/cmdline");
        Assert.DoesNotContain(guest.Key.Base64, cmdline, StringComparison.Ordinal);
        Assert.DoesNotContain("rbd", cmdline, StringComparison.Ordinal); // the disk itself was added over QMP
        Assert.DoesNotContain(guest.Key.Base64, guest.Logs.Text, StringComparison.Ordinal);
        Assert.Contains($"rbd {guest.Ceph.Pool}/boot", guest.Logs.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// The OSD killed under a guest's synchronous write: the write waits (QEMU's librbd retries, the guest sees no
    /// error), and once the OSD is back it completes and the image holds exactly what the guest wrote.
    /// </summary>
    [Fact]
    public async Task A_write_waits_while_the_osd_is_down_and_completes_intact_when_it_is_back()
    {
        await guest.Ceph.RbdAsync("create", "--size", "64M", $"{guest.Ceph.Pool}/outage");
        await guest.Machine.AttachDiskAsync(guest.Disk("vdd", "rbd-outage", "outage", shareable: false), default);
        var device = await DeviceOfAsync("rbd-outage");
        var written = await ShAsync("dd if=/dev/urandom of=/root/pattern bs=64k count=16 2>/dev/null && md5sum < /root/pattern");

        await guest.Ceph.KillOsdAsync();
        try
        {
            await ShAsync($"rm -f /root/done; (dd if=/root/pattern of={device} bs=64k conv=fsync 2>/dev/null; echo rc=$? > /root/done) " +
                "</dev/null >/dev/null 2>&1 &");
            // With no OSD nothing can be acknowledged: the writer neither finishes nor fails while the OSD is down.
            Assert.Equal("waiting", await ShAsync("sleep 5; cat /root/done 2>/dev/null || echo waiting"));
        }
        finally
        {
            guest.Ceph.StartOsd();
        }

        Assert.Equal("rc=0", await ShAsync("for i in $(seq 1200); do [ -s /root/done ] && break; sleep 0.1; done; cat /root/done"));
        Assert.Empty(await ShAsync("dmesg | grep -i 'I/O error' || true"));
        await guest.Machine.DetachDiskAsync("vdd", default);

        var exported = await guest.ExportAsync("outage");
        Assert.Equal(written.Split(' ')[0], Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(exported.AsSpan(0, 1 << 20))));
    }

    /// <summary>The guest's device of a disk, found by its serial once it appears (the guest names hot-plugged disks in its own order).</summary>
    private Task<string> DeviceOfAsync(string serial) =>
        ShAsync($"for i in $(seq 100); do for d in /sys/block/vd*; do [ \"$(cat $d/serial)\" = {serial} ] && echo /dev/$(basename $d) && exit 0; done; " +
            "sleep 0.1; done; exit 1");

    private async Task<string> ShAsync(string script)
    {
        var result = await guest.Machine.Agent.ExecAsync("/bin/sh", ["-c", script], null, s_exec, default);
        Assert.True(result.ExitCode == 0, $"'{script}': exit {result.ExitCode}, {result.StdErr}");
        return result.StdOut.Trim();
    }

    /// <summary>The cluster (client.ember's key read with the admin CLI) and one guest booted with the RBD image "boot" as vdb.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private CephCluster? _ceph;
        private QemuMachine? _machine;
        private Exception? _failure;

        public TempDir Dir { get; } = new();

        public TestLoggerProvider Logs { get; } = new();

        public CephCluster Ceph => _ceph ?? throw Failed();

        public QemuMachine Machine => _failure is null ? _machine! : throw Failed();

        public CephKey Key { get; private set; } = new("");

        public async Task InitializeAsync()
        {
            try
            {
                _ceph = await CephCluster.CreateAsync(durable: true);
                Key = new CephKey((await _ceph.CephAsync("auth", "get-key", $"client.{CephCluster.User}")).Trim());
                // layering only: no exclusive-lock, so two writers could share it (Cinder's multi-attach rule).
                await _ceph.RbdAsync("create", "--size", "64M", "--image-feature", "layering", $"{_ceph.Pool}/boot");

                var loggerFactory = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
                var driver = new QemuDriver(new QemuDriverOptions { Accelerator = "tcg" }, loggerFactory);
                var image = await GuestImage.PathAsync();
                var dir = Dir["vm"];
                await driver.CreateOverlayAsync(image, "qcow2", Path.Combine(dir, "disk.qcow2"), null, default);
                _machine = await driver.StartAsync(
                    new QemuMachineSpec("ceph-guest", dir, 256, 1, new FileDisk("vda", Path.Combine(dir, "disk.qcow2"), "qcow2"),
                        [Disk("vdb", "rbd-boot", "boot", shareable: true)]),
                    default);
                if (!await _machine.Agent.PingAsync(GuestFixture.BootTimeout, default))
                {
                    throw new InvalidOperationException($"the guest agent did not answer within {GuestFixture.BootTimeout}");
                }
            }
            catch (Exception ex)
            {
                _failure = ex;
            }
        }

        public RbdDisk Disk(string device, string serial, string image, bool shareable) =>
            new(device, serial, Ceph.Pool, image, Ceph.Monitors, CephCluster.User, Key, ReadOnly: false, shareable);

        /// <summary>The image's bytes as the cluster has them (`rbd export` as client.admin).</summary>
        public async Task<byte[]> ExportAsync(string image)
        {
            var file = Dir[image + ".export"];
            File.Delete(file);
            await Ceph.RbdAsync("export", $"{Ceph.Pool}/{image}", file);
            return await File.ReadAllBytesAsync(file);
        }

        public async Task DisposeAsync()
        {
            if (_machine is not null)
            {
                await _machine.DisposeAsync();
            }

            if (_ceph is not null)
            {
                await _ceph.DisposeAsync();
            }

            Logs.Dispose();
            Dir.Dispose();
        }

        private InvalidOperationException Failed() => new("RBD guest fixture failed: " + _failure?.Message, _failure);
    }
}
