using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume;

/// <summary>
/// The files of backups, after Cinder's chunked POSIX driver: a backup's data is cut into fixed-size chunks, each
/// stored zlib-compressed as one file of its container (a directory under Volume:BackupPath), with a manifest listing
/// every chunk's sha256 and the file that holds it, and the volume's metadata. A chunk of zeros is stored as nothing; an incremental backup
/// stores only the chunks whose hash differs from its parent's and names the parent's files for the rest.
/// Directories are 0700 and files 0600: a backup holds a volume's data.
/// </summary>
public sealed partial class BackupChunkStore(IOptions<EmberOptions> host, IOptions<VolumeOptions> options)
{
    /// <summary>4 MiB: small enough that an incremental of a lightly written volume stays small, large enough to compress well.</summary>
    public const int ChunkSize = 4 << 20;

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const string WorkDirectoryName = ".work";

    public string Root { get; } = Path.GetFullPath(options.Value.BackupPath ?? Path.Combine(host.Value.DataDir, "backups"));

    /// <summary>Cinder's POSIX driver's container when none is given: id[0:2]/id[2:4]/id, so no directory grows too large.</summary>
    public static string DefaultContainer(string backupId) => $"{backupId[..2]}/{backupId[2..4]}/{backupId}";

    /// <summary>A container a user may name: relative path segments of letters, digits, '_', '-' and '.', never '.' or '..'.</summary>
    public static bool IsValidContainer(string container) =>
        container.Length <= 255 && ContainerPattern().IsMatch(container) && container.Split('/').All(s => s is not ("." or ".." or WorkDirectoryName));

