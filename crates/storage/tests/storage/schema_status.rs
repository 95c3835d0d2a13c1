//! Which migrations a database lacks, as readiness probes and `wait-for-migrations` ask: all of
//! them on an empty database (which the question leaves empty), none once migrated, and the
//! ones a rollback undid; a store that found the schema current remembers it.

use crate::backend::{Backend, TestDb, each_backend};
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use mailing_domain::store::Store;
use mailing_storage::ConnectOptions;
use mailing_storage::testing::{TestDatabase, TestSqliteDatabase};
use std::sync::Arc;

fn folder(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

/// The migration folders' names, oldest first: what the binary carries.
fn carried(backend: Backend) -> Vec<String> {
    let dir = format!(
        "{}/../../migrations/{}",
        env!("CARGO_MANIFEST_DIR"),
        folder(backend)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn url_of(db: &TestDb) -> &str {
    match db {
        TestDb::Postgres(pg) => pg.url(),
        TestDb::Sqlite(lite) => lite.url(),
    }
}

/// A store of its own, which has remembered nothing about the schema.
fn fresh_store(url: &str) -> Arc<dyn Store> {
    mailing_storage::open(url, &ConnectOptions::default()).unwrap()
}

each_backend!(an_empty_database_lacks_every_migration_and_stays_empty);
fn an_empty_database_lacks_every_migration_and_stays_empty(backend: Backend) {
    let db = match backend {
        Backend::Postgres => TestDb::Postgres(TestDatabase::create_unmigrated()),
        Backend::Sqlite => TestDb::Sqlite(TestSqliteDatabase::create_unmigrated()),
    };
    let store = fresh_store(url_of(&db));
    let all = carried(backend);
    assert!(all.len() > 1, "{all:?}");
    assert_eq!(store.pending_migrations().unwrap(), all);
    // Asking wrote nothing: not even diesel's bookkeeping table, which `migrate` creates.
    let tables = match backend {
        Backend::Postgres => "SELECT count(*) AS count FROM pg_tables WHERE schemaname = 'public'",
        Backend::Sqlite => "SELECT count(*) AS count FROM sqlite_master WHERE type = 'table'",
    };
    assert_eq!(db.count(tables), 0);
    // A schema found behind is asked about again, not remembered.
    assert_eq!(store.pending_migrations().unwrap(), all);

    let applied = store.migrate().unwrap();
    assert_eq!(applied.len(), all.len());
    assert_eq!(store.pending_migrations().unwrap(), Vec::<String>::new());
}

each_backend!(a_schema_behind_names_the_migrations_it_lacks_until_migrated);
fn a_schema_behind_names_the_migrations_it_lacks_until_migrated(backend: Backend) {
    let db = TestDb::create(backend);
    let current = fresh_store(url_of(&db));
    assert_eq!(current.pending_migrations().unwrap(), Vec::<String>::new());

    let source = FileBasedMigrations::from_path(format!(
        "{}/../../migrations/{}",
        env!("CARGO_MANIFEST_DIR"),
        folder(backend)
    ))
    .unwrap();
    match &db {
        TestDb::Postgres(pg) => {
            let mut conn = PgConnection::establish(pg.url()).unwrap();
            conn.revert_last_migration(source).unwrap();
        }
        TestDb::Sqlite(lite) => {
            let mut conn = SqliteConnection::establish(lite.path().to_str().unwrap()).unwrap();
            conn.revert_last_migration(source).unwrap();
        }
    }
    let all = carried(backend);
    let last = all.last().cloned().unwrap();
    let store = fresh_store(url_of(&db));
    assert_eq!(store.pending_migrations().unwrap(), vec![last.clone()]);
    // The store that found it current keeps saying so: schemas do not go back under a release.
    assert_eq!(current.pending_migrations().unwrap(), Vec::<String>::new());

    assert_eq!(store.migrate().unwrap().len(), 1);
    assert_eq!(store.pending_migrations().unwrap(), Vec::<String>::new());
}
