//! Connecting by URL, and what is PostgreSQL's own: migrating under its advisory lock, its
//! pool running dry, and errors that must not quote a password.

use crate::helpers::ALL;
use diesel::prelude::*;
use mailing_domain::store::StoreError;
use mailing_storage::testing::TestDatabase;
use mailing_storage::{ConnectOptions, connect};
use std::time::Duration;

fn quick() -> ConnectOptions {
    ConnectOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_millis(500),
    }
}

fn internal_message(result: Result<impl Sized, StoreError>) -> String {
    match result {
        Err(StoreError::Internal(message)) => message,
        Err(other) => panic!("expected an internal error, got {other}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn connects_by_url_and_answers_pings() {
    let db = TestDatabase::create();
    let store = connect(db.url(), &ConnectOptions::default()).unwrap();
    store.ping().unwrap();
    assert_eq!(store.migrate().unwrap(), Vec::<String>::new());
    let alias = db.url().replacen("postgres://", "postgresql://", 1);
    connect(&alias, &quick()).unwrap().ping().unwrap();
}

#[test]
fn migrations_report_what_they_applied() {
    let db = TestDatabase::create();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    // Back to an empty database, as a fresh deployment sees it.
    diesel::sql_query("DROP SCHEMA public CASCADE")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("CREATE SCHEMA public")
        .execute(&mut conn)
        .unwrap();
    let store = connect(db.url(), &quick()).unwrap();
    let applied = store.migrate().unwrap();
    assert_eq!(applied[..2], ["20261127000001", "20261127000002"]);
    assert!(store.migrate().unwrap().is_empty());
}

#[test]
fn other_schemes_are_refused_without_quoting_the_url() {
    let message = internal_message(connect("mysql://app:hunter2@db/mailing", &quick()));
    assert!(message.contains("postgres://"), "{message}");
    assert!(message.contains("mysql"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let message = internal_message(connect("app:hunter2@db/mailing", &quick()));
    assert!(message.contains("postgresql://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let message = internal_message(connect("app:hunter2@db://x", &quick()));
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn an_unreachable_server_is_unavailable_and_the_password_stays_hidden() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let result = connect("postgres://app:hunter2@127.0.0.1:1/mailing", &quick());
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("hunter2"), "{message}");
        }
        Err(other) => panic!("expected unavailable, got {other}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

#[test]
fn pool_settings_that_would_panic_are_refused() {
    let zero_pool = ConnectOptions {
        max_connections: 0,
        ..quick()
    };
    internal_message(connect("postgres://127.0.0.1:1/x", &zero_pool));
    let zero_wait = ConnectOptions {
        acquire_timeout: Duration::ZERO,
        ..quick()
    };
    internal_message(connect("postgres://127.0.0.1:1/x", &zero_wait));
}

#[test]
fn an_exhausted_pool_is_unavailable() {
    let db = TestDatabase::create();
    let store = connect(
        db.url(),
        &ConnectOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(300),
        },
    )
    .unwrap();
    let mut blocker = PgConnection::establish(db.url()).unwrap();
    blocker
        .transaction::<_, diesel::result::Error, _>(|blocker| {
            // A lock makes the store's only connection wait inside a list call.
            diesel::sql_query("LOCK TABLE operators IN ACCESS EXCLUSIVE MODE").execute(blocker)?;
            std::thread::scope(|scope| {
                let waiting = scope.spawn(|| store.list_operators(ALL));
                wait_for_a_lock_waiter(blocker);
                match store.ping() {
                    Err(StoreError::Unavailable(_)) => {}
                    other => panic!("expected unavailable, got {other:?}"),
                }
                // Leaving the closure commits and releases the lock only after the scope ends,
                // so end the wait here.
                diesel::sql_query(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .execute(blocker)
                .unwrap();
                assert!(waiting.join().unwrap().is_err());
            });
            Ok(())
        })
        .unwrap();
    store.ping().unwrap();
}

/// Polls until another session of this database waits for a lock (bounded: 10 s).
fn wait_for_a_lock_waiter(conn: &mut PgConnection) {
    #[derive(QueryableByName)]
    struct Waiters {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    for _ in 0..1000 {
        let waiters: Waiters = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(conn)
        .unwrap();
        if waiters.count > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the store's query never waited for the lock");
}
