ALTER TABLE client_tags
    DROP CONSTRAINT client_tags_tag_id_fkey,
    ADD CONSTRAINT client_tags_tag_id_fkey
        FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE;
