using System.Text.Json;
using Ember.Compute.Qemu.Qmp;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Ember.Compute.Qemu.Tests;

/// <summary>
/// Real QEMU (TCG) with a blank disk: SeaBIOS finds nothing to boot and sits there, which is all QMP,
/// hot-plug and process lifecycle need. No OS means no ACPI handler, so unplug never completes.
/// </summary>
public sealed class BiosMachineTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly TempDir _dir = new();
    private readonly TestLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly QemuDriver _driver;
    private readonly List<IAsyncDisposable> _cleanup = [];

    public BiosMachineTests(ITestOutputHelper output)
    {
        _logs.Output = output;
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Debug));
        _driver = new QemuDriver(new QemuDriverOptions { Accelerator = "tcg" }, _loggerFactory);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_cleanup))
        {
            await item.DisposeAsync();
        }

        _loggerFactory.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Start_runs_the_guest_and_kill_leaves_no_process()
    {
        var machine = await StartAsync("vm1");

        Assert.Equal("running", await machine.QueryStatusAsync(default));
        Assert.True(Processes.IsRunning(machine.Pid));
        Assert.Equal(machine.Pid.ToString(), File.ReadAllText(Path.Combine(machine.InstanceDir, "qemu.pid")).Trim());
        Assert.True(File.Exists(machine.ConsoleLogPath));

        await machine.KillAsync();
        Assert.True(machine.Exited.IsCompleted);
        Assert.False(Processes.IsRunning(machine.Pid));
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => machine.QueryStatusAsync(default).WaitAsync(s_wait));
    }

    [Fact]
    public async Task Shutdown_of_a_guest_without_acpi_quits_qemu_after_the_grace_period()
    {
        var machine = await StartAsync("vm1");

        var clean = await machine.ShutdownAsync(TimeSpan.FromSeconds(2), default).WaitAsync(s_wait);

        Assert.False(clean);
        Assert.True(machine.Exited.IsCompleted);
        Assert.False(Processes.IsRunning(machine.Pid));
    }

    [Fact]
    public async Task Soft_reboot_falls_back_to_reset_when_the_guest_ignores_acpi()
    {
        var machine = await StartAsync("vm1");
        var reset = machine.Qmp.WaitForEventAsync("RESET");

        await machine.RebootAsync(hard: false, TimeSpan.FromSeconds(2), default).WaitAsync(s_wait);

        await reset.WaitAsync(s_wait);
        Assert.Equal("running", await machine.QueryStatusAsync(default));
        Assert.False(machine.Exited.IsCompleted);
    }

    [Fact]
    public async Task Hot_plugged_nbd_disk_shows_in_query_block_and_query_pci_and_unplug_without_os_times_out()
    {
        var nbd = await ServeAsync("vol.raw", "vol-0001");
        var machine = await StartAsync("vm1");

        await machine.AttachDiskAsync(new NbdDisk("vdb", "vol-0001", nbd.ExportName, nbd.SocketPath, null, 0, ReadOnly: false, Shareable: true), default);

        var block = await machine.Qmp.ExecuteAsync("query-block");
        var vdb = block.EnumerateArray().Single(b => b.GetProperty("qdev").GetString()!.Contains("disk-vdb", StringComparison.Ordinal));
        var inserted = vdb.GetProperty("inserted");
        Assert.Equal("node-vdb", inserted.GetProperty("node-name").GetString());
        Assert.Equal("nbd", inserted.GetProperty("drv").GetString());
        Assert.False(inserted.GetProperty("cache").GetProperty("writeback").GetBoolean()); // write-cache=off: every write FUA
        Assert.True(inserted.GetProperty("cache").GetProperty("direct").GetBoolean());
        Assert.Contains("disk-vdb", PciDeviceIds(await machine.Qmp.ExecuteAsync("query-pci")));

        var error = await Assert.ThrowsAsync<QemuUnplugTimeoutException>(
            () => machine.DetachDiskAsync("vdb", TimeSpan.FromSeconds(3), default).WaitAsync(s_wait));
        Assert.Contains("vdb", error.Message, StringComparison.Ordinal);
        // The request stays pending; the device and its node are still there.
        Assert.Contains("disk-vdb", PciDeviceIds(await machine.Qmp.ExecuteAsync("query-pci")));
        // Asking again is safe: QEMU says the unplug is in progress and we wait again.
        await Assert.ThrowsAsync<QemuUnplugTimeoutException>(
            () => machine.DetachDiskAsync("vdb", TimeSpan.FromSeconds(1), default).WaitAsync(s_wait));
    }

    [Fact]
    public async Task Mirror_moves_a_disk_onto_a_new_export_and_switches_the_device_to_it_twice()
    {
        var old = await ServeAsync("old.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var moved = await ServeAsync("new.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var back = await ServeAsync("back.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var pattern = System.Security.Cryptography.RandomNumberGenerator.GetBytes(8192);
        await using (var file = new FileStream(_dir["old.raw"], FileMode.Open, FileAccess.Write))
        {
            file.Position = 1 << 20;
            await file.WriteAsync(pattern);
        }

        var machine = await StartAsync("vm1");
        NbdDisk Disk(QemuNbd nbd) => new("vdb", "vol", nbd.ExportName, nbd.SocketPath, null, 0, ReadOnly: false, Shareable: false);
        await machine.AttachDiskAsync(Disk(old), default);

        await machine.MirrorDiskAsync("vdb", Disk(moved), s_wait, default).WaitAsync(s_wait);
        Assert.Equal(pattern, await ReadAtAsync("new.raw", 1 << 20, pattern.Length));
        // The device reads the new node; the old one is closed.
        var nodes = await InsertedNodesAsync(machine);
        Assert.Contains("node-vdb-swap", nodes);
        Assert.DoesNotContain("node-vdb", nodes);

        // A second swap takes the plain name again.
        await machine.MirrorDiskAsync("vdb", Disk(back), s_wait, default).WaitAsync(s_wait);
        Assert.Equal(pattern, await ReadAtAsync("back.raw", 1 << 20, pattern.Length));
        nodes = await InsertedNodesAsync(machine);
        Assert.Contains("node-vdb", nodes);
        Assert.DoesNotContain("node-vdb-swap", nodes);

        // A device that is not there is refused before anything is opened.
        await Assert.ThrowsAsync<QemuException>(() => machine.MirrorDiskAsync("vdc", Disk(moved) with { DeviceName = "vdc" }, s_wait, default));
    }

    private async Task<byte[]> ReadAtAsync(string file, long offset, int length)
    {
        var data = new byte[length];
        await using var stream = File.OpenRead(_dir[file]);
        stream.Position = offset;
        await stream.ReadExactlyAsync(data);
        return data;
    }

    private static async Task<List<string>> InsertedNodesAsync(QemuMachine machine) =>
        [.. (await machine.Qmp.ExecuteAsync("query-block")).EnumerateArray()
            .Where(b => b.TryGetProperty("inserted", out _))
            .Select(b => b.GetProperty("inserted").GetProperty("node-name").GetString()!)
            .Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Nbd_disks_at_boot_are_attached_in_order_and_a_second_attach_of_a_name_fails_cleanly()
    {
        var nbd1 = await ServeAsync("v1.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var nbd2 = await ServeAsync("v2.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var machine = await StartAsync("vm1",
        [
            new NbdDisk("vdb", "vol-1", nbd1.ExportName, nbd1.SocketPath, null, 0, ReadOnly: false, Shareable: false),
            new NbdDisk("vdc", "vol-2", nbd2.ExportName, nbd2.SocketPath, null, 0, ReadOnly: true, Shareable: false),
        ]);

        var block = await machine.Qmp.ExecuteAsync("query-block");
        var nodes = block.EnumerateArray().Where(b => b.TryGetProperty("inserted", out _))
            .ToDictionary(b => b.GetProperty("inserted").GetProperty("node-name").GetString()!, b => b.GetProperty("inserted"));
        Assert.True(nodes["node-vdb"].GetProperty("cache").GetProperty("writeback").GetBoolean());
        Assert.True(nodes["node-vdc"].GetProperty("ro").GetBoolean());
        var ids = PciDeviceIds(await machine.Qmp.ExecuteAsync("query-pci"));
        Assert.True(ids.IndexOf("disk-vda") < ids.IndexOf("disk-vdb") && ids.IndexOf("disk-vdb") < ids.IndexOf("disk-vdc"));

        await Assert.ThrowsAsync<QmpErrorException>(() => machine.AttachDiskAsync(
            new NbdDisk("vdb", "vol-1", nbd1.ExportName, nbd1.SocketPath, null, 0, false, false), default));
        Assert.Equal("running", await machine.QueryStatusAsync(default));

        // Export names are credentials: not in QEMU's argv (readable by every local user), not in our log.
        var argv = await File.ReadAllTextAsync($"/proc/{machine.Pid}/cmdline");
        Assert.DoesNotContain(nbd1.ExportName, argv, StringComparison.Ordinal);
        Assert.DoesNotContain(nbd2.ExportName, argv, StringComparison.Ordinal);
        Assert.DoesNotContain(nbd1.ExportName, _logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Volume_root_disk_is_added_over_qmp_as_vda_before_the_other_volumes()
    {
        var root = await ServeAsync("root.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var data = await ServeAsync("data.raw", Ember.Nbd.NbdExportRegistry.NewExportName());
        var dir = _dir["vm-bfv"];
        var machine = await _driver.StartAsync(new QemuMachineSpec("vm-bfv", dir, 128, 1,
            new NbdDisk("vda", "vol-root", root.ExportName, root.SocketPath, null, 0, ReadOnly: false, Shareable: false),
            [new NbdDisk("vdb", "vol-data", data.ExportName, data.SocketPath, null, 0, ReadOnly: false, Shareable: false)]), default).WaitAsync(s_wait);
        _cleanup.Add(machine);

        Assert.Equal("running", await machine.QueryStatusAsync(default));
        var ids = PciDeviceIds(await machine.Qmp.ExecuteAsync("query-pci"));
        Assert.True(ids.IndexOf("disk-vda") >= 0 && ids.IndexOf("disk-vda") < ids.IndexOf("disk-vdb"), string.Join(", ", ids));
        var argv = await File.ReadAllTextAsync($"/proc/{machine.Pid}/cmdline");
        Assert.DoesNotContain(root.ExportName, argv, StringComparison.Ordinal);
        Assert.DoesNotContain("nbd", argv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tcp_nbd_disk_with_the_client_certificate_attaches_to_embers_tls_listener_and_without_it_does_not()
    {
        using var ours = Ember.Nbd.NbdTlsCredentials.LoadOrCreate(_dir["tls-ours"], ["127.0.0.1", "localhost"]);
        using var theirs = Ember.Nbd.NbdTlsCredentials.LoadOrCreate(_dir["tls-theirs"], ["127.0.0.1", "localhost"]);
        await using var server = new Ember.Nbd.NbdServer(new Ember.Nbd.NbdServerOptions
        {
            TcpEndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            TcpTls = ours,
        }, _loggerFactory);
        await server.StartAsync(default);
        await using (var file = File.Create(_dir["tls.raw"]))
        {
            file.SetLength(64 << 20);
        }

        var export = Ember.Nbd.NbdExportRegistry.NewExportName();
        server.Exports.Add(export, _dir["tls.raw"], readOnly: false);
        var port = server.BoundTcpEndPoint!.Port;
        var machine = await StartAsync("vm1");

        NbdDisk Disk(string device, string? creds) => new(device, "vol-tls", export, null, "127.0.0.1", port, ReadOnly: false, Shareable: false, creds);
        await machine.AttachDiskAsync(Disk("vdb", ours.ClientDirectory), default);
        var block = await machine.Qmp.ExecuteAsync("query-block");
        Assert.Contains(block.EnumerateArray(), b => b.TryGetProperty("inserted", out var i) && i.GetProperty("node-name").GetString() == "node-vdb");

        var plain = await Assert.ThrowsAsync<QmpErrorException>(() => machine.AttachDiskAsync(Disk("vdc", null), default));
        Assert.Contains("TLS", plain.Description, StringComparison.Ordinal);
        await Assert.ThrowsAsync<QmpErrorException>(() => machine.AttachDiskAsync(Disk("vdd", theirs.ClientDirectory), default));
        Assert.Equal("running", await machine.QueryStatusAsync(default));
    }

    [Fact]
    public async Task Guest_without_an_agent_is_reported_unavailable_not_hung()
    {
        var machine = await StartAsync("vm1");

        Assert.False(await machine.Agent.PingAsync(TimeSpan.FromSeconds(2), default).WaitAsync(s_wait));
        var error = await Assert.ThrowsAsync<GuestAgentUnavailableException>(
            () => machine.Agent.ExecAsync("/bin/true", [], null, TimeSpan.FromSeconds(2), default).WaitAsync(s_wait));
        Assert.Contains("agent", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_failure_reports_qemus_error_and_leaves_no_process()
    {
        var dir = _dir["vm-bad"];
        var spec = new QemuMachineSpec("vm-bad", dir, 128, 1, new FileDisk("vda", _dir["missing.qcow2"], "qcow2"), []);

        var error = await Assert.ThrowsAsync<QemuException>(() => _driver.StartAsync(spec, default).WaitAsync(s_wait));

        Assert.Contains("missing.qcow2", error.Message, StringComparison.Ordinal);
        Assert.Null(QemuDriver.FindRunningQemu(dir));
        Assert.False(File.Exists(Path.Combine(dir, "qmp.sock")));
    }

    [Fact]
    public async Task Released_machine_keeps_running_and_is_adopted_from_its_instance_dir()
    {
        var machine = await StartAsync("vm1");
        var pid = machine.Pid;
        await machine.ReleaseAsync();
        Assert.True(Processes.IsRunning(pid));

        var adopted = await _driver.AdoptAsync("vm1", machine.InstanceDir, default);
        Assert.NotNull(adopted);
        _cleanup.Add(adopted);
        Assert.Equal(pid, adopted.Pid);
        Assert.Equal("running", await adopted.QueryStatusAsync(default));

        await adopted.KillAsync();
        Assert.False(Processes.IsRunning(pid));
        Assert.Null(await _driver.AdoptAsync("vm1", machine.InstanceDir, default));
    }

    [Fact]
    public async Task Overlay_is_backed_by_the_image_grown_to_the_flavor_disk_and_never_shrunk()
    {
        var image = _dir["base.raw"];
        await using (var file = File.Create(image))
        {
            file.SetLength(16 << 20);
        }

        await _driver.CreateOverlayAsync(image, "raw", _dir["o/disk.qcow2"], 64 << 20, default);
        Assert.Equal(64L << 20, await _driver.GetVirtualSizeAsync(_dir["o/disk.qcow2"], "qcow2", default));
        await _driver.CreateOverlayAsync(image, "raw", _dir["o/same.qcow2"], null, default);
        Assert.Equal(16L << 20, await _driver.GetVirtualSizeAsync(_dir["o/same.qcow2"], "qcow2", default));

        await Assert.ThrowsAsync<QemuException>(() => _driver.CreateOverlayAsync(image, "raw", _dir["o/small.qcow2"], 8 << 20, default));
    }

    [Fact]
    public async Task Accelerator_probe_answers_without_hanging()
    {
        var driver = new QemuDriver(new QemuDriverOptions(), _loggerFactory);

        var accelerator = await driver.DetectAcceleratorAsync(default).WaitAsync(s_wait);

        Assert.Contains(accelerator, new[] { "kvm", "tcg" });
        if (!File.Exists("/dev/kvm"))
        {
            Assert.Equal("tcg", accelerator);
        }
    }

    private async Task<QemuMachine> StartAsync(string id, IReadOnlyList<NbdDisk>? disks = null)
    {
        var dir = _dir[id];
        var baseImage = _dir["blank.raw"];
        if (!File.Exists(baseImage))
        {
            await using var file = File.Create(baseImage);
            file.SetLength(1 << 20);
        }

        await _driver.CreateOverlayAsync(baseImage, "raw", Path.Combine(dir, "disk.qcow2"), null, default);
        var machine = await _driver.StartAsync(
            new QemuMachineSpec(id, dir, 128, 1, new FileDisk("vda", Path.Combine(dir, "disk.qcow2"), "qcow2"), disks ?? []), default)
            .WaitAsync(s_wait);
        _cleanup.Add(machine);
        return machine;
    }

    private async Task<QemuNbd> ServeAsync(string file, string export)
    {
        await using (var stream = File.Create(_dir[file]))
        {
            stream.SetLength(64 << 20);
        }

        var nbd = await QemuNbd.StartAsync(_dir[file], _dir[file + ".sock"], export);
        _cleanup.Insert(0, nbd); // after every machine
        return nbd;
    }

    private static List<string> PciDeviceIds(JsonElement queryPci) =>
        [.. queryPci.EnumerateArray()
            .SelectMany(bus => bus.GetProperty("devices").EnumerateArray())
            .Where(d => d.TryGetProperty("qdev_id", out _))
            .Select(d => d.GetProperty("qdev_id").GetString()!)];
}
