using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ember.Server.Compute;

/// <summary>
/// What the compute API asks of the compute host that owns a server (Nova's compute RPC API, the subset Ember
/// serves). Every argument and reply is a small record that System.Text.Json round-trips (see
/// <see cref="ComputeHostJson"/>): no request context, no QEMU object, no callback into the API. Casts
/// (spawn, attach, detach, power, delete) return once the host has taken the work; the host then reports
/// through the server's row (vm_state, task_state, power_state, fault) and talks to the volume service
/// through <see cref="Volume.IVolumeService"/> as the compute service, not as the user. All-in-one mode calls
/// it in-process; a network transport replaces <see cref="IComputeHosts"/>, not the callers.
/// Errors are <see cref="Common.ApiException"/>s: a kind and a message, which a transport carries as data.
/// </summary>
public interface IComputeHost
{
    /// <summary>The host's configured name, as the servers it owns carry it in their host column.</summary>
    string Name { get; }

    /// <summary>Builds the root disk, connects the volumes, starts QEMU; the row goes ACTIVE, or ERROR with a fault.</summary>
    Task SpawnAsync(SpawnServer message, CancellationToken cancellationToken);

    /// <summary>Connects the reserved volume and hot-plugs it (a stopped server gets it at its next start); completes the attachment.</summary>
    Task AttachVolumeAsync(AttachVolume message, CancellationToken cancellationToken);

    /// <summary>Unplugs the volume (the volume is already detaching) and deletes the attachment; rolls back if the guest keeps it.</summary>
    Task DetachVolumeAsync(DetachVolume message, CancellationToken cancellationToken);

    /// <summary>
    /// Plugs the server's port (already bound to this host) into its network here and hot-plugs the NIC when the server
    /// runs (a stopped one gets it at its next start). A call, as Nova's attach_interface is: the API answers once it is done.
    /// </summary>
    Task AttachInterfaceAsync(AttachInterface message, CancellationToken cancellationToken);

    /// <summary>Hot-unplugs the NIC and releases the port (deleted if it was made for the server, else unbound and kept).</summary>
    Task DetachInterfaceAsync(DetachInterface message, CancellationToken cancellationToken);

    /// <summary>Stop, start or reboot; the API has claimed the task_state, the host clears it.</summary>
    Task PowerAsync(PowerAction message, CancellationToken cancellationToken);

    /// <summary>
    /// createImage of an image-backed server (Nova's snapshot_instance): the root disk flattened into the queued image
    /// the API made, which the host uploads; the API has claimed task_state image_snapshot_pending, the host clears it.
    /// On failure the image is deleted and the server keeps its state.
    /// </summary>
    Task SnapshotAsync(SnapshotServer message, CancellationToken cancellationToken);

    /// <summary>
    /// rebuild of an image-backed server (Nova's rebuild_instance): the guest stops, its root overlay is replaced by a
    /// fresh one on the image the row now names (attached volumes stay), and it boots again, or stays off if it was
    /// stopped. The API has claimed task_state rebuilding; the host clears it.
    /// </summary>
    Task RebuildAsync(RebuildServer message, CancellationToken cancellationToken);

    /// <summary>
    /// resize on the same host and its confirm or revert (Nova's resize_instance/finish_resize, confirm_resize,
    /// revert_resize): the API has claimed the task_state (resize_prep, or resize_reverting) and written the new flavor.
    /// </summary>
    Task ResizeAsync(ResizeServer message, CancellationToken cancellationToken);

    /// <summary>
    /// shelve, shelveOffload and unshelve (Nova's shelve_instance, shelve_offload_instance, unshelve_instance): the API
    /// has claimed the task_state (shelving, shelving_offloading or unshelving) and, for an unshelve, moved the server
    /// onto this host; the host clears the task_state.
    /// </summary>
    Task ShelveAsync(ShelveServer message, CancellationToken cancellationToken);

    /// <summary>
    /// rescue and unrescue (Nova's rescue_instance, unrescue_instance): the guest boots from a fresh disk of the rescue
    /// image with its own root disk second, or boots its own root disk again. The API has claimed rescuing or unrescuing.
    /// </summary>
    Task RescueAsync(RescueServer message, CancellationToken cancellationToken);

    /// <summary>Stops QEMU, releases the attachments (deleting volumes marked so), removes the files and the row.</summary>
    Task DeleteAsync(DeleteServer message, CancellationToken cancellationToken);

    /// <summary>The serial console log, which lives on the host and outlives QEMU.</summary>
    Task<ConsoleOutputReply> GetConsoleOutputAsync(ConsoleOutputRequest message, CancellationToken cancellationToken);

    /// <summary>Runs a command in the guest through its agent; 409 while the agent is not up.</summary>
    Task<ExecReply> ExecAsync(ExecRequest message, CancellationToken cancellationToken);

