using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.Image.Format;
using Ember.Processes;
using Ember.Server.Image;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Volume.Rbd;

/// <summary>
/// Volumes as images in one Ceph RBD pool, after Cinder's rbd driver (cinder/volume/drivers/rbd.py): images
/// <c>volume-&lt;id&gt;</c>, snapshots <c>snapshot-&lt;id&gt;</c> (protected at once), a volume from a snapshot is a
/// copy-on-write clone of it, a volume from a volume is a clone of a <c>volume-&lt;new&gt;.clone_snap</c> snapshot of the
/// source (flattened once the chain is <see cref="RbdOptions.MaxCloneDepth"/> deep), and a volume whose clone snapshots
/// still have clones is renamed <c>volume-&lt;id&gt;.deleted</c> and removed with its last clone. Multi-attach images go
/// without exclusive-lock, object-map, fast-diff and journaling, as Cinder makes them: two writers would otherwise
/// ping-pong the lock, and a frozen holder is blocklisted. Connectors open the images themselves (<see cref="RbdConnection"/>).
/// </summary>
/// <remarks>
/// One rados connection for the process, made at start (an unreachable cluster stops start-up with the reason), and
/// one I/O context on the pool. librados calls block, so each runs on a thread of its own, never on the pool's.
/// </remarks>
public sealed partial class RbdBackend(IOptions<EmberOptions> host, IOptions<VolumeOptions> options, ILogger<RbdBackend> logger)
    : IVolumeBackend, IDisposable
{
    /// <summary>The features a multi-attach image must not have (Cinder's MULTIATTACH_EXCLUSIONS).</summary>
    public const ulong MultiattachExclusions =
        RbdNative.FeatureJournaling | RbdNative.FeatureFastDiff | RbdNative.FeatureObjectMap | RbdNative.FeatureExclusiveLock;

    /// <summary>
    /// Clone format 1, whatever the cluster's default: its clones need a protected snapshot, and unprotecting one
    /// that has clones fails with EBUSY, which is the rule Cinder's driver is built on (snapshot busy, .deleted
    /// parents). Format 2 (the default from mimic on) would let the snapshot go to the trash under its clones.
    /// </summary>
    private static readonly Dictionary<string, string> s_clientSettings = new(StringComparer.Ordinal) { ["rbd_default_clone_format"] = "1" };

    private const string CloneSnapSuffix = ".clone_snap";
    private const string DeletedSuffix = ".deleted";

    private readonly RbdOptions _options = options.Value.Rbd;
    private RadosCluster? _cluster;
    private RbdPool? _pool;
    private IReadOnlyList<string> _monitors = [];
    private string _fsid = "";

    public string HostName { get; } = $"{host.Value.HostName.ToLowerInvariant()}@rbd#{options.Value.Rbd.Pool}";

    /// <summary>As Cinder's rbd driver (version 1.2.0) reports itself.</summary>
    public BackendDescription Description { get; } = new("rbd", "ceph", "1.2.0", "Open Source");

    public string Pool => _options.Pool;

    /// <summary>The monitors as host:port (messenger v1 addresses of the mon map), read at start.</summary>
    public IReadOnlyList<string> Monitors => _monitors;

    public static string VolumeImage(string volumeId) => "volume-" + volumeId;

    public static string SnapshotName(string snapshotId) => "snapshot-" + snapshotId;

    /// <summary>Connects, opens the pool and reads the mon map; a cluster that is unreachable or refuses the key fails start-up here.</summary>
    /// <exception cref="ConfigurationException">The cluster, the user or the pool cannot be used; the message says why.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var conf = _options.ConfPath!;
        try
        {
            await ConnectAsync(conf, cancellationToken);
        }
        catch (RbdException e)
        {
            throw new ConfigurationException($"Volume:Rbd: cannot use the Ceph cluster: {e.Message}");
        }

        LogConnected(logger, _options.User, _options.Pool, string.Join(",", _monitors));
    }

    private Task ConnectAsync(string conf, CancellationToken cancellationToken) =>
        RbdThread.RunAsync(() =>
        {
            var cluster = RadosCluster.Connect(conf, _options.User, _options.KeyringPath,
                TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds), TimeSpan.FromSeconds(_options.OperationTimeoutSeconds), s_clientSettings);
            try
            {
                _pool = cluster.OpenPool(_options.Pool);
                _monitors = MonitorsOf(cluster.MonCommand("""{"prefix":"mon dump","format":"json"}"""));
                _fsid = cluster.Fsid;
                _cluster = cluster;
            }
            catch
            {
                _pool?.Dispose();
                cluster.Dispose();
                throw;
            }
        }, cancellationToken);

    public void Dispose()
    {
        _pool?.Dispose();
        _cluster?.Dispose();
    }

    public VolumeAccess AccessOf(string volumeId, bool readOnly, bool multiattach) =>
        new DirectAccess(new RbdConnection(_options.Pool, VolumeImage(volumeId), _monitors, _options.User, readOnly, multiattach));

    public Task CreateAsync(NewVolume volume, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RequireRoom();
        pool.Create(VolumeImage(volume.Id), (ulong)volume.SizeBytes);
        Finish(pool, volume, null);
    }, cancellationToken);

    public Task ExtendAsync(string volumeId, long newSizeBytes, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RequireRoom();
        using var image = pool.Open(VolumeImage(volumeId));
        if ((ulong)newSizeBytes > image.Size)
        {
            image.Resize((ulong)newSizeBytes);
        }
    }, cancellationToken);

    /// <summary>
    /// Cinder's delete_volume: a volume with snapshots of its own is busy; one whose clone snapshots still have clones
    /// is renamed .deleted (its last clone's delete removes it); otherwise it is removed, and when it was itself a clone
    /// of a volume, the parent's clone snapshot goes too, and with it a .deleted parent that has nothing left.
    /// </summary>
    public Task DeleteAsync(string volumeId, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        var name = VolumeImage(volumeId);
        string? cloneSnap = null;
        (string Pool, string Image, string Snapshot)? parent;
        try
        {
            using var image = pool.Open(name);
            foreach (var snap in image.SnapshotNames())
            {
                if (!snap.EndsWith(CloneSnapSuffix, StringComparison.Ordinal))
                {
                    throw new VolumeBackendBusyException($"Volume {volumeId} has snapshot {snap} and cannot be deleted.");
                }

                cloneSnap = snap;
            }

            parent = CloneParentOf(image, name, null);
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            return; // already gone
        }

        if (cloneSnap is not null)
        {
            pool.Rename(name, name + DeletedSuffix);
            LogKeptAsDeleted(logger, name);
            return;
        }

        try
        {
            pool.Remove(name);
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            return;
        }
        catch (RbdException e) when (e.Errno == RbdException.Busy)
        {
            throw new VolumeBackendBusyException(
                $"Volume {volumeId} is still open by a client (a crashed client's watch expires after 30 s; delete it again then): {e.Message}");
        }

        if (parent is { } p)
        {
            DeleteCloneParentRefs(pool, p.Image, p.Snapshot);
        }
    }, cancellationToken);

    /// <summary>Cinder's create_cloned_volume: a clone of a new snapshot of the source, flattened when the chain gets too deep.</summary>
    public Task CloneAsync(string sourceVolumeId, NewVolume volume, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RequireRoom();
        var source = VolumeImage(sourceVolumeId);
        var target = VolumeImage(volume.Id);
        var cloneSnap = target + CloneSnapSuffix;
        using var sourceImage = pool.Open(source);
        sourceImage.CreateSnapshot(cloneSnap);
        try
        {
            sourceImage.ProtectSnapshot(cloneSnap);
            pool.Clone(source, cloneSnap, target);
        }
        catch
        {
            RemoveSnapshotQuietly(sourceImage, cloneSnap);
            throw;
        }

        if (CloneDepth(pool, source) >= _options.MaxCloneDepth)
        {
            LogFlattening(logger, target, _options.MaxCloneDepth);
            using (var targetImage = pool.Open(target))
            {
                targetImage.Flatten();
            }

            sourceImage.UnprotectSnapshot(cloneSnap);
            sourceImage.RemoveSnapshot(cloneSnap);
        }

        Finish(pool, volume, source);
    }, cancellationToken);

    public Task CreateSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RequireRoom();
        using var image = pool.Open(VolumeImage(volumeId));
        var snap = SnapshotName(snapshotId);
        image.CreateSnapshot(snap);
        image.ProtectSnapshot(snap);
    }, cancellationToken);

    /// <summary>Cinder's delete_snapshot: unprotect (busy while clones depend on it), then remove.</summary>
    public Task DeleteSnapshotAsync(string volumeId, string snapshotId, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        var snap = SnapshotName(snapshotId);
        RbdImage image;
        try
        {
            image = pool.Open(VolumeImage(volumeId));
        }
        catch (RbdException e) when (e.Errno == RbdException.NotFound)
        {
            return;
        }

        using (image)
        {
            try
            {
                image.UnprotectSnapshot(snap);
            }
            catch (RbdException e) when (e.Errno is RbdException.InvalidArgument or RbdException.NotFound)
            {
                // Not protected, or not there: nothing to unprotect.
            }
            catch (RbdException e) when (e.Errno == RbdException.Busy)
            {
                throw new VolumeBackendBusyException($"Snapshot {snapshotId} has dependent volumes (copy-on-write clones) and cannot be deleted.");
            }

            try
            {
                image.RemoveSnapshot(snap);
            }
            catch (RbdException e) when (e.Errno == RbdException.NotFound)
            {
                // Already gone.
            }
        }
    }, cancellationToken);

    /// <summary>Cinder's create_volume_from_snapshot: a copy-on-write clone of the protected snapshot (not flattened).</summary>
    public Task CreateFromSnapshotAsync(string snapshotVolumeId, string snapshotId, NewVolume volume, CancellationToken cancellationToken) => Connection.RunAsync(pool =>
    {
        RequireRoom();
        pool.Clone(VolumeImage(snapshotVolumeId), SnapshotName(snapshotId), VolumeImage(volume.Id));
        Finish(pool, volume, VolumeImage(snapshotVolumeId));
    }, cancellationToken);

    /// <summary>
    /// Cinder's clone_image: a raw image whose data is an RBD snapshot in this backend's cluster becomes a copy-on-write
    /// clone of it (instant, whatever its size), grown to the volume's size. Anything else is checked (a file as when
    /// it was chosen) and written by qemu-img into a new image made by <see cref="CreateAsync"/> (so multi-attach
    /// features follow the same rule), through QEMU's rbd driver with the user, conf and keyring path of each side
    /// (the key itself is never on a command line).
    /// </summary>
    public async Task CopyImageAsync(ImageLocation image, NewVolume volume, CancellationToken cancellationToken)
    {
        if (image is RbdImageLocation rbd && rbd.ClusterFsid == _fsid && DiskFormats.QemuDriver(rbd.DiskFormat) == "raw")
        {
            await Connection.RunAsync(pool =>
            {
                RequireRoom();
                using var imagePool = _cluster!.OpenPool(rbd.Cluster.Pool);
                pool.Clone(rbd.Image, rbd.Snapshot, VolumeImage(volume.Id), imagePool);
                Finish(pool, volume, rbd.Image);
            }, cancellationToken);
            LogClonedImage(logger, VolumeImage(volume.Id), rbd.Cluster.Pool, rbd.Image, rbd.Snapshot);
            return;
        }

        if (image is ImageFileLocation file)
        {
            await ImageFiles.VerifyAsync(file.Path, file.DiskFormat, cancellationToken);
        }

        await CreateAsync(volume, cancellationToken);
        try
        {
            (await ProcessRunner.RunAsync("qemu-img", ["convert", "-q", "-n", "--target-is-zero", "-f", ImageFiles.QemuFormat(image.DiskFormat), "-O", "raw",
                image.QemuImgSource(), _options.QemuFilename(VolumeImage(volume.Id))], cancellationToken: cancellationToken)).EnsureSuccess();
        }
        catch
        {
            await Connection.RunAsync(pool => pool.Remove(VolumeImage(volume.Id)), CancellationToken.None);
            throw;
        }
    }

    /// <summary>qemu-img reads the image through QEMU's rbd driver as this backend's user (conf and keyring path, never the key).</summary>
    public async Task CopyToFileAsync(string volumeId, string path, string diskFormat, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync("qemu-img", ["convert", "-q", "-f", "raw", "-O", ImageFiles.QemuFormat(diskFormat),
            ImageFiles.QemuImgSource(ImageFiles.QemuRbdFile(_options.QemuFilename(VolumeImage(volumeId))), "raw"), path],
            cancellationToken: cancellationToken)).EnsureSuccess();

    /// <summary>The same read of the volume's RBD snapshot.</summary>
    public async Task CopySnapshotToFileAsync(string volumeId, string snapshotId, string path, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "raw",
            ImageFiles.QemuImgSource(ImageFiles.QemuRbdFile(_options.QemuFilename(VolumeImage(volumeId), SnapshotName(snapshotId))), "raw"), path],
            cancellationToken: cancellationToken)).EnsureSuccess();

    /// <summary>qemu-img writes into the existing image (-n) through QEMU's rbd driver as this backend's user.</summary>
    public async Task CopyFromFileAsync(string volumeId, string path, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync("qemu-img", ["convert", "-q", "-n", "-f", "raw", "-O", "raw",
            ImageFiles.QemuImgSource(path, "raw"), _options.QemuFilename(VolumeImage(volumeId))], cancellationToken: cancellationToken)).EnsureSuccess();

    /// <summary>Cinder's _get_pool_stats: free is the pool's max_avail (or what its byte quota leaves); total is free + used.</summary>
    public Task<PoolCapacity> CapacityAsync(CancellationToken cancellationToken) => Connection.RunAsync(_ =>
    {
        var cluster = _cluster ?? throw new InvalidOperationException("The rbd backend is not connected.");
        var df = JsonNode.Parse(cluster.MonCommand("""{"prefix":"df","format":"json"}"""))!;
        var stats = df["pools"]!.AsArray().FirstOrDefault(p => (string?)p?["name"] == _options.Pool)?["stats"]
            ?? throw new InvalidOperationException($"Pool {_options.Pool} is not in the cluster's df.");
        var quota = JsonNode.Parse(cluster.MonCommand($$"""{"prefix":"osd pool get-quota","pool":"{{_options.Pool}}","format":"json"}"""))!;
        var used = stats["bytes_used"]!.GetValue<long>();
        var free = stats["max_avail"]!.GetValue<long>();
        if (quota["quota_max_bytes"]?.GetValue<long>() is > 0 and var quotaBytes)
        {
            free = Math.Max(Math.Min(quotaBytes - used, free), 0);
        }

        return new PoolCapacity(free + used, free);
    }, cancellationToken);

    /// <summary>
    /// Refuses to grow a pool that the cluster has marked full (its byte or object quota reached: EDQUOT; its OSDs full:
    /// ENOSPC). Thin creates, resizes and snapshots only write metadata, which a full pool still takes, so without
    /// this a volume would be made that no guest could write to.
    /// </summary>
    private void RequireRoom()
    {
        var cluster = _cluster ?? throw new InvalidOperationException("The rbd backend is not connected.");
        var pools = JsonNode.Parse(cluster.MonCommand("""{"prefix":"osd pool ls","detail":"detail","format":"json"}"""))!.AsArray();
        var flags = ((string?)pools.FirstOrDefault(p => (string?)p?["pool_name"] == _options.Pool)?["flags_names"] ?? "").Split(',');
        if (flags.Contains("full_quota"))
        {
            throw new RbdException($"pool {_options.Pool} is full for its quota", RbdException.QuotaExceeded);
        }

        if (flags.Contains("full"))
        {
            throw new RbdException($"pool {_options.Pool} is full", RbdException.NoSpace);
        }
    }

    /// <summary>After a create or clone: multi-attach features off, and a clone grown to the volume's size.</summary>
    private static void Finish(RbdPool pool, NewVolume volume, string? clonedFrom)
    {
        if (!volume.Multiattach && clonedFrom is null)
        {
            return;
        }

        using var image = pool.Open(VolumeImage(volume.Id));
        if (volume.Multiattach && (image.Features & MultiattachExclusions) is var present and not 0)
        {
            image.UpdateFeatures(present, enabled: false);
        }

        if ((ulong)volume.SizeBytes > image.Size)
        {
            image.Resize((ulong)volume.SizeBytes);
        }
    }

    /// <summary>Cinder's _get_clone_info: the parent only when it is this volume's own clone snapshot (a volume from a volume).</summary>
    private static (string Pool, string Image, string Snapshot)? CloneParentOf(RbdImage image, string name, string? atSnapshot)
    {
        var parent = image.Parent(atSnapshot);
        var bare = name.EndsWith(DeletedSuffix, StringComparison.Ordinal) ? name[..^DeletedSuffix.Length] : name;
        return parent is { } p && p.Snapshot == bare + CloneSnapSuffix ? p : null;
    }

    /// <summary>How many volume-from-volume clones lie behind <paramref name="name"/>.</summary>
    private static int CloneDepth(RbdPool pool, string name)
    {
        var depth = 0;
        for (var current = name; ; depth++)
        {
            using var image = pool.Open(current);
            if (CloneParentOf(image, current, null) is not { } parent)
            {
                return depth;
            }

            current = parent.Image;
        }
    }

    /// <summary>Cinder's _delete_clone_parent_refs: drop the parent's clone snapshot, then a .deleted parent left bare, up the chain.</summary>
    private void DeleteCloneParentRefs(RbdPool pool, string parentName, string parentSnap)
    {
        while (true)
        {
            (string Pool, string Image, string Snapshot)? grandparent;
            bool parentHasSnaps;
            using (var parent = pool.Open(parentName))
            {
                grandparent = CloneParentOf(parent, parentName, parentSnap);
                parent.UnprotectSnapshot(parentSnap);
                parent.RemoveSnapshot(parentSnap);
                parentHasSnaps = parent.SnapshotNames().Count > 0;
            }

            if (parentHasSnaps || !parentName.EndsWith(DeletedSuffix, StringComparison.Ordinal))
            {
                return;
            }

            pool.Remove(parentName);
            LogRemovedDeleted(logger, parentName);
            if (grandparent is not { } g)
            {
                return;
            }

            (parentName, parentSnap) = (g.Image, g.Snapshot);
        }
    }

    private static void RemoveSnapshotQuietly(RbdImage image, string snap)
    {
        try
        {
            image.UnprotectSnapshot(snap);
        }
        catch (RbdException)
        {
            // Not protected yet.
        }

        try
        {
            image.RemoveSnapshot(snap);
        }
        catch (RbdException)
        {
            // The original error is the one worth reporting.
        }
    }

    /// <summary>The v1 address (host:port) of each monitor in a <c>mon dump</c>.</summary>
    private static IReadOnlyList<string> MonitorsOf(string monDump) =>
        [.. JsonNode.Parse(monDump)!["mons"]!.AsArray()
            .Select(m => (string)m!["addr"]!)
            .Select(addr => addr.Contains('/', StringComparison.Ordinal) ? addr[..addr.LastIndexOf('/')] : addr)];

    /// <summary>The I/O context made at start, whose <see cref="RbdPool.RunAsync(Action{RbdPool}, CancellationToken)"/> runs each call sequence.</summary>
    private RbdPool Connection => _pool ?? throw new InvalidOperationException("The rbd backend is not connected.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to Ceph as client.{User}, pool {Pool}, monitors {Monitors}")]
    private static partial void LogConnected(ILogger logger, string user, string pool, string monitors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Image {Image} still has clones: renamed .deleted, removed with its last clone")]
    private static partial void LogKeptAsDeleted(ILogger logger, string image);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Image}: its last clone is gone")]
    private static partial void LogRemovedDeleted(ILogger logger, string image);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume image {Image} is a copy-on-write clone of image data {Pool}/{Parent}@{Snapshot}")]
    private static partial void LogClonedImage(ILogger logger, string image, string pool, string parent, string snapshot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flattening {Image}: the clone chain reached {Depth}")]
    private static partial void LogFlattening(ILogger logger, string image, int depth);
}
