//! The SQLite backend, for the embedded single-process mode: an r2d2 pool of diesel
//! connections to one database file in WAL mode, one transaction per call.
//!
//! SQLite has a single writer, so writes run in `BEGIN IMMEDIATE` transactions: a writer takes
//! the write lock up front (waiting up to the busy timeout) instead of failing half-way when a
//! read transaction tries to upgrade. That lock is also why this backend needs no row locks
//! and no `SKIP LOCKED`: no two writers overlap.
//!
//! What is SQLite's own lives here: the schema (`schema.rs`, mirroring `migrations/sqlite`),
//! the pool, its connection setup and transactions (this file), the dialect the shared modules
//! call (`dialect.rs`) and the pipeline's bulk statements (`pipeline.rs`: JSON filter lists,
//! one statement per row where PostgreSQL batches). The repository traits are implemented by
//! the modules in `src/shared/`, compiled here against this schema; see the crate
//! documentation. [`crate::connect`] routes `sqlite://` URLs here.

mod dialect;
mod imports;
mod pipeline;
pub(crate) mod schema;

// The repository traits, from the source `pg` compiles too, against this backend's names.
#[expect(
    clippy::duplicate_mod,
    reason = "the shared modules are compiled once per backend"
)]
#[path = "../shared/mod.rs"]
mod shared;

use crate::ConnectOptions;
use crate::errors::Failure;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self as diesel_r2d2, ConnectionManager, CustomizeConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mailing_domain::store::{ApiStore, Migrate, Ping, Store, StoreError, StoreResult};
use parking_lot::FairMutex;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

type Pool = r2d2::Pool<ConnectionManager<SqliteConnection>>;
type Pooled = r2d2::PooledConnection<ConnectionManager<SqliteConnection>>;

// The names the shared modules build on; `pg/mod.rs` gives them PostgreSQL's meaning.
/// The store the shared modules implement the repository traits for.
type BackendStore = SqliteStore;
/// diesel's backend, for boxed queries and `check_for_backend`.
type Backend = diesel::sqlite::Sqlite;
/// The connection a transaction body gets.
type Conn = SqliteConnection;

/// The file a `sqlite://` URL names: `sqlite://data/mailing.db` is relative to the working
/// directory, `sqlite:///var/lib/mailing.db` absolute.
pub(crate) fn path_of(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .filter(|path| !path.is_empty())
}

/// Creates the database file a `sqlite://` URL names, and its parent directory, if missing;
/// returns whether it did.
pub(crate) fn create_database_if_missing(url: &str) -> StoreResult<bool> {
    let path = path_of(url).ok_or_else(|| {
        StoreError::Internal("a SQLite URL must name a file: sqlite://path/to/file.db".into())
    })?;
    let path = std::path::Path::new(path);
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|error| {
            StoreError::Internal(format!(
                "cannot create the directory {}: {error}",
                parent.display()
            ))
        })?;
    }
    let file = path.to_str().ok_or_else(|| {
        StoreError::Internal("the SQLite file path is not valid UTF-8".to_owned())
    })?;
    SqliteConnection::establish(file)
        .map_err(|error| StoreError::Unavailable(format!("cannot create SQLite file: {error}")))?;
    Ok(true)
}

/// The repository traits over SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool,
    schema: crate::schema_status::SchemaCurrent,
    /// This process's turn to write, first come first served. SQLite's own wait for its write
    /// lock polls with growing sleeps and no order, so while one writer commits back to back
    /// (an import's batches) another could find the lock taken at every poll until its busy
    /// timeout ran out (a million-row import in the all-in-one failed that way with "database
    /// is locked", once in three runs). Other processes on the file still wait through the busy
    /// timeout.
    writer: Arc<FairMutex<()>>,
    /// How long a write waits for its turn, as long as SQLite's busy timeout.
    write_wait: Duration,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("SqliteStore")
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

/// Sets every new connection up the same way: WAL (readers never block the writer), a busy
/// timeout (a writer waits for the lock rather than failing at once), and enforced foreign
/// keys, which SQLite leaves off by default.
#[derive(Debug, Clone, Copy)]
struct Setup {
    busy_timeout: Duration,
}

impl CustomizeConnection<SqliteConnection, diesel_r2d2::Error> for Setup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel_r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
            self.busy_timeout.as_millis().min(i32::MAX as u128)
        ))
        .map_err(diesel_r2d2::Error::QueryError)
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file a `sqlite://` URL names and checks that
    /// one connection works.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for a URL naming no file or options the pool cannot work with;
    /// [`StoreError::Unavailable`] if the file cannot be opened.
    pub fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Self> {
        let store = Self::open(url, options)?;
        store
            .pool
            .get()
            .map_err(|error| StoreError::Unavailable(format!("cannot open SQLite: {error}")))?;
        Ok(store)
    }

    /// Like [`SqliteStore::connect`], but opens the file only when a call needs a connection.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for a URL naming no file or options the pool cannot work with.
    pub fn open(url: &str, options: &ConnectOptions) -> StoreResult<Self> {
        let path = path_of(url).ok_or_else(|| {
            StoreError::Internal("a SQLite URL must name a file: sqlite://path/to/file.db".into())
        })?;
        options.check()?;
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .connection_customizer(Box::new(Setup {
                busy_timeout: options.acquire_timeout,
            }))
            .build_unchecked(ConnectionManager::new(path));
        Ok(Self {
            pool,
            schema: crate::schema_status::SchemaCurrent::default(),
            writer: Arc::new(FairMutex::new(())),
            write_wait: options.acquire_timeout,
        })
    }

    fn conn(&self) -> StoreResult<Pooled> {
        self.pool.get().map_err(|error| {
            StoreError::Unavailable(format!("no database connection available: {error}"))
        })
    }

    /// Runs `body` as one write transaction, holding SQLite's write lock from the start.
    fn write<T>(&self, body: impl FnOnce(&mut Conn) -> Result<T, Failure>) -> StoreResult<T> {
        let _turn = self.writer.try_lock_for(self.write_wait).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "the database stayed busy with other writes for {} ms",
                self.write_wait.as_millis()
            ))
        })?;
        let mut pooled = self.conn()?;
        let conn: &mut Conn = &mut pooled;
        conn.immediate_transaction(body).map_err(StoreError::from)
    }

    /// Runs `body` as one read transaction: in WAL mode it reads one snapshot throughout.
    fn read<T>(&self, body: impl FnOnce(&mut Conn) -> Result<T, Failure>) -> StoreResult<T> {
        let mut pooled = self.conn()?;
        let conn: &mut Conn = &mut pooled;
        conn.transaction(body).map_err(StoreError::from)
    }

    /// Answers when the database can be queried.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] without a connection; what the query fails with otherwise.
    pub fn ping(&self) -> StoreResult<()> {
        crate::ping(&mut *self.conn()?)
    }

    /// Applies the pending migrations of `migrations/sqlite`; returns their versions.
    ///
    /// # Errors
    /// [`StoreError::Internal`] when a migration fails.
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn()?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")))
    }
}

impl Ping for SqliteStore {
    fn ping(&self) -> StoreResult<()> {
        SqliteStore::ping(self)
    }

    fn pending_migrations(&self) -> StoreResult<Vec<String>> {
        self.schema
            .pending(|| crate::schema_status::pending_on_sqlite(&mut *self.conn()?, &MIGRATIONS))
    }
}

impl ApiStore for SqliteStore {}

impl Store for SqliteStore {}

impl Migrate for SqliteStore {
    fn migrate(&self) -> StoreResult<Vec<String>> {
        SqliteStore::migrate(self)
    }
}
