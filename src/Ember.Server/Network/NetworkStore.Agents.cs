namespace Ember.Server.Network;

/// <summary>A compute host's network agent as it registered at start: its tunnel endpoint, and whether it has a data plane (and why not).</summary>
public sealed class NetworkAgentRow
{
    public string Host { get; set; } = "";
    public string? TunnelAddress { get; set; }
    public int TunnelPort { get; set; }
    public bool Available { get; set; }
    public string Reason { get; set; } = "";
    public DateTime StartedAt { get; set; }

    /// <summary>The host's last heartbeat (its nova-compute row), read with the agent; null when it has none.</summary>
    public DateTime? LastSeenAt { get; set; }
}

// The compute hosts' network agents (Neutron's agents table, one row per host) and the tunnel peers of a network.
public sealed partial class NetworkStore
{
    public sealed partial class Session
    {
        public Task UpsertAgentAsync(NetworkAgentRow agent) => ExecuteAsync("""
            INSERT INTO network_agents (host, tunnel_address, tunnel_port, available, reason, started_at)
            VALUES (@Host, @TunnelAddress, @TunnelPort, @Available, @Reason, @StartedAt)
            ON CONFLICT (host) DO UPDATE SET tunnel_address = excluded.tunnel_address, tunnel_port = excluded.tunnel_port,
                available = excluded.available, reason = excluded.reason, started_at = excluded.started_at
            """, agent);

        /// <summary>Every agent with its host's last nova-compute heartbeat.</summary>
        public async Task<List<NetworkAgentRow>> AgentsAsync() => [.. await QueryAsync<NetworkAgentRow>("""
            SELECT a.host, a.tunnel_address, a.tunnel_port, a.available, a.reason, a.started_at, s.last_seen_at
            FROM network_agents a LEFT JOIN compute_services s ON s.host = a.host AND s.binary_name = 'nova-compute'
            ORDER BY a.host
            """, null)];

        /// <summary>
        /// For each of <paramref name="networkIds"/>, the tunnel addresses of the other hosts with a server port bound on it
        /// (and a data plane): the peers this host floods the network's broadcasts to.
        /// </summary>
        public async Task<List<(string NetworkId, string Address)>> TunnelPeersAsync(IReadOnlyCollection<string> networkIds, string host) =>
            networkIds.Count == 0 ? [] : [.. await QueryAsync<(string, string)>($"""
                SELECT DISTINCT p.network_id, a.tunnel_address FROM ports p JOIN network_agents a ON a.host = p.binding_host_id
                WHERE p.network_id {dialect.In("@Ids")} AND p.device_owner = @Owner AND p.binding_host_id <> @H AND a.available = @True AND a.tunnel_address IS NOT NULL
                """, new { Ids = networkIds.ToArray(), Owner = NetworkService.ComputeOwner, H = host, True = true })];

        /// <summary>The host's DVR MAC; null when it has none yet.</summary>
        public Task<string?> DvrHostMacAsync(string host) => FirstAsync<string>("SELECT mac_address FROM dvr_host_macs WHERE host = @H", new { H = host });

        public Task<long> CountDvrHostMacAsync(string mac) => CountAsync("SELECT COUNT(*) FROM dvr_host_macs WHERE mac_address = @M", new { M = mac });

        public Task InsertDvrHostMacAsync(string host, string mac) =>
            ExecuteAsync("INSERT INTO dvr_host_macs (host, mac_address) VALUES (@H, @M)", new { H = host, M = mac });
    }
}
