//! The transactional outbox: every mailing write leaves exactly one event, written by the same
//! transaction, and relays claim, lease and publish them.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::Duration;
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::store::{FilterSource, MailingPatch, OutboxBacklog, OutboxEvent, Rejection};
use mailing_domain::{ClientFilterId, MailingId, MailingText};
use std::collections::HashSet;
use std::sync::Barrier;

const LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The stored events, oldest first, each with the transaction that wrote it where the backend
/// tells (PostgreSQL).
fn stored_events(f: &Fixture) -> Vec<(MailingEvent, Option<String>)> {
    f.db.outbox()
        .into_iter()
        .map(|row| {
            let event = events::decode(row.payload.as_bytes())
                .unwrap_or_else(|e| panic!("outbox row {} is unreadable: {e}", row.id));
            (event, row.tx)
        })
        .collect()
}

/// Asserts the outbox grew by exactly `expected`, written by the transaction that last wrote
/// the mailing. SQLite shows no transaction ids, so there only the event itself is checked.
#[track_caller]
fn assert_one_new_event(f: &Fixture, before: usize, expected: MailingEvent) {
    let events = stored_events(f);
    assert_eq!(events.len(), before + 1, "one new event: {events:?}");
    let (event, tx) = events.last().unwrap();
    assert_eq!(*event, expected);
    assert_eq!(
        *tx,
        f.db.mailing_tx(expected.mailing_id()),
        "the event and the mailing change share a transaction"
    );
}

each_backend!(each_mailing_write_appends_one_event_in_its_own_transaction);
fn each_mailing_write_appends_one_event_in_its_own_transaction(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let during = utc(2030, 1, 1, 11, 0);

    let m = spec(utc(2030, 1, 1, 10, 0), utc(2030, 1, 1, 12, 0)).create(store);
    assert_one_new_event(&f, 0, MailingEvent::MailingCreated { mailing_id: m.id });

    let retext = MailingPatch {
        text: Some(MailingText::parse("New text").unwrap()),
        end_at: Some(utc(2030, 1, 1, 13, 0).fixed_offset()),
        ..MailingPatch::default()
    };
    store.update_mailing(m.id, &retext, during).unwrap();
    assert_one_new_event(&f, 1, MailingEvent::MailingUpdated { mailing_id: m.id });

    store.cancel_mailing(m.id, during).unwrap();
    assert_one_new_event(&f, 2, MailingEvent::MailingCancelled { mailing_id: m.id });

    store.delete_mailing(m.id, during).unwrap();
    assert_one_new_event(&f, 3, MailingEvent::MailingDeleted { mailing_id: m.id });
    assert_eq!(store.outbox_backlog().unwrap().events, 4);
}

each_backend!(refused_mailing_writes_append_nothing);
fn refused_mailing_writes_append_nothing(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = spec(utc(2030, 1, 1, 10, 0), utc(2030, 1, 1, 12, 0)).create(store);
    let during = utc(2030, 1, 1, 11, 0);
    let after = utc(2030, 1, 2, 0, 0);
    let before = stored_events(&f).len();

    // A running mailing's audience is fixed.
    let refilter = MailingPatch {
        filter: Some(FilterSource::Inline(filter(&["mts"], &[]))),
        ..MailingPatch::default()
    };
    assert!(matches!(
        rejection(store.update_mailing(m.id, &refilter, during)),
        Rejection::MailingLocked(_)
    ));
    let end_before_start = MailingPatch {
        end_at: Some(utc(2030, 1, 1, 9, 0).fixed_offset()),
        ..MailingPatch::default()
    };
    assert!(matches!(
        rejection(store.update_mailing(m.id, &end_before_start, during)),
        Rejection::Invalid { .. }
    ));
    let unknown_filter = MailingPatch {
        filter: Some(FilterSource::Saved(ClientFilterId(999))),
        ..MailingPatch::default()
    };
    assert_eq!(
        rejection(store.update_mailing(m.id, &unknown_filter, utc(2029, 1, 1, 0, 0))),
        Rejection::UnknownClientFilter
    );
    assert_eq!(
        rejection(store.cancel_mailing(m.id, after)),
        Rejection::MailingFinished
    );
    let unknown_source = draft(
        utc(2030, 1, 1, 10, 0),
        utc(2030, 1, 1, 12, 0),
        FilterSource::Saved(ClientFilterId(999)),
    );
    assert_eq!(
        rejection(store.create_mailing(&unknown_source)),
        Rejection::UnknownClientFilter
    );
    assert!(store.delete_mailing(MailingId(999), during).is_err());

    assert_eq!(stored_events(&f).len(), before);
    assert_eq!(store.outbox_backlog().unwrap().events, before as u64);
}

