using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Ember.Compute.Qemu.Tests;

/// <summary>
/// One booted ember-tiny guest (tools/guest-image/build.sh) shared by a test class: a qcow2 overlay on the
/// image, a 64 MiB volume at boot as vdb (qemu-nbd, shareable), and a second export ready for hot-plug.
/// If the image cannot be built or the guest agent never answers, every test of the class fails with the reason.
/// </summary>
public sealed class GuestFixture : IAsyncLifetime
{
    public static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);
    private readonly List<IAsyncDisposable> _cleanup = [];
    private Exception? _failure;
    private QemuMachine? _machine;

    public TempDir Dir { get; } = new();

    public TestLoggerProvider Logs { get; } = new();

    public QemuDriver Driver { get; private set; } = null!;

    public QemuMachine Machine => _failure is null ? _machine! : throw new InvalidOperationException("guest fixture failed: " + _failure.Message, _failure);

    public QemuNbd HotplugExport { get; private set; } = null!;

    public TimeSpan BootToAgent { get; private set; }

    public string ImagePath { get; private set; } = "";

    public async Task InitializeAsync()
    {
        try
        {
            var loggerFactory = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
            Driver = new QemuDriver(new QemuDriverOptions { Accelerator = "tcg" }, loggerFactory);
            ImagePath = await Ember.Testing.GuestImage.PathAsync();
            var boot = await ServeAsync("boot-vol.raw", "vol-boot");
            HotplugExport = await ServeAsync("hot-vol.raw", "vol-hot");

            var dir = Dir["vm"];
            await Driver.CreateOverlayAsync(ImagePath, "qcow2", Path.Combine(dir, "disk.qcow2"), null, default);
            var clock = Stopwatch.StartNew();
            _machine = await Driver.StartAsync(
                new QemuMachineSpec(
                    "guest-1",
                    dir,
                    256,
                    1,
                    new FileDisk("vda", Path.Combine(dir, "disk.qcow2"), "qcow2"),
                    [new NbdDisk("vdb", "vol-boot-0123456789-extra", boot.ExportName, boot.SocketPath, null, 0, ReadOnly: false, Shareable: true)],
                    Kernel: KernelOf(ImagePath)),
                default);
            _cleanup.Add(_machine);
            if (!await _machine.Agent.PingAsync(BootTimeout, default))
            {
                throw new InvalidOperationException(
                    $"the guest agent did not answer within {BootTimeout}; console:\n{ReadConsole()}");
            }

            BootToAgent = clock.Elapsed;
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    /// <summary>
    /// Direct kernel boot, as Ember boots ember-tiny, when the image has its kernel and initramfs beside it
    /// (tools/guest-image/build.sh); an older image boots through its boot loader.
    /// </summary>
    private static KernelBoot? KernelOf(string image)
    {
        var stem = Path.ChangeExtension(image, null);
        return File.Exists(stem + ".kernel") && File.Exists(stem + ".initrd")
            ? new KernelBoot(stem + ".kernel", stem + ".initrd", "console=ttyS0,115200 panic=5 quiet")
            : null;
    }

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_cleanup))
        {
            await item.DisposeAsync();
        }

        Logs.Dispose();
        Dir.Dispose();
    }

    public string ReadConsole()
    {
        var path = _machine?.ConsoleLogPath;
        if (path is null || !File.Exists(path))
        {
            return "(no console log)";
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private async Task<QemuNbd> ServeAsync(string file, string export)
    {
        await using (var stream = File.Create(Dir[file]))
        {
            stream.SetLength(64 << 20);
        }

        var nbd = await QemuNbd.StartAsync(Dir[file], Dir[file + ".sock"], export);
        _cleanup.Insert(0, nbd);
        return nbd;
    }
}
