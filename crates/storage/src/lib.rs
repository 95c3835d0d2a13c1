//! Storage for the mailing service: diesel-backed implementations of the repository traits in
//! [`mailing_domain::store`]: PostgreSQL ([`PgStore`]) and, for the embedded single-process
//! mode, SQLite ([`SqliteStore`]), chosen by the database URL's scheme. Services see only the
//! domain's traits and records.
//!
//! # Layout
//!
//! - `shared/`: the repository traits, written once. `pg` and `sqlite` each include
//!   `shared/mod.rs` with `#[path]`, so the same source is compiled twice, each time against
//!   that backend's schema and the few names it provides (listed in `shared/mod.rs`). diesel's
//!   queries are typed by backend and table, so functions generic over both backends do not
//!   carry this code, and its `MultiConnection` refuses `ON CONFLICT`, `SKIP LOCKED` and time
//!   zones.
//! - `pg/` and `sqlite/`, side by side, hold only what differs: the schema (`pg/schema.rs`
//!   mirrors `migrations/postgres`, `sqlite/schema.rs` mirrors `migrations/sqlite`; a test
//!   checks both folders end in the same tables), the pool and its transactions (`mod.rs`), a
//!   small `dialect.rs` (how a list of strings is stored, the clock rows are stamped with, row
//!   locks, the bind parameter limit) and `pipeline.rs`, the delivery pipeline's bulk
//!   statements, which differ in earnest (claims with `SKIP LOCKED`, expansion against the
//!   filter lists, `unnest` batches on PostgreSQL where SQLite writes row by row).
//! - `columns.rs`: backend-independent Rust between columns and records, compiled once;
//!   `errors.rs`: database errors as [`StoreError`]s.
//!
//! Some rules live in the database rather than here, so that no path that writes can miss them
//! (see the migrations `message_counts` and `message_references`): each mailing's count of
//! messages by status, which statistics read instead of counting messages, and what deleting a
//! client or a mailing does to its messages.
//!
//! Every instant is cut to microseconds before it is bound ([`storage_instant`]), as
//! PostgreSQL stores it, so that SQLite's text timestamps compare and round-trip alike.
//!
//! [`storage_instant`]: mailing_domain::store::storage_instant

mod columns;
mod errors;
pub(crate) mod pg;
mod schema_status;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use pg::PgStore;
pub use sqlite::SqliteStore;

use diesel::connection::SimpleConnection;
use mailing_domain::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// How a store's connection pool behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a call waits for a free connection before it fails as unavailable; on SQLite
    /// also how long a write waits for its turn to write.
    pub acquire_timeout: Duration,
}

impl ConnectOptions {
    /// Refuses settings r2d2 would panic on, as the configuration errors they are.
    fn check(&self) -> Result<(), StoreError> {
        if self.max_connections == 0 {
            return Err(StoreError::Internal(
                "max_connections must be at least 1".to_owned(),
            ));
        }
        if self.acquire_timeout.is_zero() {
            return Err(StoreError::Internal(
                "acquire_timeout must be longer than zero".to_owned(),
            ));
        }
        Ok(())
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Creates the database a URL names if its server lacks it (for SQLite: the file, and its
/// parent directory); returns whether it did. For `migrate` on a fresh server.
///
/// # Errors
/// [`StoreError::Unavailable`] when the server cannot be reached, [`StoreError::Internal`] for
/// a URL no backend serves or a server that refuses.
pub fn create_database_if_missing(url: &str) -> Result<bool, StoreError> {
    match Backend::of(url)? {
        Backend::Postgres => pg::admin::create_database_if_missing(url),
        Backend::Sqlite => sqlite::create_database_if_missing(url),
    }
}

const ACCEPTED_SCHEMES: &str = "postgres://, postgresql:// or sqlite://";

/// The database backends, by the scheme of the URL that names a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend `url` names. Errors never quote the URL, since it may carry a password.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for a scheme no backend serves.
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            Some("sqlite") => Ok(Backend::Sqlite),
            Some(scheme) if is_scheme(scheme) => Err(StoreError::Internal(format!(
                "unsupported database URL scheme \"{scheme}\": expected {ACCEPTED_SCHEMES}"
            ))),
            _ => Err(StoreError::Internal(format!(
                "the database URL must start with {ACCEPTED_SCHEMES}"
            ))),
        }
    }
}

/// Opens the store a database URL names, picking the backend from its scheme, and checks that
/// a connection works.
///
/// Errors never quote the URL, since it may carry a password.
///
/// # Errors
/// [`StoreError::Internal`] for a scheme no backend serves, and whatever the backend's own
/// `connect` refuses (see [`PgStore::connect`] and [`SqliteStore::connect`]).
pub fn connect(url: &str, options: &ConnectOptions) -> Result<Arc<dyn Store>, StoreError> {
    match Backend::of(url)? {
        Backend::Postgres => Ok(Arc::new(PgStore::connect(url, options)?)),
        Backend::Sqlite => Ok(Arc::new(SqliteStore::connect(url, options)?)),
    }
}

/// Like [`connect`], without connecting: the pool opens connections when calls need them, and
/// a database that is down makes those calls fail as unavailable until it is up.
///
/// # Errors
/// [`StoreError::Internal`] for a URL or options no backend can work with.
pub fn open(url: &str, options: &ConnectOptions) -> Result<Arc<dyn Store>, StoreError> {
    match Backend::of(url)? {
        Backend::Postgres => Ok(Arc::new(PgStore::open(url, options)?)),
        Backend::Sqlite => Ok(Arc::new(SqliteStore::open(url, options)?)),
    }
}

/// Whether `text` has the shape of a URL scheme (RFC 3986), and so is safe to quote: anything
/// else before "://" may be a mangled URL holding credentials.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Checks that a connection answers a query, for readiness probes.
fn ping(conn: &mut impl SimpleConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1")
        .map_err(|error| StoreError::from(errors::Failure::Db(error)))
}
