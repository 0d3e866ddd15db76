using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Ember.Nbd;

/// <summary>
/// The exports a server offers, keyed by unguessable name. All exports of one backing file share one
/// <see cref="SafeFileHandle"/> so every connection sees every acknowledged write (CAN_MULTI_CONN).
/// </summary>
public sealed class NbdExportRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, NbdExport> _exports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SharedFile> _files = new(StringComparer.Ordinal);

    /// <summary>A fresh export name: 32 random bytes, hex.</summary>
    public static string NewExportName() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Adds an export of <paramref name="backingFilePath"/>. Throws if the name is taken or the file cannot be opened.
    /// Returns the export's request totals, which live as long as the caller keeps them (they outlive the export).
    /// </summary>
    public NbdExportStats Add(string exportName, string backingFilePath, bool readOnly)
    {
        ArgumentException.ThrowIfNullOrEmpty(exportName);
        if (System.Text.Encoding.UTF8.GetByteCount(exportName) > Protocol.NbdLimits.MaxNameLength)
            throw new ArgumentException("Export name longer than 4096 bytes.", nameof(exportName));
        var path = Path.GetFullPath(backingFilePath);
        lock (_lock)
        {
            if (_exports.ContainsKey(exportName))
                throw new InvalidOperationException($"Export '{exportName[..Math.Min(8, exportName.Length)]}…' already exists.");
            if (!_files.TryGetValue(path, out var file))
            {
                file = SharedFile.Open(path, readOnly);
                _files.Add(path, file);
            }
            else if (!readOnly && !file.Writable)
            {
                throw new InvalidOperationException($"'{path}' is exported read-only and could not be opened for writing.");
            }
            file.References++;
            var export = new NbdExport(exportName, file, readOnly);
            _exports.Add(exportName, export);
            return export.Stats;
        }
    }

    /// <summary>Removes the export and closes its connections at once; their in-flight requests fail.</summary>
    public bool Remove(string exportName)
    {
        NbdExport? export;
        bool lastOfFile;
        lock (_lock)
        {
            if (!_exports.Remove(exportName, out export))
                return false;
            lastOfFile = --export.File.References == 0;
            if (lastOfFile)
                _files.Remove(export.File.Path);
        }
        export.Close(lastOfFile);
        return true;
    }

    /// <summary>Whether an export of that name exists.</summary>
    public bool Contains(string exportName)
    {
        lock (_lock)
            return _exports.ContainsKey(exportName);
    }

    /// <summary>Export names (for the owning service; never sent to clients).</summary>
    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_lock)
                return [.. _exports.Keys];
        }
    }

    internal NbdExport? Find(string exportName)
    {
        lock (_lock)
            return _exports.GetValueOrDefault(exportName);
    }

    internal void RemoveAll()
    {
        foreach (var name in Names)
            Remove(name);
    }
}

/// <summary>One open backing file shared by all its exports.</summary>
internal sealed class SharedFile
{
    private SharedFile(string path, SafeFileHandle handle, bool writable)
    {
        Path = path;
        Handle = handle;
        Writable = writable;
    }

    public string Path { get; }
    public SafeFileHandle Handle { get; }
    public bool Writable { get; }
    public int References { get; set; }

    public static SharedFile Open(string path, bool readOnly)
    {
        // Always try read-write first: a later read-write export of the same file must share this handle.
        try
        {
            return new SharedFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete), true);
        }
        catch (UnauthorizedAccessException) when (readOnly)
        {
            return new SharedFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), false);
        }
    }
}

/// <summary>An export: a name bound to a shared file, and the connections using it.</summary>
internal sealed class NbdExport(string name, SharedFile file, bool readOnly)
{
    private readonly CancellationTokenSource _removed = new();

    public string Name { get; } = name;
    public SharedFile File { get; } = file;
    public bool ReadOnly { get; } = readOnly;

    public NbdExportStats Stats { get; } = new();

    /// <summary>Cancelled when the export is removed; connections register to abort on it.</summary>
    public CancellationToken Removed => _removed.Token;

    public void Close(bool closeFile)
    {
        // Connections abort synchronously in their Removed callbacks. In-flight I/O holds a SafeHandle
        // reference, so the descriptor really closes when the last such call returns.
        _removed.Cancel();
        if (closeFile)
            File.Handle.Dispose();
    }
}