    /// <summary>changePassword through the guest agent.</summary>
    Task SetPasswordAsync(SetPasswordRequest message, CancellationToken cancellationToken);

    /// <summary>Counters of the running QEMU (vCPU times, memory, block and NIC statistics); 409 when it does not run here.</summary>
    Task<DiagnosticsReply> GetDiagnosticsAsync(DiagnosticsRequest message, CancellationToken cancellationToken);

    /// <summary>
    /// A byte stream to the guest's serial port. The one call whose reply is a stream rather than a record:
    /// in-process it is QEMU's console socket; across the network the transport proxies it.
    /// </summary>
    Task<Stream> OpenSerialConsoleAsync(SerialConsoleRequest message, CancellationToken cancellationToken);
}

/// <summary>The compute hosts the API can reach, by name; the scheduler picks among <see cref="Names"/>.</summary>
public interface IComputeHosts
{
    /// <summary>The hosts a new server may go to, before the scheduler's filters.</summary>
    Task<IReadOnlyList<string>> NamesAsync(CancellationToken cancellationToken);

    /// <summary>The host named in a server's host column; 409 when it is not known (or not up).</summary>
    Task<IComputeHost> GetAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The flavor numbers the host needs (the flavor itself may be deleted while the server lives).</summary>
public sealed record FlavorSpec(int Ram, int Vcpus, int Disk);

/// <summary>The image of the root disk, by id; the host fetches (and verifies) its bytes through <see cref="IHostImageSource"/>.</summary>
public sealed record ImageSpec(string Id);

/// <summary>
/// One volume for the server: the mapping row and the reserved Cinder attachment. The host obtains the
/// connection info for its own connector (Cinder's attachment update) and keeps it in the mapping.
/// </summary>
public sealed record VolumeDisk(string BdmId, string VolumeId, string AttachmentId, string DeviceName, int? BootIndex);

/// <summary>Build a new server (Nova's build_and_run_instance). Carries the admin password: a transport must encrypt it.</summary>
public sealed record SpawnServer(
    string RequestId,
    string ServerId,
    FlavorSpec Flavor,
    ImageSpec? Image,
    IReadOnlyList<VolumeDisk> Volumes,
    string? AdminPass)
{
    /// <summary>Power the server off once it runs (evacuate from 2.95, or of a server that was stopped), as Nova's rebuild does.</summary>
    public bool StopWhenBuilt { get; init; }

    /// <summary>Without the admin password, so a record printed by accident shows no secret.</summary>
    public override string ToString() => $"SpawnServer {{ RequestId = {RequestId}, ServerId = {ServerId}, Flavor = {Flavor}, Image = {Image}, Volumes = {Volumes.Count} }}";
}

public sealed record AttachVolume(string RequestId, string ServerId, VolumeDisk Volume);

public sealed record DetachVolume(string RequestId, string ServerId, VolumeDisk Volume);

public sealed record AttachInterface(string RequestId, string ServerId, string PortId);

public sealed record DetachInterface(string RequestId, string ServerId, string PortId);

[JsonConverter(typeof(JsonStringEnumConverter<PowerActionKind>))]
public enum PowerActionKind
{
    Stop,
    Start,
    SoftReboot,
    HardReboot,

    /// <summary>QMP stop: the guest keeps its memory in QEMU (PAUSED).</summary>
    Pause,
    Unpause,

    /// <summary>Also QMP stop (SUSPENDED): Ember does not save the memory to disk, so the QEMU process stays.</summary>
    Suspend,
    Resume,
}

public sealed record PowerAction(string RequestId, string ServerId, PowerActionKind Action);

public sealed record DeleteServer(string RequestId, string ServerId);

/// <summary><see cref="ImageId"/>: the queued image (owned by the server's project) that receives the root disk.</summary>
public sealed record SnapshotServer(string RequestId, string ServerId, string ImageId);

[JsonConverter(typeof(JsonStringEnumConverter<ResizeStep>))]
public enum ResizeStep
{
    /// <summary>To the flavor now in the row, keeping the root disk as it was until confirmed or reverted.</summary>
    Resize,
    Confirm,
    Revert,
}

public sealed record ResizeServer(string RequestId, string ServerId, ResizeStep Step);

[JsonConverter(typeof(JsonStringEnumConverter<ShelveStep>))]
public enum ShelveStep
{
    /// <summary>Snapshot the root disk into <see cref="ShelveServer.ImageId"/> (none for a volume-backed server), then offload.</summary>
    Shelve,

    /// <summary>Only the offload, of a server that is shelved but still on its host.</summary>
    Offload,

