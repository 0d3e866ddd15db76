using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Image;

/// <summary>Image rows in the database and image bytes as files under DATA/images.</summary>
public sealed partial class ImageStore(Database db, IOptions<EmberOptions> options, ILogger<ImageStore> logger)
{
    private const string Columns = "id, name, status, visibility, protected, os_hidden, disk_format, container_format, size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, owner, tags, properties, created_at, updated_at";

    public string ImagesDir { get; } = Path.Combine(options.Value.DataDir, "images");

    public string FileOf(string id) => Path.Combine(ImagesDir, id);

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
              tags = @Tags, properties = @Properties, updated_at = @UpdatedAt WHERE id = @Id
            """, row with { UpdatedAt = Ids.Now() });
    }

    /// <summary>Compare-and-swap on status; false when someone else moved the image first.</summary>
    public async Task<bool> TransitionAsync(string id, string from, string to)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("UPDATE images SET status = @To, updated_at = @Now WHERE id = @Id AND status = @From",
            new { Id = id, From = from, To = to, Now = Ids.Now() }) == 1;
    }

    public async Task<bool> DeleteAsync(string id)
    {
        await using var c = await db.OpenAsync();
        var deleted = await c.ExecuteAsync("DELETE FROM images WHERE id = @Id", new { Id = id }) == 1;
        if (deleted)
        {
            File.Delete(FileOf(id));
        }

        return deleted;
    }

    /// <summary>
    /// Streams <paramref name="source"/> to the image file while hashing it, then marks the image active.
    /// The bytes go to a temporary file first: a failed or cut-off upload leaves no file and the image queued.
    /// </summary>
    public async Task<ImageRow> UploadAsync(ImageRow image, Stream source, long? expectedSize, CancellationToken cancellationToken)
    {
        if (!await TransitionAsync(image.Id, "queued", "saving"))
        {
            throw ApiException.Conflict($"Image status transition from {image.Status} to saving is not allowed");
        }

        Directory.CreateDirectory(ImagesDir);
        var temp = FileOf(image.Id) + ".upload-" + Ids.NewHexId();
        try
        {
            var (size, md5, sha512) = await CopyHashingAsync(source, temp, cancellationToken);
            if (expectedSize is { } expected && expected != size)
            {
                throw ApiException.BadRequest($"Size of uploaded data ({size}) does not match the declared size ({expected}).");
            }

            var virtualSize = await VirtualSizeAsync(temp, image.DiskFormat, size, cancellationToken);
            File.Move(temp, FileOf(image.Id), overwrite: true);
            await using var c = await db.OpenAsync(CancellationToken.None);
            var updated = await c.ExecuteAsync("""
                UPDATE images SET status = 'active', size = @Size, virtual_size = @VirtualSize, checksum = @Md5,
                  os_hash_algo = 'sha512', os_hash_value = @Sha512, updated_at = @Now WHERE id = @Id AND status = 'saving'
                """, new { image.Id, Size = size, VirtualSize = virtualSize, Md5 = md5, Sha512 = sha512, Now = Ids.Now() });
            if (updated == 0)
            {
                // The image was deleted while uploading.
                File.Delete(FileOf(image.Id));
                throw ApiException.Conflict($"Image {image.Id} could not be found after upload. The image may have been deleted during the upload.");
            }

            return (await FindAsync(image.Id))!;
        }
        catch
        {
            File.Delete(temp);
            await TransitionAsync(image.Id, "saving", "queued");
            throw;
        }
    }

    private static async Task<(long Size, string Md5, string Sha512)> CopyHashingAsync(Stream source, string path, CancellationToken cancellationToken)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha512 = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        long size = 0;
        try
        {
            await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                md5.AppendData(buffer, 0, read);
                sha512.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                size += read;
            }

            await file.FlushAsync(cancellationToken);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return (size, Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha512.GetHashAndReset()));
    }

    /// <summary>The guest-visible size: from qemu-img for image formats, the byte size for raw.</summary>
    private async Task<long?> VirtualSizeAsync(string path, string? diskFormat, long size, CancellationToken cancellationToken)
    {
        if (diskFormat is "raw" or "iso")
        {
            return size;
        }

        if (diskFormat is not ("qcow2" or "vmdk" or "vdi" or "vhd" or "vhdx"))
        {
            return null;
        }

        try
        {
            var start = new ProcessStartInfo("qemu-img") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "info", "--output=json", "-f", diskFormat == "vhd" ? "vpc" : diskFormat, path })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw ApiException.BadRequest($"The uploaded data is not a valid {diskFormat} image.");
            }

            using var info = JsonDocument.Parse(output);
            return info.RootElement.GetProperty("virtual-size").GetInt64();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            LogNoQemuImg(logger, ex.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "qemu-img is not available, virtual_size stays unset: {Reason}")]
    private static partial void LogNoQemuImg(ILogger logger, string reason);
}
