using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Volume;

/// <summary>The NBD data plane: its unix socket is always there (DATA/nbd.sock); these set the optional TCP listener.</summary>
public sealed class NbdOptions
{
    /// <summary>Optional TCP endpoint (HOST:PORT) besides the unix socket. TLS with client certificates unless <see cref="Insecure"/>.</summary>
    public string? Listen { get; set; }

    /// <summary>Serve <see cref="Listen"/> as plain TCP, without TLS: anyone who reaches the port and knows an export name gets the volume.</summary>
    public bool Insecure { get; set; }

    /// <summary>Open TCP connections in total; more are closed before the greeting.</summary>
    [Range(1, 65536)]
    public int MaxConnections { get; set; } = 1024;

    /// <summary>Open TCP connections from one source address.</summary>
    [Range(1, 65536)]
    public int MaxConnectionsPerSource { get; set; } = 256;
}
