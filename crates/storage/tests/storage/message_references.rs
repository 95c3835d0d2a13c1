//! A message's references to its mailing and its client, which the database keeps on both
//! backends (foreign keys on SQLite, statement triggers on PostgreSQL; see the migrations
//! `message_references`).

use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use diesel::prelude::*;
use mailing_domain::store::{MessageQuery, Store, StoreError};
use mailing_domain::{ClientId, MailingId, MessageStatus};
use std::time::{Duration, Instant};

/// A mailing that runs on 2030-05-01 (UTC) for everyone.
fn a_day_long(store: &dyn Store) -> MailingId {
    spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0))
        .create(store)
        .id
}

fn insert_sql(mailing: MailingId, client: ClientId) -> String {
    format!(
        "INSERT INTO messages (mailing_id, client_id, phone_number)
         VALUES ({}, {}, '70000000000')",
        mailing.0, client.0
    )
}

each_backend!(a_message_refers_to_a_mailing_and_a_client_that_exist);
fn a_message_refers_to_a_mailing_and_a_client_that_exist(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = a_day_long(store);
    let c = f.client(UTC, "bln", &[]).id;
    let nobody = ClientId(c.0 + 1_000);

    match store.insert_messages(&[new_message(m, nobody, MessageStatus::Scheduled)]) {
        Err(StoreError::Internal(_)) => {}
        other => panic!("expected a broken reference, got {other:?}"),
    }
    assert!(f.db.execute(&insert_sql(m, nobody)).is_err());
    assert!(
        f.db.execute(&insert_sql(MailingId(m.0 + 1_000), c))
            .is_err()
    );
    f.db.execute(&insert_sql(m, c)).unwrap();
    assert_eq!(f.rows(m).len(), 1);
}

each_backend!(a_message_keeps_its_mailing_and_its_client);
fn a_message_keeps_its_mailing_and_its_client(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = a_day_long(store);
    let other = a_day_long(store);
    let c = f.client(UTC, "bln", &[]).id;
    let d = f.client(UTC, "bln", &[]).id;
    f.db.execute(&insert_sql(m, c)).unwrap();

    let moved = |set: &str| f.db.execute(&format!("UPDATE messages SET {set}")).is_err();
    assert!(moved(&format!("mailing_id = {}", other.0)));
    assert!(moved(&format!("client_id = {}", d.0)));
    assert!(!moved("client_id = NULL"));
    assert_eq!(f.rows(m)[0].client_id, None);
}

each_backend!(deleting_a_mailing_for_good_takes_its_messages);
fn deleting_a_mailing_for_good_takes_its_messages(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let gone = a_day_long(store);
    let kept = a_day_long(store);
    f.client(UTC, "bln", &[]);
    f.client(UTC, "bln", &[]);
    let now = utc(2030, 5, 1, 1, 0);
    store.expand_mailing(gone, now).unwrap().unwrap();
    store.expand_mailing(kept, now).unwrap().unwrap();

    f.db.execute(&format!("DELETE FROM mailings WHERE id = {}", gone.0))
        .unwrap();
    assert!(f.rows(gone).is_empty());
    assert_eq!(f.rows(kept).len(), 2);
    assert_eq!(store.count_messages(gone).unwrap().total(), 0);
    assert_eq!(store.count_messages(kept).unwrap().total(), 2);
}

/// The number of advisory lock requests waiting in the test's database.
fn waiting_advisory_locks(conn: &mut PgConnection) -> i64 {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS count FROM pg_locks
         WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .get_result::<Waiting>(conn)
    .unwrap()
    .count
}

/// Waits (briefly polling the server, never longer than ten seconds) until a lock request of
/// another session waits.
fn until_one_waits(conn: &mut PgConnection) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while waiting_advisory_locks(conn) == 0 {
        assert!(Instant::now() < deadline, "nobody started waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// On PostgreSQL, inserting messages holds no lock on each client; instead a client delete and
/// message inserts wait for each other as a whole. Whichever commits first, no message is left
/// unsent for a deleted client.
#[test]
fn a_client_delete_and_a_message_insert_wait_for_each_other_on_postgres() {
    let f = Fixture::new(Backend::Postgres);
    let TestDb::Postgres(db) = &f.db else {
        unreachable!()
    };
    let store = &*f.store;
    let m = a_day_long(store);
    let first = f.client(UTC, "bln", &[]).id;
    let second = f.client(UTC, "bln", &[]).id;
    let mut inserting = PgConnection::establish(db.url()).unwrap();
    let mut watching = PgConnection::establish(db.url()).unwrap();

    // The insert goes first: the delete waits for it, then cancels the new message.
    diesel::sql_query("BEGIN").execute(&mut inserting).unwrap();
    diesel::sql_query(insert_sql(m, first))
        .execute(&mut inserting)
        .unwrap();
    std::thread::scope(|scope| {
        let deleting = scope.spawn(|| store.delete_client(first));
        until_one_waits(&mut watching);
        diesel::sql_query("COMMIT").execute(&mut inserting).unwrap();
        deleting.join().unwrap().unwrap();
    });
    let rows = f.rows(m);
    assert_eq!(rows.len(), 1);
    rows[0].assert_status(MessageStatus::Cancelled);
    assert_eq!(rows[0].client_id, None);

    // The delete goes first: the insert waits for it, then finds the client gone.
    let mut deleting = PgConnection::establish(db.url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut deleting).unwrap();
    diesel::sql_query(format!("DELETE FROM clients WHERE id = {}", second.0))
        .execute(&mut deleting)
        .unwrap();
    std::thread::scope(|scope| {
        let inserted = scope
            .spawn(|| store.insert_messages(&[new_message(m, second, MessageStatus::Scheduled)]));
        until_one_waits(&mut watching);
        diesel::sql_query("COMMIT").execute(&mut deleting).unwrap();
        assert!(inserted.join().unwrap().is_err());
    });
    let all = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert_eq!(all.total, 1);
}
