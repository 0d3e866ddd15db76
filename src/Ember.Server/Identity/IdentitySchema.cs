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
    ];
}
