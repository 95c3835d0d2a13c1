-- The SQLite twin of migrations/postgres/2026-12-09-000008_tags_in_use: deleting a tag that
-- clients carry is refused. SQLite cannot change a foreign key in place, so client_tags is
-- rebuilt; nothing refers to it.
CREATE TABLE client_tags_rebuilt (
    client_id  INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL CONSTRAINT client_tags_tag_id_fkey
               REFERENCES tags (id) ON DELETE RESTRICT,
    PRIMARY KEY (client_id, tag_id)
) WITHOUT ROWID;
INSERT INTO client_tags_rebuilt (client_id, tag_id) SELECT client_id, tag_id FROM client_tags;
DROP TABLE client_tags;
ALTER TABLE client_tags_rebuilt RENAME TO client_tags;
CREATE INDEX client_tags_tag_id_idx ON client_tags (tag_id, client_id);
