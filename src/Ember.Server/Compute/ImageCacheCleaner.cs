using System.Text.RegularExpressions;
using Ember.Compute.Qemu;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// Trims a compute host's image cache (DATA/image-cache/&lt;sha512&gt;, which <see cref="ImageApiSource"/> fills) as
/// Nova's image cache manager does: every <see cref="ComputeOptions.ImageCacheIntervalSeconds"/> it removes the cached
/// images that back no instance overlay on this host (DATA/instances/*/disk) and have gone unused for
/// <see cref="ComputeOptions.ImageCacheMinimumAgeSeconds"/>. A pass sets the modification time of each image in use to
/// now, as Nova's does, so a file's age is the time since a pass last saw it used, or since its download.
/// </summary>
public sealed partial class ImageCacheCleaner(
    IOptions<EmberOptions> ember,
    IOptions<ComputeOptions> compute,
    ComputeStore store,
    TimeProvider clock,
    ILogger<ImageCacheCleaner> logger) : BackgroundService
{
    public string CacheDirectory { get; } = ImageCache.DirectoryOf(ember.Value);

    public string InstancesDirectory { get; } = Path.Combine(ember.Value.DataDir, "instances");

    /// <summary>
    /// One pass; returns the files it removed. Only complete cache entries (128 hex digits) are candidates: a download
    /// in progress writes to another name and takes the cache name only once complete. Nothing is removed while a
    /// server on this host is being built or has a task under way: it may have fetched its image and not yet
    /// created the overlay that would show the image in use.
    /// </summary>
    public async Task<IReadOnlyList<string>> CleanAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(CacheDirectory))
        {
            return [];
        }

        var cached = Directory.EnumerateFiles(CacheDirectory).Where(f => CacheName().IsMatch(Path.GetFileName(f))).ToList();
        if (cached.Count == 0)
        {
            return [];
        }

        var inUse = await BackingFilesAsync(cancellationToken);
        var busy = (await store.ListServersOnHostAsync(ember.Value.HostName)).FirstOrDefault(s => s.VmState == VmStates.Building || s.TaskState is not null);
        if (busy is not null)
        {
            LogPassSkipped(logger, busy.Id);
            return [];
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var minimumAge = TimeSpan.FromSeconds(compute.Value.ImageCacheMinimumAgeSeconds);
        var removed = new List<string>();
        foreach (var file in cached)
        {
            try
            {
                if (inUse.Contains(file))
                {
                    File.SetLastWriteTimeUtc(file, now);
                }
                else if (now - File.GetLastWriteTimeUtc(file) >= minimumAge)
                {
                    File.Delete(file);
                    removed.Add(file);
                    LogRemoved(logger, Path.GetFileName(file)[..12]);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogFileFailed(logger, file, ex.Message);
            }
        }

        return removed;
    }

    /// <summary>The full paths of the backing files of this host's instance overlays; an overlay that cannot be read fails the pass.</summary>
    private async Task<HashSet<string>> BackingFilesAsync(CancellationToken cancellationToken)
    {
        var backing = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(InstancesDirectory))
        {
            return backing;
        }

        foreach (var dir in Directory.EnumerateDirectories(InstancesDirectory))
        {
            var overlay = Path.Combine(dir, "disk");
            if (File.Exists(overlay))
            {
                foreach (var name in (await ImageFiles.InspectAsync(overlay, cancellationToken)).BackingFiles)
                {
                    backing.Add(Path.GetFullPath(name, dir));
                }
            }
        }

        return backing;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(compute.Value.ImageCacheIntervalSeconds), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CleanAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // An overlay that could not be read (being written, say): nothing was removed; the next pass tries again.
                    LogPassFailed(logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    [GeneratedRegex("^[0-9a-f]{128}$")]
    private static partial Regex CacheName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed unused cached image {HashPrefix}…")]
    private static partial void LogRemoved(ILogger logger, string hashPrefix);

    [LoggerMessage(Level = LogLevel.Information, Message = "Image cache pass skipped: server {ServerId} on this host is being built or has a task under way")]
    private static partial void LogPassSkipped(ILogger logger, string serverId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot trim cached image {File}: {Reason}")]
    private static partial void LogFileFailed(ILogger logger, string file, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image cache pass failed, nothing removed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