    [GeneratedRegex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")]
    private static partial Regex ContainerPattern();

    /// <summary>A path for a raw copy of a volume's data, in a scratch directory only the server can enter.</summary>
    public string NewWorkFile(string backupId)
    {
        var work = Directory.CreateDirectory(Path.Combine(Root, WorkDirectoryName), PrivateDirectory);
        return Path.Combine(work.FullName, $"{backupId}-{Guid.NewGuid():N}.raw");
    }

    /// <summary>Removes the raw copies a restart cut off.</summary>
    public void ClearWork()
    {
        var work = Path.Combine(Root, WorkDirectoryName);
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Stores the raw data at <paramref name="rawPath"/> as <paramref name="backup"/>'s chunks (only those that differ
    /// from <paramref name="parent"/>'s, when given) and then its manifest. Returns how many chunk files it wrote.
    /// </summary>
    public async Task<int> WriteAsync(BackupRow backup, string rawPath, BackupManifest? parent, VolumeRow? volume, CancellationToken cancellationToken)
    {
        var container = Directory.CreateDirectory(ContainerPath(backup.Container), PrivateDirectory).FullName;
        using var source = File.OpenHandle(rawPath);
        var size = RandomAccess.GetLength(source);
        var chunks = new List<BackupChunk?>();
        var written = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            for (long offset = 0, index = 0; offset < size; offset += ChunkSize, index++)
            {
                var length = (int)Math.Min(ChunkSize, size - offset);
                var data = buffer.AsMemory(0, length);
                await ReadExactlyAsync(source, data, offset, cancellationToken);
                if (!data.Span.ContainsAnyExcept((byte)0))
                {
                    chunks.Add(null);
                    continue;
                }

                var sha256 = Convert.ToHexStringLower(SHA256.HashData(data.Span));
                if (parent?.ChunkAt(index) is { } same && same.Sha256 == sha256)
                {
                    chunks.Add(same);
                    continue;
                }

                var name = $"{ObjectPrefix(backup)}-{index + 1:D5}";
                await WriteCompressedAsync(Path.Combine(container, name), data, cancellationToken);
                chunks.Add(new BackupChunk(sha256, $"{backup.Container}/{name}"));
                written++;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var manifest = new BackupManifest(backup.Id, backup.VolumeId, backup.ParentId, size, ChunkSize, chunks)
        {
            VolumeMetadata = VolumeService.MapOf(volume?.Metadata),
            ImageMetadata = volume?.ImageMetadata is { } image ? VolumeService.MapOf(image) : null,
            Bootable = volume?.Bootable ?? false,
        };
        var manifestPath = ManifestPath(backup);
        var partial = manifestPath + ".partial";
        await using (var file = new FileStream(partial, PrivateWrite()))
        {
            await JsonSerializer.SerializeAsync(file, manifest, BackupJson.Default.BackupManifest, cancellationToken);
        }

        File.Move(partial, manifestPath, overwrite: true);
        return written;
    }

    /// <summary>The backup's manifest.</summary>
    /// <exception cref="InvalidDataException">It is missing or unreadable.</exception>
    public async Task<BackupManifest> ReadManifestAsync(BackupRow backup, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = File.OpenRead(ManifestPath(backup));
            return await JsonSerializer.DeserializeAsync(file, BackupJson.Default.BackupManifest, cancellationToken)
                ?? throw new InvalidDataException($"The manifest of backup {backup.Id} is empty.");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            throw new InvalidDataException($"The manifest of backup {backup.Id} cannot be read.", e);
        }
    }

    /// <summary>
    /// Writes the backup's data to a new sparse raw file at <paramref name="rawPath"/> of the backed-up size, checking
    /// each chunk against its sha256.
    /// </summary>
    /// <exception cref="InvalidDataException">A chunk is missing or its bytes are not what was backed up.</exception>
    public async Task RestoreToFileAsync(BackupManifest manifest, string rawPath, CancellationToken cancellationToken)
    {
        using var target = File.OpenHandle(rawPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, manifest.SizeBytes);
        RandomAccess.SetLength(target, manifest.SizeBytes);
        var buffer = ArrayPool<byte>.Shared.Rent(manifest.ChunkSize);
        try
        {
            for (var index = 0; index < manifest.Chunks.Count; index++)
            {
                if (manifest.Chunks[index] is not { } chunk)
                {
                    continue; // zeros: the hole reads as zeros
                }

                var offset = (long)index * manifest.ChunkSize;
                var data = buffer.AsMemory(0, (int)Math.Min(manifest.ChunkSize, manifest.SizeBytes - offset));
                await ReadCompressedAsync(ObjectPath(chunk.Object), data, cancellationToken);
                if (Convert.ToHexStringLower(SHA256.HashData(data.Span)) != chunk.Sha256)
                {
                    throw new InvalidDataException($"Chunk {index + 1} of backup {manifest.BackupId} does not match its sha256.");
                }

                await RandomAccess.WriteAsync(target, data, offset, cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Removes the backup's chunks and manifest, then its container's directories that are left empty.</summary>
    public void Delete(BackupRow backup)
    {
        var container = ContainerPath(backup.Container);
        if (!Directory.Exists(container))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(container, ObjectPrefix(backup) + "*"))
        {
            File.Delete(file);
        }

        for (var dir = new DirectoryInfo(container); dir.FullName.Length > Root.Length && !dir.EnumerateFileSystemInfos().Any(); dir = dir.Parent!)
        {
            dir.Delete();
        }
    }

    private static string ObjectPrefix(BackupRow backup) => "backup-" + backup.Id;

    private string ManifestPath(BackupRow backup) => Path.Combine(ContainerPath(backup.Container), ObjectPrefix(backup) + ".manifest");

    private string ContainerPath(string container) => ObjectPath(container);

    /// <summary>A path under the root; the names come from Ember's own rows and manifests, and are checked again here.</summary>
    private string ObjectPath(string relative)
    {
        var full = Path.GetFullPath(Path.Combine(Root, relative));
        return full.StartsWith(Root + "/", StringComparison.Ordinal)
            ? full
            : throw new InvalidDataException($"'{relative}' is outside the backup directory.");
    }

    private static FileStreamOptions PrivateWrite() => new() { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = PrivateFile };

    private static async Task WriteCompressedAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, PrivateWrite());
        await using var zlib = new ZLibStream(file, CompressionLevel.Fastest);
        await zlib.WriteAsync(data, cancellationToken);
    }

    private static async Task ReadCompressedAsync(string path, Memory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = File.OpenRead(path);
            await using var zlib = new ZLibStream(file, CompressionMode.Decompress);
            await zlib.ReadExactlyAsync(data, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or EndOfStreamException)
        {
            throw new InvalidDataException($"Backup chunk {Path.GetFileName(path)} is missing or short.", e);
        }
    }

    private static async Task ReadExactlyAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, Memory<byte> data, long offset, CancellationToken cancellationToken)
    {
        for (var done = 0; done < data.Length;)
        {
            var read = await RandomAccess.ReadAsync(file, data[done..], offset + done, cancellationToken);
            if (read == 0)
            {
                throw new EndOfStreamException("The volume's copy ended early.");
            }

            done += read;
        }
    }
}

/// <summary>One stored chunk: the sha256 of its raw bytes and the file (under the backup root) that holds them compressed.</summary>
public sealed record BackupChunk(string Sha256, string Object);

/// <summary>What a backup holds: the size of the data and, per chunk of <see cref="ChunkSize"/> bytes, its chunk (null: zeros).</summary>
public sealed record BackupManifest(string BackupId, string VolumeId, string? ParentId, long SizeBytes, int ChunkSize, IReadOnlyList<BackupChunk?> Chunks)
{
    /// <summary>The volume's metadata when it was backed up, which a restore gives the volume it writes (as Cinder's backup metadata).</summary>
    public IReadOnlyDictionary<string, string> VolumeMetadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The volume's volume_image_metadata, null when it had none; restored with <see cref="Bootable"/>.</summary>
    public IReadOnlyDictionary<string, string>? ImageMetadata { get; init; }

    public bool Bootable { get; init; }

    /// <summary>The chunk at <paramref name="index"/>, null for zeros or past the end (a volume grown since the parent).</summary>
    public BackupChunk? ChunkAt(long index) => index < Chunks.Count ? Chunks[(int)index] : null;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(BackupManifest))]
internal sealed partial class BackupJson : JsonSerializerContext;
