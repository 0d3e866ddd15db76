using System.Runtime.InteropServices;

namespace Ember.Server.Volume.Rbd;

/// <summary>
/// The few librados/librbd C calls the rbd backend makes (librados.h, librbd.h of Ceph 16). Every call returns 0 or
/// a negative errno; handles are opaque pointers that <see cref="RadosCluster"/> and <see cref="RbdImage"/> own.
/// </summary>
internal static partial class RbdNative
{
    private const string Rados = "librados.so.2";
    private const string Rbd = "librbd.so.1";

    // ---- librados ----

    /// <summary><paramref name="id"/> is the cephx user without "client." (rados_create's id).</summary>
    [LibraryImport(Rados, EntryPoint = "rados_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RadosCreate(out nint cluster, string id);

    [LibraryImport(Rados, EntryPoint = "rados_conf_read_file", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RadosConfReadFile(nint cluster, string path);

    [LibraryImport(Rados, EntryPoint = "rados_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RadosConfSet(nint cluster, string option, string value);

    [LibraryImport(Rados, EntryPoint = "rados_connect")]
    internal static partial int RadosConnect(nint cluster);

    [LibraryImport(Rados, EntryPoint = "rados_shutdown")]
    internal static partial void RadosShutdown(nint cluster);

    /// <summary>Writes the cluster's fsid (36 characters and a NUL) into <paramref name="buffer"/>; returns its length or a negative errno.</summary>
    [LibraryImport(Rados, EntryPoint = "rados_cluster_fsid")]
    internal static partial int RadosClusterFsid(nint cluster, [Out] byte[] buffer, nuint length);

    [LibraryImport(Rados, EntryPoint = "rados_ioctx_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RadosIoctxCreate(nint cluster, string pool, out nint ioctx);

    /// <summary>Writes to a full pool are sent and refused (EDQUOT, ENOSPC) instead of waiting in the client for space.</summary>
    [LibraryImport(Rados, EntryPoint = "rados_set_pool_full_try")]
    internal static partial void RadosSetPoolFullTry(nint ioctx);

    [LibraryImport(Rados, EntryPoint = "rados_ioctx_destroy")]
    internal static partial void RadosIoctxDestroy(nint ioctx);

    /// <summary>A mon command given as one JSON string; the reply buffers are freed with <see cref="RadosBufferFree"/>.</summary>
    [LibraryImport(Rados, EntryPoint = "rados_mon_command")]
    internal static partial int RadosMonCommand(nint cluster, nint[] cmd, nuint cmdLength, nint inBuffer, nuint inLength,
        out nint outBuffer, out nuint outLength, out nint status, out nuint statusLength);

    [LibraryImport(Rados, EntryPoint = "rados_buffer_free")]
    internal static partial void RadosBufferFree(nint buffer);

    // ---- librbd ----

    [LibraryImport(Rbd, EntryPoint = "rbd_image_options_create")]
    internal static partial void RbdImageOptionsCreate(out nint options);

    [LibraryImport(Rbd, EntryPoint = "rbd_image_options_destroy")]
    internal static partial void RbdImageOptionsDestroy(nint options);

    /// <summary>Creates an image with the options (format 2 and the cluster's rbd_default_features when none are set).</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_create4", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdCreate4(nint ioctx, string name, ulong size, nint options);

    [LibraryImport(Rbd, EntryPoint = "rbd_clone3", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdClone3(nint parentIoctx, string parentName, string parentSnapName, nint childIoctx, string childName, nint options);

    [LibraryImport(Rbd, EntryPoint = "rbd_remove", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdRemove(nint ioctx, string name);

    [LibraryImport(Rbd, EntryPoint = "rbd_rename", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdRename(nint ioctx, string from, string to);

    /// <summary>Opens the image's head (<paramref name="snapName"/> null) read-write.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_open", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdOpen(nint ioctx, string name, out nint image, string? snapName);

    /// <summary>Opens the image (at <paramref name="snapName"/>, or its head) read-only: no lock taken, no header written.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_open_read_only", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdOpenReadOnly(nint ioctx, string name, out nint image, string? snapName);

    [LibraryImport(Rbd, EntryPoint = "rbd_close")]
    internal static partial int RbdClose(nint image);

    [LibraryImport(Rbd, EntryPoint = "rbd_get_size")]
    internal static partial int RbdGetSize(nint image, out ulong size);

    [LibraryImport(Rbd, EntryPoint = "rbd_resize")]
    internal static partial int RbdResize(nint image, ulong size);

    [LibraryImport(Rbd, EntryPoint = "rbd_get_features")]
    internal static partial int RbdGetFeatures(nint image, out ulong features);

    [LibraryImport(Rbd, EntryPoint = "rbd_update_features")]
    internal static partial int RbdUpdateFeatures(nint image, ulong features, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Rbd, EntryPoint = "rbd_flatten")]
    internal static partial int RbdFlatten(nint image);

    /// <summary>-ENOENT when the image (at the snapshot set with <see cref="RbdSnapSet"/>) is no clone; -ERANGE when a buffer is short.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_get_parent_info")]
    internal static partial int RbdGetParentInfo(nint image, [Out] byte[] pool, nuint poolLength, [Out] byte[] name, nuint nameLength,
        [Out] byte[] snapName, nuint snapNameLength);

    [LibraryImport(Rbd, EntryPoint = "rbd_snap_set", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdSnapSet(nint image, string? snapName);

    [LibraryImport(Rbd, EntryPoint = "rbd_snap_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdSnapCreate(nint image, string snapName);

    [LibraryImport(Rbd, EntryPoint = "rbd_snap_remove", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdSnapRemove(nint image, string snapName);

    [LibraryImport(Rbd, EntryPoint = "rbd_snap_protect", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdSnapProtect(nint image, string snapName);

    /// <summary>-EBUSY while clones depend on the snapshot; -EINVAL when it is not protected.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_snap_unprotect", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RbdSnapUnprotect(nint image, string snapName);

    /// <summary>
    /// Fills <paramref name="snaps"/> with rbd_snap_info_t {uint64 id; uint64 size; const char *name} entries and
    /// returns their count, or -ERANGE with the needed count in <paramref name="maxSnaps"/>. The names are freed with
    /// <see cref="RbdSnapListEnd"/>.
    /// </summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_snap_list")]
    internal static partial int RbdSnapList(nint image, nint snaps, ref int maxSnaps);

    [LibraryImport(Rbd, EntryPoint = "rbd_snap_list_end")]
    internal static partial void RbdSnapListEnd(nint snaps);

    /// <summary>Returns the bytes written or a negative errno.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_write")]
    internal static partial nint RbdWrite(nint image, ulong offset, nuint length, in byte buffer);

    /// <summary>Returns the bytes read or a negative errno.</summary>
    [LibraryImport(Rbd, EntryPoint = "rbd_read")]
    internal static partial nint RbdRead(nint image, ulong offset, nuint length, ref byte buffer);

    /// <summary>Image feature bits (librbd/features.h).</summary>
    internal const ulong FeatureExclusiveLock = 1 << 2;
    internal const ulong FeatureObjectMap = 1 << 3;
    internal const ulong FeatureFastDiff = 1 << 4;
    internal const ulong FeatureJournaling = 1 << 6;
}
