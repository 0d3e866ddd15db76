using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.Server.Common;
using Ember.Server.Volume;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// The host side of compute (Nova's compute manager with its libvirt driver): owns the QEMU processes of the
/// servers whose host column is <see cref="Name"/>. It takes the API's messages through <see cref="IComputeHost"/>,
/// does the slow work on the shared <see cref="BackgroundWork"/> under the server's lock, writes vm_state,
/// task_state and power_state into the row, and calls the volume service as the compute service. A row of
/// another host is never touched, not even by recovery.
/// </summary>
public sealed partial class ComputeHostManager(
    ComputeStore store,
    IVolumeService volumes,
    IHostImageSource images,
    QemuDriver driver,
    VirtHost machines,
    BackgroundWork work,
    BootPasswords bootPasswords,
    HostNetworking networking,
    Metadata.MetadataAnswers metadata,
    IOptions<EmberOptions> options,
    ILogger<ComputeHostManager> logger) : IComputeHost, IHostedService
{
    private static readonly TimeSpan s_powerOffGrace = TimeSpan.FromSeconds(30);

    public string Name { get; } = options.Value.HostName;

    public string InstancesDir { get; } = Path.Combine(options.Value.DataDir, "instances");

    public string InstanceDir(string serverId) => Path.Combine(InstancesDir, serverId);

    /// <summary>The client certificate for NBD over TCP: configured, or the one the volume service writes in its DATA/nbd-tls/client.</summary>
    private string NbdClientCredentialsDir { get; } =
        options.Value.Compute.NbdClientCertificateDir ?? Path.Combine(options.Value.DataDir, "nbd-tls", "client");

    /// <summary>Where this host finds the key of an RBD volume's user: configured, the volume backend's own keyring for its user, or Ceph's default.</summary>
    private string RbdKeyringPath(string user) =>
        options.Value.Compute.RbdKeyringPath
        ?? (options.Value.Volume is { IsRbd: true, Rbd: { KeyringPath: { } backendKeyring } rbd } && rbd.User == user ? backendKeyring : null)
        ?? $"/etc/ceph/ceph.client.{user}.keyring";

    public Task SpawnAsync(SpawnServer message, CancellationToken cancellationToken)
    {
        Cast("spawn", message.RequestId, message.ServerId, token => SpawnNowAsync(message, token));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs a cast on the background runner, with the server's lock held and a log scope of the request id.
    /// The work re-reads the row: a server that is gone or not ours any more is left alone. The work is an event
    /// of the action the request recorded (os-instance-actions): Error when it throws or leaves the server in ERROR.
    /// </summary>
    private void Cast(string what, string requestId, string serverId, Func<CancellationToken, Task> body) =>
        work.Run(what, ("ServerId", serverId), async token =>
        {
            using var scope = logger.BeginScope("RequestId:{RequestId}", requestId);
            await machines.WithServerLockAsync(serverId, async () =>
            {
                var eventId = await TryStartEventAsync(serverId, requestId, what);
                try
                {
                    await body(token);
                }
                catch (Exception ex)
                {
                    await TryFinishEventAsync(eventId, serverId, ex);
                    throw;
                }

                await TryFinishEventAsync(eventId, serverId, null);
            });
        });

    private static string FaultMessage(string? faultJson) =>
        (faultJson is null ? null : JsonNode.Parse(faultJson)?["message"]?.ToString()) ?? "The server went to ERROR.";

    /// <summary>Nova's event names: the compute manager's method that did the work, prefixed "compute_".</summary>
    private static string EventName(string what, string action) => what switch
    {
        "spawn" when action == "evacuate" => "compute_rebuild_instance",
        "spawn" => "compute__do_build_and_run_instance",
        "attach" => "compute_attach_volume",
        "detach" => "compute_detach_volume",
        "delete" => "compute_terminate_instance",
        "confirm_resize" or "revert_resize" => "compute_" + what,
        nameof(PowerActionKind.SoftReboot) or nameof(PowerActionKind.HardReboot) => "compute_reboot_instance",
        _ => $"compute_{what.ToLowerInvariant()}_instance",
    };

    // Recording is bookkeeping: a database hiccup here must not fail the work itself.
    private async Task<long?> TryStartEventAsync(string serverId, string requestId, string what)
    {
        try
        {
            return await store.StartActionEventAsync(serverId, requestId, action => EventName(what, action), Name);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            LogEventNotRecorded(logger, serverId, ex.Message);
            return null;
        }
    }

    private async Task TryFinishEventAsync(long? eventId, string serverId, Exception? failure)
    {
        if (eventId is not { } id)
        {
            return;
        }

        try
        {
            // A failure the work handled itself shows in the row: ERROR with a fault (a server deleted meanwhile is no failure).
            var row = failure is null ? await store.FindServerAsync(serverId) : null;
            var handled = row is { VmState: VmStates.Error } ? FaultMessage(row.FaultJson) : null;
            await store.FinishActionEventAsync(id, failure is null && handled is null, failure?.Message ?? handled);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            LogEventNotRecorded(logger, serverId, ex.Message);
        }
    }

    /// <summary>The server's row when this host owns it; null (and a log line) when it is gone or another host's.</summary>
    private async Task<ServerRow?> OwnedAsync(string serverId)
    {
        var server = await store.FindServerAsync(serverId);
        if (server is not null && server.Host != Name)
        {
            LogNotOurs(logger, serverId, server.Host, Name);
            return null;
        }

        return server;
    }

    private async Task SpawnNowAsync(SpawnServer message, CancellationToken cancellationToken)
    {
        // A queued spawn has no password; a controller on another machine handed it over by call beforehand.
        var adminPass = message.AdminPass ?? bootPasswords.Take(message.ServerId);
        var server = await OwnedAsync(message.ServerId);
        if (server is null || server.TaskState == "deleting")
        {
            return;
        }

        try
        {
            await store.SetStateAsync(server.Id, VmStates.Building, "spawning", PowerStates.NoState);
            var machine = await BootAsync(server, message.Flavor, message.Image, message.Volumes, cancellationToken);
            var ctx = ServiceContext(server);
            foreach (var volume in message.Volumes)
            {
                await volumes.CompleteAsync(ctx, volume.AttachmentId);
            }

            await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running, launched: true);
            LogServerActive(logger, server.Id, machine.Pid);
            if (message.StopWhenBuilt)
            {
                await PowerOffAsync(server.Id, cancellationToken);
                return;
            }

            if (adminPass is { } password)
            {
                work.Run("admin password", ("ServerId", server.Id), token => SetPasswordWhenAgentReadyAsync(machine, password, token));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogSpawnFailed(logger, server.Id, ex);
            await FailAsync(server.Id, ex);
        }
    }

    /// <summary>Starts QEMU for a server whose volumes are reserved or attached; connects them first if needed.</summary>
    private async Task<QemuMachine> BootAsync(ServerRow server, FlavorSpec flavor, ImageSpec? image, IReadOnlyList<VolumeDisk> volumeDisks,
        CancellationToken cancellationToken)
    {
        var dir = InstanceDir(server.Id);
        Directory.CreateDirectory(dir);
        var ctx = ServiceContext(server);
        var clock = System.Diagnostics.Stopwatch.StartNew(); // the boot trace in the log (bench/boot reads it)
        var disks = new List<NetworkDisk>();
        foreach (var volume in volumeDisks)
        {
            disks.Add(await ConnectAsync(ctx, server.Id, volume));
        }

        var volumesMs = clock.ElapsedMilliseconds;

        QemuDisk root;
        KernelBoot? kernel = null;
        var rootVolume = disks.FirstOrDefault(d => d.DeviceName == "vda");
        if (rootVolume is not null)
        {
            root = rootVolume;
            disks.Remove(rootVolume);
        }
        else
        {
            var rootImage = image ?? throw new InvalidOperationException("The server has neither an image nor a boot volume.");
            root = await RootOverlayAsync(dir, flavor, rootImage, cancellationToken);
            kernel = await KernelBootAsync(rootImage, cancellationToken);
        }

        var imageMs = clock.ElapsedMilliseconds;
        var nics = await networking.PlugAsync(server.Id, cancellationToken);

        // Made once, at the first boot (as Nova does): a reboot shows the guest the same drive.
        string? configDrive = null;
        if (server.ConfigDrive.Length > 0)
        {
            configDrive = Path.Combine(dir, Metadata.ConfigDrive.FileName);
            if (!File.Exists(configDrive))
            {
                await Metadata.ConfigDrive.BuildAsync(await metadata.ForServerAsync(server, cancellationToken), dir, cancellationToken);
            }
        }

        var spec = new QemuMachineSpec(server.Id, dir, flavor.Ram, flavor.Vcpus, root, [.. disks.OrderBy(d => d.DeviceName, StringComparer.Ordinal)], nics,
            configDrive, Kernel: kernel);
        var prepareMs = clock.ElapsedMilliseconds;
        var machine = await driver.StartAsync(spec, cancellationToken);
        machines.Add(machine);
        WatchExit(machine);
        LogBooted(logger, server.Id, clock.ElapsedMilliseconds, volumesMs, imageMs - volumesMs, prepareMs - imageMs, clock.ElapsedMilliseconds - prepareMs);
        return machine;
    }

    /// <summary>
    /// The root disk of an image-backed server: its overlay on the cached image, made at the first boot (or after a rebuild
    /// removed it). An unshelved server's root disk stands alone (a copy of its shelved image, which is deleted): it
    /// needs no image.
    /// </summary>
    private async Task<FileDisk> RootOverlayAsync(string dir, FlavorSpec flavor, ImageSpec image, CancellationToken cancellationToken)
    {
        var overlay = Path.Combine(dir, "disk");
        if (File.Exists(overlay) && (await ImageFiles.InspectAsync(overlay, cancellationToken)).BackingFiles.Count == 0)
        {
            return new FileDisk("vda", overlay, "qcow2");
        }

        var imageBase = await images.FetchAsync(image, cancellationToken);
        if (!File.Exists(overlay))
        {
            long? size = flavor.Disk > 0 ? (long)flavor.Disk << 30 : null;
            await driver.CreateOverlayAsync(imageBase.Path, imageBase.Format, overlay, size, cancellationToken);
        }

        return new FileDisk("vda", overlay, "qcow2", Backing: imageBase);
    }

    /// <summary>
    /// The kernel and initramfs to boot directly when the image names them (Glance's kernel_id and ramdisk_id, aki and
    /// ari images), with its os_command_line or Nova's default; null for an image that boots from its own disk. They
    /// are fetched and checked as the root image is, at every boot: the overlay needs its base at every boot too.
    /// </summary>
    private async Task<KernelBoot?> KernelBootAsync(ImageSpec image, CancellationToken cancellationToken)
    {
        var properties = await images.PropertiesAsync(image, cancellationToken);
        if (properties.GetValueOrDefault("kernel_id") is not { Length: > 0 } kernelId)
        {
            return null;
        }

        var kernel = await images.FetchAsync(new ImageSpec(kernelId), cancellationToken);
        var ramdisk = properties.GetValueOrDefault("ramdisk_id") is { Length: > 0 } ramdiskId
            ? await images.FetchAsync(new ImageSpec(ramdiskId), cancellationToken)
            : null;
        return new KernelBoot(kernel.Path, ramdisk?.Path, properties.GetValueOrDefault("os_command_line") ?? DefaultKernelCommandLine);
    }

    /// <summary>Nova's libvirt driver's command line for a kernel image without os_command_line.</summary>
    internal const string DefaultKernelCommandLine = "root=/dev/vda console=tty0 console=ttyS0 console=hvc0";

    /// <summary>
    /// Gives the volume service this host's connector (it exports the volume) and describes the disk for QEMU.
    /// The connection info is kept in the mapping, so a restart reconnects without asking again.
    /// </summary>
    private async Task<NetworkDisk> ConnectAsync(RequestContext ctx, string serverId, VolumeDisk volume)
    {
        var bdm = (await store.ListBdmsAsync(serverId)).FirstOrDefault(b => b.Id == volume.BdmId);
        var connection = KeptConnection(bdm?.ConnectionJson);
        if (connection is null)
        {
            var mountpoint = "/dev/" + volume.DeviceName;
            var attachment = await volumes.UpdateAsync(ctx, volume.AttachmentId, new Connector(Host: Name, Mountpoint: mountpoint), mountpoint);
            connection = attachment.Connection ?? throw new InvalidOperationException($"Volume {volume.VolumeId} returned no connection info.");
            await store.UpdateBdmConnectionAsync(volume.BdmId, volume.AttachmentId, JsonSerializer.Serialize(connection, ComputeHostJson.Default.VolumeConnection));
        }

        return connection switch
        {
            NbdUnixConnection unix => new NbdDisk(volume.DeviceName, volume.VolumeId, unix.ExportName, unix.SocketPath, Host: null, Port: 0,
                unix.ReadOnly, unix.Multiattach),
            NbdTcpConnection tcp => new NbdDisk(volume.DeviceName, volume.VolumeId, tcp.ExportName, UnixSocketPath: null, tcp.Host, tcp.Port,
                tcp.ReadOnly, tcp.Multiattach, TlsCredentialsDir: tcp.Tls ? NbdClientCredentialsDir : null),
            RbdConnection rbd => new RbdDisk(volume.DeviceName, volume.VolumeId, rbd.Pool, rbd.Image, rbd.Monitors, rbd.AuthUser,
                CephKeyring.KeyOf(RbdKeyringPath(rbd.AuthUser), rbd.AuthUser), rbd.ReadOnly, rbd.Multiattach),
            _ => throw new NotSupportedException($"This host cannot attach a {connection.DriverVolumeType} volume."),
        };
    }

    /// <summary>
    /// The connection kept in a block device mapping; null when there is none or it was written by an Ember before
    /// connections carried their transport tag (the caller then asks the volume service again, which re-exports).
    /// </summary>
    private static VolumeConnection? KeptConnection(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, ComputeHostJson.Default.VolumeConnection);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>When QEMU exits on its own (guest power-off, crash, kill), the server becomes SHUTOFF, as Nova's power sync does.</summary>
    private void WatchExit(QemuMachine machine) => work.Run("watch", ("ServerId", machine.Id), async token =>
    {
        try
        {
            await machine.Exited.WaitAsync(token);
        }
        catch (OperationCanceledException)
        {
            return; // shutdown: StopAsync powers the machine off and writes the row
        }

        if (machines.Find(machine.Id) != machine)
        {
            return;
        }

        machines.Remove(machine.Id);
        await machine.DisposeAsync();
        var server = await store.FindServerAsync(machine.Id);
        if (server is { TaskState: null, VmState: VmStates.Active })
        {
            await store.SetStateAsync(machine.Id, VmStates.Stopped, null, PowerStates.Shutdown);
        }
    });

    private async Task SetPasswordWhenAgentReadyAsync(QemuMachine machine, string password, CancellationToken cancellationToken)
    {
        // Best effort, like Nova's admin password injection: guests without an agent keep their own.
        if (await machine.Agent.PingAsync(TimeSpan.FromMinutes(3), cancellationToken))
        {
            try
            {
                await machine.Agent.SetUserPasswordAsync("root", password, cancellationToken);
            }
            catch (QemuException ex)
            {
                LogPasswordNotSet(logger, machine.Id, ex.Message);
            }
        }
    }

    private async Task FailAsync(string serverId, Exception ex)
    {
        var fault = new JsonObject
        {
            ["code"] = 500,
            ["created"] = Ids.ZuluSeconds(Ids.Now()),
            ["message"] = ex.Message,
        };
        if (machines.Remove(serverId) is { } machine)
        {
            await machine.DisposeAsync();
        }

        await store.SetStateAsync(serverId, VmStates.Error, null, PowerStates.NoState, fault.ToJsonString());
    }

    /// <summary>
    /// Who the host acts as towards the volume service: the compute service in the server's project (Nova's
    /// service user), built from the row rather than carried over from the user's request.
    /// </summary>
    private static RequestContext ServiceContext(ServerRow server) =>
        new(server.UserId, "ember-compute", "default", server.ProjectId, null, ["admin"], DateTime.MaxValue);

    /// <summary>The flavor, image and volumes of a server as its row and mappings have them (start, resume).</summary>
    private async Task<(FlavorSpec Flavor, ImageSpec? Image, IReadOnlyList<VolumeDisk> Volumes)> BootSpecAsync(ServerRow server)
    {
        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var bdms = await store.ListBdmsAsync(server.Id);
        return (new FlavorSpec(flavor.Ram, flavor.Vcpus, flavor.Disk), server.ImageId is { } image ? new ImageSpec(image) : null,
            [.. bdms.Where(b => b.AttachmentId is not null).Select(b => new VolumeDisk(b.Id, b.VolumeId, b.AttachmentId!, b.DeviceName, b.BootIndex))]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} is ACTIVE (QEMU pid {Pid})")]
    private static partial void LogServerActive(ILogger logger, string serverId, int pid);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Server {ServerId} started in {TotalMs} ms: volumes {VolumesMs} ms, image {ImageMs} ms, network and config drive {NetworkMs} ms, QEMU {QemuMs} ms")]
    private static partial void LogBooted(ILogger logger, string serverId, long totalMs, long volumesMs, long imageMs, long networkMs, long qemuMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Server {ServerId} failed to spawn")]
    private static partial void LogSpawnFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin password of server {ServerId} not set: {Reason}")]
    private static partial void LogPasswordNotSet(ILogger logger, string serverId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} belongs to host {Owner}, not {Host}: left alone")]
    private static partial void LogNotOurs(ILogger logger, string serverId, string owner, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Instance action event of server {ServerId} not recorded: {Reason}")]
    private static partial void LogEventNotRecorded(ILogger logger, string serverId, string reason);
}
