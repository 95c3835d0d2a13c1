//! Whether a database holds every migration this binary carries, for readiness probes and
//! `mailing-api wait-for-migrations`: the embedded list compared with diesel's bookkeeping
//! table, `__diesel_schema_migrations`.
//!
//! diesel's own `MigrationHarness::pending_migrations` creates that table when it is missing;
//! a probe must not write (an empty database would look half-migrated, and a read-only role
//! would fail), so this reads the table only where it exists.

use crate::errors::Failure;
use diesel::backend::Backend;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::EmbeddedMigrations;
use mailing_domain::store::{StoreError, StoreResult};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Remembers that the schema was found current, shared by a store's clones. Only "current" is
/// remembered: a schema that was behind is checked again on every call, so a probe sees the
/// migration job's work at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct SchemaCurrent(Arc<AtomicBool>);

impl SchemaCurrent {
    /// The pending migrations, from memory once none were; `check` reads the database.
    pub(crate) fn pending(
        &self,
        check: impl FnOnce() -> StoreResult<Vec<String>>,
    ) -> StoreResult<Vec<String>> {
        if self.0.load(Ordering::Acquire) {
            return Ok(Vec::new());
        }
        let pending = check()?;
        if pending.is_empty() {
            self.0.store(true, Ordering::Release);
        }
        Ok(pending)
    }
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

const APPLIED: &str = "SELECT version FROM __diesel_schema_migrations";

/// The migrations of `source` that the PostgreSQL database lacks.
pub(crate) fn pending_on_postgres(
    conn: &mut PgConnection,
    source: &EmbeddedMigrations,
) -> StoreResult<Vec<String>> {
    // `to_regclass` resolves the name through the search path, as diesel's own statements do.
    let present = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present",
    )
    .get_result::<Present>(conn)
    .map_err(db_error)?
    .present;
    let applied = if present {
        diesel::sql_query(APPLIED)
            .load::<Version>(conn)
            .map_err(db_error)?
    } else {
        Vec::new()
    };
    missing::<diesel::pg::Pg>(source, applied)
}

/// The migrations of `source` that the SQLite database lacks.
pub(crate) fn pending_on_sqlite(
    conn: &mut SqliteConnection,
    source: &EmbeddedMigrations,
) -> StoreResult<Vec<String>> {
    let present = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master \
         WHERE type = 'table' AND name = '__diesel_schema_migrations') AS present",
    )
    .get_result::<Present>(conn)
    .map_err(db_error)?
    .present;
    let applied = if present {
        diesel::sql_query(APPLIED)
            .load::<Version>(conn)
            .map_err(db_error)?
    } else {
        Vec::new()
    };
    missing::<diesel::sqlite::Sqlite>(source, applied)
}

/// The names of `source`'s migrations whose version is not among `applied`, oldest first.
/// Versions applied that `source` does not know (a newer release's) do not matter here.
fn missing<DB: Backend>(
    source: &EmbeddedMigrations,
    applied: Vec<Version>,
) -> StoreResult<Vec<String>> {
    let applied: HashSet<String> = applied.into_iter().map(|row| row.version).collect();
    let embedded = MigrationSource::<DB>::migrations(source)
        .map_err(|error| StoreError::Internal(format!("reading the migrations: {error}")))?;
    let mut pending: Vec<(String, String)> = embedded
        .iter()
        .map(|migration| {
            let name = migration.name();
            (name.version().to_string(), name.to_string())
        })
        .filter(|(version, _)| !applied.contains(version))
        .collect();
    pending.sort();
    Ok(pending.into_iter().map(|(_, name)| name).collect())
}

fn db_error(error: diesel::result::Error) -> StoreError {
    StoreError::from(Failure::Db(error))
}
