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
    ];
}
