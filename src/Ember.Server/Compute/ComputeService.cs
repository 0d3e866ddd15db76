using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Data;
using Ember.Server.Image;
using Ember.Server.Volume;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

/// <summary>
/// The API side of compute (Nova's API and conductor): validates (flavor, image, Nova's attach rules), reserves volumes,
/// persists the server and its mappings, picks a host with <see cref="ComputeScheduler"/> and hands the work to
/// that host through <see cref="IComputeHost"/>. Errors are the API's 400s/409s on the request thread; the slow
/// work (disk overlay, QEMU start, hot-plug) runs on the host while the API reports BUILD or the volume reports
/// attaching. Every read (status, power state) comes from the row, which the host writes.
/// </summary>
public sealed partial class ComputeService(
    ComputeStore store,
    IVolumeService volumes,
    ImageService images,
    ComputeScheduler scheduler,
    ServerGroupService serverGroups,
    IComputeHosts hosts,
    ComputeHostStatus hostStatus,
    HostInventory inventory,
    Network.NetworkService networks,
    Microsoft.Extensions.Options.IOptions<Network.NetworkOptions> networkOptions,
    ILogger<ComputeService> logger)
{
    /// <summary>
    /// The kernel and ramdisk an image names (kernel_id, ramdisk_id) must be active images the caller may see, as in Nova's
    /// API (_handle_kernel_and_ramdisk): the host loads them as a service, so this is where another project's private
    /// image is kept out of a guest.
    /// </summary>
    private async Task CheckKernelImagesAsync(RequestContext ctx, ImageRow image)
    {
        var properties = ImageJson.PropertiesOf(image);
        foreach (var key in (string[])["kernel_id", "ramdisk_id"])
        {
            if (properties.GetValueOrDefault(key) is { Length: > 0 } id && await images.FindVisibleAsync(ctx, id) is not { Status: "active" })
            {
                throw ApiException.BadRequest($"Image {id} could not be found.");
            }
        }
    }

    /// <summary>
    /// Validates, picks the candidate hosts, reserves the boot volumes, stores the server in BUILD on the first candidate
    /// it still fits on (a member of its group, if it names one) and sends the spawn to that host. When no host takes it
    /// the server is stored in ERROR without a host instead, as Nova does (ComputeService.Placement.cs).
    /// </summary>
    public async Task<ServerRow> CreateAsync(RequestContext ctx, string requestId, ServerCreateRequest request, Microversion version)
    {
        // A private flavor the caller's project was not given does not exist for it (Nova's FlavorNotFound -> 400).
        var flavor = await store.FindFlavorAsync(request.FlavorRef);
        if (flavor is null || !await store.CanUseFlavorAsync(flavor, ctx))
        {
            throw ApiException.BadRequest("Invalid flavorRef provided.");
        }

        var bootFromVolume = request.Volumes.Any(v => v.BootIndex == 0) || request.NewVolumes.Any(m => m.BootIndex == 0);
        if (string.IsNullOrEmpty(request.ImageId) && request.Volumes.FirstOrDefault(v => v.BootIndex == 0) is { } root)
        {
            await CheckBootableAsync(ctx, root.VolumeId);
        }

        ImageRow? image = null;
        List<NewVolumeMapping> imageMappings = [];
        await CheckNewVolumeImagesAsync(ctx, request.NewVolumes);
        if (!bootFromVolume)
        {
            if (string.IsNullOrEmpty(request.ImageId))
            {
                throw ApiException.BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.");
            }

            image = await images.FindVisibleAsync(ctx, request.ImageId) ?? throw ApiException.BadRequest($"Image {request.ImageId} could not be found.");

            if (image.Status != "active")
            {
                throw ApiException.BadRequest($"Image {image.Id} is not active.");
            }

            // A volume-backed server's snapshot image: its root (and other disks) become new volumes of its snapshots.
            imageMappings = MergeNewVolumeMappings(NewVolumeMappingsOf(image), request.Volumes);
            var flavorBytes = (long)flavor.Disk << 30;
            if (imageMappings.FirstOrDefault(m => m.BootIndex == 0) is { } rootMapping)
            {
                bootFromVolume = true;
                if (rootMapping.VolumeSize > 0 && image.MinDisk > rootMapping.VolumeSize)
                {
                    throw ApiException.BadRequest(
                        VolumeTooSmall((long)rootMapping.VolumeSize << 30, image.MinDisk));
                }
            }
            else if (flavor.Disk > 0 && image.VirtualSize is { } virtualSize && virtualSize > flavorBytes)
            {
                throw ApiException.BadRequest($"Flavor's disk is too small for requested image. Flavor disk is {flavorBytes} bytes, image is {virtualSize} bytes.");
            }

            if (flavor.Ram < image.MinRam)
            {
                throw ApiException.BadRequest("Flavor's memory is too small for requested image.");
            }

            await CheckKernelImagesAsync(ctx, image);
        }

        // Nova checks the zone only when no host is forced (the forced host's own zone applies then; a forced node alone does not skip it).
        if (request.Zone is { Name: { } zone, ForcedHost: null } && !await scheduler.IsAvailableZoneAsync(zone))
        {
            throw ApiException.BadRequest("The requested availability zone is not available");
        }

        var nics = await ResolveNicsAsync(ctx, request);
        var securityGroups = nics.Count == 0 ? null : await ResolveSecurityGroupsAsync(ctx, request.SecurityGroups);
        var group = request.GroupId is { } groupId ? await serverGroups.ForBootAsync(ctx, groupId) : null;
        var serverId = Ids.NewUuid();
        var flavorSpec = new FlavorSpec(flavor.Ram, flavor.Vcpus, flavor.Disk);
        // A root from the image's mappings is a volume: the host makes no overlay (the row keeps the image, as Nova's image_ref).
        var imageSpec = image is null || bootFromVolume ? null : new ImageSpec(image.Id);
        var resources = ResourceRequest.Of(flavor, bootFromVolume);
        var candidates = await scheduler.SelectHostsAsync(
            new SchedulingRequest(serverId, ctx.ProjectId!, flavorSpec, imageSpec, resources, request.Zone, group), CancellationToken.None);
        var madeVolumes = await CreateNewVolumesAsync(ctx, [.. imageMappings, .. request.NewVolumes]);
        List<BdmRow> bdms;
        try
        {
            bdms = await ReserveBootVolumesAsync(ctx, serverId, [.. request.Volumes, .. madeVolumes], version);
        }
        catch
        {
            await DeleteVolumesAsync(ctx, madeVolumes);
            throw;
        }

        var now = Ids.Now();
        var server = new ServerRow
        {
            Id = serverId,
            Name = request.Name,
            Hostname = request.Hostname ?? Metadata.InstanceMetadata.DefaultHostname(request.Name, serverId),
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
            KeyData = request.KeyData,
            ConfigDrive = request.ConfigDrive ? "True" : "",
            AvailabilityZone = request.Zone.IsForced ? null : request.Zone.Name,
            PinnedAvailabilityZone = request.Zone.Name,
            SchedulerHints = request.SchedulerHints,
            ImageProperties = image is null ? null : ServerRequestSpec.ImagePropertiesOf(image.Properties),
            AccessIpV4 = request.AccessIpV4,
            AccessIpV6 = request.AccessIpV6,
            ReservationId = request.ReservationId,
            LaunchIndex = request.LaunchIndex,
            CreatedAt = now,
            UpdatedAt = now,
        };
        try
        {
            server = await InsertOnFirstFittingHostAsync(server, bdms, candidates, resources);
        }
        catch
        {
            await ReleaseAttachmentsAsync(ctx, bdms);
            await DeleteVolumesAsync(ctx, madeVolumes);
            throw;
        }

        await store.StartActionAsync(server.Id, requestId, "create", ctx);
        if (server.Host.Length == 0)
        {
            // Nova buries an unplaceable server in ERROR; Ember gives its volumes back at once instead of at delete.
            await ReleaseAttachmentsAsync(ctx, bdms);
            bdms = [];
            await store.RecordActionEventAsync(server.Id, requestId, "conductor_schedule_and_build_instances", null, success: false,
                "No valid host was found.");
        }

        if (group is not null)
        {
            server = await JoinGroupAsync(ctx, group, server, bdms);
        }

        if (server.Host.Length == 0)
        {
            return server;
        }

        await AllocatePortsAsync(ctx, server, nics, securityGroups);
        var volumeDisks = bdms.Select(b => new VolumeDisk(b.Id, b.VolumeId, b.AttachmentId!, b.DeviceName, b.BootIndex)).ToList();
        await (await HostOfAsync(server)).SpawnAsync(new SpawnServer(requestId, server.Id, flavorSpec, imageSpec, volumeDisks, request.AdminPass), CancellationToken.None);
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

    /// <summary>With no image, the root volume gives the boot metadata: Nova refuses one Cinder does not mark bootable.</summary>
    private async Task CheckBootableAsync(RequestContext ctx, string volumeId)
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

        if (!volume.Bootable)
        {
            throw ApiException.BadRequest($"Block Device {volumeId} is not bootable.");
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

    /// <summary>
    /// One page of a project's servers (null: every project's), newest first, keeping those <paramref name="match"/>
    /// accepts: Nova's name filter is a regular expression, which neither engine evaluates as .NET does, and the
    /// status is derived from vm_state and task_state in one place (<see cref="ComputeJson.Status"/>). The page reads
    /// on in SQL keyset batches after the marker until it is full, so a filter never shortens a page nor skips a row.
    /// </summary>
    public async Task<Page<ServerRow>> ListServersAsync(string? projectId, Func<ServerRow, bool> match, string? marker, int? limit)
    {
        var found = new List<ServerRow>();
        // Batches larger than a small page, so a selective filter does not cost a query per few rows.
        var request = new PageRequest([], marker, limit is { } n ? Math.Max(n, 100) : null);
        while (true)
        {
            var batch = await store.ListServersAsync(projectId, request) ?? throw ApiException.BadRequest($"marker [{marker}] not found");
            found.AddRange(batch.Items.Where(match));
            if (limit is { } max && found.Count >= max)
            {
                return new Page<ServerRow>([.. found.Take(max)], found.Count > max || batch.HasMore);
            }

            if (!batch.HasMore)
            {
                return new Page<ServerRow>(found, HasMore: false);
            }

            request = request with { Marker = batch.Items[^1].Id };
        }
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

    /// <summary>The host that owns <paramref name="server"/>, through the contract (in-process today).</summary>
    private Task<IComputeHost> HostOfAsync(ServerRow server) => hosts.GetAsync(server.Host, CancellationToken.None);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} goes to ERROR: {Reason}")]
    private static partial void LogNoValidHost(ILogger logger, string serverId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release attachment of volume {VolumeId}: {Reason}")]
    private static partial void LogReleaseFailed(ILogger logger, string volumeId, string reason);
}
