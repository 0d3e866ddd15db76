using System.Buffers;
using System.Text.Json.Nodes;
using Ember.Image.Format;
using Microsoft.Win32.SafeHandles;

namespace Ember.Compute.Qemu;

/// <summary>
/// Image files on disk: their inspection (reading only the header ranges the inspector asks for) and the way
/// qemu-img is told to open one without following anything the file names.
/// </summary>
public static class ImageFiles
{
    /// <summary>Inspects a stored image file by positional reads of the ranges <see cref="ImageInspector"/> wants.</summary>
    public static async Task<ImageInspection> InspectAsync(string path, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        return await InspectAsync(handle, cancellationToken);
    }

    public static Task<ImageInspection> InspectAsync(SafeFileHandle handle, CancellationToken cancellationToken)
    {
        var inspector = new ImageInspector();
        inspector.SetLength(RandomAccess.GetLength(handle));
        return FinishAsync(inspector, handle, cancellationToken);
    }

    /// <summary>Reads into <paramref name="buffer"/> at <paramref name="offset"/> of an image; 0 at its end.</summary>
    public delegate ValueTask<int> ReadAt(long offset, Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Feeds <paramref name="inspector"/> (its length already set) the ranges it still wants from a file, then inspects.</summary>
    public static Task<ImageInspection> FinishAsync(ImageInspector inspector, SafeFileHandle handle, CancellationToken cancellationToken) =>
        FinishAsync(inspector, (offset, buffer, ct) => RandomAccess.ReadAsync(handle, buffer, offset, ct), cancellationToken);

    /// <summary>Feeds <paramref name="inspector"/> (its length already set) the ranges it still wants, then inspects.</summary>
    public static async Task<ImageInspection> FinishAsync(ImageInspector inspector, ReadAt read, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ImageInspector.HeadSize);
        try
        {
            // A handful of ranges at most (head, tables, names); the cap only guards against a loop.
            for (var reads = 0; reads < 256 && inspector.NextWanted is { } range; reads++)
            {
                if (buffer.Length < range.Length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(range.Length);
                }

                var count = await read(range.Offset, buffer.AsMemory(0, range.Length), cancellationToken);
                if (count == 0)
                {
                    break; // shorter than its length said (truncated meanwhile): Inspect reports what was not seen
                }

                inspector.Feed(range.Offset, buffer.AsSpan(0, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return inspector.Inspect();
    }

    /// <summary>
    /// The judged inspection of a stored image in its Glance disk_format; throws with the reason when the bytes
    /// are not in that format or reach outside the file.
    /// </summary>
    /// <exception cref="QemuException">The image is refused.</exception>
    public static async Task<ImageInspection> VerifyAsync(string path, string? diskFormat, CancellationToken cancellationToken)
    {
        var verdict = DiskFormats.Judge(diskFormat, await InspectAsync(path, cancellationToken));
        return verdict.Accepted ? verdict.Inspection : throw new QemuException(verdict.Reason!);
    }

    /// <summary>QEMU's block driver for a Glance disk_format (an ISO is read as raw); anything else is refused rather than handed to QEMU.</summary>
    /// <exception cref="QemuException">A format QEMU is never given.</exception>
    public static string QemuFormat(string format) =>
        DiskFormats.QemuDriver(format)
            ?? throw new QemuException($"unsupported disk format '{format}' (supported: {string.Join(", ", DiskFormats.All.Where(f => f.QemuDriver is not null).Select(f => f.Name))})");

    /// <summary>
    /// A qemu-img source that names the format and opens no backing file, whatever the header says:
    /// <c>json:{"driver":FMT,"backing":null,"file":{"driver":"file","filename":PATH}}</c>.
    /// </summary>
    public static string QemuImgSource(string path, string diskFormat) =>
        QemuImgSource(new JsonObject { ["driver"] = "file", ["filename"] = Path.GetFullPath(path) }, diskFormat);

    /// <summary>The same with another protocol node under the format, e.g. <see cref="QemuRbdFile"/>.</summary>
    public static string QemuImgSource(JsonObject file, string diskFormat) => "json:" + new JsonObject
    {
        ["driver"] = QemuFormat(diskFormat),
        ["backing"] = null,
        ["file"] = file,
    }.ToJsonString();

    /// <summary>QEMU's rbd protocol node for a legacy <c>rbd:pool/image@snap:key=value...</c> filename.</summary>
    public static JsonObject QemuRbdFile(string rbdFilename) => new() { ["driver"] = "rbd", ["filename"] = rbdFilename };
}
