-- A tag that clients carry is no longer deleted from under them: deleting it is refused while
-- any client carries it, so nobody loses a tag without asking for it (the api takes a tag off
-- its clients and then deletes it only when told to, in one transaction).
ALTER TABLE client_tags
    DROP CONSTRAINT client_tags_tag_id_fkey,
    ADD CONSTRAINT client_tags_tag_id_fkey
        FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE RESTRICT;
