//! Accounts, what they signed in with, integrators' API keys, single sign-on attempts under
//! way and the audit log: the records and the storage calls of access control.

use super::{Page, PageRequest, StoreResult};
use crate::access::{Role, SignInMethod};
use crate::client::TimeZone;
use crate::ids::{ApiKeyId, UserId};
use chrono::{DateTime, Utc};

/// An account of a person: signed in with a password, through the OpenID provider, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    /// `None`: the account has no password (it signs in through the OpenID provider).
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// Set for an account the OpenID provider created.
    pub oidc: Option<OidcSubject>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// Who the OpenID provider says a person is: its issuer and its subject for them, which never
/// change, unlike a username or an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSubject {
    pub issuer: String,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// What to change of an account; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes the password.
    pub password_hash: Option<Option<String>>,
}

/// The account behind a session, a token or a key check: who it is and what it may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
}

pub trait UserStore {
    /// The account with this name, enabled or not.
    fn find_user(&self, username: &str) -> StoreResult<Option<User>>;
    fn get_user(&self, id: UserId) -> StoreResult<User>;
    /// One page of the accounts, by name.
    fn list_users(&self, page: PageRequest) -> StoreResult<Page<User>>;
    /// Creates the configured admin account, or makes it an enabled admin with this password.
    fn save_user(&self, username: &str, password_hash: &str) -> StoreResult<User>;
    /// A name already taken is [`super::Rejection::DuplicateUsername`].
    fn create_user(&self, new: &NewUser) -> StoreResult<User>;
    /// Disabling an account ends its sessions and access tokens in the same transaction.
    fn change_user(&self, id: UserId, change: &UserChange) -> StoreResult<User>;
    /// Deleting an account ends its sessions and access tokens with it.
    fn delete_user(&self, id: UserId) -> StoreResult<()>;
    /// The account the OpenID provider's subject signed in to before, now with `role`; or a
    /// new account named `username` for a first sign-in. A name another account holds is
    /// [`super::Rejection::DuplicateUsername`]. A disabled account stays disabled.
    fn sign_in_oidc_user(
        &self,
        subject: &OidcSubject,
        username: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;
    fn record_sign_in(&self, id: UserId, now: DateTime<Utc>) -> StoreResult<()>;
}

/// A browser session of the admin UI. The cookie carries a random token; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub id: i64,
    pub token_hash: String,
    pub user: SignedIn,
    pub signed_in_with: SignInMethod,
    /// Every form of the session must echo it back.
    pub csrf_token: String,
    /// The viewer's zone, in which the UI shows and reads times.
    pub time_zone: TimeZone,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminSession {
    pub token_hash: String,
    pub username: String,
    pub signed_in_with: SignInMethod,
    pub csrf_token: String,
    pub time_zone: TimeZone,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The admin UI's browser sessions. Expiry is decided by the caller's `now`; expired sessions
/// are never returned, and are removed by [`SessionStore::purge_expired_sessions`].
pub trait SessionStore {
    fn create_session(&self, new: &NewAdminSession) -> StoreResult<AdminSession>;
    /// The session with this token hash, unless it has expired at `now` or its account is
    /// disabled.
    fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AdminSession>>;
    /// Ends the session; ending one that does not exist is a no-op.
    fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Removes sessions expired at `now`; returns how many.
    fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// An access token from `POST /api/v1/auth/token`: the token names this id, so that it can be
/// revoked before it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    pub token_id: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub trait AccessTokenStore {
    fn create_access_token(&self, new: &NewAccessToken) -> StoreResult<()>;
    /// The account of a live token: not revoked, not expired at `now`, its account enabled.
    fn find_access_token(
        &self,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignedIn>>;
    /// Whether a token was live and now is not.
    fn revoke_access_token(&self, token_id: &str) -> StoreResult<bool>;
    /// Removes tokens expired at `now`; returns how many.
    fn purge_expired_access_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// An integrator's key: a role of its own, shown once, kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters, by which people recognise it in lists and logs.
    pub prefix: String,
    pub role: Role,
    /// The account that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub trait ApiKeyStore {
    /// A name another key has is [`super::Rejection::DuplicateApiKeyName`].
    fn create_api_key(&self, new: &NewApiKey) -> StoreResult<ApiKey>;
    /// One page of the keys, newest first.
    fn list_api_keys(&self, page: PageRequest) -> StoreResult<Page<ApiKey>>;
    /// Revokes the key at once.
    fn delete_api_key(&self, id: ApiKeyId) -> StoreResult<ApiKey>;
    /// The key with this secret hash, unless it expired at `now`. Its last use becomes `now`
    /// when the stored one is older than `touch_after`, so a busy key is not a write per call.
    fn use_api_key(
        &self,
        secret_hash: &str,
        now: DateTime<Utc>,
        touch_after: chrono::Duration,
    ) -> StoreResult<Option<ApiKey>>;
}

/// A single sign-on begun in a browser and not yet back from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAttempt {
    /// SHA-256 of the `state` the provider sends back.
    pub state_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub trait SignInAttemptStore {
    fn save_sign_in_attempt(&self, attempt: &SignInAttempt) -> StoreResult<()>;
    /// Removes and returns the attempt, so a `state` is good once; `None` for an unknown or
    /// expired one. Expired attempts are removed on the way.
    fn take_sign_in_attempt(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignInAttempt>>;
}

/// Who made a change: a person's account or an integrator's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ApiKey,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
        }
    }

    pub fn parse(raw: &str) -> Option<ActorKind> {
        [ActorKind::User, ActorKind::ApiKey]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    /// The username, or the key's name.
    pub actor: String,
    /// The account's or key's id.
    pub actor_id: i64,
    pub signed_in_with: SignInMethod,
    /// `api` or `admin_ui`.
    pub interface: String,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    /// The fields the change set, secrets masked.
    pub changes: serde_json::Value,
    pub request_id: String,
    pub client_address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub entry: NewAuditEntry,
}

/// Which entries to list; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub resource: Option<String>,
    pub resource_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The audit log. There is no call to change or remove an entry, and the database refuses both.
pub trait AuditStore {
    fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<i64>;
    /// Newest first.
    fn list_audit(&self, query: &AuditQuery, page: PageRequest) -> StoreResult<Page<AuditEntry>>;
}
