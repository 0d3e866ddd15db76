using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Compute;

/// <summary>
/// The compute service registry (how often services report, when a silent one counts as down) and the scheduler's
/// capacity rules (allocation ratios and host reservations), under Nova's names and with Nova's defaults, and for
/// a compute host on its own machine how it reaches the controller and where it takes calls.
/// </summary>
public sealed class ComputeOptions
{
    /// <summary>Seconds between two heartbeats of a service (Nova's report_interval).</summary>
    [Range(1, 86400)]
    public int ReportIntervalSeconds { get; set; } = 10;

    /// <summary>A service whose last heartbeat is older than this is down (Nova's service_down_time).</summary>
    [Range(1, 86400)]
    public int ServiceDownTimeSeconds { get; set; } = 60;

    /// <summary>Virtual CPUs per physical CPU (Nova's cpu_allocation_ratio; 4.0 is its initial_cpu_allocation_ratio).</summary>
    [Range(0.0, 1000.0, MinimumIsExclusive = true)]
    public double CpuAllocationRatio { get; set; } = 4.0;

    /// <summary>Guest memory per MiB of host memory left after the reservation (Nova's ram_allocation_ratio, initially 1.0).</summary>
    [Range(0.0, 1000.0, MinimumIsExclusive = true)]
    public double RamAllocationRatio { get; set; } = 1.0;

    /// <summary>Guest disk per GiB of the data directory's file system (Nova's disk_allocation_ratio, initially 1.0).</summary>
    [Range(0.0, 1000.0, MinimumIsExclusive = true)]
    public double DiskAllocationRatio { get; set; } = 1.0;

    /// <summary>Host memory (MiB) no server may have: the host's own (Nova's reserved_host_memory_mb).</summary>
    [Range(0, int.MaxValue)]
    public int ReservedHostMemoryMb { get; set; } = 512;

    /// <summary>Host disk (MiB, counted in whole GiB upwards) no server may have (Nova's reserved_host_disk_mb).</summary>
    [Range(0, int.MaxValue)]
    public int ReservedHostDiskMb { get; set; }

    /// <summary>Seconds between two passes of a compute host's image cache cleaner (Nova's image_cache.manager_interval).</summary>
    [Range(1, 604800)]
    public int ImageCacheIntervalSeconds { get; set; } = 2400;

    /// <summary>
    /// A cached image no instance on the host uses is removed once it has gone unused this long (Nova's
    /// image_cache.remove_unused_original_minimum_age_seconds).
    /// </summary>
    [Range(0, int.MaxValue)]
    public int ImageCacheMinimumAgeSeconds { get; set; } = 86400;

    /// <summary>
    /// HOST:PORT where this compute host serves the controllers' calls (console output, exec, passwords, the serial
    /// console) over mutual TLS; ":PORT" for all interfaces. Null, the all-in-one default: no listener.
    /// </summary>
    [RegularExpression(@"^(\[[0-9A-Fa-f:.]+\]|[0-9.]+|localhost)?:[0-9]{1,5}$", ErrorMessage = "HostListen must be IP:PORT, [IPv6]:PORT or :PORT.")]
    public string? HostListen { get; set; }

    /// <summary>The compute role's access to the controller's APIs (volumes, images).</summary>
    public ControllerOptions Controller { get; set; } = new();

    /// <summary>
    /// The NBD client certificate, key and CA (ca-cert.pem, client-cert.pem, client-key.pem) for volumes exported over TCP with
    /// TLS. Null: DATA/nbd-tls/client, which the controller writes for itself; a compute host gets a copy (docs/multi-host.md).
    /// </summary>
    public string? NbdClientCertificateDir { get; set; }

    /// <summary>
    /// The Ceph keyring with the key of the cephx user that RBD volumes name (Nova keeps it in a libvirt secret). Null:
    /// /etc/ceph/ceph.client.USER.keyring, Ceph's own default, or the volume backend's keyring when this process runs it.
    /// </summary>
    public string? RbdKeyringPath { get; set; }
}

/// <summary>
/// Who a compute host is towards the controller: a Keystone user with the admin role (Nova's service user; admin
/// because only a cloud admin may detach an attachment a server still uses), by password.
/// </summary>
public sealed class ControllerOptions
{
    /// <summary>The controller's Keystone URL, as `ember serve` prints it (http://HOST:PORT/identity/v3).</summary>
    [Url]
    public string? AuthUrl { get; set; }

    [MaxLength(255)]
    public string? UserName { get; set; }

    /// <summary>From the environment (EMBER_Compute__Controller__Password) or a 0600 settings file; never a flag.</summary>
    [MaxLength(4096)]
    public string? Password { get; set; }

    /// <summary>A file holding the password (its first line), readable by its owner only; the alternative to <see cref="Password"/>.</summary>
    public string? PasswordFile { get; set; }

    [MaxLength(255)]
    public string ProjectName { get; set; } = "admin";

    [MaxLength(255)]
    public string DomainName { get; set; } = "Default";
}
