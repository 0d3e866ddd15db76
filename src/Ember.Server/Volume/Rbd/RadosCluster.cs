using System.Runtime.InteropServices;
using System.Text;

namespace Ember.Server.Volume.Rbd;

/// <summary>
/// One connection to a Ceph cluster as one cephx user (a librados rados_t): thread-safe, meant to live as long as the
/// process. Its calls block; callers keep them off the request threads.
/// </summary>
public sealed class RadosCluster : IDisposable
{
    private nint _handle;

    private RadosCluster(nint handle) => _handle = handle;

    /// <summary>
    /// Reads <paramref name="confPath"/>, takes the key from <paramref name="keyringPath"/> and connects. Monitors that
    /// do not answer within <paramref name="connectTimeout"/> fail the call (client_mount_timeout) instead of hanging;
    /// later mon and OSD operations fail after <paramref name="operationTimeout"/>. <paramref name="settings"/> are more
    /// client options (rados_conf_set). librados' own stderr logging is off: every failure comes back as an errno.
    /// </summary>
    /// <exception cref="RbdException">The conf could not be read or the cluster not reached; the message says which.</exception>
    public static RadosCluster Connect(string confPath, string user, string? keyringPath, TimeSpan connectTimeout, TimeSpan operationTimeout,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        RbdException.Check(RbdNative.RadosCreate(out var handle, user), $"rados_create (client.{user})");
        var cluster = new RadosCluster(handle);
        try
        {
            RbdException.Check(RbdNative.RadosConfReadFile(handle, confPath), $"reading {confPath}");
            if (keyringPath is not null)
            {
                cluster.Set("keyring", keyringPath);
            }

            cluster.Set("log_to_stderr", "false");
            cluster.Set("err_to_stderr", "false");
            foreach (var (option, value) in settings ?? new Dictionary<string, string>())
            {
                cluster.Set(option, value);
            }

            cluster.Set("client_mount_timeout", Seconds(connectTimeout));
            cluster.Set("rados_mon_op_timeout", Seconds(operationTimeout));
            cluster.Set("rados_osd_op_timeout", Seconds(operationTimeout));
            RbdException.Check(RbdNative.RadosConnect(handle),
                $"connecting to the Ceph cluster of {confPath} as client.{user} (monitors unreachable within {Seconds(connectTimeout)} s, or the key was refused)");
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>An I/O context on <paramref name="pool"/>.</summary>
    /// <remarks>
    /// By default librados holds a write to a pool that is full (its quota reached, or the cluster full) until space
    /// comes back, which a volume create would wait out to the operation timeout and then report as a timeout. With
    /// "full try" the write goes to the OSD, which refuses it at once with EDQUOT or ENOSPC: the volume goes to error
    /// with the real reason. Images opened on the pool inherit the setting.
    /// </remarks>
    public RbdPool OpenPool(string pool)
    {
        RbdException.Check(RbdNative.RadosIoctxCreate(Handle, pool, out var ioctx), $"opening pool {pool}");
        RbdNative.RadosSetPoolFullTry(ioctx);
        return new RbdPool(ioctx, pool);
    }

    /// <summary>The cluster's fsid: two pools with the same fsid are in one cluster, where images can be cloned across them.</summary>
    public string Fsid
    {
        get
        {
            var buffer = new byte[64];
            var length = RbdNative.RadosClusterFsid(Handle, buffer, (nuint)buffer.Length);
            RbdException.Check(length, "reading the cluster's fsid");
            return Encoding.ASCII.GetString(buffer, 0, length).TrimEnd('\0');
        }
    }

    /// <summary>Runs a mon command (the JSON form, e.g. {"prefix":"df","format":"json"}) and returns its output.</summary>
    public string MonCommand(string json)
    {
        var command = Marshal.StringToCoTaskMemUTF8(json);
        try
        {
            var result = RbdNative.RadosMonCommand(Handle, [command], 1, 0, 0, out var output, out var outputLength, out var status, out var statusLength);
            try
            {
                var text = output == 0 ? "" : Marshal.PtrToStringUTF8(output, checked((int)outputLength));
                if (result < 0)
                {
                    var reason = status == 0 ? "" : Marshal.PtrToStringUTF8(status, checked((int)statusLength));
                    throw new RbdException($"mon command {json} ({reason})", -result);
                }

                return text;
            }
            finally
            {
                RbdNative.RadosBufferFree(output);
                RbdNative.RadosBufferFree(status);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(command);
        }
    }

    public void Dispose()
    {
        var handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            RbdNative.RadosShutdown(handle);
        }
    }

    private nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(RadosCluster));

    private void Set(string option, string value) => RbdException.Check(RbdNative.RadosConfSet(Handle, option, value), $"setting {option}");

    private static string Seconds(TimeSpan span) => ((int)Math.Ceiling(span.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// librados and librbd calls block: a sequence of them runs on a thread of its own (LongRunning), never on the thread
/// pool's, so a slow cluster cannot starve the HTTP server.
/// </summary>
public static class RbdThread
{
    public static Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static Task RunAsync(Action work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}

/// <summary>An I/O context on one pool (rados_ioctx_t): images are created, cloned, renamed and removed here.</summary>
public sealed class RbdPool : IDisposable
{
    private nint _ioctx;

    internal RbdPool(nint ioctx, string name)
    {
        _ioctx = ioctx;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Runs a blocking sequence of calls on this pool on a thread of its own (<see cref="RbdThread"/>).</summary>
    public Task<T> RunAsync<T>(Func<RbdPool, T> work, CancellationToken cancellationToken) => RbdThread.RunAsync(() => work(this), cancellationToken);

    public Task RunAsync(Action<RbdPool> work, CancellationToken cancellationToken) => RbdThread.RunAsync(() => work(this), cancellationToken);

    /// <summary>A format-2 image with the cluster's default features.</summary>
    public void Create(string image, ulong size)
    {
        RbdNative.RbdImageOptionsCreate(out var options);
        try
        {
            RbdException.Check(RbdNative.RbdCreate4(Ioctx, image, size, options), $"creating image {Name}/{image}");
        }
        finally
        {
            RbdNative.RbdImageOptionsDestroy(options);
        }
    }

    /// <summary>
    /// A copy-on-write clone, in this pool, of <paramref name="parent"/>@<paramref name="snapshot"/> of
    /// <paramref name="parentPool"/> (this pool when null; another pool of the same cluster otherwise).
    /// </summary>
    public void Clone(string parent, string snapshot, string child, RbdPool? parentPool = null)
    {
        parentPool ??= this;
        RbdNative.RbdImageOptionsCreate(out var options);
        try
        {
            RbdException.Check(RbdNative.RbdClone3(parentPool.Ioctx, parent, snapshot, Ioctx, child, options),
                $"cloning {parentPool.Name}/{parent}@{snapshot} to {Name}/{child}");
        }
        finally
        {
            RbdNative.RbdImageOptionsDestroy(options);
        }
    }

    /// <summary>-EBUSY while a client has the image open; -ENOTEMPTY while it has snapshots.</summary>
    public void Remove(string image) => RbdException.Check(RbdNative.RbdRemove(Ioctx, image), $"removing image {Name}/{image}");

    public void Rename(string from, string to) => RbdException.Check(RbdNative.RbdRename(Ioctx, from, to), $"renaming image {Name}/{from} to {to}");

    /// <summary>Opens the image's head.</summary>
    public RbdImage Open(string image)
    {
        RbdException.Check(RbdNative.RbdOpen(Ioctx, image, out var handle, null), $"opening image {Name}/{image}");
        return new RbdImage(handle, $"{Name}/{image}");
    }

    /// <summary>Opens <paramref name="image"/>@<paramref name="snapshot"/> (its head when null) read-only, taking no lock.</summary>
    public RbdImage OpenReadOnly(string image, string? snapshot)
    {
        RbdException.Check(RbdNative.RbdOpenReadOnly(Ioctx, image, out var handle, snapshot), $"opening image {Name}/{image}@{snapshot} read-only");
        return new RbdImage(handle, $"{Name}/{image}@{snapshot}");
    }

    public void Dispose()
    {
        var ioctx = Interlocked.Exchange(ref _ioctx, 0);
        if (ioctx != 0)
        {
            RbdNative.RadosIoctxDestroy(ioctx);
        }
    }

    private nint Ioctx => _ioctx != 0 ? _ioctx : throw new ObjectDisposedException(nameof(RbdPool));
}

/// <summary>An open image (rbd_image_t); closed on dispose.</summary>
public sealed class RbdImage : IDisposable
{
    private const int NameLimit = 512;
    private const int SnapInfoSize = 24; // rbd_snap_info_t: uint64 id, uint64 size, const char *name

    private nint _image;

    internal RbdImage(nint image, string spec)
    {
        _image = image;
        Spec = spec;
    }

    /// <summary>pool/image, for messages.</summary>
    public string Spec { get; }

    public ulong Size
    {
        get
        {
            RbdException.Check(RbdNative.RbdGetSize(Image, out var size), $"size of {Spec}");
            return size;
        }
    }

    public ulong Features
    {
        get
        {
            RbdException.Check(RbdNative.RbdGetFeatures(Image, out var features), $"features of {Spec}");
            return features;
        }
    }

    public void Resize(ulong size) => RbdException.Check(RbdNative.RbdResize(Image, size), $"resizing {Spec}");

    /// <summary>Turns the given feature bits on or off, in one call (librbd orders dependent features itself).</summary>
    public void UpdateFeatures(ulong features, bool enabled) =>
        RbdException.Check(RbdNative.RbdUpdateFeatures(Image, features, enabled), $"updating features of {Spec}");

    /// <summary>Copies the parent's data into this clone, which then no longer depends on it.</summary>
    public void Flatten() => RbdException.Check(RbdNative.RbdFlatten(Image), $"flattening {Spec}");

    /// <summary>The parent (pool, image, snapshot) of the head, or of <paramref name="atSnapshot"/>; null when it is no clone.</summary>
    public (string Pool, string Image, string Snapshot)? Parent(string? atSnapshot = null)
    {
        if (atSnapshot is not null)
        {
            RbdException.Check(RbdNative.RbdSnapSet(Image, atSnapshot), $"selecting snapshot {Spec}@{atSnapshot}");
        }

        try
        {
            byte[] pool = new byte[NameLimit], name = new byte[NameLimit], snap = new byte[NameLimit];
            var result = RbdNative.RbdGetParentInfo(Image, pool, NameLimit, name, NameLimit, snap, NameLimit);
            if (result == -RbdException.NotFound)
            {
                return null;
            }

            RbdException.Check(result, $"parent of {Spec}");
            return (CString(pool), CString(name), CString(snap));
        }
        finally
        {
            if (atSnapshot is not null)
            {
                RbdNative.RbdSnapSet(Image, null);
            }
        }
    }

    public void CreateSnapshot(string name) => RbdException.Check(RbdNative.RbdSnapCreate(Image, name), $"creating snapshot {Spec}@{name}");

    public void RemoveSnapshot(string name) => RbdException.Check(RbdNative.RbdSnapRemove(Image, name), $"removing snapshot {Spec}@{name}");

    public void ProtectSnapshot(string name) => RbdException.Check(RbdNative.RbdSnapProtect(Image, name), $"protecting snapshot {Spec}@{name}");

    /// <summary>-EBUSY while clones depend on the snapshot; -EINVAL when it is not protected.</summary>
    public void UnprotectSnapshot(string name) => RbdException.Check(RbdNative.RbdSnapUnprotect(Image, name), $"unprotecting snapshot {Spec}@{name}");

    /// <summary>The names of the image's snapshots.</summary>
    public IReadOnlyList<string> SnapshotNames()
    {
        var max = 16;
        while (true)
        {
            var buffer = Marshal.AllocHGlobal(max * SnapInfoSize);
            try
            {
                var wanted = max;
                var count = RbdNative.RbdSnapList(Image, buffer, ref wanted);
                if (count == -RbdException.OutOfRange)
                {
                    max = Math.Max(wanted, max * 2);
                    continue;
                }

                RbdException.Check(count, $"listing snapshots of {Spec}");
                var names = new string[count];
                for (var i = 0; i < count; i++)
                {
                    names[i] = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(buffer, i * SnapInfoSize + 16)) ?? "";
                }

                RbdNative.RbdSnapListEnd(buffer);
                return names;
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }
    }

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>.</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        var written = RbdNative.RbdWrite(Image, offset, (nuint)data.Length, in MemoryMarshal.GetReference(data));
        if (written < 0)
        {
            throw new RbdException($"writing {Spec}", -(int)written);
        }
    }

    /// <summary>Reads into <paramref name="buffer"/> at <paramref name="offset"/>; returns the bytes read (fewer only at the end of the image).</summary>
    public int Read(ulong offset, Span<byte> buffer)
    {
        var read = RbdNative.RbdRead(Image, offset, (nuint)buffer.Length, ref MemoryMarshal.GetReference(buffer));
        return read < 0 ? throw new RbdException($"reading {Spec}", -(int)read) : (int)read;
    }

    public void Dispose()
    {
        var image = Interlocked.Exchange(ref _image, 0);
        if (image != 0)
        {
            RbdNative.RbdClose(image);
        }
    }

    private nint Image => _image != 0 ? _image : throw new ObjectDisposedException(nameof(RbdImage));

    private static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }
}
