using Ember.Server.Data;

namespace Ember.Server.Network;

/// <summary>
/// Tables of the Neutron subset. Allocation pools, DNS servers, host routes and allowed address pairs are JSON text
/// (portable, read whole); fixed IPs and a port's security groups are rows, since deletes and IPAM query them.
/// </summary>
public static class NetworkSchema
{
    public static IEnumerable<Migration> Migrations { get; } =
    [
        new("network-001", """
            CREATE TABLE networks (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255) NOT NULL,
                admin_state_up BOOLEAN NOT NULL,
                shared BOOLEAN NOT NULL,
                external BOOLEAN NOT NULL,
                mtu INTEGER NOT NULL,
                port_security_enabled BOOLEAN NOT NULL,
                auto_allocated BOOLEAN NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX networks_project ON networks (project_id);
            CREATE TABLE subnets (
                id VARCHAR(36) PRIMARY KEY,
                network_id VARCHAR(36) NOT NULL REFERENCES networks(id),
                project_id VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255) NOT NULL,
                cidr VARCHAR(64) NOT NULL,
                gateway_ip VARCHAR(64),
                allocation_pools TEXT NOT NULL,
                enable_dhcp BOOLEAN NOT NULL,
                dns_nameservers TEXT NOT NULL,
                host_routes TEXT NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX subnets_network ON subnets (network_id);
            CREATE TABLE ports (
                id VARCHAR(36) PRIMARY KEY,
                network_id VARCHAR(36) NOT NULL REFERENCES networks(id),
                project_id VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255) NOT NULL,
                mac_address VARCHAR(17) NOT NULL,
                admin_state_up BOOLEAN NOT NULL,
                status VARCHAR(16) NOT NULL,
                device_owner VARCHAR(255) NOT NULL,
                device_id VARCHAR(255) NOT NULL,
                port_security_enabled BOOLEAN NOT NULL,
                allowed_address_pairs TEXT NOT NULL,
                binding_host_id VARCHAR(255) NOT NULL,
                created_for_server BOOLEAN NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                UNIQUE (network_id, mac_address));
            CREATE INDEX ports_project ON ports (project_id);
            CREATE INDEX ports_device ON ports (device_id);
            CREATE TABLE port_ips (
                port_id VARCHAR(36) NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
                subnet_id VARCHAR(36) NOT NULL REFERENCES subnets(id),
                network_id VARCHAR(36) NOT NULL,
                ip_address VARCHAR(64) NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (subnet_id, ip_address));
            CREATE INDEX port_ips_port ON port_ips (port_id);
            CREATE TABLE security_groups (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255) NOT NULL,
                default_for VARCHAR(64) UNIQUE,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX security_groups_project ON security_groups (project_id);
            CREATE TABLE security_group_rules (
                id VARCHAR(36) PRIMARY KEY,
                security_group_id VARCHAR(36) NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
                project_id VARCHAR(64) NOT NULL,
                direction VARCHAR(8) NOT NULL,
                ethertype VARCHAR(4) NOT NULL,
                protocol VARCHAR(16),
                port_range_min INTEGER,
                port_range_max INTEGER,
                remote_ip_prefix VARCHAR(64),
                remote_group_id VARCHAR(36),
                description VARCHAR(255) NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX security_group_rules_group ON security_group_rules (security_group_id);
            CREATE INDEX security_group_rules_project ON security_group_rules (project_id);
            CREATE TABLE port_security_groups (
                port_id VARCHAR(36) NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
                security_group_id VARCHAR(36) NOT NULL REFERENCES security_groups(id),
                PRIMARY KEY (port_id, security_group_id));
            CREATE INDEX port_security_groups_group ON port_security_groups (security_group_id);
            CREATE TABLE network_quotas (
                project_id VARCHAR(64) NOT NULL,
                resource VARCHAR(64) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (project_id, resource));
            """),
        // Routers and floating IPs (Neutron L3). A router's interfaces and gateway are ports (device_id the router);
        // a floating IP's address is a port of its own on the external network (device_id the floating IP).
        new("network-002-routers", """
            CREATE TABLE routers (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255) NOT NULL,
                admin_state_up BOOLEAN NOT NULL,
                gateway_network_id VARCHAR(36),
                gateway_port_id VARCHAR(36),
                enable_snat BOOLEAN NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX routers_project ON routers (project_id);
            CREATE TABLE floating_ips (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                floating_network_id VARCHAR(36) NOT NULL REFERENCES networks(id),
                floating_port_id VARCHAR(36) NOT NULL,
                floating_ip_address VARCHAR(64) NOT NULL,
                port_id VARCHAR(36),
                fixed_ip_address VARCHAR(64),
                router_id VARCHAR(36),
                status VARCHAR(16) NOT NULL,
                description VARCHAR(255) NOT NULL,
                revision_number BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX floating_ips_project ON floating_ips (project_id);
            CREATE INDEX floating_ips_port ON floating_ips (port_id);
            CREATE INDEX floating_ips_router ON floating_ips (router_id);
            """),
        // Tenant networks span compute hosts over VXLAN: each gets a VNI (provider:segmentation_id); existing ones are
        // numbered 1..N by id. Each compute host's network agent row holds its tunnel address and why it has no data plane.
        new("network-003-vxlan", """
            ALTER TABLE networks ADD COLUMN segmentation_id INTEGER;
            UPDATE networks SET segmentation_id = (SELECT COUNT(*) FROM networks n2 WHERE n2.id <= networks.id) WHERE NOT external;
            CREATE UNIQUE INDEX networks_segmentation ON networks (segmentation_id);
            CREATE TABLE network_agents (
                host VARCHAR(255) PRIMARY KEY,
                tunnel_address VARCHAR(64),
                tunnel_port INTEGER NOT NULL,
                available BOOLEAN NOT NULL,
                reason VARCHAR(1024) NOT NULL,
                started_at TIMESTAMP NOT NULL);
            """),
        // One number bumped by every committed write of the network service: a compute host's 2 s watch reads it and
        // reads the port table only when it moved.
        new("network-004-revision", """
            CREATE TABLE network_revision (
                id INTEGER PRIMARY KEY,
                revision BIGINT NOT NULL);
            INSERT INTO network_revision (id, revision) VALUES (1, 0);
            """),
        // Nova's device tag of a server's interface (os-interface 2.49+, networks[].tag 2.32+): Nova keeps it on its
        // virtual interface; here the port is the interface, so the port holds it until the server lets it go.
        new("network-005-port-tag", """
            ALTER TABLE ports ADD COLUMN device_tag VARCHAR(60);
            """),
        // Neutron's dvr_host_macs: one MAC per compute host, the source of the frames its router copies route into a
        // tunnel (docs/network.md, "Cross-host east-west routing"). Unique, so two hosts never share one.
        new("network-006-dvr-host-mac", """
            CREATE TABLE dvr_host_macs (
                host VARCHAR(255) PRIMARY KEY,
                mac_address VARCHAR(17) NOT NULL UNIQUE);
            """),
    ];
}