    /// <summary>Boot on this host from the shelved image (or the boot volume), reconnecting the volumes.</summary>
    Unshelve,
}

/// <summary><see cref="ImageId"/>: the queued image that receives the root disk of a shelve; null otherwise.</summary>
public sealed record ShelveServer(string RequestId, string ServerId, ShelveStep Step, string? ImageId = null);

/// <summary>
/// A rescue from <see cref="ImageId"/> with the admin password to set in the rescue guest (a queue leaves it out, as for
/// spawn), or, with <see cref="Unrescue"/>, the way back.
/// </summary>
public sealed record RescueServer(string RequestId, string ServerId, bool Unrescue, string? ImageId = null, string? AdminPass = null)
{
    /// <summary>Without the admin password, so a record printed by accident shows no secret.</summary>
    public override string ToString() => $"RescueServer {{ RequestId = {RequestId}, ServerId = {ServerId}, Unrescue = {Unrescue}, ImageId = {ImageId} }}";
}

/// <summary>Rebuild onto the image in the server's row; carries the new admin password (a queue leaves it out, as for spawn).</summary>
public sealed record RebuildServer(string RequestId, string ServerId, string? AdminPass)
{
    /// <summary>Without the admin password, so a record printed by accident shows no secret.</summary>
    public override string ToString() => $"RebuildServer {{ RequestId = {RequestId}, ServerId = {ServerId} }}";
}

/// <summary><see cref="Lines"/>: the last lines only; null for the whole log.</summary>
public sealed record ConsoleOutputRequest(string RequestId, string ServerId, int? Lines);

public sealed record ConsoleOutputReply(string Output);

public sealed record ExecRequest(string RequestId, string ServerId, IReadOnlyList<string> Command, string? Stdin, int TimeoutSeconds);

/// <summary><see cref="TimedOut"/>: the command may still be running in the guest.</summary>
public sealed record ExecReply(int ExitCode, string StdOut, string StdErr, bool TimedOut);

/// <summary>Carries a password: a transport must encrypt it and nothing may log it.</summary>
public sealed record SetPasswordRequest(string RequestId, string ServerId, string Password)
{
    /// <summary>Without the password, so a record printed by accident shows no secret.</summary>
    public override string ToString() => $"SetPasswordRequest {{ RequestId = {RequestId}, ServerId = {ServerId} }}";
}

public sealed record SerialConsoleRequest(string RequestId, string ServerId);

public sealed record DiagnosticsRequest(string RequestId, string ServerId);

/// <summary>
/// What QEMU and the host kernel count for a running guest. <see cref="State"/> is QMP's run state (running, paused, ...),
/// <see cref="Hypervisor"/> kvm or qemu (TCG); a counter the host could not read is null.
/// </summary>
public sealed record DiagnosticsReply(
    string State,
    string Hypervisor,
    long? UptimeSeconds,
    long? MemoryMaximumMiB,
    long? MemoryUsedMiB,
    IReadOnlyList<CpuCounters> Cpus,
    IReadOnlyList<DiskCounters> Disks,
    IReadOnlyList<NicCounters> Nics);

/// <summary><see cref="TimeNanoseconds"/>: the vCPU thread's user and system time.</summary>
public sealed record CpuCounters(int Id, long? TimeNanoseconds);

public sealed record DiskCounters(string Device, long ReadBytes, long ReadRequests, long WriteBytes, long WriteRequests, long Errors);

/// <summary>Seen from the guest: rx is what the guest received (what its tap <see cref="Tap"/> sent).</summary>
public sealed record NicCounters(string Tap, string MacAddress, long? RxOctets, long? RxPackets, long? RxErrors, long? RxDrop,
    long? TxOctets, long? TxPackets, long? TxErrors, long? TxDrop);

/// <summary>The contract's messages for System.Text.Json's source generator: a message that cannot be serialized does not compile here.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SpawnServer))]
[JsonSerializable(typeof(AttachVolume))]
[JsonSerializable(typeof(DetachVolume))]
[JsonSerializable(typeof(AttachInterface))]
[JsonSerializable(typeof(DetachInterface))]
[JsonSerializable(typeof(PowerAction))]
[JsonSerializable(typeof(DeleteServer))]
[JsonSerializable(typeof(SnapshotServer))]
[JsonSerializable(typeof(RebuildServer))]
[JsonSerializable(typeof(ResizeServer))]
[JsonSerializable(typeof(ShelveServer))]
[JsonSerializable(typeof(RescueServer))]
[JsonSerializable(typeof(ConsoleOutputRequest))]
[JsonSerializable(typeof(ConsoleOutputReply))]
[JsonSerializable(typeof(ExecRequest))]
[JsonSerializable(typeof(ExecReply))]
[JsonSerializable(typeof(SetPasswordRequest))]
[JsonSerializable(typeof(SerialConsoleRequest))]
[JsonSerializable(typeof(DiagnosticsRequest))]
[JsonSerializable(typeof(DiagnosticsReply))]
[JsonSerializable(typeof(Volume.VolumeConnection))]
public sealed partial class ComputeHostJson : JsonSerializerContext;
