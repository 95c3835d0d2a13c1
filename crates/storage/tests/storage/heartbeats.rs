//! The senders' heartbeat table: a beat registers or stamps a sender and reports the other
//! live ones; rows past their lease count for nobody and are deleted; a leaving sender's row
//! goes at once.

use crate::backend::{Backend, TestDb, each_backend};
use chrono::Utc;
use mailing_domain::store::{SenderBeat, Store};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

fn sender(id: i64) -> SenderBeat {
    SenderBeat {
        sender_id: id,
        host: format!("host-{id}"),
        pid: 1000 + u32::try_from(id).unwrap(),
        rate_limit: 200,
    }
}

each_backend!(a_beat_registers_the_sender_and_reports_the_other_live_ones);
fn a_beat_registers_the_sender_and_reports_the_other_live_ones(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let before = Utc::now() - chrono::Duration::seconds(5);

    let first = store.sender_beat(&sender(1), LEASE).unwrap();
    assert!(first.peers.is_empty(), "{first:?}");
    assert!(first.at > before, "stamped with the clock: {first:?}");
    let second = store.sender_beat(&sender(2), LEASE).unwrap();
    assert_eq!(second.peers, vec![first.at]);
    assert!(second.at >= first.at);

    let again = store.sender_beat(&sender(1), LEASE).unwrap();
    assert_eq!(again.peers, vec![second.at], "the other one, not itself");
    assert!(again.at >= second.at);
    let third = store.sender_beat(&sender(3), LEASE).unwrap();
    assert_eq!(
        third.peers,
        vec![second.at, again.at],
        "oldest first, each once"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS count FROM sender_heartbeats"),
        3
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) AS count FROM sender_heartbeats WHERE host = 'host-1' AND pid = 1001"
        ),
        1
    );
}

each_backend!(rows_past_their_lease_count_for_nobody_and_are_deleted);
fn rows_past_their_lease_count_for_nobody_and_are_deleted(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let lease = Duration::from_millis(300);
    store.sender_beat(&sender(1), lease).unwrap();
    std::thread::sleep(Duration::from_millis(400));

    let view = store.sender_beat(&sender(2), lease).unwrap();
    assert!(
        view.peers.is_empty(),
        "sender 1 is past its lease: {view:?}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS count FROM sender_heartbeats WHERE sender_id = 1"),
        0,
        "and its row is gone"
    );
    // A sender that beats again after its lease ran out is registered anew.
    let back = store.sender_beat(&sender(1), lease).unwrap();
    assert_eq!(back.peers, vec![view.at]);
}

each_backend!(a_leaving_sender_is_gone_at_once);
fn a_leaving_sender_is_gone_at_once(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    store.sender_beat(&sender(1), LEASE).unwrap();
    store.sender_beat(&sender(2), LEASE).unwrap();
    store.sender_leave(1).unwrap();
    assert!(
        store
            .sender_beat(&sender(2), LEASE)
            .unwrap()
            .peers
            .is_empty()
    );
    store.sender_leave(1).unwrap();
    store.sender_leave(99).unwrap();
    assert_eq!(
        db.count("SELECT COUNT(*) AS count FROM sender_heartbeats"),
        1
    );
}