each_backend!(cancelling_twice_appends_one_event);
fn cancelling_twice_appends_one_event(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = spec(utc(2030, 1, 1, 10, 0), utc(2030, 1, 1, 12, 0)).create(store);
    let during = utc(2030, 1, 1, 11, 0);
    store.cancel_mailing(m.id, during).unwrap();
    store.cancel_mailing(m.id, during).unwrap();
    let cancellations = stored_events(&f)
        .into_iter()
        .filter(|(event, _)| matches!(event, MailingEvent::MailingCancelled { .. }))
        .count();
    assert_eq!(cancellations, 1);
}

/// Creates `count` mailings; returns their `MailingCreated` events' mailing ids in order.
fn created(f: &Fixture, count: usize) -> Vec<MailingId> {
    (0..count).map(|_| mailing(&*f.store).id).collect()
}

fn mailing_ids(events: &[OutboxEvent]) -> Vec<MailingId> {
    events.iter().map(|e| e.event.mailing_id()).collect()
}

each_backend!(claims_go_oldest_first_within_the_limit_and_respect_leases);
fn claims_go_oldest_first_within_the_limit_and_respect_leases(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let mailings = created(&f, 5);
    let now = utc(2030, 1, 1, 0, 0);

    let first = store.claim_outbox(2, LEASE, now).unwrap();
    assert_eq!(mailing_ids(&first), mailings[..2]);
    assert!(first.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        first
            .iter()
            .all(|e| matches!(e.event, MailingEvent::MailingCreated { .. }))
    );

    // The first two are held by their relay until the lease ends.
    let rest = store.claim_outbox(10, LEASE, now).unwrap();
    assert_eq!(mailing_ids(&rest), mailings[2..]);
    let just_before_expiry = now + Duration::seconds(29);
    assert!(
        store
            .claim_outbox(10, LEASE, just_before_expiry)
            .unwrap()
            .is_empty()
    );

    // Nobody published: after the lease every event is offered again, oldest first.
    let after_lease = now + Duration::seconds(31);
    let again = store.claim_outbox(10, LEASE, after_lease).unwrap();
    assert_eq!(mailing_ids(&again), mailings);
    assert_eq!(store.outbox_backlog().unwrap().events, 5);
}

each_backend!(published_events_are_never_claimed_again);
fn published_events_are_never_claimed_again(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let mailings = created(&f, 4);
    let now = utc(2030, 1, 1, 0, 0);
    let claimed = store.claim_outbox(10, LEASE, now).unwrap();
    assert_eq!(claimed.len(), 4);

    let published: Vec<i64> = claimed[..3].iter().map(|e| e.id).collect();
    let before = store.outbox_backlog().unwrap();
    assert_eq!(before.events, 4);
    store.mark_published(&published, now).unwrap();
    store.mark_published(&[], now).unwrap();
    let after = store.outbox_backlog().unwrap();
    assert_eq!(after.events, 1);
    assert!(
        after.oldest >= before.oldest && after.oldest.is_some(),
        "the oldest unpublished event is the one left: {before:?} then {after:?}"
    );

    let long_after = now + Duration::days(1);
    let offered = store.claim_outbox(10, LEASE, long_after).unwrap();
    assert_eq!(mailing_ids(&offered), vec![mailings[3]]);

    store.mark_published(&[offered[0].id], long_after).unwrap();
    assert_eq!(
        store.outbox_backlog().unwrap(),
        OutboxBacklog::default(),
        "nothing waits, so nothing is old"
    );
    assert!(
        store
            .claim_outbox(10, LEASE, long_after + Duration::days(1))
            .unwrap()
            .is_empty()
    );
}

each_backend!(racing_relays_never_claim_the_same_event);
fn racing_relays_never_claim_the_same_event(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let total = 300;
    created(&f, total);
    let now = utc(2030, 1, 1, 0, 0);

    let start = Barrier::new(2);
    let claim_all = || {
        start.wait();
        let mut mine = Vec::new();
        loop {
            let batch = store.claim_outbox(7, LEASE, now).unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch.into_iter().map(|e| e.id));
        }
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(claim_all);
        let b = s.spawn(claim_all);
        (a.join().unwrap(), b.join().unwrap())
    });

    // SQLite's write lock is not fair: one relay may take every batch while the other waits
    // its turn. PostgreSQL's claims run side by side, and there both must have had a share.
    if backend == Backend::Postgres {
        assert!(!a.is_empty() && !b.is_empty(), "both relays took part");
    }
    assert_eq!(
        a.len() + b.len(),
        total,
        "every event handed out exactly once"
    );
    let all: HashSet<i64> = a.iter().chain(&b).copied().collect();
    assert_eq!(all.len(), total, "no event handed out twice");
}
