//! Idempotency keys: the first request with a key runs and its answer is kept; the same request
//! again gets that answer, another request with the key is refused, and one still running
//! keeps the key to itself until it goes stale. Keys are per account, expire after their
//! lifetime and are purged; of many requests with one key at once, exactly one runs.

use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::utc;
use chrono::{DateTime, Duration as Span, Utc};
use mailing_domain::store::{
    Begun, IdempotentRequest, KeyHold, KeyLifetimes, Store, StoreError, StoredResponse,
    storage_instant,
};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const LIFETIMES: KeyLifetimes = KeyLifetimes {
    ttl: Duration::from_secs(24 * 60 * 60),
    stale_after: Duration::from_secs(5 * 60),
};

fn asked(account: &str, key: &str, hash_of: &str) -> IdempotentRequest {
    IdempotentRequest {
        account: account.to_owned(),
        key: key.to_owned(),
        // The store takes any 64 characters; the api sends a hex SHA-256.
        request_hash: format!("{hash_of:0>64}"),
    }
}

fn answer(status: u16, body: &str) -> StoredResponse {
    StoredResponse {
        status,
        content_type: Some("application/json".to_owned()),
        location: None,
        body: body.as_bytes().to_vec(),
    }
}

#[track_caller]
fn started(begun: Begun) -> KeyHold {
    match begun {
        Begun::Started(hold) => hold,
        other => panic!("expected the key to be taken, got {other:?}"),
    }
}

fn begin(store: &dyn Store, request: &IdempotentRequest, now: DateTime<Utc>) -> Begun {
    store.begin_idempotent(request, now, LIFETIMES).unwrap()
}

