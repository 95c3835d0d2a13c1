//! Upgrading a database that holds data: the migrations from `tags_in_use` on (`message_history`
//! among them) applied to rows written before them (and undone by their own down migrations
//! first).

use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use mailing_domain::store::{Entity, MessageQuery, Rejection, TagUse};
use mailing_domain::{ClientId, MessageStatus};

/// The first migration this test undoes, with every later one, and applies again.
const FIRST_UNDONE: &str = "tags_in_use";

fn migrations(backend: Backend) -> FileBasedMigrations {
    let folder = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    FileBasedMigrations::from_path(format!(
        "{}/../../migrations/{folder}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Undoes the migrations from [`FIRST_UNDONE`] on, or applies them again.
fn migrate(db: &TestDb, up: bool) {
    let source = migrations(db.backend());
    match db {
        TestDb::Postgres(pg) => {
            let mut conn = PgConnection::establish(pg.url()).unwrap();
            step(&mut conn, source, up);
        }
        TestDb::Sqlite(lite) => {
            let mut conn = SqliteConnection::establish(lite.path().to_str().unwrap()).unwrap();
            diesel::sql_query("PRAGMA foreign_keys = ON")
                .execute(&mut conn)
                .unwrap();
            step(&mut conn, source, up);
        }
    }
}

fn step<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    source: FileBasedMigrations,
    up: bool,
) where
    FileBasedMigrations: MigrationSource<DB>,
{
    let first = MigrationSource::<DB>::migrations(&source)
        .unwrap()
        .iter()
        .find(|migration| migration.name().to_string().ends_with(FIRST_UNDONE))
        .expect("the migration to undo from")
        .name()
        .version()
        .as_owned();
    if up {
        let applied = conn.run_pending_migrations(source).unwrap();
        assert_eq!(applied.first(), Some(&first), "{applied:?}");
        assert!(applied.len() >= 2, "{applied:?}");
    } else {
        while conn
            .applied_migrations()
            .unwrap()
            .iter()
            .max()
            .is_some_and(|last| *last >= first)
        {
            conn.revert_last_migration(source.clone()).unwrap();
        }
    }
}

each_backend!(messages_written_before_the_upgrade_get_their_number_and_reason);
fn messages_written_before_the_upgrade_get_their_number_and_reason(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    // What the store writes of today's schema is written before the schema goes back.
    operator(&*store, "bln");
    let staying = client(&*store, "79000000001", "bln", &["vip"]);
    let leaving = client(&*store, "79000000002", "bln", &[]);
    let m = mailing(&*store);
    let other = mailing(&*store);
    migrate(&db, false);
    let insert = |client: ClientId, status: &str, sent_at: &str, error: &str| {
        db.execute(&format!(
            "INSERT INTO messages (mailing_id, client_id, status, sent_at, last_error)
             VALUES ({}, {}, '{status}', {sent_at}, {error})",
            m.id.0, client.0
        ))
        .unwrap();
    };
    let sent_at = "'2030-01-01 10:30:00+00:00'";
    insert(staying.id, "sent", sent_at, "NULL");
    insert(leaving.id, "sent", sent_at, "NULL");
    db.execute(&format!(
        "INSERT INTO messages (mailing_id, client_id, status) VALUES ({}, {}, 'expired')",
        other.id.0, staying.id.0
    ))
    .unwrap();
    db.execute(&format!(
        "INSERT INTO messages (mailing_id, client_id, status, last_error)
         VALUES ({}, {}, 'expired', 'probe answered 500')",
        other.id.0, leaving.id.0
    ))
    .unwrap();
    store.delete_client(leaving.id).unwrap();
    let last_id = db.count("SELECT max(id) AS count FROM messages");

    migrate(&db, true);
    let messages = store
        .list_messages(&MessageQuery::default(), ALL)
        .unwrap()
        .items;
    let seen: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                m.client_id,
                m.status,
                m.phone.as_ref().map(|p| p.as_str().to_owned()),
                m.last_error.clone(),
            )
        })
        .collect();
    // The client that is still there lends its number; the deleted one's is gone for good.
    assert_eq!(
        seen,
        vec![
            (
                Some(staying.id),
                MessageStatus::Sent,
                Some("79000000001".to_owned()),
                None
            ),
            (None, MessageStatus::Sent, None, None),
            (
                Some(staying.id),
                MessageStatus::Expired,
                Some("79000000001".to_owned()),
                Some("the mailing ended before its turn came".to_owned())
            ),
            (
                None,
                MessageStatus::Expired,
                None,
                Some(
                    "the mailing ended before delivery succeeded; last attempt: \
                     probe answered 500"
                        .to_owned()
                )
            ),
        ]
    );
    // The rules hold from now on, and ids go on where they were.
    assert!(
        db.execute(&format!(
            "INSERT INTO messages (mailing_id, client_id, status, last_error)
             VALUES ({}, {}, 'expired', 'x')",
            mailing(&*store).id.0,
            staying.id.0
        ))
        .is_err(),
        "a message without its number"
    );
    let fresh = mailing(&*store);
    store
        .insert_messages(&[new_message(fresh.id, staying.id, MessageStatus::Scheduled)])
        .unwrap();
    assert!(db.count("SELECT max(id) AS count FROM messages") > last_id);

    // The tag the client carries is no longer deleted from under it.
    let vip = store.list_tags(ALL).unwrap().items.remove(0);
    assert_eq!(
        rejection(store.delete_tag(vip.id, false)),
        Rejection::TagInUse(TagUse {
            clients: 1,
            ..TagUse::default()
        })
    );
    store.delete_tag(vip.id, true).unwrap();
    assert_not_found(store.get_tag(vip.id), Entity::Tag);
}
