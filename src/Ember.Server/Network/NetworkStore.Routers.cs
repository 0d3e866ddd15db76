namespace Ember.Server.Network;

// SQL of routers and floating IPs.
public sealed partial class NetworkStore
{
    private const string RouterColumns = "id, project_id, name, description, admin_state_up, gateway_network_id, gateway_port_id, enable_snat, revision_number, created_at, updated_at";
    private const string FloatingIpColumns = "id, project_id, floating_network_id, floating_port_id, floating_ip_address, port_id, fixed_ip_address, router_id, status, description, revision_number, created_at, updated_at";

    public sealed partial class Session
    {
        // Routers.

        public Task<RouterRow?> RouterAsync(string id) => FirstAsync<RouterRow>($"SELECT {RouterColumns} FROM routers WHERE id = @Id", new { Id = id });

        /// <summary>Routers of <paramref name="projectId"/>; every router when null.</summary>
        public async Task<List<RouterRow>> RoutersAsync(string? projectId) => [.. await QueryAsync<RouterRow>(
            $"SELECT {RouterColumns} FROM routers WHERE @P IS NULL OR project_id = @P ORDER BY created_at, id", new { P = projectId })];

        public Task InsertRouterAsync(RouterRow r) => ExecuteAsync($"INSERT INTO routers ({RouterColumns}) VALUES (@Id, @ProjectId, @Name, @Description, @AdminStateUp, @GatewayNetworkId, @GatewayPortId, @EnableSnat, @RevisionNumber, @CreatedAt, @UpdatedAt)", r);

        public Task UpdateRouterAsync(RouterRow r) => ExecuteAsync("""
            UPDATE routers SET name = @Name, description = @Description, admin_state_up = @AdminStateUp, gateway_network_id = @GatewayNetworkId,
                gateway_port_id = @GatewayPortId, enable_snat = @EnableSnat, revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id
            """, r);

        public Task DeleteRouterAsync(string id) => ExecuteAsync("DELETE FROM routers WHERE id = @Id", new { Id = id });

        public Task<long> CountRoutersAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM routers WHERE project_id = @P", new { P = projectId });

        /// <summary>The router's ports with <paramref name="deviceOwner"/> (its interfaces, or its gateway).</summary>
        public async Task<List<PortRow>> RouterPortsAsync(string routerId, string deviceOwner) => [.. await QueryAsync<PortRow>(
            $"SELECT {PortColumns} FROM ports WHERE device_id = @R AND device_owner = @O ORDER BY created_at, id", new { R = routerId, O = deviceOwner })];

        /// <summary>Every router interface port (of all routers).</summary>
        public async Task<List<PortRow>> AllRouterInterfacesAsync() => [.. await QueryAsync<PortRow>(
            $"SELECT {PortColumns} FROM ports WHERE device_owner = @O ORDER BY created_at, id", new { O = NetworkService.RouterInterfaceOwner })];

        // Floating IPs.

        public Task<FloatingIpRow?> FloatingIpAsync(string id) => FirstAsync<FloatingIpRow>($"SELECT {FloatingIpColumns} FROM floating_ips WHERE id = @Id", new { Id = id });

        /// <summary>Floating IPs of <paramref name="projectId"/>; every one when null.</summary>
        public async Task<List<FloatingIpRow>> FloatingIpsAsync(string? projectId) => [.. await QueryAsync<FloatingIpRow>(
            $"SELECT {FloatingIpColumns} FROM floating_ips WHERE @P IS NULL OR project_id = @P ORDER BY created_at, id", new { P = projectId })];

        public async Task<List<FloatingIpRow>> FloatingIpsOfRouterAsync(string routerId) => [.. await QueryAsync<FloatingIpRow>(
            $"SELECT {FloatingIpColumns} FROM floating_ips WHERE router_id = @R ORDER BY created_at, id", new { R = routerId })];

        public async Task<List<FloatingIpRow>> FloatingIpsOfPortAsync(string portId) => [.. await QueryAsync<FloatingIpRow>(
            $"SELECT {FloatingIpColumns} FROM floating_ips WHERE port_id = @P ORDER BY created_at, id", new { P = portId })];

        public Task InsertFloatingIpAsync(FloatingIpRow f) => ExecuteAsync($"INSERT INTO floating_ips ({FloatingIpColumns}) VALUES (@Id, @ProjectId, @FloatingNetworkId, @FloatingPortId, @FloatingIpAddress, @PortId, @FixedIpAddress, @RouterId, @Status, @Description, @RevisionNumber, @CreatedAt, @UpdatedAt)", f);

        public Task UpdateFloatingIpAsync(FloatingIpRow f) => ExecuteAsync("""
            UPDATE floating_ips SET port_id = @PortId, fixed_ip_address = @FixedIpAddress, router_id = @RouterId, status = @Status, description = @Description,
                revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id
            """, f);

        /// <summary>The floating IPs on an external network that no port holds.</summary>
        public async Task<List<FloatingIpRow>> DisassociatedFloatingIpsAsync(string networkId) => [.. await QueryAsync<FloatingIpRow>(
            $"SELECT {FloatingIpColumns} FROM floating_ips WHERE floating_network_id = @N AND port_id IS NULL ORDER BY created_at, id", new { N = networkId })];

        public Task DeleteFloatingIpAsync(string id) => ExecuteAsync("DELETE FROM floating_ips WHERE id = @Id", new { Id = id });

        public Task<long> CountFloatingIpsAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM floating_ips WHERE project_id = @P", new { P = projectId });
    }
}
