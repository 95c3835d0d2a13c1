//! A throwaway database per test, so tests run in parallel without seeing each other's rows:
//! [`TestDatabase`] on PostgreSQL, [`TestSqliteDatabase`] in a SQLite file.

use crate::errors::Redactor;
use crate::pg::admin::with_database;
use crate::{ConnectOptions, PgStore, SqliteStore};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use mailing_domain::store::{Migrate, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the tests find a PostgreSQL role allowed to create databases.
pub const ADMIN_URL_VAR: &str = "MAILING_TEST_DATABASE_URL";
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A freshly created and migrated database, dropped again when this value is.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
    store: Option<Arc<dyn Store>>,
}

impl TestDatabase {
    /// Creates `mailing_test_<random hex>` beside the database of `MAILING_TEST_DATABASE_URL`
    /// (default `postgres://postgres@127.0.0.1:5432/postgres`) and migrates it.
    ///
    /// # Panics
    /// If PostgreSQL cannot be reached or the database cannot be set up; the message says how
    /// to start the local server.
    pub fn create() -> TestDatabase {
        let admin_url =
            std::env::var(ADMIN_URL_VAR).unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        TestDatabase::create_on(&admin_url)
    }

    /// Creates and migrates `mailing_test_<random hex>` beside the database of `admin_url`, a
    /// role allowed to create databases (on a server of the test's own, say).
    ///
    /// # Panics
    /// If that server cannot be reached or the database cannot be set up.
    pub fn create_on(admin_url: &str) -> TestDatabase {
        TestDatabase::create_on_with(admin_url, true)
    }

    /// Like [`TestDatabase::create`], without migrating: an empty database, as a new release
    /// finds it before its migration job ran.
    ///
    /// # Panics
    /// As [`TestDatabase::create`].
    pub fn create_unmigrated() -> TestDatabase {
        let admin_url =
            std::env::var(ADMIN_URL_VAR).unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        TestDatabase::create_on_with(&admin_url, false)
    }

    fn create_on_with(admin_url: &str, migrate: bool) -> TestDatabase {
        let admin_url = admin_url.to_owned();
        let name = format!("mailing_test_{:016x}", rand::random::<u64>());
        let mut admin = admin_connection(&admin_url);
        // The name is ours (letters, digits, '_'), so it is safe to splice into the statement.
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
        let url = with_database(&admin_url, &name);
        let options = ConnectOptions {
            max_connections: 4,
            ..ConnectOptions::default()
        };
        let store = PgStore::connect(&url, &options)
            .unwrap_or_else(|error| panic!("cannot open test database {name}: {error}"));
        if migrate {
            store
                .migrate()
                .unwrap_or_else(|error| panic!("cannot migrate test database {name}: {error}"));
        }
        TestDatabase {
            admin_url,
            name,
            url,
            store: Some(Arc::new(store)),
        }
    }

    /// The URL of the test database, for code that opens its own connections.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self.store.as_ref().expect("the store lives until drop"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Close our pool first; FORCE ends connections held by clones that outlive us.
        self.store.take();
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(|error| error.to_string())
            .and_then(|mut admin| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut admin)
                .map_err(|error| error.to_string())
            });
        // Panicking here would abort a test that is already unwinding; a leftover database is
        // only clutter.
        if let Err(error) = dropped {
            let error = Redactor::for_url(&self.admin_url).redact(&error);
            eprintln!("cannot drop test database {}: {error}", self.name);
        }
    }
}

fn admin_connection(admin_url: &str) -> PgConnection {
    PgConnection::establish(admin_url).unwrap_or_else(|error| {
        let redactor = Redactor::for_url(admin_url);
        panic!(
            "PostgreSQL is not reachable at {}: {}\n\
             Start the local server with:\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point {ADMIN_URL_VAR} at a server where this role may create databases.",
            redactor.redact(admin_url),
            redactor.redact(&error.to_string()),
        )
    })
}

/// A freshly created and migrated SQLite database in its own temporary directory, removed again
/// when this value is dropped.
pub struct TestSqliteDatabase {
    dir: PathBuf,
    url: String,
    store: Option<SqliteStore>,
}

impl TestSqliteDatabase {
    /// Creates `mailing.db` in a new directory under the system's temporary directory and
    /// migrates it.
    ///
    /// # Panics
    /// If the directory or the database cannot be set up.
    pub fn create() -> TestSqliteDatabase {
        TestSqliteDatabase::create_with(true)
    }

    /// Like [`TestSqliteDatabase::create`], without migrating: an empty database file.
    ///
    /// # Panics
    /// As [`TestSqliteDatabase::create`].
    pub fn create_unmigrated() -> TestSqliteDatabase {
        TestSqliteDatabase::create_with(false)
    }

    fn create_with(migrate: bool) -> TestSqliteDatabase {
        let dir = std::env::temp_dir().join(format!("mailing_test_{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        let url = format!("sqlite://{}", dir.join("mailing.db").display());
        let options = ConnectOptions {
            max_connections: 4,
            ..ConnectOptions::default()
        };
        let store = SqliteStore::connect(&url, &options)
            .unwrap_or_else(|error| panic!("cannot open test database {url}: {error}"));
        if migrate {
            store
                .migrate()
                .unwrap_or_else(|error| panic!("cannot migrate test database {url}: {error}"));
        }
        TestSqliteDatabase {
            dir,
            url,
            store: Some(store),
        }
    }

    /// The `sqlite://` URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file, for code that opens its own connections.
    pub fn path(&self) -> &Path {
        self.url
            .strip_prefix("sqlite://")
            .map(Path::new)
            .expect("built with the scheme")
    }

    pub fn sqlite_store(&self) -> SqliteStore {
        self.store.clone().expect("the store lives until drop")
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.sqlite_store())
    }
}

impl Drop for TestSqliteDatabase {
    fn drop(&mut self) {
        self.store.take();
        // A leftover directory is only clutter; never panic while a test may be unwinding.
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!(
                "cannot remove test database {}: {error}",
                self.dir.display()
            );
        }
    }
}

/// A test database on either backend, for tests that run on both.
pub enum AnyTestDatabase {
    Postgres(TestDatabase),
    Sqlite(TestSqliteDatabase),
}

impl AnyTestDatabase {
    /// The URL of the test database, for `MAILING_DATABASE_URL`.
    pub fn url(&self) -> &str {
        match self {
            AnyTestDatabase::Postgres(db) => db.url(),
            AnyTestDatabase::Sqlite(db) => db.url(),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            AnyTestDatabase::Postgres(db) => db.store(),
            AnyTestDatabase::Sqlite(db) => db.store(),
        }
    }
}
