using Dapper;
using Ember.Server.Common;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Image;

/// <summary>
/// Glance's staging area for the interoperable import (glance-direct): PUT .../stage writes the body to
/// DATA/images/staging/&lt;id&gt; (0700 directory, 0600 file) and leaves the image "uploading"; POST .../import
/// makes it "importing" and the staged file then becomes the image's data with every check of an upload.
/// </summary>
public sealed partial class ImageStore
{
    private string StagingDirectory => Path.Combine(_uploadDirectory, "staging");

    /// <summary>Where image <paramref name="id"/>'s staged data is, if it has any.</summary>
    public string StagedFileOf(string id) => Path.Combine(StagingDirectory, id);

    /// <summary>Removes image <paramref name="id"/>'s staged data; none (not even a staging directory yet) is not an error.</summary>
    private void DeleteStaged(string id)
    {
        try
        {
            File.Delete(StagedFileOf(id));
        }
        catch (DirectoryNotFoundException)
        {
            // No image has been staged yet.
        }
    }

    /// <summary>
    /// Streams <paramref name="source"/> into the staging area: queued → uploading, the size recorded once the body is
    /// whole. The storage quota counts the staged bytes as it counts an upload's. Anything that stops the body (a
    /// cut-off connection, the size cap, the quota) leaves no file and the image queued.
    /// </summary>
    public async Task StageAsync(ImageRow image, Stream source, long? announcedSize, CancellationToken cancellationToken)
    {
        var quota = options.Value.StorageQuotaBytes;
        var stored = quota < 0 ? 0 : await StoredBytesAsync(image.Owner, image.Id);
        if (quota >= 0 && announcedSize is { } announced && stored + announced > quota)
        {
            throw StorageQuotaFull(announced, quota - stored);
        }

        if (!await TransitionAsync(image.Id, "queued", "uploading"))
        {
            var now = (await FindAsync(image.Id))?.Status ?? image.Status;
            throw ApiException.Conflict($"Image status transition from {now} to uploading is not allowed");
        }

        Directory.CreateDirectory(StagingDirectory, DataDirectory.PrivateDirectory);
        var path = StagedFileOf(image.Id);
        long received = 0;
        try
        {
            // A queued image has no staged data: a file here is a leftover and is replaced.
            File.Delete(path);
            await using (var file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Options = FileOptions.Asynchronous,
                UnixCreateMode = DataDirectory.PrivateFile,
            }))
            {
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        received += read;
                        var uploading = _uploading.AddOrUpdate(image.Owner, read, (_, total) => total + read);
                        if (quota >= 0 && stored + uploading > quota)
                        {
                            throw StorageQuotaFull(received, quota - stored - (uploading - received));
                        }

                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }

                await file.FlushAsync(cancellationToken);
            }

            await using var c = await db.OpenAsync(CancellationToken.None);
            if (await c.ExecuteAsync("UPDATE images SET size = @Size, updated_at = @Now WHERE id = @Id AND status = 'uploading'",
                    new { image.Id, Size = received, Now = Ids.Now() }) == 0)
            {
                throw ApiException.Conflict($"Image {image.Id} could not be found after upload. The image may have been deleted during the upload.");
            }
        }
        catch
        {
            DeleteStaged(image.Id);
            await TransitionAsync(image.Id, "uploading", "queued");
            throw;
        }
        finally
        {
            _uploading.AddOrUpdate(image.Owner, 0, (_, total) => total - received);
        }
    }

    /// <summary>
    /// The glance-direct import of an image the caller has moved to "importing": the staged file is hashed, inspected
    /// against the disk_format and becomes the image's data (active). On any failure the image goes back to queued
    /// and the staged data is removed, as Glance's import flow reverts. Returns null, or why the data was refused.
    /// </summary>
    public async Task<string?> ImportStagedAsync(ImageRow image, CancellationToken cancellationToken)
    {
        var path = StagedFileOf(image.Id);
        try
        {
            await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
            await ReceiveAsync(image, source, null, source.Length, path, "importing", cancellationToken);
            LogImported(logger, image.Id, source.Length);
            return null;
        }
        catch (Exception e)
        {
            LogImportFailed(logger, image.Id, e.Message);
            await RequeueAsync(image.Id, "importing");
            if (e is not ApiException)
            {
                throw; // the background runner logs what is not a refusal of the data
            }

            return e.Message;
        }
        finally
        {
            DeleteStaged(image.Id);
        }
    }

    /// <summary>Back to queued with no size: the data that was on its way is gone.</summary>
    private async Task RequeueAsync(string id, string from)
    {
        await using var c = await db.OpenAsync(CancellationToken.None);
        await c.ExecuteAsync("UPDATE images SET status = 'queued', size = NULL, updated_at = @Now WHERE id = @Id AND status = @From",
            new { Id = id, From = from, Now = Ids.Now() });
    }

    /// <summary>
    /// At start, before any request: what a stop interrupted. An image whose stage was cut off (uploading, no size or
    /// not that many bytes staged) and one whose import was (importing) go back to queued without their staged data,
    /// as a failed import does; a complete stage stays uploading and can still be imported. Staged files of images
    /// that are gone or in any other status are removed.
    /// </summary>
    public async Task RecoverStagingAsync()
    {
        await using (var c = await db.OpenAsync())
        {
            var staging = await c.QueryAsync<ImageRow>($"SELECT {Columns} FROM images WHERE status IN ('uploading', 'importing')");
            foreach (var image in staging)
            {
                var file = new FileInfo(StagedFileOf(image.Id));
                if (image.Status == "importing" || image.Size is not { } size || !file.Exists || file.Length != size)
                {
                    DeleteStaged(image.Id);
                    await RequeueAsync(image.Id, image.Status);
                    LogRequeued(logger, image.Id, image.Status);
                }
            }
        }

        if (!Directory.Exists(StagingDirectory))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(StagingDirectory))
        {
            if (await FindAsync(Path.GetFileName(file)) is not { Status: "uploading" })
            {
                File.Delete(file);
                LogOrphanRemoved(logger, file);
            }
        }
    }

    /// <summary>A project's image storage as Glance's /v2/info/usage counts it.</summary>
    public async Task<ImageUsage> UsageAsync(string owner)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleAsync<ImageUsage>("""
            SELECT CAST(COALESCE(SUM(CASE WHEN status IN ('active', 'uploading', 'importing') THEN size END), 0) AS BIGINT) AS StoredBytes,
                   CAST(COALESCE(SUM(CASE WHEN status IN ('uploading', 'importing') THEN size END), 0) AS BIGINT) AS StagedBytes,
                   CAST(COUNT(*) AS BIGINT) AS Images,
                   CAST(COALESCE(SUM(CASE WHEN status IN ('saving', 'uploading', 'importing') THEN 1 ELSE 0 END), 0) AS BIGINT) AS Uploading
            FROM images WHERE owner = @Owner
            """, new { Owner = owner });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Image {ImageId} imported from staging ({Bytes} bytes)")]
    private static partial void LogImported(ILogger logger, string imageId, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Import of image {ImageId} failed, back to queued: {Reason}")]
    private static partial void LogImportFailed(ILogger logger, string imageId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image {ImageId} was {Status} when Ember stopped; back to queued without its staged data")]
    private static partial void LogRequeued(ILogger logger, string imageId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed staged data {Path} that no image is waiting for")]
    private static partial void LogOrphanRemoved(ILogger logger, string path);
}

/// <summary>What a project's images hold: bytes stored (active and staged, as the storage quota counts them), bytes staged, images, images receiving data.</summary>
public sealed record ImageUsage(long StoredBytes, long StagedBytes, long Images, long Uploading);
