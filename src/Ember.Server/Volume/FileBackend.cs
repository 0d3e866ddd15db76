using Ember.Compute.Qemu;
using Ember.Processes;
using Ember.Server.Image;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume;

/// <summary>One sparse raw file per volume under DATA/volumes (volume-&lt;id&gt;, snapshot-&lt;id&gt;).</summary>
public sealed class FileBackend(IOptions<EmberOptions> options) : IVolumeBackend
{
    public string Directory { get; } = Path.Combine(options.Value.DataDir, "volumes");

    public string HostName { get; } = $"{options.Value.HostName.ToLowerInvariant()}@file#file";

    public BackendDescription Description { get; } = new("file", "nbd", "1.0.0", "Ember");

    public string ExportPath(string volumeId) => Path.Combine(Directory, "volume-" + volumeId);

    public string SnapshotPath(string snapshotId) => Path.Combine(Directory, "snapshot-" + snapshotId);

    /// <summary>Nothing to connect to: DATA/volumes is made when the first volume is.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Files are always served over NBD; multi-attach needs nothing of the file.</summary>
    public VolumeAccess AccessOf(string volumeId, bool readOnly, bool multiattach) => new ServedOverNbd(ExportPath(volumeId));

    public Task CreateAsync(NewVolume volume, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        // SetLength on a new file makes a hole: no blocks until the guest writes.
        using var file = new FileStream(ExportPath(volume.Id), FileMode.CreateNew, FileAccess.Write);
        file.SetLength(volume.SizeBytes);
        return Task.CompletedTask;
    }

    /// <summary>The filesystem that holds DATA/volumes.</summary>
    public Task<PoolCapacity> CapacityAsync(CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var drive = new DriveInfo(Directory);
        return Task.FromResult(new PoolCapacity(drive.TotalSize, drive.AvailableFreeSpace));
    }

    public Task ExtendAsync(string volumeId, long newSizeBytes, CancellationToken cancellationToken)
    {
        using var file = new FileStream(ExportPath(volumeId), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        if (newSizeBytes > file.Length)
        {
            file.SetLength(newSizeBytes);
        }

        return Task.CompletedTask;
    }

    public Task DeleteAsync(string volumeId, CancellationToken cancellationToken)
    {
        File.Delete(ExportPath(volumeId));
        return Task.CompletedTask;
    }

    public Task CloneAsync(string sourceVolumeId, NewVolume volume, CancellationToken cancellationToken) =>
        CopySparseAsync(ExportPath(sourceVolumeId), ExportPath(volume.Id), volume.SizeBytes, cancellationToken);

    public Task CreateSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken) =>
        CopySparseAsync(ExportPath(volumeId), SnapshotPath(snapshotId), null, cancellationToken);

    public Task DeleteSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken)
    {
        File.Delete(SnapshotPath(snapshotId));
        return Task.CompletedTask;
    }

    public Task CreateFromSnapshotAsync(string snapshotVolumeId, string snapshotId, NewVolume volume, CancellationToken cancellationToken) =>
        CopySparseAsync(SnapshotPath(snapshotId), ExportPath(volume.Id), volume.SizeBytes, cancellationToken);

    /// <summary>
    /// Converts the image to the raw volume file. A file is inspected again first (it is refused if its bytes are
    /// not its disk_format or name another file; data in RBD is an immutable snapshot, checked when it was chosen),
    /// and qemu-img is given the format and a source with no backing, so nothing but the image itself is ever read.
    /// </summary>
    public async Task CopyImageAsync(ImageLocation image, NewVolume volume, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (image is ImageFileLocation file)
        {
            await ImageFiles.VerifyAsync(file.Path, file.DiskFormat, cancellationToken);
        }

        var target = ExportPath(volume.Id);
        // -S 4k keeps zero runs as holes; -n is not used so qemu-img creates the target itself.
        await RunAsync("qemu-img", ["convert", "-q", "-f", ImageFiles.QemuFormat(image.DiskFormat), "-O", "raw", "-S", "4k",
            image.QemuImgSource(), target], cancellationToken);
        await ExtendAsync(volume.Id, volume.SizeBytes, cancellationToken);
    }

    public Task CopyToFileAsync(string volumeId, string path, string diskFormat, CancellationToken cancellationToken) =>
        RunAsync("qemu-img", ["convert", "-q", "-f", "raw", "-O", ImageFiles.QemuFormat(diskFormat),
            ImageFiles.QemuImgSource(ExportPath(volumeId), "raw"), path], cancellationToken);

    public Task CopySnapshotToFileAsync(string volumeId, string snapshotId, string path, CancellationToken cancellationToken) =>
        RunAsync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "raw", ImageFiles.QemuImgSource(SnapshotPath(snapshotId), "raw"), path], cancellationToken);

    /// <summary>-n writes into the volume's file as it is (never recreated, so its size stays); zero runs are written as zeros.</summary>
    public Task CopyFromFileAsync(string volumeId, string path, CancellationToken cancellationToken) =>
        RunAsync("qemu-img", ["convert", "-q", "-n", "-f", "raw", "-O", "raw", ImageFiles.QemuImgSource(path, "raw"), ExportPath(volumeId)], cancellationToken);

    /// <summary>cp keeps holes and reflinks where the filesystem can; the target is then grown to the volume size.</summary>
    private async Task CopySparseAsync(string source, string target, long? sizeBytes, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        await RunAsync("cp", ["--sparse=always", "--reflink=auto", source, target], cancellationToken);
        if (sizeBytes is { } size)
        {
            using var file = new FileStream(target, FileMode.Open, FileAccess.Write);
            if (size > file.Length)
            {
                file.SetLength(size);
            }
        }
    }

    /// <summary>Runs a copy tool to the end: no timeout (a large volume takes as long as it takes), but a shutdown kills it.</summary>
    /// <exception cref="ProcessFailedException">The tool could not start or failed; the message ends with its stderr.</exception>
    private static async Task RunAsync(string program, string[] arguments, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync(program, arguments, cancellationToken: cancellationToken)).EnsureSuccess();
}
