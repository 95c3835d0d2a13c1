//! What is SQLite's own: the database file, WAL mode, `sqlite://` URLs and the schema's
//! constraints on this backend. The repositories' behaviour is tested on both backends by the
//! other modules.

use diesel::prelude::*;
use diesel::sql_types::Text;
use mailing_domain::store::StoreError;
use mailing_storage::testing::TestSqliteDatabase;
use mailing_storage::{ConnectOptions, SqliteStore, connect, create_database_if_missing};
use std::time::Duration;

#[derive(QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[test]
fn connects_in_wal_mode_and_migrates_once() {
    let db = TestSqliteDatabase::create();
    let store = db.sqlite_store();
    store.ping().unwrap();
    assert!(store.migrate().unwrap().is_empty());
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

#[test]
fn refuses_a_url_without_a_file_and_bad_pool_settings() {
    assert!(SqliteStore::connect("sqlite://", &ConnectOptions::default()).is_err());
    let db = TestSqliteDatabase::create();
    let zero = ConnectOptions {
        max_connections: 0,
        acquire_timeout: Duration::from_secs(1),
    };
    assert!(SqliteStore::connect(db.url(), &zero).is_err());
}

#[test]
fn a_foreign_key_the_schema_declares_is_enforced() {
    let db = TestSqliteDatabase::create();
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    diesel::sql_query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .unwrap();
    let refused = diesel::sql_query(
        "INSERT INTO clients (phone_number, operator_code, time_zone)
         VALUES ('79001234567', 'nobody', 'UTC')",
    )
    .execute(&mut conn);
    assert!(refused.is_err());
    let refused = diesel::sql_query("INSERT INTO operators (code, name) VALUES ('Not Valid', 'x')")
        .execute(&mut conn);
    assert!(refused.is_err(), "the code format CHECK holds");
}

#[test]
fn connect_routes_sqlite_urls_and_create_database_makes_the_directory() {
    let db = TestSqliteDatabase::create();
    let dir = db.path().parent().unwrap().join("nested/deeper");
    let url = format!("sqlite://{}", dir.join("fresh.db").display());
    assert!(create_database_if_missing(&url).unwrap());
    assert!(dir.join("fresh.db").exists());
    assert!(!create_database_if_missing(&url).unwrap());
    let store = connect(&url, &ConnectOptions::default()).unwrap();
    store.ping().unwrap();
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap()
    .count();
    assert_eq!(
        store.migrate().unwrap().len(),
        migrations,
        "every migration applied"
    );
    assert!(store.migrate().unwrap().is_empty());
    match connect("sqlite://", &ConnectOptions::default()) {
        Err(StoreError::Internal(_)) => {}
        other => panic!("expected an internal error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_write_gets_its_turn_while_another_thread_writes_back_to_back() {
    use mailing_domain::import::{ClientImportRow, ImportMode};
    use mailing_domain::store::{ClientStore, ImportStore, NewClient};
    use mailing_domain::{Attributes, OperatorCode, PhoneNumber, TimeZone};
    use std::sync::atomic::{AtomicBool, Ordering};

    let db = TestSqliteDatabase::create();
    let options = ConnectOptions {
        max_connections: 4,
        acquire_timeout: Duration::from_millis(500),
    };
    let store = SqliteStore::connect(db.url(), &options).unwrap();
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    diesel::sql_query("INSERT INTO operators (code, name) VALUES ('mts', 'MTS')")
        .execute(&mut conn)
        .unwrap();
    let mts = OperatorCode::parse("mts").unwrap();
    let utc = TimeZone::parse("UTC").unwrap();
    // Each import of these holds the write lock for a while, and the next follows at once.
    let rows: Vec<ClientImportRow> = (0..3_000u64)
        .map(|n| ClientImportRow {
            line: n + 2,
            phone: PhoneNumber::parse(&format!("7900{n:07}")).unwrap(),
            operator_code: Some(mts.clone()),
            tags: None,
            time_zone: Some(utc),
            attributes: vec![],
        })
        .collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                store
                    .import_clients(&rows, ImportMode::Upsert, false)
                    .unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        for n in 0..5 {
            let created = store.create_client(&NewClient {
                phone: PhoneNumber::parse(&format!("7911000000{n}")).unwrap(),
                operator_code: mts.clone(),
                tags: vec![],
                time_zone: utc,
                attributes: Attributes::default(),
            });
            if let Err(error) = created {
                done.store(true, Ordering::Relaxed);
                panic!("write {n} found no turn within the busy timeout: {error}");
            }
        }
        done.store(true, Ordering::Relaxed);
    });
}
