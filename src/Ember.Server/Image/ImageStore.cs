using System.Security.Cryptography;
using Dapper;
using Ember.Compute.Qemu;
using Ember.Image.Format;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>Image rows in the database, and the image bytes they describe in <see cref="IImageData"/>.</summary>
public sealed partial class ImageStore(Database db, IImageData data, IOptions<EmberOptions> host, IOptions<ImageOptions> options, ILogger<ImageStore> logger)
{
    private const string Columns = "id, name, status, visibility, protected, os_hidden, disk_format, container_format, size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, owner, tags, properties, created_at, updated_at";

    /// <summary>Bytes each project's uploads in progress have received, counted against its storage quota.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _uploading = new(StringComparer.Ordinal);

    /// <summary>Where uploads are received before they are checked and stored (DATA/images, whatever the store).</summary>
    private readonly string _uploadDirectory = FileImageData.DirectoryOf(host.Value);

    /// <summary>A new private file path where data of image <paramref name="id"/> is received or produced before it is checked and stored.</summary>
    public string NewStagingPath(string id)
    {
        Directory.CreateDirectory(_uploadDirectory);
        return Path.Combine(_uploadDirectory, id + ".staged-" + Ids.NewHexId());
    }

    public async Task InsertAsync(ImageRow row)
    {
        await using var c = await db.OpenAsync();
        try
        {
            await c.ExecuteAsync($"""
                INSERT INTO images ({Columns}) VALUES (@Id, @Name, @Status, @Visibility, @Protected, @OsHidden, @DiskFormat, @ContainerFormat,
                  @Size, @VirtualSize, @Checksum, @OsHashAlgo, @OsHashValue, @MinDisk, @MinRam, @Owner, @Tags, @Properties, @CreatedAt, @UpdatedAt)
                """, row);
        }
        catch (System.Data.Common.DbException ex) when (Database.IsUniqueViolation(ex))
        {
            throw ApiException.Conflict($"Image with identifier {row.Id} already exists!");
        }
    }

    public async Task<ImageRow?> FindAsync(string id)
    {
        await using var c = await db.OpenAsync();
        return await c.QuerySingleOrDefaultAsync<ImageRow>($"SELECT {Columns} FROM images WHERE id = @Id", new { Id = id });
    }

