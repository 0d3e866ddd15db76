using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Compute.Qemu;
using Ember.Image.Format;
using Ember.OpenStack;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// A compute host on another machine: images come over the Image API, streamed into this host's cache under
/// their sha512 (Glance's os_hash_value), checked against it while they stream, and inspected at every use as
/// the all-in-one source does. One download per image however many servers boot from it at once.
/// </summary>
public sealed partial class ImageApiSource(OpenStackClient controller, string cacheDirectory, ILogger<ImageApiSource> logger) : IHostImageSource
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _downloads = new(StringComparer.Ordinal);

    public async Task<ImageBase> FetchAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var meta = await controller.RequestJsonAsync(HttpMethod.Get, await ImageUrlAsync(image.Id, "", cancellationToken), null, null, cancellationToken) as JsonObject
            ?? throw new InvalidDataException($"Image {image.Id}: the Image API's reply is not a JSON object.");
        if (meta["status"]?.GetValue<string>() != "active")
        {
            throw new InvalidOperationException($"Image {image.Id} is {meta["status"]}, not active.");
        }

        // The hash names the cache file, so it must be exactly what Glance gives: 128 hex digits, nothing else.
        var hash = meta["os_hash_algo"]?.GetValue<string>() == "sha512" ? meta["os_hash_value"]?.GetValue<string>() : null;
        if (hash is null || !Sha512Hex().IsMatch(hash))
        {
            throw new InvalidOperationException($"Image {image.Id} has no sha512 os_hash_value to check its data against.");
        }

        var size = meta["size"]?.GetValue<long>() ?? throw new InvalidOperationException($"Image {image.Id} has no size.");
        var diskFormat = meta["disk_format"]?.GetValue<string>() ?? "raw";
        var path = Path.Combine(cacheDirectory, hash);
        var gate = _downloads.GetOrAdd(hash, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(path))
            {
                await DownloadAsync(image.Id, hash, size, path, cancellationToken);
            }
        }
        finally
        {
            gate.Release();
        }

        var verdict = DiskFormats.Judge(diskFormat, await ImageFiles.InspectAsync(path, cancellationToken));
        if (!verdict.Accepted)
        {
            throw new InvalidOperationException($"Image {image.Id} is unacceptable: {verdict.Reason}");
        }

        return new ImageBase(path, diskFormat);
    }

    /// <summary>Streams the data into a private temp file, hashing it; only a complete, matching file gets the cache name.</summary>
    private async Task DownloadAsync(string imageId, string hash, long size, string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(cacheDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".partial";
        try
        {
            using var response = await controller.SendAsync(HttpMethod.Get, await ImageUrlAsync(imageId, "/file", cancellationToken), null, null, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await OpenStackException.ReadAsync(response, cancellationToken);
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            await using (var file = new FileStream(temp, options))
            {
                var buffer = new byte[1 << 20];
                long written = 0;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    written += read;
                    if (written > size)
                    {
                        throw new InvalidDataException($"Image {imageId} sent more than its size of {size} bytes.");
                    }

                    sha512.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                if (written != size)
                {
                    throw new InvalidDataException($"Image {imageId} sent {written} of its {size} bytes.");
                }
            }

            if (!Convert.ToHexStringLower(sha512.GetHashAndReset()).Equals(hash, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Image {imageId}'s data does not match its os_hash_value.");
            }

            File.Move(temp, path);
            LogCached(logger, imageId, size, hash[..12]);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>The catalog's image endpoint is unversioned: v2 is this client's choice.</summary>
    private async Task<string> ImageUrlAsync(string imageId, string suffix, CancellationToken cancellationToken) =>
        await controller.EndpointAsync("image", cancellationToken) + $"/v2/images/{Uri.EscapeDataString(imageId)}{suffix}";

    [GeneratedRegex("^[0-9a-f]{128}$")]
    private static partial Regex Sha512Hex();

    [LoggerMessage(Level = LogLevel.Information, Message = "Cached image {ImageId} ({Size} bytes) as {HashPrefix}…")]
    private static partial void LogCached(ILogger logger, string imageId, long size, string hashPrefix);
}
