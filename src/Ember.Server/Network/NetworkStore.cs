using System.Data.Common;
using Dapper;
using Ember.Server.Data;

namespace Ember.Server.Network;

/// <summary>
/// SQL of the Neutron subset, for both engines; no rules. Every change runs in a <see cref="Session"/>: one
/// transaction holding the locks of what its checks read (a project's quota counts, a network's addresses).
/// </summary>
public sealed partial class NetworkStore(Database db)
{
    public const string QuotaTable = "network_quotas";

    private const string NetworkColumns = "id, project_id, name, description, admin_state_up, shared, external, mtu, port_security_enabled, auto_allocated, segmentation_id, revision_number, created_at, updated_at";
    private const string SubnetColumns = "id, network_id, project_id, name, description, cidr, gateway_ip, allocation_pools, enable_dhcp, dns_nameservers, host_routes, revision_number, created_at, updated_at";
    private const string PortColumns = "id, network_id, project_id, name, description, mac_address, admin_state_up, status, device_owner, device_id, port_security_enabled, allowed_address_pairs, binding_host_id, created_for_server, device_tag, revision_number, created_at, updated_at";
    private const string GroupColumns = "id, project_id, name, description, default_for, revision_number, created_at, updated_at";
    private const string RuleColumns = "id, security_group_id, project_id, direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, revision_number, created_at, updated_at";

    public Database Database => db;

    /// <summary>A transaction holding <paramref name="locks"/> (taken in the order given: project, then network).</summary>
    public async Task<Session> BeginAsync(CancellationToken cancellationToken, params string[] locks)
    {
        var connection = await db.OpenAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            foreach (var name in locks)
            {
                await db.LockAsync(connection, transaction, name);
            }

            return new Session(connection, transaction, db.Dialect);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads outside a transaction.</summary>
    public async Task<T> ReadAsync<T>(Func<Session, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await read(new Session(connection, null, db.Dialect));
    }

    /// <summary>One unit of work: typed statements over one connection (and transaction, when it writes).</summary>
    public sealed partial class Session(DbConnection connection, DbTransaction? transaction, SqlDialect dialect) : IAsyncDisposable
    {
        /// <summary>Commits, moving the network revision on in the same transaction (<see cref="RevisionAsync"/>).</summary>
        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            await ExecuteAsync("UPDATE network_revision SET revision = revision + 1 WHERE id = 1", null);
            await transaction!.CommitAsync(cancellationToken);
        }

        /// <summary>How many writes the network service has committed: unchanged, nothing a data plane applies changed.</summary>
        public Task<long> RevisionAsync() => CountAsync("SELECT revision FROM network_revision WHERE id = 1", null);

        public async ValueTask DisposeAsync()
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }

            await connection.DisposeAsync();
        }

        private Task<int> ExecuteAsync(string sql, object? args) => connection.ExecuteAsync(sql, args, transaction);

        private Task<IEnumerable<T>> QueryAsync<T>(string sql, object? args) => connection.QueryAsync<T>(sql, args, transaction);

        private Task<T?> FirstAsync<T>(string sql, object? args) => connection.QueryFirstOrDefaultAsync<T>(sql, args, transaction);

        private Task<long> CountAsync(string sql, object? args) => connection.ExecuteScalarAsync<long>(sql, args, transaction);

        // Networks.

        public Task<NetworkRow?> NetworkAsync(string id) => FirstAsync<NetworkRow>($"SELECT {NetworkColumns} FROM networks WHERE id = @Id", new { Id = id });

        /// <summary>Networks of <paramref name="projectId"/> plus shared and external ones; every network when null.</summary>
        public async Task<List<NetworkRow>> NetworksAsync(string? projectId) => [.. await QueryAsync<NetworkRow>(
            $"SELECT {NetworkColumns} FROM networks WHERE @P IS NULL OR project_id = @P OR shared = @True OR external = @True ORDER BY created_at, id",
            new { P = projectId, True = true })];

        public Task<NetworkRow?> AutoNetworkAsync(string projectId) => FirstAsync<NetworkRow>(
            $"SELECT {NetworkColumns} FROM networks WHERE project_id = @P AND auto_allocated = @True ORDER BY created_at LIMIT 1", new { P = projectId, True = true });

        public Task InsertNetworkAsync(NetworkRow n) => ExecuteAsync($"INSERT INTO networks ({NetworkColumns}) VALUES (@Id, @ProjectId, @Name, @Description, @AdminStateUp, @Shared, @External, @Mtu, @PortSecurityEnabled, @AutoAllocated, @SegmentationId, @RevisionNumber, @CreatedAt, @UpdatedAt)", n);

        /// <summary>The next free VNI (one above the highest in use; the caller holds <see cref="NetworkService.VniLock"/>).</summary>
        public Task<long> NextSegmentationIdAsync() => CountAsync("SELECT COALESCE(MAX(segmentation_id), 0) + 1 FROM networks", null);

        public Task UpdateNetworkAsync(NetworkRow n) => ExecuteAsync("""
            UPDATE networks SET name = @Name, description = @Description, admin_state_up = @AdminStateUp, shared = @Shared, external = @External,
                mtu = @Mtu, port_security_enabled = @PortSecurityEnabled, revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id
            """, n);

        public async Task DeleteNetworkAsync(string id)
        {
            await ExecuteAsync("DELETE FROM ports WHERE network_id = @Id", new { Id = id });
            await ExecuteAsync("DELETE FROM subnets WHERE network_id = @Id", new { Id = id });
            await ExecuteAsync("DELETE FROM networks WHERE id = @Id", new { Id = id });
        }

        public async Task<List<(string Id, string Name)>> NetworkNamesAsync(IReadOnlyCollection<string> ids) => ids.Count == 0 ? [] : [.. await QueryAsync<(string, string)>(
            $"SELECT id, name FROM networks WHERE id {dialect.In("@Ids")}", new { Ids = ids.ToArray() })];

        public Task<long> CountNetworksAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM networks WHERE project_id = @P", new { P = projectId });

        // Subnets.

        public Task<SubnetRow?> SubnetAsync(string id) => FirstAsync<SubnetRow>($"SELECT {SubnetColumns} FROM subnets WHERE id = @Id", new { Id = id });

        public async Task<List<SubnetRow>> SubnetsOfAsync(string networkId) => [.. await QueryAsync<SubnetRow>(
            $"SELECT {SubnetColumns} FROM subnets WHERE network_id = @N ORDER BY created_at, id", new { N = networkId })];

        /// <summary>Subnets of the networks <paramref name="projectId"/> may see (its own, shared, external); all when null.</summary>
        public async Task<List<SubnetRow>> SubnetsAsync(string? projectId) => [.. await QueryAsync<SubnetRow>($"""
            SELECT {SubnetColumns} FROM subnets WHERE @P IS NULL OR project_id = @P
                OR network_id IN (SELECT id FROM networks WHERE shared = @True) ORDER BY created_at, id
            """, new { P = projectId, True = true })];

        public async Task<List<string>> AllCidrsOfAutoNetworksAsync() => [.. await QueryAsync<string>(
            "SELECT s.cidr FROM subnets s JOIN networks n ON n.id = s.network_id WHERE n.auto_allocated = @True", new { True = true })];

        public Task InsertSubnetAsync(SubnetRow s) => ExecuteAsync($"INSERT INTO subnets ({SubnetColumns}) VALUES (@Id, @NetworkId, @ProjectId, @Name, @Description, @Cidr, @GatewayIp, @AllocationPools, @EnableDhcp, @DnsNameservers, @HostRoutes, @RevisionNumber, @CreatedAt, @UpdatedAt)", s);

        public Task UpdateSubnetAsync(SubnetRow s) => ExecuteAsync("""
            UPDATE subnets SET name = @Name, description = @Description, gateway_ip = @GatewayIp, allocation_pools = @AllocationPools, enable_dhcp = @EnableDhcp,
                dns_nameservers = @DnsNameservers, host_routes = @HostRoutes, revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id
            """, s);

        public Task DeleteSubnetAsync(string id) => ExecuteAsync("DELETE FROM subnets WHERE id = @Id", new { Id = id });

        public Task<long> CountSubnetsAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM subnets WHERE project_id = @P", new { P = projectId });

        /// <summary>Ports other than the network's DHCP port (router interfaces and floating IPs count) with an address on the subnet.</summary>
        public Task<long> CountUserPortsOnSubnetAsync(string subnetId) => CountAsync(
            "SELECT COUNT(*) FROM port_ips i JOIN ports p ON p.id = i.port_id WHERE i.subnet_id = @S AND p.device_owner <> @Dhcp", new { S = subnetId, Dhcp = NetworkService.DhcpOwner });

        // Addresses.

        public async Task<HashSet<uint>> UsedAddressesAsync(string subnetId) =>
            [.. (await QueryAsync<string>("SELECT ip_address FROM port_ips WHERE subnet_id = @S", new { S = subnetId })).Select(ip => Ipv4.Parse(ip) ?? 0)];

        public Task InsertPortIpAsync(PortIpRow ip) => ExecuteAsync(
            "INSERT INTO port_ips (port_id, subnet_id, network_id, ip_address, position) VALUES (@PortId, @SubnetId, @NetworkId, @IpAddress, @Position)", ip);

        public Task DeletePortIpsAsync(string portId) => ExecuteAsync("DELETE FROM port_ips WHERE port_id = @P", new { P = portId });

        public Task DeletePortIpsOnSubnetAsync(string subnetId) => ExecuteAsync("DELETE FROM port_ips WHERE subnet_id = @S", new { S = subnetId });

        // Ports.

        public Task<PortRow?> PortAsync(string id) => FirstAsync<PortRow>($"SELECT {PortColumns} FROM ports WHERE id = @Id", new { Id = id });

        /// <summary>Ports of <paramref name="projectId"/> (all when null), optionally of one network or device.</summary>
        public async Task<List<PortRow>> PortsAsync(string? projectId, string? networkId = null, string? deviceId = null) => [.. await QueryAsync<PortRow>($"""
            SELECT {PortColumns} FROM ports WHERE (@P IS NULL OR project_id = @P) AND (@N IS NULL OR network_id = @N) AND (@D IS NULL OR device_id = @D)
            ORDER BY created_at, id
            """, new { P = projectId, N = networkId, D = deviceId })];

        /// <summary>The ports of a page of servers, in one query (server lists show every server's addresses).</summary>
        public async Task<List<PortRow>> ServerPortsAsync(IReadOnlyCollection<string> serverIds) => serverIds.Count == 0 ? [] : [.. await QueryAsync<PortRow>($"""
            SELECT {PortColumns} FROM ports WHERE device_owner = @Owner AND device_id {dialect.In("@Ids")} ORDER BY created_at, id
            """, new { Owner = NetworkService.ComputeOwner, Ids = serverIds.ToArray() })];

        /// <summary>The server ports bound to <paramref name="host"/>: what its data plane plugs.</summary>
        public async Task<List<PortRow>> HostServerPortsAsync(string host) => [.. await QueryAsync<PortRow>($"""
            SELECT {PortColumns} FROM ports WHERE device_owner = @Owner AND binding_host_id = @H ORDER BY created_at, id
            """, new { Owner = NetworkService.ComputeOwner, H = host })];

        /// <summary>The ports of one <paramref name="owner"/> kind (e.g. router interfaces) on any of the networks.</summary>
        public async Task<List<PortRow>> OwnedPortsOnNetworksAsync(string owner, IReadOnlyCollection<string> networkIds) => networkIds.Count == 0 ? [] : [.. await QueryAsync<PortRow>($"""
            SELECT {PortColumns} FROM ports WHERE device_owner = @Owner AND network_id {dialect.In("@Ids")} ORDER BY created_at, id
            """, new { Owner = owner, Ids = networkIds.ToArray() })];

        public Task<long> CountHostPortsAsync(string networkId, string host) => CountAsync(
            "SELECT COUNT(*) FROM ports WHERE network_id = @N AND device_owner = @Owner AND binding_host_id = @H",
            new { N = networkId, Owner = NetworkService.ComputeOwner, H = host });

        public Task<PortRow?> DhcpPortAsync(string networkId) => FirstAsync<PortRow>(
            $"SELECT {PortColumns} FROM ports WHERE network_id = @N AND device_owner = @Owner", new { N = networkId, Owner = NetworkService.DhcpOwner });

        public async Task<List<PortIpRow>> PortIpsAsync(IReadOnlyCollection<string> portIds) => portIds.Count == 0 ? [] : [.. await QueryAsync<PortIpRow>(
            $"SELECT port_id, subnet_id, network_id, ip_address, position FROM port_ips WHERE port_id {dialect.In("@Ids")} ORDER BY position", new { Ids = portIds.ToArray() })];

        public async Task<List<(string PortId, string GroupId)>> PortGroupsAsync(IReadOnlyCollection<string> portIds) => portIds.Count == 0 ? [] : [.. await QueryAsync<(string, string)>(
            $"SELECT port_id, security_group_id FROM port_security_groups WHERE port_id {dialect.In("@Ids")} ORDER BY security_group_id", new { Ids = portIds.ToArray() })];

        public Task<long> CountPortsAsync(string projectId) => CountAsync(
            "SELECT COUNT(*) FROM ports WHERE project_id = @P AND device_owner NOT LIKE 'network:%'", new { P = projectId });

        public Task<long> CountUserPortsOnNetworkAsync(string networkId) => CountAsync(
            "SELECT COUNT(*) FROM ports WHERE network_id = @N AND device_owner <> @Dhcp", new { N = networkId, Dhcp = NetworkService.DhcpOwner });

        public Task<long> CountMacAsync(string networkId, string mac) => CountAsync(
            "SELECT COUNT(*) FROM ports WHERE network_id = @N AND mac_address = @M", new { N = networkId, M = mac });

        public Task InsertPortAsync(PortRow p) => ExecuteAsync($"INSERT INTO ports ({PortColumns}) VALUES (@Id, @NetworkId, @ProjectId, @Name, @Description, @MacAddress, @AdminStateUp, @Status, @DeviceOwner, @DeviceId, @PortSecurityEnabled, @AllowedAddressPairs, @BindingHostId, @CreatedForServer, @DeviceTag, @RevisionNumber, @CreatedAt, @UpdatedAt)", p);

        public Task UpdatePortAsync(PortRow p) => ExecuteAsync("""
            UPDATE ports SET name = @Name, description = @Description, mac_address = @MacAddress, admin_state_up = @AdminStateUp, status = @Status,
                device_owner = @DeviceOwner, device_id = @DeviceId, port_security_enabled = @PortSecurityEnabled, allowed_address_pairs = @AllowedAddressPairs,
                binding_host_id = @BindingHostId, created_for_server = @CreatedForServer, device_tag = @DeviceTag, revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id
            """, p);

        public async Task DeletePortAsync(string id)
        {
            await ExecuteAsync("DELETE FROM port_ips WHERE port_id = @Id", new { Id = id });
            await ExecuteAsync("DELETE FROM port_security_groups WHERE port_id = @Id", new { Id = id });
            // A floating IP of the port is disassociated, as Neutron does when the port goes.
            await ExecuteAsync("UPDATE floating_ips SET port_id = NULL, fixed_ip_address = NULL, router_id = NULL, status = @Down WHERE port_id = @Id", new { Id = id, Down = NetworkService.PortDown });
            await ExecuteAsync("DELETE FROM ports WHERE id = @Id", new { Id = id });
        }

        public async Task SetPortGroupsAsync(string portId, IEnumerable<string> groupIds)
        {
            await ExecuteAsync("DELETE FROM port_security_groups WHERE port_id = @P", new { P = portId });
            foreach (var group in groupIds.Distinct(StringComparer.Ordinal))
            {
                await ExecuteAsync("INSERT INTO port_security_groups (port_id, security_group_id) VALUES (@P, @G)", new { P = portId, G = group });
            }
        }

        // Security groups.

        public Task<SecurityGroupRow?> GroupAsync(string id) => FirstAsync<SecurityGroupRow>($"SELECT {GroupColumns} FROM security_groups WHERE id = @Id", new { Id = id });

        public Task<SecurityGroupRow?> DefaultGroupAsync(string projectId) => FirstAsync<SecurityGroupRow>(
            $"SELECT {GroupColumns} FROM security_groups WHERE default_for = @P", new { P = projectId });

        public async Task<List<SecurityGroupRow>> GroupsAsync(string? projectId) => [.. await QueryAsync<SecurityGroupRow>(
            $"SELECT {GroupColumns} FROM security_groups WHERE @P IS NULL OR project_id = @P ORDER BY created_at, id", new { P = projectId })];

        public Task InsertGroupAsync(SecurityGroupRow g) => ExecuteAsync($"INSERT INTO security_groups ({GroupColumns}) VALUES (@Id, @ProjectId, @Name, @Description, @DefaultFor, @RevisionNumber, @CreatedAt, @UpdatedAt)", g);

        public Task UpdateGroupAsync(SecurityGroupRow g) => ExecuteAsync(
            "UPDATE security_groups SET name = @Name, description = @Description, revision_number = revision_number + 1, updated_at = @UpdatedAt WHERE id = @Id", g);

        public async Task<List<(string Id, string Name)>> GroupNamesAsync(IReadOnlyCollection<string> ids) => ids.Count == 0 ? [] : [.. await QueryAsync<(string, string)>(
            $"SELECT id, name FROM security_groups WHERE id {dialect.In("@Ids")}", new { Ids = ids.ToArray() })];

        public async Task DeleteGroupAsync(string id)
        {
            await ExecuteAsync("DELETE FROM security_group_rules WHERE security_group_id = @Id OR remote_group_id = @Id", new { Id = id });
            await ExecuteAsync("DELETE FROM security_groups WHERE id = @Id", new { Id = id });
        }

        public Task<long> CountGroupsAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM security_groups WHERE project_id = @P", new { P = projectId });

        public Task<long> CountPortsInGroupAsync(string groupId) => CountAsync("SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = @G", new { G = groupId });

        /// <summary>The networks of the ports in the group: what a rule change reaches.</summary>
        public async Task<List<string>> NetworksUsingGroupAsync(string groupId) => [.. await QueryAsync<string>(
            "SELECT DISTINCT p.network_id FROM ports p JOIN port_security_groups g ON g.port_id = p.id WHERE g.security_group_id = @G", new { G = groupId })];

        /// <summary>The projects that have limits of their own (Neutron's quota list), in id order.</summary>
        public async Task<List<string>> QuotaProjectsAsync() => [.. await QueryAsync<string>($"SELECT DISTINCT project_id FROM {QuotaTable} ORDER BY project_id", null)];

        public Task ResetQuotasAsync(string projectId) => ExecuteAsync($"DELETE FROM {QuotaTable} WHERE project_id = @P", new { P = projectId });

        public Task<SecurityGroupRuleRow?> RuleAsync(string id) => FirstAsync<SecurityGroupRuleRow>($"SELECT {RuleColumns} FROM security_group_rules WHERE id = @Id", new { Id = id });

        /// <summary>Rules of the given groups, or of <paramref name="projectId"/>'s groups (all when both are null).</summary>
        public async Task<List<SecurityGroupRuleRow>> RulesAsync(string? projectId, IReadOnlyCollection<string>? groupIds = null) => groupIds is { Count: 0 } ? [] : [.. await QueryAsync<SecurityGroupRuleRow>(
            groupIds is null
                ? $"SELECT {RuleColumns} FROM security_group_rules WHERE @P IS NULL OR project_id = @P ORDER BY created_at, id"
                : $"SELECT {RuleColumns} FROM security_group_rules WHERE security_group_id {dialect.In("@Ids")} ORDER BY created_at, id",
            new { P = projectId, Ids = groupIds?.ToArray() })];

        public Task InsertRuleAsync(SecurityGroupRuleRow r) => ExecuteAsync($"INSERT INTO security_group_rules ({RuleColumns}) VALUES (@Id, @SecurityGroupId, @ProjectId, @Direction, @Ethertype, @Protocol, @PortRangeMin, @PortRangeMax, @RemoteIpPrefix, @RemoteGroupId, @Description, @RevisionNumber, @CreatedAt, @UpdatedAt)", r);

        public Task DeleteRuleAsync(string id) => ExecuteAsync("DELETE FROM security_group_rules WHERE id = @Id", new { Id = id });

        public Task<long> CountRulesAsync(string projectId) => CountAsync("SELECT COUNT(*) FROM security_group_rules WHERE project_id = @P", new { P = projectId });
    }
}
