using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Ember.Compute.Qemu;
using Ember.Image.Format;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// A compute host's copies of images it cannot open where they are stored (over the Image API from another machine,
/// or in an RBD pool), as files DATA/image-cache/&lt;sha512&gt; (Glance's os_hash_value). A copy is checked against
/// the hash while it streams and takes the cache name only when complete; every use inspects it again. One copy per
/// image however many servers boot from it at once. <see cref="ImageCacheCleaner"/> removes the unused ones.
/// </summary>
public sealed partial class ImageCache(IOptions<EmberOptions> ember, ILogger<ImageCache> logger)
{
    private readonly string _directory = DirectoryOf(ember.Value);

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _copies = new(StringComparer.Ordinal);

    public static string DirectoryOf(EmberOptions ember) => Path.Combine(ember.DataDir, "image-cache");

    /// <summary>The image's data that the remaining arguments describe, a stream from its start; disposed by the cache.</summary>
    public delegate Task<Stream> OpenData(CancellationToken cancellationToken);

    /// <summary>
    /// The cached file of image <paramref name="imageId"/>, copied from <paramref name="open"/> when it is not there yet,
    /// judged in <paramref name="diskFormat"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No usable sha512, or the data is not its disk_format.</exception>
    /// <exception cref="InvalidDataException">The data streamed is not <paramref name="size"/> bytes or does not match the hash.</exception>
    public async Task<ImageBase> FetchAsync(string imageId, string? sha512, long size, string diskFormat, OpenData open, CancellationToken cancellationToken)
    {
        // The hash names the cache file, so it must be exactly what Glance gives: 128 hex digits, nothing else.
        if (sha512 is null || !Sha512Hex().IsMatch(sha512))
        {
            throw new InvalidOperationException($"Image {imageId} has no sha512 os_hash_value to check its data against.");
        }

        var path = Path.Combine(_directory, sha512);
        var gate = _copies.GetOrAdd(sha512, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(path))
            {
                await CopyAsync(imageId, sha512, size, path, open, cancellationToken);
            }
        }
        finally
        {
            gate.Release();
        }

        var verdict = DiskFormats.Judge(diskFormat, await ImageFiles.InspectAsync(path, cancellationToken));
        return verdict.Accepted ? new ImageBase(path, diskFormat) : throw new InvalidOperationException($"Image {imageId} is unacceptable: {verdict.Reason}");
    }

    /// <summary>Streams the data into a private temp file, hashing it; only a complete, matching file gets the cache name.</summary>
    private async Task CopyAsync(string imageId, string sha512, long size, string path, OpenData open, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".partial";
        try
        {
            await using (var source = await open(cancellationToken))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
                var options = new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    Options = FileOptions.Asynchronous,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                };
                await using var file = new FileStream(temp, options);
                var buffer = new byte[1 << 20];
                long written = 0;
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    written += read;
                    if (written > size)
                    {
                        throw new InvalidDataException($"Image {imageId} sent more than its size of {size} bytes.");
                    }

                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                if (written != size)
                {
                    throw new InvalidDataException($"Image {imageId} sent {written} of its {size} bytes.");
                }

                if (!Convert.ToHexStringLower(hash.GetHashAndReset()).Equals(sha512, StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"Image {imageId}'s data does not match its os_hash_value.");
                }
            }

            File.Move(temp, path);
            LogCached(logger, imageId, size, sha512[..12]);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    [GeneratedRegex("^[0-9a-f]{128}$")]
    private static partial Regex Sha512Hex();

    [LoggerMessage(Level = LogLevel.Information, Message = "Cached image {ImageId} ({Size} bytes) as {HashPrefix}…")]
    private static partial void LogCached(ILogger logger, string imageId, long size, string hashPrefix);
}
