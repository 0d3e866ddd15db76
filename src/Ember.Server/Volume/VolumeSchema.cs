using Ember.Server.Data;

namespace Ember.Server.Volume;

/// <summary>Tables of the Cinder subset. Metadata, extra specs and connectors are JSON text (portable to PostgreSQL).</summary>
public static class VolumeSchema
{
    public static IEnumerable<Migration> Migrations { get; } =
    [
        new("volume-001", """
            CREATE TABLE volume_types (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                description TEXT,
                is_public BOOLEAN NOT NULL,
                extra_specs TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE TABLE volumes (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                name VARCHAR(255),
                description TEXT,
                size INTEGER NOT NULL,
                status VARCHAR(30) NOT NULL,
                attach_status VARCHAR(30) NOT NULL,
                volume_type_id VARCHAR(36) NOT NULL REFERENCES volume_types(id),
                availability_zone VARCHAR(255) NOT NULL,
                bootable BOOLEAN NOT NULL,
                multiattach BOOLEAN NOT NULL,
                readonly BOOLEAN NOT NULL,
                snapshot_id VARCHAR(36),
                source_volid VARCHAR(36),
                image_metadata TEXT,
                metadata TEXT NOT NULL,
                legacy_export VARCHAR(128),
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volumes_project ON volumes (project_id);
            CREATE TABLE volume_attachments (
                id VARCHAR(36) PRIMARY KEY,
                volume_id VARCHAR(36) NOT NULL REFERENCES volumes(id),
                project_id VARCHAR(64) NOT NULL,
                instance_uuid VARCHAR(36),
                attach_status VARCHAR(30) NOT NULL,
                attach_mode VARCHAR(4) NOT NULL,
                mountpoint VARCHAR(255),
                attached_host VARCHAR(255),
                connector TEXT,
                export_name VARCHAR(128),
                attach_time TIMESTAMP,
                detach_time TIMESTAMP,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);
            CREATE TABLE volume_snapshots (
                id VARCHAR(36) PRIMARY KEY,
                volume_id VARCHAR(36) NOT NULL REFERENCES volumes(id),
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                name VARCHAR(255),
                description TEXT,
                size INTEGER NOT NULL,
                status VARCHAR(30) NOT NULL,
                metadata TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id);
            CREATE TABLE volume_quotas (
                project_id VARCHAR(64) NOT NULL,
                resource VARCHAR(64) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (project_id, resource));
            """),
        // Cinder shows the readonly admin metadata ("True"/"False") in a volume's metadata once os-update_readonly_flag set it.
        new("volume-002-readonly-shown", """
            ALTER TABLE volumes ADD COLUMN readonly_shown BOOLEAN NOT NULL DEFAULT FALSE;
            """),
        // 3.62: a project's own default volume type.
        new("volume-003-default-types", """
            CREATE TABLE volume_default_types (
                project_id VARCHAR(64) PRIMARY KEY,
                volume_type_id VARCHAR(36) NOT NULL);
            """),
        // 3.3: user messages, one per failed background operation; reason is Ember's short cause, never exception text.
        new("volume-004-messages", """
            CREATE TABLE volume_messages (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                request_id VARCHAR(64) NOT NULL,
                resource_type VARCHAR(36) NOT NULL,
                resource_uuid VARCHAR(36),
                event_id VARCHAR(64) NOT NULL,
                action_id VARCHAR(8) NOT NULL,
                detail_id VARCHAR(8) NOT NULL,
                reason VARCHAR(255),
                message_level VARCHAR(16) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                expires_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_messages_project ON volume_messages (project_id);
            CREATE INDEX volume_messages_expires ON volume_messages (expires_at);
            """),
        // os-volume-type-access: the projects that may use a private type besides the cloud admin.
        new("volume-005-type-access", """
            CREATE TABLE volume_type_projects (
                volume_type_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                PRIMARY KEY (volume_type_id, project_id));
            CREATE INDEX volume_type_projects_project ON volume_type_projects (project_id);
            """),
        // os-update_snapshot_status: the progress the caller reports ("80%"); null shows 0% or, once available, 100%.
        new("volume-006-snapshot-progress", """
            ALTER TABLE volume_snapshots ADD COLUMN progress VARCHAR(255);
            """),
        // Lists page in their default order (created_at, id) within a project, or across projects for the admin: with
        // these an index walk stops after one page, where the project index alone sorted every row of the project
        // (bench/scale: the first 100 of 10,000 volumes cost 4x the first 100 of 100).
        new("volume-007-list-order", """
            CREATE INDEX volumes_project_order ON volumes (project_id, created_at, id);
            CREATE INDEX volumes_order ON volumes (created_at, id);
            CREATE INDEX volume_attachments_project_order ON volume_attachments (project_id, created_at, id);
            CREATE INDEX volume_snapshots_project_order ON volume_snapshots (project_id, created_at, id);
            """),
        // Backups (Cinder's chunked POSIX driver): the chunks and manifest live under Volume:BackupPath; parent_id chains an
        // incremental to the backup it changes, restore_volume_id names the volume a restore writes.
        new("volume-008-backups", """
            CREATE TABLE volume_backups (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                volume_id VARCHAR(36) NOT NULL,
                snapshot_id VARCHAR(36),
                parent_id VARCHAR(36),
                restore_volume_id VARCHAR(36),
                name VARCHAR(255),
                description TEXT,
                status VARCHAR(30) NOT NULL,
                fail_reason VARCHAR(255),
                container VARCHAR(255) NOT NULL,
                availability_zone VARCHAR(255) NOT NULL,
                size INTEGER NOT NULL,
                object_count INTEGER NOT NULL,
                is_incremental BOOLEAN NOT NULL,
                metadata TEXT NOT NULL,
                data_timestamp TIMESTAMP NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_backups_project_order ON volume_backups (project_id, created_at, id);
            CREATE INDEX volume_backups_volume ON volume_backups (volume_id);
            CREATE INDEX volume_backups_parent ON volume_backups (parent_id);
            """),
        // Volume transfers: key_hash is a salted sha256 of the auth_key, which is shown once and never kept.
        new("volume-009-transfers", """
            CREATE TABLE volume_transfers (
                id VARCHAR(36) PRIMARY KEY,
                volume_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                name VARCHAR(255),
                salt VARCHAR(64) NOT NULL,
                key_hash VARCHAR(128) NOT NULL,
                no_snapshots BOOLEAN NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_transfers_project_order ON volume_transfers (project_id, created_at, id);
            CREATE INDEX volume_transfers_volume ON volume_transfers (volume_id);
            """),
        // QoS specs (qos-specs): a type names at most one, as Cinder's volume_types.qos_specs_id; specs is a JSON object of strings.
        new("volume-010-qos-specs", """
            CREATE TABLE volume_qos_specs (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                consumer VARCHAR(16) NOT NULL,
                specs TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            ALTER TABLE volume_types ADD COLUMN qos_specs_id VARCHAR(36);
            CREATE INDEX volume_types_qos_specs ON volume_types (qos_specs_id);
            """),
        // A volume type's encryption spec (Cinder's encryption table), kept as given: Ember has no key manager to use it.
        new("volume-011-encryption-types", """
            CREATE TABLE volume_type_encryption (
                volume_type_id VARCHAR(36) PRIMARY KEY,
                encryption_id VARCHAR(36) NOT NULL,
                provider VARCHAR(255) NOT NULL,
                cipher VARCHAR(255),
                key_size INTEGER,
                control_location VARCHAR(16) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP);
            """),
        // os-services enable/disable/freeze: the state an admin set on a service (host, binary); no row is enabled and not frozen.
        new("volume-012-service-state", """
            CREATE TABLE volume_service_state (
                service_binary VARCHAR(64) NOT NULL,
                host VARCHAR(255) NOT NULL,
                disabled BOOLEAN NOT NULL,
                disabled_reason VARCHAR(255),
                frozen BOOLEAN NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (service_binary, host));
            """),
        // os-quota-class-sets: a class's limits; the "default" class's replace Cinder's built-in defaults for every project.
        new("volume-013-quota-classes", """
            CREATE TABLE volume_quota_classes (
                class_name VARCHAR(255) NOT NULL,
                resource VARCHAR(64) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (class_name, resource));
            """),
        // Generic volume groups (3.11-3.38): group types with their group specs, groups (volume_type_ids is a JSON array of
        // the volume types a group's volumes may have), group snapshots; a volume names its group, a snapshot its group snapshot.
        new("volume-014-groups", """
            CREATE TABLE volume_group_types (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                description TEXT,
                is_public BOOLEAN NOT NULL,
                group_specs TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE TABLE volume_groups (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                name VARCHAR(255),
                description TEXT,
                status VARCHAR(30) NOT NULL,
                group_type_id VARCHAR(36) NOT NULL,
                volume_type_ids TEXT NOT NULL,
                availability_zone VARCHAR(255) NOT NULL,
                group_snapshot_id VARCHAR(36),
                source_group_id VARCHAR(36),
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_groups_project_order ON volume_groups (project_id, created_at, id);
            CREATE INDEX volume_groups_group_type ON volume_groups (group_type_id);
            CREATE TABLE volume_group_snapshots (
                id VARCHAR(36) PRIMARY KEY,
                group_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(64) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                name VARCHAR(255),
                description TEXT,
                status VARCHAR(30) NOT NULL,
                group_type_id VARCHAR(36) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX volume_group_snapshots_project_order ON volume_group_snapshots (project_id, created_at, id);
            CREATE INDEX volume_group_snapshots_group ON volume_group_snapshots (group_id);
            ALTER TABLE volumes ADD COLUMN group_id VARCHAR(36);
            CREATE INDEX volumes_group ON volumes (group_id);
            ALTER TABLE volume_snapshots ADD COLUMN group_snapshot_id VARCHAR(36);
            CREATE INDEX volume_snapshots_group_snapshot ON volume_snapshots (group_snapshot_id);
            """),
    ];
}
