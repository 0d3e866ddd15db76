using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>Tables of the Keystone subset.</summary>
public static class IdentitySchema
{
    public static IEnumerable<Migration> Migrations { get; } =
    [
        new("identity-001", """
            CREATE TABLE domains (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                description TEXT,
                enabled BOOLEAN NOT NULL);
            CREATE TABLE projects (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
                description TEXT,
                enabled BOOLEAN NOT NULL,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (domain_id, name));
            CREATE TABLE users (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
                password_hash TEXT,
                enabled BOOLEAN NOT NULL,
                default_project_id VARCHAR(64),
                email VARCHAR(255),
                description TEXT,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (domain_id, name));
            CREATE TABLE roles (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                description TEXT);
            CREATE TABLE role_assignments (
                user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (user_id, project_id, role_id));
            CREATE TABLE tokens (
                token_hash VARCHAR(64) PRIMARY KEY,
                user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                project_id VARCHAR(64) REFERENCES projects(id) ON DELETE CASCADE,
                methods VARCHAR(255) NOT NULL,
                audit_id VARCHAR(64) NOT NULL,
                issued_at TIMESTAMP NOT NULL,
                expires_at TIMESTAMP NOT NULL,
                revoked BOOLEAN NOT NULL);
            CREATE INDEX tokens_expires_at ON tokens (expires_at);
            """),
        // Keystone's revocation events: a token issued at or before issued_before by a matching user and/or
        // project is dead, whatever happens to that user or project later. Failed logins for lock-out.
        new("identity-002", """
            CREATE TABLE revocation_events (
                id VARCHAR(64) PRIMARY KEY,
                user_id VARCHAR(64),
                project_id VARCHAR(64),
                issued_before TIMESTAMP NOT NULL,
                revoked_at TIMESTAMP NOT NULL);
            CREATE INDEX revocation_events_issued_before ON revocation_events (issued_before);
            CREATE TABLE login_failures (
                user_id VARCHAR(64) PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                failures INTEGER NOT NULL,
                last_failure_at TIMESTAMP NOT NULL);
            """),
        // Keystone's regions (/v3/regions); the catalog's RegionOne is there from the start.
        new("identity-003-regions", """
            CREATE TABLE regions (
                id VARCHAR(255) PRIMARY KEY,
                description TEXT,
                parent_region_id VARCHAR(255));
            INSERT INTO regions (id, description, parent_region_id) VALUES ('RegionOne', '', NULL);
            """),
        // One counter bumped by every write that can change what a token validates to (TokenService's cache): a
        // cached validation is used only while the counter is where it was when the validation was read.
        new("identity-004-generation", """
            CREATE TABLE identity_generation (
                id INTEGER PRIMARY KEY,
                generation BIGINT NOT NULL);
            INSERT INTO identity_generation (id, generation) VALUES (1, 0);
            """),
        // Keystone's catalog tables (/v3/services, /v3/endpoints), seeded with the services of this host. A URL that starts
        // with "/" is relative to the request's base URL; $(project_id)s is the token's project (ServiceCatalog).
        new("identity-005-catalog", CatalogSeedSql()),
        // Groups, and one table for every role assignment: a user or a group, on a project or a domain (the old
        // user-on-project rows move over). Tokens may be scoped to a domain.
        new("identity-006-assignments", """
            CREATE TABLE identity_groups (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
                description TEXT,
                UNIQUE (domain_id, name));
            CREATE TABLE group_members (
                group_id VARCHAR(64) NOT NULL REFERENCES identity_groups(id) ON DELETE CASCADE,
                user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                PRIMARY KEY (group_id, user_id));
            CREATE INDEX group_members_user ON group_members (user_id);
            CREATE TABLE grants (
                actor_kind VARCHAR(8) NOT NULL,
                actor_id VARCHAR(64) NOT NULL,
                target_kind VARCHAR(8) NOT NULL,
                target_id VARCHAR(64) NOT NULL,
                role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (actor_kind, actor_id, target_kind, target_id, role_id));
            CREATE INDEX grants_target ON grants (target_kind, target_id);
            INSERT INTO grants (actor_kind, actor_id, target_kind, target_id, role_id)
              SELECT 'user', user_id, 'project', project_id, role_id FROM role_assignments;
            DROP TABLE role_assignments;
            ALTER TABLE tokens ADD COLUMN domain_id VARCHAR(64);
            """),
        // Project hierarchy and tags, users' extra attributes (a JSON object), roles' descriptions kept as before.
        new("identity-007-projects", """
            ALTER TABLE projects ADD COLUMN parent_id VARCHAR(64);
            ALTER TABLE projects ADD COLUMN is_domain BOOLEAN NOT NULL DEFAULT FALSE;
            CREATE TABLE project_tags (
                project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                tag VARCHAR(255) NOT NULL,
                PRIMARY KEY (project_id, tag));
            ALTER TABLE users ADD COLUMN extra TEXT;
            """),
        // Keystone's credentials (/v3/credentials, and the EC2 ones under /v3/users/{id}/credentials/OS-EC2): a blob of the
        // owner's, kept as given (Keystone encrypts blobs at rest with its own keys; Ember's data dir is 0700).
        new("identity-008-credentials", """
            CREATE TABLE credentials (
                id VARCHAR(64) PRIMARY KEY,
                user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                project_id VARCHAR(64),
                type VARCHAR(255) NOT NULL,
                blob TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL);
            CREATE INDEX credentials_user ON credentials (user_id);
            """),
        // Application credentials: a secret (kept as a PasswordHasher hash) that logs its user into one project with a subset
        // of the user's roles there. A token made with one names it, and lives only while it does.
        new("identity-009-app-credentials", """
            CREATE TABLE application_credentials (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                secret_hash TEXT NOT NULL,
                description TEXT,
                expires_at TIMESTAMP,
                unrestricted BOOLEAN NOT NULL,
                created_at TIMESTAMP NOT NULL,
                UNIQUE (user_id, name));
            CREATE TABLE application_credential_roles (
                application_credential_id VARCHAR(64) NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
                role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (application_credential_id, role_id));
            ALTER TABLE tokens ADD COLUMN app_cred_id VARCHAR(64);
            """),
        // Keystone's trusts (OS-TRUST): a trustor lends some of its roles on a project to a trustee. A trust-scoped token
        // names its trust, and lives only while the trust does.
        new("identity-010-trusts", """
            CREATE TABLE trusts (
                id VARCHAR(64) PRIMARY KEY,
                trustor_user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                trustee_user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                project_id VARCHAR(64) REFERENCES projects(id) ON DELETE CASCADE,
                impersonation BOOLEAN NOT NULL,
                expires_at TIMESTAMP,
                remaining_uses INTEGER,
                created_at TIMESTAMP NOT NULL);
            CREATE INDEX trusts_trustor ON trusts (trustor_user_id);
            CREATE INDEX trusts_trustee ON trusts (trustee_user_id);
            CREATE TABLE trust_roles (
                trust_id VARCHAR(64) NOT NULL REFERENCES trusts(id) ON DELETE CASCADE,
                role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (trust_id, role_id));
            ALTER TABLE tokens ADD COLUMN trust_id VARCHAR(64);
            """),
        // Implied roles: holding the prior role gives the implied one too (followed transitively when roles are read).
        new("identity-011-implied-roles", """
            CREATE TABLE implied_roles (
                prior_role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                implied_role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (prior_role_id, implied_role_id));
            """),
        // OS-INHERIT: a role given on a domain or a project for the projects under it, not for the target itself; kept apart
        // from grants since a role may be given both ways at once. Also roles' domain_id (domain-specific roles: none of the
        // reserved migration names covers them); role names stay unique across domains (SQLite cannot drop the column's UNIQUE).
        new("identity-012-inherited-grants", """
            CREATE TABLE inherited_grants (
                actor_kind VARCHAR(8) NOT NULL,
                actor_id VARCHAR(64) NOT NULL,
                target_kind VARCHAR(8) NOT NULL,
                target_id VARCHAR(64) NOT NULL,
                role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
                PRIMARY KEY (actor_kind, actor_id, target_kind, target_id, role_id));
            CREATE INDEX inherited_grants_target ON inherited_grants (target_kind, target_id);
            ALTER TABLE roles ADD COLUMN domain_id VARCHAR(64) REFERENCES domains(id) ON DELETE CASCADE;
            """),
        // System role assignments live in grants (target_kind 'system', target_id 'all'); a token may be system-scoped.
        new("identity-013-system-grants", """
            ALTER TABLE tokens ADD COLUMN system_scope BOOLEAN NOT NULL DEFAULT FALSE;
            """),
        // Keystone's policies (/v3/policies): a blob of a type, stored and shown, enforced by nothing (as in Keystone).
        new("identity-014-policies", """
            CREATE TABLE policies (
                id VARCHAR(64) PRIMARY KEY,
                type VARCHAR(255) NOT NULL,
                blob TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL);
            """),
        // OS-OAUTH1 consumers; the secret is shown once and kept as a PasswordHasher hash.
        new("identity-015-oauth-consumers", """
            CREATE TABLE oauth_consumers (
                id VARCHAR(64) PRIMARY KEY,
                description TEXT,
                secret_hash TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL);
            """),
        // OS-EP-FILTER: endpoint groups (filters as a JSON object), and the endpoints and groups associated with projects.
        new("identity-016-endpoint-groups", """
            CREATE TABLE endpoint_groups (
                id VARCHAR(64) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                description TEXT,
                filters TEXT NOT NULL);
            CREATE TABLE project_endpoint_groups (
                endpoint_group_id VARCHAR(64) NOT NULL REFERENCES endpoint_groups(id) ON DELETE CASCADE,
                project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                PRIMARY KEY (endpoint_group_id, project_id));
            CREATE TABLE project_endpoints (
                endpoint_id VARCHAR(64) NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
                project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                PRIMARY KEY (endpoint_id, project_id));
            CREATE INDEX project_endpoint_groups_project ON project_endpoint_groups (project_id);
            CREATE INDEX project_endpoints_project ON project_endpoints (project_id);
            """),
        // Domain-specific configuration (/v3/domains/{id}/config): an option's value as JSON, per domain and group.
        new("identity-017-domain-config", """
            CREATE TABLE domain_config (
                domain_id VARCHAR(64) NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
                group_name VARCHAR(64) NOT NULL,
                option_name VARCHAR(255) NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (domain_id, group_name, option_name));
            """),
    ];