    public async Task<IReadOnlyList<ImageRow>> ListAsync()
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<ImageRow>($"SELECT {Columns} FROM images ORDER BY created_at DESC, id DESC")];
    }

    /// <summary>Writes every mutable column; the caller has already checked what may change.</summary>
    public async Task UpdateAsync(ImageRow row)
    {
        await using var c = await db.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE images SET name = @Name, visibility = @Visibility, protected = @Protected, os_hidden = @OsHidden,
              disk_format = @DiskFormat, container_format = @ContainerFormat, min_disk = @MinDisk, min_ram = @MinRam,
              tags = @Tags, properties = @Properties, owner = @Owner, updated_at = @UpdatedAt WHERE id = @Id
            """, row with { UpdatedAt = Ids.Now() });
    }

    /// <summary>Compare-and-swap on status; false when someone else moved the image first.</summary>
    public async Task<bool> TransitionAsync(string id, string from, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE images SET status = @To, updated_at = @Now WHERE id = @Id AND status = @From",
            new { Id = id, From = from, To = to, Now = Ids.Now() }) == 1;
    }

    /// <summary>
    /// Removes the data, then the row: data that something outside the image service still uses (an RBD snapshot
    /// with clones) is Glance's 409, and the image stays as it was.
    /// </summary>
    public async Task<bool> DeleteAsync(string id)
    {
        try
        {
            await data.DeleteAsync(id, CancellationToken.None);
        }
        catch (ImageInUseException e)
        {
            throw ApiException.Conflict($"Image {id} could not be deleted because it is in use: {e.Message}");
        }

        DeleteStaged(id);
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM images WHERE id = @Id", new { Id = id }) == 1;
    }

    /// <summary>A seekable stream of an image's data, or null when it has none.</summary>
    public Task<Stream?> OpenDataAsync(string id, CancellationToken cancellationToken) => data.OpenReadAsync(id, cancellationToken);

    /// <summary>Where volume backends and compute hosts read an image's data.</summary>
    public ImageLocation LocationOf(ImageRow image) => data.LocationOf(image.Id, image.DiskFormat ?? "raw");

    /// <summary>
    /// Streams <paramref name="source"/> to the image file while hashing and inspecting it, then marks the image
    /// active. The bytes go to a temporary file first: a failed, cut-off or refused upload leaves no file and the
    /// image queued. Bytes that are not the declared disk_format, or an image that names any other file (backing
    /// file, data file, external extent), are refused with 400 as Glance's image inspection does.
    /// </summary>
    /// <remarks>
    /// The project's storage quota counts its active images plus the bytes its uploads have received so far: a body
    /// announced larger than what is left is refused before it is read, and any upload stops (413) at the byte
    /// that would pass the quota.
    /// </remarks>
    public Task<ImageRow> UploadAsync(ImageRow image, Stream source, long? expectedSize, long? announcedSize, CancellationToken cancellationToken) =>
        ReceiveAsync(image, source, expectedSize, announcedSize, null, "saving", cancellationToken);

    /// <summary>
    /// The same for data already written to <paramref name="stagedFile"/> (from <see cref="NewStagingPath"/>): it is
    /// hashed and inspected where it is and becomes the image's data, with no second copy; it is gone afterwards.
    /// </summary>
    public async Task<ImageRow> UploadStagedAsync(ImageRow image, string stagedFile, CancellationToken cancellationToken)
    {
        await using var source = new FileStream(stagedFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        return await ReceiveAsync(image, source, null, source.Length, stagedFile, "saving", cancellationToken);
    }

    /// <summary>
    /// Hashes, inspects and stores <paramref name="source"/>, copied to a temp file unless it is <paramref name="stagedFile"/>.
    /// The image is in <paramref name="working"/> meanwhile: "saving" (an upload; this moves it there from queued) or
    /// "importing" (the import API has already moved it).
    /// </summary>
    private async Task<ImageRow> ReceiveAsync(ImageRow image, Stream source, long? expectedSize, long? announcedSize, string? stagedFile,
        string working, CancellationToken cancellationToken)
    {
        var quota = options.Value.StorageQuotaBytes;
        var stored = quota < 0 ? 0 : await StoredBytesAsync(image.Owner, image.Id);
        if (quota >= 0 && announcedSize is { } announced && stored + announced > quota)
        {
            throw StorageQuotaFull(announced, quota - stored);
        }

        if (working == "saving" && !await TransitionAsync(image.Id, "queued", "saving"))
        {
            throw ApiException.Conflict($"Image status transition from {image.Status} to saving is not allowed");
        }

        var temp = stagedFile ?? NewStagingPath(image.Id);
        long received = 0;
        void Count(int bytes)
        {
            received += bytes;
            var uploading = _uploading.AddOrUpdate(image.Owner, bytes, (_, total) => total + bytes);
            if (quota >= 0 && stored + uploading > quota)
            {
                throw StorageQuotaFull(received, quota - stored - (uploading - received));
            }
        }

        try
        {
            var inspector = new ImageInspector();
            var (size, md5, sha512) = await CopyHashingAsync(source, stagedFile is null ? temp : null, inspector, image.DiskFormat, Count, cancellationToken);
            if (expectedSize is { } expected && expected != size)
            {
                throw ApiException.BadRequest($"Size of uploaded data ({size}) does not match the declared size ({expected}).");
            }

            var inspection = await FinishInspectionAsync(inspector, temp, size, cancellationToken);
            var verdict = DiskFormats.Judge(image.DiskFormat, inspection);
            if (!verdict.Accepted)
            {
                LogRefused(logger, image.Id, image.DiskFormat, verdict.Reason!);
                throw ApiException.BadRequest(verdict.Reason!);
            }

            await data.StoreAsync(image.Id, temp, cancellationToken);
            await using var c = await db.OpenAsync(CancellationToken.None);
            var updated = await c.ExecuteAsync("""
                UPDATE images SET status = 'active', size = @Size, virtual_size = @VirtualSize, checksum = @Md5,
                  os_hash_algo = 'sha512', os_hash_value = @Sha512, updated_at = @Now WHERE id = @Id AND status = @Working
                """, new { image.Id, Size = size, verdict.Inspection.VirtualSize, Md5 = md5, Sha512 = sha512, Now = Ids.Now(), Working = working });
            if (updated == 0)
            {
                // The image was deleted while uploading.
                await data.DeleteAsync(image.Id, CancellationToken.None);
                throw ApiException.Conflict($"Image {image.Id} could not be found after upload. The image may have been deleted during the upload.");
            }

            return (await FindAsync(image.Id))!;
        }
        catch
        {
            await RequeueAsync(image.Id, working);
            throw;
        }
        finally
        {
            File.Delete(temp); // stored data no longer needs it (the file store has moved it)
            _uploading.AddOrUpdate(image.Owner, 0, (_, total) => total - received);
        }
    }

    /// <summary>
    /// Bytes of the project's active images and staged data (Glance counts stored data, not virtual sizes), but for
    /// image <paramref name="exceptId"/>, whose bytes the caller is counting as they arrive.
    /// </summary>
    private async Task<long> StoredBytesAsync(string owner, string exceptId)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteScalarAsync<long?>(
            "SELECT SUM(size) FROM images WHERE owner = @Owner AND status IN ('active', 'uploading', 'importing') AND id <> @Id",
            new { Owner = owner, Id = exceptId }) ?? 0;
    }

    private static ApiException StorageQuotaFull(long size, long remaining) => new(ErrorKind.RequestTooLarge,
        $"Denying attempt to upload image because it exceeds the quota: The size of the data {size} will exceed the limit. {Math.Max(0, remaining)} bytes remaining.");

    /// <summary>
    /// Checks an image's stored data again before it is used (volume from image, boot): it may predate the
    /// upload inspection, or have been put there by other means. Returns the inspection in the image's disk_format.
    /// </summary>
    /// <exception cref="ApiException">400 "Image ... is unacceptable: ..." when the data is missing, is not its
    /// disk_format or names another file.</exception>
    public async Task<ImageInspection> VerifyAsync(ImageRow image, CancellationToken cancellationToken)
    {
        ImageInspection inspection;
        try
        {
            inspection = await data.InspectAsync(image.Id, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw ApiException.BadRequest($"Image {image.Id} is unacceptable: its data is missing.");
        }

        var verdict = DiskFormats.Judge(image.DiskFormat, inspection);
        if (!verdict.Accepted)
        {
            LogRefused(logger, image.Id, image.DiskFormat, verdict.Reason!);
            throw ApiException.BadRequest($"Image {image.Id} is unacceptable: {verdict.Reason}");
        }

        return verdict.Inspection;
    }

    /// <summary>
    /// Copies the body to the file while hashing it and feeding the inspector. Once the first bytes show the body
    /// cannot be the declared disk_format (a qcow2 header declared raw), the upload stops there.
    /// </summary>
    private static async Task<(long Size, string Md5, string Sha512)> CopyHashingAsync(
        Stream source, string? path, ImageInspector inspector, string? diskFormat, Action<int> count, CancellationToken cancellationToken)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        long size = 0;
        var formatChecked = false;
        try
        {
            // No path: the source is already the file that will be stored, and is only read.
            await using var file = path is null ? null : new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                count(read);
                md5.AppendData(buffer, 0, read);
                sha512.AppendData(buffer, 0, read);
                inspector.Feed(size, buffer.AsSpan(0, read));
                if (!formatChecked && inspector.Format is { } format)
                {
                    formatChecked = true;
                    if (DiskFormats.CannotMatch(diskFormat, format))
                    {
                        throw ApiException.BadRequest(DiskFormats.Judge(diskFormat, new ImageInspection(format, null, [], [], [])).Reason!);
                    }
                }

                if (file is not null)
                {
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                size += read;
            }

            if (file is not null)
            {
                await file.FlushAsync(cancellationToken);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return (size, Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha512.GetHashAndReset()));
    }

    /// <summary>The ranges the stream went past before the inspector knew it wanted them are read back from the file.</summary>
    private static async Task<ImageInspection> FinishInspectionAsync(ImageInspector inspector, string path, long size, CancellationToken cancellationToken)
    {
        inspector.SetLength(size);
        if (inspector.NextWanted is null)
        {
            return inspector.Inspect();
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        return await ImageFiles.FinishAsync(inspector, handle, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image {ImageId} ({DiskFormat}) refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string imageId, string? diskFormat, string reason);
}
