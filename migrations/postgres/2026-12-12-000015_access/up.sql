-- Access control: a role per account, accounts that can be disabled or that sign in only
-- through the OpenID provider, revocable API tokens, integrators' API keys, single sign-on
-- attempts under way, and the append-only audit log.

-- Accounts so far were all the configured administrator; a new one is given its role.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
    CONSTRAINT users_role_known CHECK (role IN ('admin', 'manager', 'viewer'));
ALTER TABLE users ALTER COLUMN role DROP DEFAULT;
-- An empty hash is an account without a password (one the OpenID provider signs in), on both
-- backends alike: SQLite cannot make the column nullable in place.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ NULL;
ALTER TABLE users ADD COLUMN oidc_issuer TEXT NULL;
ALTER TABLE users ADD COLUMN oidc_subject TEXT NULL;
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMPTZ NULL;
ALTER TABLE users ADD CONSTRAINT users_oidc_whole
    CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
ALTER TABLE users ADD CONSTRAINT users_oidc_key UNIQUE (oidc_issuer, oidc_subject);

ALTER TABLE admin_sessions ADD COLUMN signed_in_with TEXT NOT NULL DEFAULT 'password'
    CONSTRAINT admin_sessions_signed_in_with_known CHECK (signed_in_with IN ('password', 'oidc'));
ALTER TABLE admin_sessions ALTER COLUMN signed_in_with DROP DEFAULT;
CREATE INDEX admin_sessions_username_idx ON admin_sessions (username);

-- The tokens POST /api/v1/auth/token issued and that have not been revoked: a token names its
-- row, and one without a row is refused.
CREATE TABLE access_tokens (
    id          BIGSERIAL PRIMARY KEY,
    token_id    TEXT NOT NULL CONSTRAINT access_tokens_token_id_key UNIQUE,
    username    TEXT NOT NULL CONSTRAINT access_tokens_username_fkey
                REFERENCES users (username) ON UPDATE CASCADE ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_tokens_username_idx ON access_tokens (username);
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);

-- A key's creator is named, not referenced: a key belongs to the integration, not to the
-- person who made it, and outlives their account.
CREATE TABLE api_keys (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL CONSTRAINT api_keys_name_key UNIQUE
                  CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    prefix        TEXT NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
    secret_hash   TEXT NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE,
    role          TEXT NOT NULL CONSTRAINT api_keys_role_known
                  CHECK (role IN ('admin', 'manager', 'viewer')),
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NULL,
    last_used_at  TIMESTAMPTZ NULL
);

CREATE TABLE sign_in_attempts (
    state_hash     TEXT PRIMARY KEY,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_attempts_expires_at_idx ON sign_in_attempts (expires_at);

-- Actors are named, not referenced: an entry outlives the account or key that made it.
CREATE TABLE audit_log (
    id              BIGSERIAL PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    actor_kind      TEXT NOT NULL CONSTRAINT audit_log_actor_kind_known
                    CHECK (actor_kind IN ('user', 'api_key')),
    actor           TEXT NOT NULL,
    actor_id        BIGINT NOT NULL,
    signed_in_with  TEXT NOT NULL CONSTRAINT audit_log_signed_in_with_known
                    CHECK (signed_in_with IN ('password', 'oidc', 'api_key')),
    interface       TEXT NOT NULL CONSTRAINT audit_log_interface_known
                    CHECK (interface IN ('api', 'admin_ui')),
    action          TEXT NOT NULL,
    resource        TEXT NOT NULL,
    resource_id     TEXT NULL,
    changes         JSONB NOT NULL,
    request_id      TEXT NOT NULL,
    client_address  TEXT NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_resource_idx ON audit_log (resource, resource_id, id);

-- Entries are only ever added: the database refuses to change or remove one.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_updates BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
