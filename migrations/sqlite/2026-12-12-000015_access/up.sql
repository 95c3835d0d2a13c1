-- The SQLite twin of migrations/postgres/2026-12-12-000015_access: roles, disabled and
-- single sign-on accounts, revocable API tokens, API keys, sign-in attempts and the
-- append-only audit log.

-- Accounts so far were all the configured administrator; the application names the role of
-- every new one.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CONSTRAINT users_role_known CHECK (role IN ('admin', 'manager', 'viewer'));
-- An empty hash is an account without a password: SQLite cannot make the column nullable in
-- place.
ALTER TABLE users ADD COLUMN disabled_at TEXT NULL;
ALTER TABLE users ADD COLUMN oidc_issuer TEXT NULL;
ALTER TABLE users ADD COLUMN oidc_subject TEXT NULL
    CONSTRAINT users_oidc_whole CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
ALTER TABLE users ADD COLUMN last_sign_in_at TEXT NULL;
CREATE UNIQUE INDEX users_oidc_key ON users (oidc_issuer, oidc_subject);

ALTER TABLE admin_sessions ADD COLUMN signed_in_with TEXT NOT NULL DEFAULT 'password'
    CONSTRAINT admin_sessions_signed_in_with_known CHECK (signed_in_with IN ('password', 'oidc'));
CREATE INDEX admin_sessions_username_idx ON admin_sessions (username);

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id    TEXT NOT NULL CONSTRAINT access_tokens_token_id_key UNIQUE,
    username    TEXT NOT NULL CONSTRAINT access_tokens_username_fkey
                REFERENCES users (username) ON UPDATE CASCADE ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX access_tokens_username_idx ON access_tokens (username);
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL CONSTRAINT api_keys_name_key UNIQUE
                  CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 100),
    prefix        TEXT NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
    secret_hash   TEXT NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE,
    role          TEXT NOT NULL CONSTRAINT api_keys_role_known
                  CHECK (role IN ('admin', 'manager', 'viewer')),
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NULL,
    last_used_at  TEXT NULL
);

CREATE TABLE sign_in_attempts (
    state_hash     TEXT PRIMARY KEY NOT NULL,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX sign_in_attempts_expires_at_idx ON sign_in_attempts (expires_at);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    actor_kind      TEXT NOT NULL CONSTRAINT audit_log_actor_kind_known
                    CHECK (actor_kind IN ('user', 'api_key')),
    actor           TEXT NOT NULL,
    actor_id        INTEGER NOT NULL,
    signed_in_with  TEXT NOT NULL CONSTRAINT audit_log_signed_in_with_known
                    CHECK (signed_in_with IN ('password', 'oidc', 'api_key')),
    interface       TEXT NOT NULL CONSTRAINT audit_log_interface_known
                    CHECK (interface IN ('api', 'admin_ui')),
    action          TEXT NOT NULL,
    resource        TEXT NOT NULL,
    resource_id     TEXT NULL,
    changes         TEXT NOT NULL CONSTRAINT audit_log_changes_json CHECK (json_valid(changes)),
    request_id      TEXT NOT NULL,
    client_address  TEXT NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_resource_idx ON audit_log (resource, resource_id, id);

-- Entries are only ever added: the database refuses to change or remove one.
CREATE TRIGGER audit_log_no_updates BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_deletes BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused');
END;
