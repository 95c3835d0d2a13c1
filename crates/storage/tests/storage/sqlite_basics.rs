//! The SQLite store's connection setup and the repositories ported to it so far (operators,
//! tags, users, outbox). Until every repository is ported, these run against `SqliteStore`
//! directly rather than through the shared, backend-parametrised tests.

use crate::helpers::{ALL, code, rejection, tag};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use mailing_domain::OperatorName;
use mailing_domain::store::{
    NewOperator, NewTag, OperatorPatch, OperatorStore, OutboxStore, Rejection, TagStore, UserStore,
};
use mailing_storage::testing::TestSqliteDatabase;
use mailing_storage::{ConnectOptions, SqliteStore};
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

fn new_operator(raw: &str) -> NewOperator {
    NewOperator {
        code: code(raw),
        name: OperatorName::parse("Beeline").unwrap(),
    }
}

#[test]
fn operators_round_trip_and_keep_their_rules() {
    let db = TestSqliteDatabase::create();
    let store = db.sqlite_store();
    let created = store.create_operator(&new_operator("bln")).unwrap();
    assert_eq!(store.get_operator(created.id).unwrap(), created);
    assert_eq!(
        rejection(store.create_operator(&new_operator("bln"))),
        Rejection::DuplicateOperatorCode
    );
    let renamed = store
        .update_operator(
            created.id,
            &OperatorPatch {
                code: None,
                name: Some(OperatorName::parse("Bee").unwrap()),
            },
        )
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Bee");
    assert!(renamed.updated_at >= created.updated_at);
    assert_eq!(store.list_operators(ALL).unwrap().total, 1);

    // A client refers to it (written by hand: clients are not ported yet), so it stays.
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    diesel::sql_query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "INSERT INTO clients (phone_number, operator_code, time_zone)
         VALUES ('79001234567', 'bln', 'UTC')",
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(
        rejection(store.delete_operator(created.id)),
        Rejection::OperatorInUse
    );
    assert_eq!(
        rejection(store.update_operator(
            created.id,
            &OperatorPatch {
                code: Some(code("mts")),
                name: None,
            },
        )),
        Rejection::OperatorInUse
    );
    diesel::sql_query("DELETE FROM clients")
        .execute(&mut conn)
        .unwrap();
    store.delete_operator(created.id).unwrap();
    assert!(store.get_operator(created.id).is_err());
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
fn tags_round_trip_and_stay_unique() {
    let db = TestSqliteDatabase::create();
    let store = db.sqlite_store();
    let created = store.create_tag(&NewTag { value: tag("vip") }).unwrap();
    assert_eq!(store.get_tag(created.id).unwrap(), created);
    assert_eq!(
        rejection(store.create_tag(&NewTag { value: tag("vip") })),
        Rejection::DuplicateTag
    );
    let other = store.create_tag(&NewTag { value: tag("new") }).unwrap();
    assert_eq!(
        rejection(store.update_tag(other.id, &NewTag { value: tag("vip") })),
        Rejection::DuplicateTag
    );
    assert_eq!(store.list_tags(ALL).unwrap().total, 2);
    store.delete_tag(other.id).unwrap();
    assert!(store.delete_tag(other.id).is_err());
}

#[test]
fn users_are_saved_and_their_hash_replaced() {
    let db = TestSqliteDatabase::create();
    let store = db.sqlite_store();
    assert!(store.find_user("admin").unwrap().is_none());
    let first = store.save_user("admin", "hash-1").unwrap();
    let second = store.save_user("admin", "hash-2").unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(
        store.find_user("admin").unwrap().unwrap().password_hash,
        "hash-2"
    );
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[test]
fn an_empty_outbox_has_nothing_to_claim() {
    let db = TestSqliteDatabase::create();
    let store = db.sqlite_store();
    assert_eq!(store.unpublished_count().unwrap(), 0);
    let claimed = store
        .claim_outbox(10, Duration::from_secs(30), chrono::Utc::now())
        .unwrap();
    assert!(claimed.is_empty());
    store.mark_published(&[], chrono::Utc::now()).unwrap();
    let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
    let rows: Count = diesel::sql_query("SELECT count(*) AS count FROM outbox")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows.count, 0);
}
