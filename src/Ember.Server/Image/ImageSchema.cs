using Ember.Server.Data;

namespace Ember.Server.Image;

/// <summary>Tables of the Glance subset. Tags and custom properties are JSON text (portable to PostgreSQL).</summary>
public static class ImageSchema
{
    public static IEnumerable<Migration> Migrations { get; } =
    [
        new("image-001", """
            CREATE TABLE images (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255),
                status VARCHAR(30) NOT NULL,
                visibility VARCHAR(20) NOT NULL,
                protected BOOLEAN NOT NULL,
                os_hidden BOOLEAN NOT NULL,
                disk_format VARCHAR(20),
                container_format VARCHAR(20),
                size BIGINT,
                virtual_size BIGINT,
                checksum VARCHAR(32),
                os_hash_algo VARCHAR(64),
                os_hash_value VARCHAR(128),
                min_disk INTEGER NOT NULL,
                min_ram INTEGER NOT NULL,
                owner VARCHAR(64) NOT NULL,
                tags TEXT NOT NULL,
                properties TEXT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX images_owner ON images (owner);
            """),
        // Glance's image members: a shared image is seen by the projects it names; each member accepts or rejects it.
        new("image-002-members", """
            CREATE TABLE image_members (
                image_id VARCHAR(36) NOT NULL REFERENCES images(id) ON DELETE CASCADE,
                member_id VARCHAR(64) NOT NULL,
                status VARCHAR(20) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (image_id, member_id));
            CREATE INDEX image_members_member ON image_members (member_id);
            """),
        // Glance's tasks: legacy "import" tasks (POST /v2/tasks) and the "api_image_import" task each interoperable
        // import records (GET /v2/images/{id}/tasks). No foreign key: a task outlives its image, as in Glance, until it
        // expires. input and result are JSON text.
        new("image-003-tasks", """
            CREATE TABLE image_tasks (
                id VARCHAR(36) PRIMARY KEY,
                type VARCHAR(30) NOT NULL,
                status VARCHAR(30) NOT NULL,
                owner VARCHAR(64) NOT NULL,
                image_id VARCHAR(36),
                user_id VARCHAR(64),
                request_id VARCHAR(64),
                input TEXT NOT NULL,
                result TEXT,
                message TEXT NOT NULL,
                expires_at TIMESTAMP,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL);
            CREATE INDEX image_tasks_owner ON image_tasks (owner);
            CREATE INDEX image_tasks_image ON image_tasks (image_id);
            """),
    ];
}