    /// <summary>The catalog as it was before it became tables: each service under all three interfaces in RegionOne.</summary>
    private static string CatalogSeedSql()
    {
        var sql = new System.Text.StringBuilder("""
            CREATE TABLE services (
                id VARCHAR(64) PRIMARY KEY,
                type VARCHAR(255) NOT NULL,
                name VARCHAR(255),
                description TEXT,
                enabled BOOLEAN NOT NULL);
            CREATE TABLE endpoints (
                id VARCHAR(64) PRIMARY KEY,
                service_id VARCHAR(64) NOT NULL REFERENCES services(id) ON DELETE CASCADE,
                interface VARCHAR(8) NOT NULL,
                region_id VARCHAR(255),
                url TEXT NOT NULL,
                enabled BOOLEAN NOT NULL);
            CREATE INDEX endpoints_service ON endpoints (service_id);

            """);
        foreach (var (type, name, path) in ServiceCatalog.Seed)
        {
            sql.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"INSERT INTO services (id, type, name, description, enabled) VALUES ('{ServiceCatalog.StableId(type)}', '{type}', '{name}', '', TRUE);\n");
            foreach (var iface in ServiceCatalog.Interfaces)
            {
                sql.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"INSERT INTO endpoints (id, service_id, interface, region_id, url, enabled) VALUES ('{ServiceCatalog.StableId($"{type}/{iface}")}', '{ServiceCatalog.StableId(type)}', '{iface}', '{ServiceCatalog.Region}', '{path}', TRUE);\n");
            }
        }

        return sql.ToString();
    }
}
