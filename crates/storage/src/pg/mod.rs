//! The PostgreSQL backend: an r2d2 pool of diesel connections, one transaction per call.
//!
//! What is PostgreSQL's own lives here: the schema (`schema.rs`, mirroring
//! `migrations/postgres`), the pool and its transactions (this file), the dialect the shared
//! modules call (`dialect.rs`), the pipeline's bulk statements (`pipeline.rs`: `SKIP LOCKED`
//! claims, `text[]` filters, `unnest` batches) and server administration (`admin.rs`). The
//! repository traits are implemented by the modules in `src/shared/`, compiled here against
//! this schema; see the crate documentation.

pub(crate) mod admin;
mod dialect;
mod imports;
mod pipeline;
pub(crate) mod schema;

// The repository traits, from the source `sqlite` compiles too, against this backend's names.
#[path = "../shared/mod.rs"]
mod shared;

use crate::ConnectOptions;
use crate::errors::{Failure, Redactor};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self as diesel_r2d2, ConnectionManager};
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mailing_domain::store::{ApiStore, Migrate, Ping, Store, StoreError, StoreResult};
use std::fmt;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations across processes: several replicas may start at once, and each would
/// otherwise try to apply the same pending migration.
const MIGRATION_LOCK_KEY: i64 = 0x6d61_696c_696e_6701;

type Pool = r2d2::Pool<ConnectionManager<PgConnection>>;
type Pooled = r2d2::PooledConnection<ConnectionManager<PgConnection>>;

// The names the shared modules build on; `sqlite/mod.rs` gives them SQLite's meaning.
/// The store the shared modules implement the repository traits for.
type BackendStore = PgStore;
/// diesel's backend, for boxed queries and `check_for_backend`.
type Backend = diesel::pg::Pg;
/// The connection a transaction body gets.
type Conn = PgConnection;

/// The repository traits over PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    redactor: Redactor,
    schema: crate::schema_status::SchemaCurrent,
}

impl fmt::Debug for PgStore {
    // The pool's own Debug output is noise; the URL must not appear at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("PgStore")
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

impl PgStore {
    /// Opens a pool and waits until one connection works, so a wrong URL or a database that is
    /// down fails here rather than on the first request.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if no connection opens within `options.acquire_timeout`;
    /// [`StoreError::Internal`] for options the pool cannot work with.
    pub fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Self> {
        let store = Self::open(url, options)?;
        store.conn().map_err(|error| {
            StoreError::Unavailable(
                store
                    .redactor
                    .redact(&format!("cannot connect to PostgreSQL: {error}")),
            )
        })?;
        Ok(store)
    }

    /// Opens a pool without connecting: connections open when a call needs one, so a service
    /// starts while its database is still down and answers "unavailable" until it is up.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for options the pool cannot work with.
    pub fn open(url: &str, options: &ConnectOptions) -> StoreResult<Self> {
        options.check()?;
        let redactor = Redactor::for_url(url);
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            // Connections open on demand only. A pool keeping idle connections opens new ones
            // from its own threads at any moment, also while the process exits, and libpq
            // tearing down under such a thread crashes the process.
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .error_handler(Box::new(LogConnectionErrors {
                redactor: redactor.clone(),
            }))
            .build_unchecked(ConnectionManager::new(url));
        Ok(Self {
            pool,
            redactor,
            schema: crate::schema_status::SchemaCurrent::default(),
        })
    }

    fn conn(&self) -> StoreResult<Pooled> {
        self.pool.get().map_err(|error| {
            StoreError::Unavailable(
                self.redactor
                    .redact(&format!("no database connection available: {error}")),
            )
        })
    }

    /// Runs `body` as one read-write transaction.
    fn write<T>(&self, body: impl FnOnce(&mut Conn) -> Result<T, Failure>) -> StoreResult<T> {
        let mut pooled = self.conn()?;
        let conn: &mut Conn = &mut pooled;
        conn.transaction(body).map_err(StoreError::from)
    }

    /// Runs `body` as one read-only transaction on a single snapshot, so a page and its total,
    /// or a row and its tags, agree with each other.
    fn read<T>(&self, body: impl FnOnce(&mut Conn) -> Result<T, Failure>) -> StoreResult<T> {
        let mut pooled = self.conn()?;
        let conn: &mut Conn = &mut pooled;
        conn.build_transaction()
            .read_only()
            .repeatable_read()
            .run(body)
            .map_err(StoreError::from)
    }
}

impl Ping for PgStore {
    fn ping(&self) -> StoreResult<()> {
        crate::ping(&mut *self.conn()?)
    }

    fn pending_migrations(&self) -> StoreResult<Vec<String>> {
        self.schema
            .pending(|| crate::schema_status::pending_on_postgres(&mut *self.conn()?, &MIGRATIONS))
    }
}

impl ApiStore for PgStore {}

impl Store for PgStore {}

impl Migrate for PgStore {
    fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.conn()?;
        let advisory = |conn: &mut Pooled, function: &str| {
            diesel::sql_query(format!("SELECT {function}($1)"))
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(conn)
                .map_err(|error| StoreError::from(Failure::Db(error)))
        };
        advisory(&mut conn, "pg_advisory_lock")?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")));
        // Unlock even when a migration failed: the lock belongs to the session, and the pooled
        // connection would otherwise hold it and block every later migration.
        let unlocked = advisory(&mut conn, "pg_advisory_unlock");
        let applied = applied?;
        unlocked?;
        Ok(applied)
    }
}

/// Sends r2d2's connection failures to the service's logs, without the password.
#[derive(Debug)]
struct LogConnectionErrors {
    redactor: Redactor,
}

impl r2d2::HandleError<diesel_r2d2::Error> for LogConnectionErrors {
    fn handle_error(&self, error: diesel_r2d2::Error) {
        tracing::warn!(
            error = %self.redactor.redact(&error.to_string()),
            "cannot open a database connection"
        );
    }
}