each_backend!(the_first_request_runs_and_the_same_one_again_gets_its_answer);
fn the_first_request_runs_and_the_same_one_again_gets_its_answer(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let request = asked("admin", "key-1", "a");
    let now = Utc::now();

    let hold = started(begin(&*store, &request, now));
    assert_eq!(hold.account, "admin");
    assert_eq!(hold.key, "key-1");
    assert_eq!(hold.started_at, storage_instant(now));
    assert_eq!(
        begin(&*store, &request, now + Span::seconds(1)),
        Begun::InFlight,
        "answered by nobody yet"
    );

    let created = answer(201, r#"{"id":7}"#);
    assert!(store.complete_idempotent(&hold, &created, now).unwrap());
    for later in [Span::seconds(2), Span::hours(23)] {
        assert_eq!(
            begin(&*store, &request, now + later),
            Begun::Replay(created.clone())
        );
    }
    assert!(
        !store
            .complete_idempotent(&hold, &answer(200, "{}"), now)
            .unwrap(),
        "an answer is kept once"
    );
    store.abandon_idempotent(&hold).unwrap();
    assert_eq!(
        begin(&*store, &request, now),
        Begun::Replay(created),
        "a completed key is not given up"
    );
    assert_eq!(
        db.count("SELECT count(*) AS count FROM idempotency_keys"),
        1
    );
}

each_backend!(every_part_of_an_answer_comes_back_as_it_was);
fn every_part_of_an_answer_comes_back_as_it_was(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    for (key, stored) in [
        (
            "with-location",
            StoredResponse {
                status: 303,
                content_type: None,
                location: Some("/api/v1/clients/7".to_owned()),
                body: vec![],
            },
        ),
        (
            "binary",
            StoredResponse {
                status: 409,
                content_type: Some("application/octet-stream".to_owned()),
                location: None,
                body: vec![0, 159, 255, 10, 0],
            },
        ),
    ] {
        let request = asked("admin", key, "a");
        let hold = started(begin(&*store, &request, now));
        assert!(store.complete_idempotent(&hold, &stored, now).unwrap());
        assert_eq!(begin(&*store, &request, now), Begun::Replay(stored));
    }
}

each_backend!(a_key_sent_with_another_request_is_reused_and_changes_nothing);
fn a_key_sent_with_another_request_is_reused_and_changes_nothing(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    let first = asked("admin", "key-1", "a");
    let other = asked("admin", "key-1", "b");

    let hold = started(begin(&*store, &first, now));
    assert_eq!(
        begin(&*store, &other, now),
        Begun::Reused,
        "while in flight"
    );
    let created = answer(201, "{}");
    assert!(store.complete_idempotent(&hold, &created, now).unwrap());
    assert_eq!(begin(&*store, &other, now), Begun::Reused, "once answered");
    assert_eq!(begin(&*store, &first, now), Begun::Replay(created));
    // Even when the first request went stale: the key still names it.
    let stale = asked("admin", "key-2", "a");
    started(begin(&*store, &stale, now));
    assert_eq!(
        begin(&*store, &asked("admin", "key-2", "b"), now + Span::hours(1)),
        Begun::Reused
    );
}

each_backend!(keys_belong_to_their_account);
fn keys_belong_to_their_account(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    let admin = started(begin(&*store, &asked("admin", "key-1", "a"), now));
    // No account of that name exists: the key is the token's subject's, whatever it is.
    let other = started(begin(&*store, &asked("integrator", "key-1", "a"), now));
    assert!(
        store
            .complete_idempotent(&admin, &answer(201, "admin"), now)
            .unwrap()
    );
    assert!(
        store
            .complete_idempotent(&other, &answer(409, "other"), now)
            .unwrap()
    );
    assert_eq!(
        begin(&*store, &asked("admin", "key-1", "a"), now),
        Begun::Replay(answer(201, "admin"))
    );
    assert_eq!(
        begin(&*store, &asked("integrator", "key-1", "a"), now),
        Begun::Replay(answer(409, "other"))
    );
    assert_eq!(
        begin(&*store, &asked("integrator", "key-1", "b"), now),
        Begun::Reused
    );
}

each_backend!(a_request_given_up_lets_the_next_one_run);
fn a_request_given_up_lets_the_next_one_run(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    let request = asked("admin", "key-1", "a");
    let hold = started(begin(&*store, &request, now));
    store.abandon_idempotent(&hold).unwrap();
    assert_eq!(
        db.count("SELECT count(*) AS count FROM idempotency_keys"),
        0
    );
    // Any request may take a key given up, not only the same one.
    let retry = started(begin(&*store, &asked("admin", "key-1", "b"), now));
    assert_eq!(retry.started_at, now);
    assert!(
        store
            .complete_idempotent(&retry, &answer(201, "{}"), now)
            .unwrap()
    );
    assert_eq!(
        begin(&*store, &request, now),
        Begun::Reused,
        "the key now names the retry"
    );
}

each_backend!(a_stale_request_is_taken_over_and_its_hold_is_void);
fn a_stale_request_is_taken_over_and_its_hold_is_void(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    let request = asked("admin", "key-1", "a");
    let dead = started(begin(&*store, &request, now));
    let almost = now + Span::minutes(5) - Span::microseconds(1);
    assert_eq!(begin(&*store, &request, almost), Begun::InFlight);

    let later = now + Span::minutes(5);
    let retry = started(begin(&*store, &request, later));
    assert_eq!(retry.started_at, later);
    assert_eq!(
        begin(&*store, &request, later),
        Begun::InFlight,
        "the retry holds it now"
    );
    // The first request, should it come back to life, neither answers nor lets go.
    assert!(
        !store
            .complete_idempotent(&dead, &answer(201, "dead"), later)
            .unwrap()
    );
    store.abandon_idempotent(&dead).unwrap();
    assert_eq!(begin(&*store, &request, later), Begun::InFlight);

    assert!(
        store
            .complete_idempotent(&retry, &answer(201, "retry"), later)
            .unwrap()
    );
    assert_eq!(
        begin(&*store, &request, later + Span::hours(1)),
        Begun::Replay(answer(201, "retry")),
        "an answered key does not go stale"
    );
}

each_backend!(a_key_past_its_lifetime_counts_as_never_used);
fn a_key_past_its_lifetime_counts_as_never_used(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    let first = asked("admin", "key-1", "a");
    let hold = started(begin(&*store, &first, now));
    assert!(
        store
            .complete_idempotent(&hold, &answer(201, "first"), now)
            .unwrap()
    );
    let last_moment = now + Span::hours(24) - Span::microseconds(1);
    assert_eq!(
        begin(&*store, &first, last_moment),
        Begun::Replay(answer(201, "first"))
    );

    let expired = now + Span::hours(24);
    let next = started(begin(&*store, &first, expired));
    assert_eq!(next.started_at, expired, "runs again");
    assert!(
        store
            .complete_idempotent(&next, &answer(201, "second"), expired)
            .unwrap()
    );
    assert_eq!(
        begin(&*store, &first, expired),
        Begun::Replay(answer(201, "second"))
    );
    // With another request too.
    let much_later = expired + Span::days(2);
    started(begin(&*store, &asked("admin", "key-1", "b"), much_later));
    assert_eq!(
        db.count("SELECT count(*) AS count FROM idempotency_keys"),
        1
    );
}

each_backend!(purging_removes_exactly_the_keys_begun_before_the_instant);
fn purging_removes_exactly_the_keys_begun_before_the_instant(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 3, 10, 0);
    let cutoff = now - Span::hours(24);
    for (key, began) in [
        ("two-days", now - Span::days(2)),
        ("a-day", cutoff),
        ("an-hour", now - Span::hours(1)),
    ] {
        let hold = started(begin(&*store, &asked("admin", key, "a"), began));
        assert!(
            store
                .complete_idempotent(&hold, &answer(201, key), began)
                .unwrap()
        );
    }
    started(begin(
        &*store,
        &asked("admin", "in-flight", "a"),
        now - Span::days(3),
    ));

    assert_eq!(store.purge_idempotency_keys(cutoff).unwrap(), 3);
    assert_eq!(store.purge_idempotency_keys(cutoff).unwrap(), 0);
    assert_eq!(
        db.count("SELECT count(*) AS count FROM idempotency_keys"),
        1
    );
    assert_eq!(
        begin(&*store, &asked("admin", "an-hour", "a"), now),
        Begun::Replay(answer(201, "an-hour"))
    );
}

