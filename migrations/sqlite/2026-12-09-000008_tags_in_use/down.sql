CREATE TABLE client_tags_rebuilt (
    client_id  INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, tag_id)
) WITHOUT ROWID;
INSERT INTO client_tags_rebuilt (client_id, tag_id) SELECT client_id, tag_id FROM client_tags;
DROP TABLE client_tags;
ALTER TABLE client_tags_rebuilt RENAME TO client_tags;
CREATE INDEX client_tags_tag_id_idx ON client_tags (tag_id, client_id);
