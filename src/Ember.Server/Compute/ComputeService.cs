using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Compute.Qemu;
using Ember.Server.Common;
using Ember.Server.Image;
using Ember.Server.Volume;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Compute;

/// <summary>
/// The compute manager: turns API requests into QEMU processes and volume attachments. Requests are
/// validated and volumes reserved on the request thread (so errors are the API's 400s); the slow work
/// (disk overlay, QEMU start, hot-plug) runs in the background while the API reports BUILD or the
/// volume reports attaching, as Nova's compute service does.
/// </summary>
public sealed partial class ComputeService(
    ComputeStore store,
    IVolumeService volumes,
    ImageStore images,
    QemuDriver driver,
    VirtHost host,
    IOptions<EmberOptions> options,
    ILogger<ComputeService> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _background = [];

    /// <summary>The compute host name reported in OS-EXT-SRV-ATTR:host and the hostId hash.</summary>
    public string HostName { get; } = options.Value.HostName;

    public string InstancesDir { get; } = Path.Combine(options.Value.DataDir, "instances");

    public string InstanceDir(string serverId) => Path.Combine(InstancesDir, serverId);

    /// <summary>Validates, reserves the boot volumes, stores the server in BUILD and starts it in the background.</summary>
    public async Task<ServerRow> CreateAsync(RequestContext ctx, ServerCreateRequest request, Microversion version)
    {
        // A private flavor the caller's project was not given does not exist for it (Nova's FlavorNotFound -> 400).
        var flavor = await store.FindFlavorAsync(request.FlavorRef);
        if (flavor is null || !await store.CanUseFlavorAsync(flavor, ctx))
        {
            throw ApiException.BadRequest("Invalid flavorRef provided.");
        }

        var bootFromVolume = request.Volumes.Any(v => v.BootIndex == 0);
        ImageRow? image = null;
        if (!bootFromVolume)
        {
            if (string.IsNullOrEmpty(request.ImageId))
            {
                throw ApiException.BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.");
            }

            image = await images.FindAsync(request.ImageId);
            if (image is null || (image.Owner != ctx.ProjectId && image.Visibility is not ("public" or "community") && !ctx.IsCloudAdmin))
            {
                throw ApiException.BadRequest($"Image {request.ImageId} could not be found.");
            }

            if (image.Status != "active")
            {
                throw ApiException.BadRequest($"Image {image.Id} is not active.");
            }

            var flavorBytes = (long)flavor.Disk << 30;
            if (flavor.Disk > 0 && image.VirtualSize is { } virtualSize && virtualSize > flavorBytes)
            {
                throw ApiException.BadRequest($"Flavor's disk is too small for requested image. Flavor disk is {flavorBytes} bytes, image is {virtualSize} bytes.");
            }

            if (flavor.Ram < image.MinRam)
            {
                throw ApiException.BadRequest("Flavor's memory is too small for requested image.");
            }
        }

        var serverId = Ids.NewUuid();
        var bdms = await ReserveBootVolumesAsync(ctx, serverId, request.Volumes, version);
        var now = Ids.Now();
        var server = new ServerRow
        {
            Id = serverId,
            Name = request.Name,
            Description = request.Description,
            ProjectId = ctx.ProjectId!,
            UserId = ctx.UserId,
            ImageId = image?.Id,
            FlavorId = flavor.Id,
            FlavorJson = JsonSerializer.Serialize(flavor),
            VmState = VmStates.Building,
            TaskState = "scheduling",
            PowerState = PowerStates.NoState,
            Metadata = JsonSerializer.Serialize(request.Metadata),
            UserData = request.UserData,
            KeyName = request.KeyName,
            Host = HostName,
            CreatedAt = now,
            UpdatedAt = now,
        };
        try
        {
            server = await store.InsertServerAsync(server, bdms);
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, bdms);
            throw;
        }

        RunInBackground(() => SpawnAsync(ctx, server.Id, request.AdminPass));
        return server;
    }

    /// <summary>Checks each boot volume as Nova's API does and reserves it (Cinder attachment without connector).</summary>
    private async Task<List<BdmRow>> ReserveBootVolumesAsync(RequestContext ctx, string serverId, List<BootVolume> requested, Microversion version)
    {
        var bdms = new List<BdmRow>();
        var used = new HashSet<string> { "vda" };
        try
        {
            foreach (var boot in requested)
            {
                var volume = await GetVolumeForAttachAsync(ctx, boot.VolumeId, version);
                if (bdms.Any(b => b.VolumeId == volume.Id))
                {
                    throw ApiException.BadRequest($"Invalid volume: volume {volume.Id} already attached");
                }

                var device = boot.BootIndex == 0 ? "vda" : AssignDevice(boot.DeviceName, used);
                used.Add(device);
                var attachment = await volumes.ReserveAsync(ctx, volume.Id, serverId);
                bdms.Add(new BdmRow
                {
                    Id = Ids.NewUuid(),
                    ServerId = serverId,
                    VolumeId = volume.Id,
                    AttachmentId = attachment.Id,
                    DeviceName = device,
                    BootIndex = boot.BootIndex,
                    DeleteOnTermination = boot.DeleteOnTermination,
                    Tag = boot.Tag,
                    CreatedAt = Ids.Now().AddTicks(bdms.Count * 10),
                });
            }

            return bdms;
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, bdms);
            throw;
        }
    }

    /// <summary>The volume, after Nova's API checks: the 2.60 gate for multi-attach and "already attached" for the rest.</summary>
    private async Task<VolumeInfo> GetVolumeForAttachAsync(RequestContext ctx, string volumeId, Microversion version)
    {
        VolumeInfo volume;
        try
        {
            volume = await volumes.GetAsync(ctx, volumeId);
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw ApiException.NotFound($"Volume {volumeId} could not be found.");
        }

        if (volume.Multiattach && !version.AtLeast(60))
        {
            throw ApiException.BadRequest("Multiattach volumes are only supported starting with compute API version 2.60.");
        }

        if (!volume.Multiattach && volume.ServerIds.Count > 0)
        {
            throw ApiException.BadRequest($"Invalid volume: volume {volume.Id} is already attached to instances: {string.Join(", ", volume.ServerIds)}");
        }

        return volume;
    }

    /// <summary>"/dev/vdc" -> "vdc" when free and well-formed; otherwise the next free vdX, as Nova picks one.</summary>
    public static string AssignDevice(string? requested, ISet<string> used)
    {
        var name = requested?.Trim();
        if (name is not null && name.StartsWith("/dev/", StringComparison.Ordinal))
        {
            name = name[5..];
        }

        if (name is { Length: 3 } && name.StartsWith("vd", StringComparison.Ordinal) && name[2] is >= 'b' and <= 'z' && !used.Contains(name))
        {
            return name;
        }

        for (var letter = 'b'; letter <= 'z'; letter++)
        {
            var candidate = "vd" + letter;
            if (!used.Contains(candidate))
            {
                return candidate;
            }
        }

        throw ApiException.BadRequest("The server has no free device name left (vdb..vdz are all in use).");
    }

    /// <summary>Builds the root disk, connects the boot volumes, starts QEMU; ERROR with a fault if any step fails.</summary>
    private async Task SpawnAsync(RequestContext ctx, string serverId, string? adminPass)
    {
        await host.WithServerLockAsync(serverId, async () =>
        {
            var server = await store.FindServerAsync(serverId);
            if (server is null || server.TaskState == "deleting")
            {
                return;
            }

            try
            {
                await store.SetStateAsync(serverId, VmStates.Building, "spawning", PowerStates.NoState);
                var machine = await BootAsync(ctx, server, _stopping.Token);
                foreach (var bdm in await store.ListBdmsAsync(serverId))
                {
                    await volumes.CompleteAsync(ctx, bdm.AttachmentId!);
                }

                await store.SetStateAsync(serverId, VmStates.Active, null, PowerStates.Running, launched: true);
                LogServerActive(logger, serverId, machine.Pid);
                if (adminPass is not null)
                {
                    RunInBackground(() => SetPasswordWhenAgentReadyAsync(machine, adminPass));
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                LogSpawnFailed(logger, serverId, ex);
                await FailAsync(serverId, ex);
            }
        });
    }

    /// <summary>Starts QEMU for a server whose volumes are reserved or attached; exports them first if needed.</summary>
    private async Task<QemuMachine> BootAsync(RequestContext ctx, ServerRow server, CancellationToken cancellationToken)
    {
        var dir = InstanceDir(server.Id);
        Directory.CreateDirectory(dir);
        var flavor = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var bdms = await store.ListBdmsAsync(server.Id);
        var disks = new List<NbdDisk>();
        foreach (var bdm in bdms)
        {
            disks.Add(await ConnectAsync(ctx, bdm));
        }

        QemuDisk root;
        var rootVolume = disks.FirstOrDefault(d => d.DeviceName == "vda");
        if (rootVolume is not null)
        {
            root = rootVolume;
            disks.Remove(rootVolume);
        }
        else
        {
            // The overlay reads its base at every boot, so the base is checked at every boot, not only the first.
            var overlay = Path.Combine(dir, "disk");
            var image = await images.FindAsync(server.ImageId!) ?? throw new InvalidOperationException($"Image {server.ImageId} is gone.");
            await images.VerifyAsync(image, cancellationToken);
            var imageBase = new ImageBase(images.FileOf(image.Id), image.DiskFormat ?? "raw");
            if (!File.Exists(overlay))
            {
                long? size = flavor.Disk > 0 ? (long)flavor.Disk << 30 : null;
                await driver.CreateOverlayAsync(imageBase.Path, imageBase.Format, overlay, size, cancellationToken);
            }

            root = new FileDisk("vda", overlay, "qcow2", Backing: imageBase);
        }

        var spec = new QemuMachineSpec(server.Id, dir, flavor.Ram, flavor.Vcpus, root, [.. disks.OrderBy(d => d.DeviceName, StringComparer.Ordinal)]);
        var machine = await driver.StartAsync(spec, cancellationToken);
        host.Add(machine);
        WatchExit(machine);
        return machine;
    }

    /// <summary>Gives the volume service our connector (it exports the volume) and describes the NBD disk for QEMU.</summary>
    private async Task<NbdDisk> ConnectAsync(RequestContext ctx, BdmRow bdm)
    {
        NbdConnectionInfo? connection = bdm.ConnectionJson is null ? null : JsonSerializer.Deserialize<NbdConnectionInfo>(bdm.ConnectionJson);
        if (connection is null)
        {
            var attachment = await volumes.UpdateAsync(ctx, bdm.AttachmentId!, new Connector(Host: HostName, Mountpoint: "/dev/" + bdm.DeviceName), "/dev/" + bdm.DeviceName);
            connection = attachment.ConnectionInfo ?? throw new InvalidOperationException($"Volume {bdm.VolumeId} returned no connection info.");
            await store.UpdateBdmConnectionAsync(bdm.Id, bdm.AttachmentId, JsonSerializer.Serialize(connection));
        }

        return new NbdDisk(bdm.DeviceName, bdm.VolumeId, connection.ExportName, connection.UnixSocket, connection.Host,
            connection.Port ?? 0, connection.ReadOnly, connection.Multiattach);
    }

    /// <summary>When QEMU exits on its own (guest power-off, crash), the server becomes SHUTOFF, as Nova's sync does.</summary>
    private void WatchExit(QemuMachine machine) => RunInBackground(async () =>
    {
        await machine.Exited;
        if (host.Find(machine.Id) != machine || _stopping.IsCancellationRequested)
        {
            return;
        }

        host.Remove(machine.Id);
        await machine.DisposeAsync();
        var server = await store.FindServerAsync(machine.Id);
        if (server is { TaskState: null, VmState: VmStates.Active })
        {
            await store.SetStateAsync(machine.Id, VmStates.Stopped, null, PowerStates.Shutdown);
        }
    });

    private async Task SetPasswordWhenAgentReadyAsync(QemuMachine machine, string password)
    {
        // Best effort, like Nova's admin password injection: guests without an agent keep their own.
        if (await machine.Agent.PingAsync(TimeSpan.FromMinutes(3), _stopping.Token))
        {
            try
            {
                await machine.Agent.SetUserPasswordAsync("root", password, _stopping.Token);
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
        if (host.Remove(serverId) is { } machine)
        {
            await machine.DisposeAsync();
        }

        await store.SetStateAsync(serverId, VmStates.Error, null, PowerStates.NoState, fault.ToJsonString());
    }

    private async Task ReleaseAttachmentsAsync(RequestContext ctx, IEnumerable<BdmRow> bdms)
    {
        foreach (var bdm in bdms.Where(b => b.AttachmentId is not null))
        {
            try
            {
                await volumes.DeleteAttachmentAsync(ctx, bdm.AttachmentId!);
            }
            catch (ApiException ex)
            {
                LogReleaseFailed(logger, bdm.VolumeId, ex.Message);
            }
        }
    }

    private void RunInBackground(Func<Task> work)
    {
        var task = Task.Run(async () =>
        {
            try
            {
                await work();
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                LogBackgroundFailed(logger, ex);
            }
            catch (Exception)
            {
                // Shutting down: the work is abandoned on purpose.
            }
        });
        lock (_background)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RecoverAsync(cancellationToken);
        RunInBackground(TrimConsoleLogsAsync);
    }

    /// <summary>
    /// Stops background work and the VMs (the NBD server they use stops with this process). Servers that were
    /// running get a resume marker and are started again by the next <c>ember serve</c>, like Nova's
    /// resume_guests_state_on_host_boot.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        Task[] pending;
        lock (_background)
        {
            pending = [.. _background];
        }

        await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
        foreach (var machine in host.All)
        {
            host.Remove(machine.Id);
            await File.WriteAllTextAsync(ResumeMarker(machine.Id), "", CancellationToken.None);
            await machine.DisposeAsync();
            await store.SetStateAsync(machine.Id, VmStates.Stopped, null, PowerStates.Shutdown);
        }
    }

    private string ResumeMarker(string serverId) => Path.Combine(InstanceDir(serverId), "resume-on-start");

    /// <summary>
    /// After a restart no operation is in flight any more: running QEMUs are adopted, servers stopped by the
    /// last shutdown are started again, interrupted builds become ERROR and interrupted deletes finish.
    /// </summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        foreach (var server in await store.ListServersAsync(null))
        {
            var ctx = ServiceContext(server);
            if (server.TaskState == "deleting")
            {
                await DeleteAsync(ctx, server);
                continue;
            }

            if (server.VmState == VmStates.Building)
            {
                await FailAsync(server.Id, new InvalidOperationException("Ember restarted while the server was building."));
                continue;
            }

            var machine = server.VmState == VmStates.Active ? await driver.AdoptAsync(server.Id, InstanceDir(server.Id), cancellationToken) : null;
            if (machine is not null)
            {
                host.Add(machine);
                WatchExit(machine);
                await store.SetStateAsync(server.Id, VmStates.Active, null, PowerStates.Running);
            }
            else if (File.Exists(ResumeMarker(server.Id)))
            {
                File.Delete(ResumeMarker(server.Id));
                await store.SetStateAsync(server.Id, VmStates.Stopped, "powering-on", PowerStates.Shutdown);
                RunInBackground(() => host.WithServerLockAsync(server.Id, () => PowerOnAsync(ctx, server)));
            }
            else if (server.VmState == VmStates.Active || server.TaskState is not null)
            {
                await store.SetStateAsync(server.Id, VmStates.Stopped, null, PowerStates.Shutdown);
            }
        }
    }

    /// <summary>Who compute acts as when no user request is behind the work (recovery): the server's own project.</summary>
    private static RequestContext ServiceContext(ServerRow server) =>
        new(server.UserId, "ember-compute", "default", server.ProjectId, null, ["admin"], DateTime.MaxValue);

    /// <summary>Keeps every console.log under a few MiB; QEMU appends, so cutting the front from outside is safe.</summary>
    private async Task TrimConsoleLogsAsync()
    {
        const long limit = 4 << 20;
        const int keep = 1 << 20;
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        while (await timer.WaitForNextTickAsync(_stopping.Token))
        {
            foreach (var machine in host.All)
            {
                var log = new FileInfo(machine.ConsoleLogPath);
                if (log.Exists && log.Length > limit)
                {
                    await using var stream = new FileStream(log.FullName, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                    var tail = new byte[keep];
                    stream.Seek(-keep, SeekOrigin.End);
                    await stream.ReadExactlyAsync(tail, _stopping.Token);
                    stream.SetLength(0);
                    await stream.WriteAsync(tail, _stopping.Token);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} is ACTIVE (QEMU pid {Pid})")]
    private static partial void LogServerActive(ILogger logger, string serverId, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "Server {ServerId} failed to spawn")]
    private static partial void LogSpawnFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release attachment of volume {VolumeId}: {Reason}")]
    private static partial void LogReleaseFailed(ILogger logger, string volumeId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin password of server {ServerId} not set: {Reason}")]
    private static partial void LogPasswordNotSet(ILogger logger, string serverId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Background compute task failed")]
    private static partial void LogBackgroundFailed(ILogger logger, Exception exception);
}