each_backend!(the_database_refuses_keys_outside_their_length);
fn the_database_refuses_keys_outside_their_length(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = utc(2030, 1, 1, 10, 0);
    for key in [String::new(), "k".repeat(256)] {
        let refused = store.begin_idempotent(&asked("admin", &key, "a"), now, LIFETIMES);
        assert!(
            matches!(refused, Err(StoreError::Internal(_))),
            "{} characters: {refused:?}",
            key.len()
        );
    }
    started(begin(&*store, &asked("admin", &"k".repeat(255), "a"), now));
}

/// Begins `request` on `threads` threads at once; returns what each got.
fn all_at_once(
    store: &Arc<dyn Store>,
    request: &IdempotentRequest,
    now: DateTime<Utc>,
    threads: usize,
) -> Vec<Begun> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    begin(&**store, request, now)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

each_backend!(of_many_requests_with_one_key_at_once_exactly_one_runs);
fn of_many_requests_with_one_key_at_once_exactly_one_runs(backend: Backend) {
    const THREADS: usize = 12;
    let db = TestDb::create(backend);
    let store = db.store();
    let now = Utc::now();
    for round in 0..5 {
        let request = asked("admin", &format!("key-{round}"), "a");
        let begun = all_at_once(&store, &request, now, THREADS);
        let holds: Vec<_> = begun
            .iter()
            .filter(|b| matches!(b, Begun::Started(_)))
            .collect();
        assert_eq!(holds.len(), 1, "round {round}: {begun:?}");
        assert!(
            begun
                .iter()
                .all(|b| matches!(b, Begun::Started(_) | Begun::InFlight)),
            "round {round}: {begun:?}"
        );
        // And of many retries of one that went stale, exactly one takes it over.
        let later = now + Span::minutes(10);
        let begun = all_at_once(&store, &request, later, THREADS);
        let taken: Vec<_> = begun
            .into_iter()
            .filter_map(|b| match b {
                Begun::Started(hold) => Some(hold),
                Begun::InFlight => None,
                other => panic!("round {round}: {other:?}"),
            })
            .collect();
        assert_eq!(taken.len(), 1, "round {round}");
        assert!(
            store
                .complete_idempotent(&taken[0], &answer(201, "{}"), later)
                .unwrap()
        );
        let begun = all_at_once(&store, &request, later, THREADS);
        assert!(
            begun.iter().all(|b| *b == Begun::Replay(answer(201, "{}"))),
            "round {round}: {begun:?}"
        );
    }
}
