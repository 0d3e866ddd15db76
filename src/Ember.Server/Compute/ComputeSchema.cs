using Ember.Server.Data;

namespace Ember.Server.Compute;

/// <summary>Tables of the Nova subset: flavors and their access lists, servers and their block device mappings, the service registry, server groups.</summary>
public static class ComputeSchema
{
    public static IEnumerable<Migration> Migrations { get; } =
    [
        new("compute-001", """
            CREATE TABLE flavors (
                id VARCHAR(255) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                ram INTEGER NOT NULL,
                vcpus INTEGER NOT NULL,
                disk INTEGER NOT NULL,
                ephemeral INTEGER NOT NULL,
                swap INTEGER NOT NULL,
                rxtx_factor DOUBLE PRECISION NOT NULL,
                is_public BOOLEAN NOT NULL,
                description TEXT,
                extra_specs TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL);
            CREATE TABLE servers (
                id VARCHAR(36) PRIMARY KEY,
                instance_number INTEGER NOT NULL UNIQUE,
                name VARCHAR(255) NOT NULL,
                description TEXT,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                image_id VARCHAR(36),
                flavor_id VARCHAR(255) NOT NULL,
                flavor_json TEXT NOT NULL,
                vm_state VARCHAR(30) NOT NULL,
                task_state VARCHAR(30),
                power_state INTEGER NOT NULL,
                metadata TEXT NOT NULL,
                user_data TEXT,
                key_name VARCHAR(255),
                fault_json TEXT,
                host VARCHAR(255) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                launched_at TIMESTAMP);
            CREATE INDEX servers_project ON servers (project_id);
            CREATE TABLE block_device_mappings (
                id VARCHAR(36) PRIMARY KEY,
                server_id VARCHAR(36) NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                volume_id VARCHAR(36) NOT NULL,
                attachment_id VARCHAR(36),
                device_name VARCHAR(64) NOT NULL,
                boot_index INTEGER,
                delete_on_termination BOOLEAN NOT NULL,
                tag VARCHAR(255),
                connection_json TEXT,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (server_id, volume_id));
            """),
        // Nova's flavor_projects: which projects may see and boot a private flavor (os-flavor-access).
        new("compute-002", """
            CREATE TABLE flavor_projects (
                flavor_id VARCHAR(255) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                PRIMARY KEY (flavor_id, project_id));
            """),
        // A compute host finds its own servers by the host column (recovery at start, and issue 13's claims).
        new("compute-003", """
            CREATE INDEX servers_host ON servers (host);
            """),
        // Nova's services table and the compute node's capacity in one row per (host, binary): os-services and
        // os-hypervisors read it; serial is the integer id of microversions before 2.53, id the uuid from 2.53.
        new("compute-004", """
            CREATE TABLE compute_services (
                id VARCHAR(36) PRIMARY KEY,
                serial INTEGER NOT NULL UNIQUE,
                host VARCHAR(255) NOT NULL,
                binary_name VARCHAR(64) NOT NULL,
                zone VARCHAR(255) NOT NULL,
                disabled BOOLEAN NOT NULL,
                disabled_reason VARCHAR(255),
                forced_down BOOLEAN NOT NULL,
                last_seen_at TIMESTAMP NOT NULL,
                node_id VARCHAR(36) NOT NULL UNIQUE,
                vcpus INTEGER NOT NULL,
                memory_mb BIGINT NOT NULL,
                local_gb BIGINT NOT NULL,
                disk_available_gb BIGINT NOT NULL,
                hypervisor_type VARCHAR(64) NOT NULL,
                hypervisor_hostname VARCHAR(255) NOT NULL,
                host_ip VARCHAR(64),
                cpu_info TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                UNIQUE (host, binary_name));
            """),
        // Nova's instance groups (os-server-groups): one policy per group (as below 2.64), members in their own table.
        // A member row goes with its server or its group (ON DELETE CASCADE); a server is in at most one group.
        new("compute-005", """
            CREATE TABLE server_groups (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                policy VARCHAR(32) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                created_at TIMESTAMP NOT NULL);
            CREATE INDEX server_groups_project ON server_groups (project_id);
            CREATE TABLE server_group_members (
                group_id VARCHAR(36) NOT NULL REFERENCES server_groups(id) ON DELETE CASCADE,
                server_id VARCHAR(36) NOT NULL UNIQUE REFERENCES servers(id) ON DELETE CASCADE,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (group_id, server_id));
            """),
        // Casts to a compute host on another machine wait here until that host claims them (HostMessageQueue).
        new("compute-006", """
            CREATE TABLE compute_host_messages (
                seq SEQUENCE_KEY,
                host VARCHAR(255) NOT NULL,
                server_id VARCHAR(36) NOT NULL,
                kind VARCHAR(16) NOT NULL,
                body TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL);
            CREATE INDEX compute_host_messages_host ON compute_host_messages (host, seq);
            """),
        // Calls across hosts: a compute host's call listener (https://IP:PORT) and every service's certificate
        // fingerprint, which the peers pin (mutual TLS with no CA; no secret in the database).
        new("compute-007", """
            ALTER TABLE compute_services ADD COLUMN call_url VARCHAR(255);
            ALTER TABLE compute_services ADD COLUMN certificate_sha256 VARCHAR(64);
            """),
        // Nova's instances.availability_zone: the zone a server asked for, then the zone of the host it was placed on.
        // Every host so far was in the default zone.
        new("compute-008", """
            ALTER TABLE servers ADD COLUMN availability_zone VARCHAR(255);
            UPDATE servers SET availability_zone = 'nova' WHERE host <> '';
            """),
        // os-hypervisors/{id}/uptime: the compute host's uptime line, as of its last heartbeat (null from an older Ember).
        new("compute-009", """
            ALTER TABLE compute_services ADD COLUMN uptime VARCHAR(255);
            """),
        // os-keypairs: each user's named public keys (Nova's key_pairs); a private key is never stored.
        new("compute-010-keypairs", """
            CREATE TABLE key_pairs (
                id SEQUENCE_KEY,
                name VARCHAR(255) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                fingerprint VARCHAR(255) NOT NULL,
                public_key TEXT NOT NULL,
                type VARCHAR(10) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (user_id, name));
            """),
        // os-quota-sets and os-quota-class-sets: the limits set by an admin; what is not here has its default.
        new("compute-011-quotas", """
            CREATE TABLE compute_quotas (
                project_id VARCHAR(64) NOT NULL,
                resource VARCHAR(64) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (project_id, resource));
            """),
        // Nova's instances.config_drive: "True" when the server boots with a config drive, else "" (Nova stores the string).
        new("compute-012-config-drive", """
            ALTER TABLE servers ADD COLUMN config_drive VARCHAR(8) NOT NULL DEFAULT '';
            """),
        // Nova's instances.key_data: the key pair's public key as it was at boot, served by the metadata service and the
        // config drive even after the key pair is deleted.
        new("compute-013-key-data", """
            ALTER TABLE servers ADD COLUMN key_data TEXT;
            """),
        // os-instance-actions: every action on a server (Nova's instance_actions) and the events of its work on the host
        // (instance_actions_events). No foreign key to servers: Nova keeps the actions of a deleted server readable.
        new("compute-015-instance-actions", """
            CREATE TABLE instance_actions (
                id SEQUENCE_KEY,
                server_id VARCHAR(36) NOT NULL,
                request_id VARCHAR(255) NOT NULL,
                action VARCHAR(64) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                message VARCHAR(255),
                start_time TIMESTAMP NOT NULL,
                finish_time TIMESTAMP,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX instance_actions_server ON instance_actions (server_id, request_id);
            CREATE TABLE instance_action_events (
                id SEQUENCE_KEY,
                action_id BIGINT NOT NULL REFERENCES instance_actions(id) ON DELETE CASCADE,
                event VARCHAR(255) NOT NULL,
                host VARCHAR(255),
                start_time TIMESTAMP NOT NULL,
                finish_time TIMESTAMP,
                result VARCHAR(32),
                traceback TEXT,
                details TEXT);
            CREATE INDEX instance_action_events_action ON instance_action_events (action_id);
            """),
        // Nova's lock (locked_by owner/admin, 2.73 locked_reason), access IPs kept as given, the reservation of a
        // multiple create and each server's index in it, and server tags (2.26).
        new("compute-016-server-fields", """
            ALTER TABLE servers ADD COLUMN locked_by VARCHAR(16);
            ALTER TABLE servers ADD COLUMN locked_reason VARCHAR(255);
            ALTER TABLE servers ADD COLUMN access_ip_v4 VARCHAR(64);
            ALTER TABLE servers ADD COLUMN access_ip_v6 VARCHAR(64);
            ALTER TABLE servers ADD COLUMN reservation_id VARCHAR(32);
            ALTER TABLE servers ADD COLUMN launch_index INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE server_tags (
                server_id VARCHAR(36) NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                tag VARCHAR(60) NOT NULL,
                PRIMARY KEY (server_id, tag));
            """),
        // The server list pages in its default order (created_at, id) within a project or across projects, as the
        // volume lists do since volume-007-list-order: an index walk stops after one page instead of sorting the project.
        new("compute-019-list-order", """
            CREATE INDEX servers_project_order ON servers (project_id, created_at, id);
            CREATE INDEX servers_order ON servers (created_at, id);
            """),
        // resize: the flavor the server had before, kept until the resize is confirmed or reverted (Nova's old_flavor).
        new("compute-020-resize", """
            ALTER TABLE servers ADD COLUMN old_flavor_json TEXT;
            """),
        // shelve: the image holding a shelved server's root disk until unshelve boots from it (Nova's shelved_image_id).
        new("compute-021-shelve", """
            ALTER TABLE servers ADD COLUMN shelved_image_id VARCHAR(36);
            """),
        // 2.90: the hostname a user gives at create, update or rebuild (Nova's instances.hostname); null for the
        // servers before it, whose hostname stays the one made from the name.
        new("compute-024-mv-hostname", """
            ALTER TABLE servers ADD COLUMN hostname VARCHAR(255);
            """),
        // os-aggregates: named groups of compute hosts with metadata (Nova's aggregates, aggregate_hosts and
        // aggregate_metadata, the metadata here as one JSON object). A host's zone is written through to its
        // nova-compute row (AggregateStore).
        new("compute-026-aggregates", """
            CREATE TABLE aggregates (
                id SEQUENCE_KEY,
                uuid VARCHAR(36) NOT NULL UNIQUE,
                name VARCHAR(255) NOT NULL UNIQUE,
                metadata TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP);
            CREATE TABLE aggregate_hosts (
                aggregate_id BIGINT NOT NULL REFERENCES aggregates(id) ON DELETE CASCADE,
                host VARCHAR(255) NOT NULL,
                PRIMARY KEY (aggregate_id, host));
            """),
        // os-migrations: each resize and evacuation of a server (Nova's migrations), deleted with the server as Nova
        // soft-deletes them with the instance. Flavors are named by their flavor id (Nova keeps its internal integer ids).
        new("compute-027-migrations", """
            CREATE TABLE migrations (
                id SEQUENCE_KEY,
                uuid VARCHAR(36) NOT NULL UNIQUE,
                server_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                source_compute VARCHAR(255),
                dest_compute VARCHAR(255),
                dest_host VARCHAR(64),
                old_flavor_id VARCHAR(255),
                new_flavor_id VARCHAR(255),
                migration_type VARCHAR(32) NOT NULL,
                status VARCHAR(32) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP);
            CREATE INDEX migrations_server ON migrations (server_id);
            CREATE INDEX migrations_order ON migrations (created_at, id);
            """),
        // os-simple-tenant-usage: a deleted server that ran, with the time it ended (Nova keeps its soft-deleted
        // instance row with terminated_at), so usage over a window still counts the hours it ran in it.
        new("compute-028-usage", """
            CREATE TABLE terminated_servers (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                flavor_json TEXT NOT NULL,
                launched_at TIMESTAMP NOT NULL,
                terminated_at TIMESTAMP NOT NULL);
            CREATE INDEX terminated_servers_ended ON terminated_servers (terminated_at);
            """),
        // os-server-password: what the guest posted to the metadata service, encrypted with its key (Nova keeps it in
        // the instance's system metadata); null until then and after a clear.
        new("compute-029-server-password", """
            ALTER TABLE servers ADD COLUMN password TEXT;
            """),
        // 2.96, 2.98 and 2.100: what Nova's request spec and system metadata keep from a create: the zone asked for
        // (pinned_availability_zone; unshelve re-pins or unpins it), the scheduler hints (JSON, each value a list) and
        // the image's standard properties at boot (JSON). Null for the servers before it: no zone, {} and {}.
        new("compute-030-microversions", """
            ALTER TABLE servers ADD COLUMN pinned_availability_zone VARCHAR(255);
            ALTER TABLE servers ADD COLUMN scheduler_hints TEXT;
            ALTER TABLE servers ADD COLUMN image_properties TEXT;
            """),
    ];
}
