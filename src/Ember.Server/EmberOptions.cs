using System.ComponentModel.DataAnnotations;

namespace Ember.Server;

/// <summary>
/// Settings of one Ember host, bound from configuration and the command line: what the whole host shares (data
/// directory, name, database, HTTP listener) and one section per subsystem, each registered as its own
/// <c>IOptions&lt;T&gt;</c> so a subsystem sees only its settings.
/// </summary>
public sealed class EmberOptions
{
    /// <summary>What this process runs: everything (the default), the controller, or a compute host.</summary>
    public EmberRole Role { get; set; } = EmberRole.All;

    /// <summary>Holds the database, images, volumes and instances.</summary>
    [Required]
    public string DataDir { get; set; } = DefaultDataDir();

    /// <summary>
    /// This node's name (Nova's and Cinder's <c>host</c>): the compute host the servers it runs carry in their host
    /// column, and the volume backend's host@backend#pool. Defaults to the machine name, as Nova's does; set it
    /// when the machine name may change, since a compute host recovers only the servers that carry its name.
    /// </summary>
    [Required]
    [MaxLength(255)]
    [RegularExpression(@"^[A-Za-z0-9][A-Za-z0-9._-]*$", ErrorMessage = "HostName must be letters, digits, '.', '_' and '-', starting with a letter or digit.")]
    public string HostName { get; set; } = Environment.MachineName;

    /// <summary>
    /// The state store: a PostgreSQL URL (postgresql://USER@HOST/DB, or postgresql://USER@/DB?host=/socket/dir), its
    /// password from PGPASSWORD or a passfile, never in the URL. Null: SQLite's ember.db in <see cref="DataDir"/>.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>HOST:PORT of the HTTP listener. Port 0 picks a free port.</summary>
    [Required]
    public string Listen { get; set; } = "127.0.0.1:5000";

    /// <summary>Base URL put in the service catalog; null means "as the client reached us".</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Tokens, the first passwords, the admin project, lock-out and login limits.</summary>
    public Identity.IdentityOptions Identity { get; set; } = new();

    /// <summary>The first image, upload size, metadata limits and the per-project image storage quota.</summary>
    public Image.ImageOptions Image { get; set; } = new();

    /// <summary>The NBD data plane's TCP listener and its connection limits.</summary>
    public Volume.NbdOptions Nbd { get; set; } = new();

    /// <summary>Where volume data lives: sparse files (the default) or a Ceph RBD pool (docs/ceph.md).</summary>
    public Volume.VolumeOptions Volume { get; set; } = new();

    /// <summary>The compute service registry (heartbeats, when a service is down) and the scheduler's allocation ratios and reservations.</summary>
    public Compute.ComputeOptions Compute { get; set; } = new();

    /// <summary>The Network API (Neutron subset): on or off, the default MTU, the pool of auto-allocated networks.</summary>
    public Network.NetworkOptions Network { get; set; } = new();
    /// <summary>/metrics: on or off, the scrape credential, how long database counts are reused.</summary>
    public Metrics.MetricsOptions Metrics { get; set; } = new();

    /// <summary>Largest JSON request body, in bytes; a larger one is refused with 413 before it is parsed.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxJsonBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Deepest nesting of a JSON request body; deeper is a 400.</summary>
    [Range(4, 256)]
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>The subsystem sections, with the key prefix they have in configuration.</summary>
    public IEnumerable<(string Prefix, object Section)> Sections() =>
        [("Identity:", Identity), ("Image:", Image), ("Image:Rbd:", Image.Rbd), ("Nbd:", Nbd), ("Volume:", Volume), ("Volume:Rbd:", Volume.Rbd), ("Compute:", Compute), ("Compute:Controller:", Compute.Controller), ("Network:", Network), ("Metrics:", Metrics)];

    public static string DefaultDataDir()
    {
        var fromEnv = Environment.GetEnvironmentVariable("EMBER_DATA_DIR");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "share", "ember");
    }
}

/// <summary>What one `ember serve` process runs (docs/multi-host.md).</summary>
public enum EmberRole
{
    /// <summary>Everything in one process: the APIs and this machine's VMs.</summary>
    All,

    /// <summary>The APIs, the scheduler, the volume service and its NBD exports; VMs run on compute hosts.</summary>
    Controller,

    /// <summary>
    /// VMs only: work comes through the shared PostgreSQL database; volumes and images through the controller's
    /// APIs (<see cref="Compute.ControllerOptions"/>). No HTTP API of its own.
    /// </summary>
    Compute,
}
