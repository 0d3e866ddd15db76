using System.ComponentModel.DataAnnotations;

namespace Ember.Server;

/// <summary>Settings of one all-in-one Ember host, bound from configuration and the command line.</summary>
public sealed class EmberOptions
{
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

    [Range(60, 7 * 24 * 3600)]
    public int TokenLifetimeSeconds { get; set; } = 3600;

    public string? AdminPassword { get; set; }

    public string? DemoPassword { get; set; }

    /// <summary>Optional TCP endpoint (HOST:PORT) for the NBD server, besides its unix socket. TLS with client certificates unless <see cref="NbdInsecure"/>.</summary>
    public string? NbdListen { get; set; }

    /// <summary>Serve <see cref="NbdListen"/> as plain TCP, without TLS: anyone who reaches the port and knows an export name gets the volume.</summary>
    public bool NbdInsecure { get; set; }

    /// <summary>Open NBD TCP connections in total; more are closed before the greeting.</summary>
    [Range(1, 65536)]
    public int NbdMaxConnections { get; set; } = 1024;

    /// <summary>Open NBD TCP connections from one source address.</summary>
    [Range(1, 65536)]
    public int NbdMaxConnectionsPerSource { get; set; } = 256;

    /// <summary>Path of the guest image registered as the public image "ember-tiny" on first start.</summary>
    public string? DefaultImagePath { get; set; }

    /// <summary>The admin project, lock-out and login limits.</summary>
    public Identity.IdentityOptions Identity { get; set; } = new();

    /// <summary>Image metadata limits and the per-project image storage quota.</summary>
    public Image.ImageOptions Image { get; set; } = new();

    /// <summary>Largest JSON request body, in bytes; a larger one is refused with 413 before it is parsed.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxJsonBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Deepest nesting of a JSON request body; deeper is a 400.</summary>
    [Range(4, 256)]
    public int MaxJsonDepth { get; set; } = 32;

    /// <summary>Largest image upload, in bytes (Glance's image_size_cap, 1 TiB by default).</summary>
    [Range(1, long.MaxValue)]
    public long MaxImageBytes { get; set; } = 1L << 40;

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
