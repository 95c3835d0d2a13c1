//! Replanning a running mailing's waiting messages after its end or window changed.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Utc};
use mailing_domain::store::{MailingPatch, Outcome, OutcomeKind};
use mailing_domain::{MailingId, MessageId, MessageStatus, SendPlan, SendWindow, plan_send};

fn new_end(end: DateTime<Utc>) -> MailingPatch {
    MailingPatch {
        end_at: Some(end.fixed_offset()),
        ..MailingPatch::default()
    }
}

fn new_window(start: &str, end: &str) -> MailingPatch {
    MailingPatch {
        send_window: Some(Some(SendWindow::parse(start, end).unwrap())),
        ..MailingPatch::default()
    }
}

/// Claims every due message at `at` and records a failed attempt retried at `retry_at` for
/// each of `failing` (which must be among them).
fn fail_once(f: &Fixture, at: DateTime<Utc>, failing: &[(MessageId, DateTime<Utc>)]) {
    let claimed = f.store.claim_due(at, 1_000).unwrap();
    let outcomes: Vec<Outcome> = failing
        .iter()
        .map(|&(id, retry_at)| {
            assert!(claimed.contains(&id), "{id} was not due at {at}");
            Outcome {
                message_id: id,
                claimed_at: None,
                kind: OutcomeKind::Retry {
                    error: "probe timed out".to_owned(),
                    next_attempt_at: retry_at,
                },
                text: None,
            }
        })
        .collect();
    assert_eq!(
        f.store.record_outcomes(&outcomes).unwrap().len(),
        failing.len()
    );
}

/// Changes the mailing at `now` and replans it; returns what replanning reported.
fn change(f: &Fixture, id: MailingId, patch: &MailingPatch, now: DateTime<Utc>) -> u64 {
    f.store.update_mailing(id, patch, now).unwrap();
    f.store.replan_mailing(id, now).unwrap()
}

each_backend!(a_new_window_holds_each_zone_until_its_window_opens);
fn a_new_window_holds_each_zone_until_its_window_opens(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let moscow = f.client(MOSCOW, "bln", &[]);
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let utc_client = f.client(UTC, "bln", &[]);
    let end = utc(2030, 5, 3, 0, 0);
    let m = spec(utc(2030, 5, 1, 0, 0), end).create(store);
    let now = utc(2030, 5, 1, 4, 0);
    store.expand_mailing(m.id, now).unwrap().unwrap();
    for row in f.rows(m.id) {
        row.assert_planned(now, end);
    }

    let changed = change(&f, m.id, &new_window("09:00", "21:00"), now);
    // Vladivostok (14:00) is inside the window already; whether its unchanged plan counts as
    // a change is the implementation's choice.
    assert!((2..=3).contains(&changed), "{changed}");
    f.row_for(m.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 6, 0), end);
    f.row_for(m.id, &vladivostok).assert_planned(now, end);
    f.row_for(m.id, &utc_client)
        .assert_planned(utc(2030, 5, 1, 9, 0), end);
    let schedule = store.get_mailing(m.id).unwrap().schedule;
    for client in [&moscow, &vladivostok, &utc_client] {
        let row = f.row_for(m.id, client);
        assert_eq!(
            plan_send(&schedule, client.time_zone.tz(), now),
            SendPlan::At {
                send_at: row.next_attempt_at.unwrap(),
                expires_at: row.expires_at.unwrap()
            }
        );
    }
}

each_backend!(an_earlier_end_expires_what_can_no_longer_be_sent);
fn an_earlier_end_expires_what_can_no_longer_be_sent(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let moscow = f.client(MOSCOW, "bln", &[]);
    let utc_client = f.client(UTC, "bln", &[]);
    let delivered = f.client(VLADIVOSTOK, "mts", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 3, 0, 0))
        .window("09:00", "21:00")
        .create(store);
    let start = utc(2030, 5, 1, 0, 0);
    store.expand_mailing(m.id, start).unwrap().unwrap();
    // One Vladivostok message is already delivered; it must stay so.
    let sent = f.row_for(m.id, &delivered).id();
    assert_eq!(store.claim_due(start, 10).unwrap().len(), 2);
    let vladivostok_id = f.row_for(m.id, &vladivostok).id();
    store.release(&[vladivostok_id], start).unwrap();
    store
        .record_outcomes(&[Outcome {
            message_id: sent,
            claimed_at: None,
            kind: OutcomeKind::Sent { at: start },
            text: None,
        }])
        .unwrap();
    let sent_before = f.row(sent);

    // Now 07:00 UTC ends it: Moscow's window (06:00 UTC) still opens, UTC's (09:00) no longer.
    let now = utc(2030, 5, 1, 0, 30);
    let new_end_at = utc(2030, 5, 1, 7, 0);
    assert_eq!(change(&f, m.id, &new_end(new_end_at), now), 3);

    f.row_for(m.id, &vladivostok)
        .assert_planned(now, new_end_at);
    f.row_for(m.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 6, 0), new_end_at);
    let late = f.row_for(m.id, &utc_client);
    late.assert_status(MessageStatus::Expired);
    assert_eq!((late.next_attempt_at, late.queued_at), (None, None));
    assert_eq!(
        late.last_error.as_deref(),
        Some(
            "the mailing ended before the client's send window opened (window 09:00\u{2013}21:00 UTC)"
        )
    );
    assert_eq!(f.row(sent), sent_before);
}

each_backend!(a_local_time_end_change_moves_each_zones_deadline);
fn a_local_time_end_change_moves_each_zones_deadline(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let moscow = f.client(MOSCOW, "bln", &[]);
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let utc_client = f.client(UTC, "bln", &[]);
    let m = spec(utc(2030, 5, 1, 10, 0), utc(2030, 5, 1, 12, 0))
        .local_time()
        .create(store);
    let now = utc(2030, 5, 1, 0, 30);
    store.expand_mailing(m.id, now).unwrap().unwrap();

    // 11:00 on every client's clock; the written offset is ignored with local_time.
    assert_eq!(change(&f, m.id, &new_end(utc(2030, 5, 1, 11, 0)), now), 3);
    f.row_for(m.id, &vladivostok)
        .assert_planned(now, utc(2030, 5, 1, 1, 0));
    f.row_for(m.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 7, 0), utc(2030, 5, 1, 8, 0));
    f.row_for(m.id, &utc_client)
        .assert_planned(utc(2030, 5, 1, 10, 0), utc(2030, 5, 1, 11, 0));

    // At 00:30 UTC it is 10:30 in Vladivostok: an end of 10:15 has passed there.
    let later = utc(2030, 5, 1, 0, 40);
    change(&f, m.id, &new_end(utc(2030, 5, 1, 10, 15)), later);
    let over = f.row_for(m.id, &vladivostok);
    over.assert_status(MessageStatus::Expired);
    assert_eq!(
        over.last_error.as_deref(),
        Some("the mailing ended before its turn came")
    );
    f.row_for(m.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 7, 0), utc(2030, 5, 1, 7, 15));
}

/// A mailing for one UTC client with its message failed once at 01:00, retried at `retry_at`.
fn retrying_message(f: &Fixture, retry_at: DateTime<Utc>) -> (MailingId, MessageId) {
    f.client(UTC, "bln", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 3, 0, 0)).create(&*f.store);
    let at = utc(2030, 5, 1, 1, 0);
    f.store.expand_mailing(m.id, at).unwrap().unwrap();
    let id = f.rows(m.id)[0].id();
    fail_once(f, at, &[(id, retry_at)]);
    (m.id, id)
}

each_backend!(a_retry_keeps_its_later_backoff);
fn a_retry_keeps_its_later_backoff(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let early = f.client(UTC, "bln", &[]);
    let late = f.client(UTC, "mts", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 3, 0, 0)).create(store);
    let at = utc(2030, 5, 1, 1, 0);
    store.expand_mailing(m.id, at).unwrap().unwrap();
    let early_id = f.row_for(m.id, &early).id();
    let late_id = f.row_for(m.id, &late).id();
    fail_once(
        &f,
        at,
        &[
            (early_id, utc(2030, 5, 1, 1, 30)),
            (late_id, utc(2030, 5, 1, 3, 0)),
        ],
    );

    // A window opening at 02:00 outranks the 01:30 backoff but not the 03:00 one.
    let end = utc(2030, 5, 2, 0, 0);
    let patch = MailingPatch {
        send_window: Some(Some(SendWindow::parse("02:00", "23:00").unwrap())),
        ..new_end(end)
    };
    assert_eq!(change(&f, m.id, &patch, utc(2030, 5, 1, 1, 10)), 2);
    let expected = [
        (early_id, utc(2030, 5, 1, 2, 0)),
        (late_id, utc(2030, 5, 1, 3, 0)),
    ];
    for (id, next) in expected {
        let row = f.row(id);
        assert_eq!(
            (
                row.next_attempt_at,
                row.expires_at,
                row.attempts,
                row.last_error.as_deref()
            ),
            (Some(next), Some(end), 1, Some("probe timed out")),
            "message {id}"
        );
    }
}

each_backend!(a_retry_keeps_its_backoff_through_two_replans);
/// Each replan must see the retry for what it is, or the second one forgets the backoff.
fn a_retry_keeps_its_backoff_through_two_replans(backend: Backend) {
    let f = Fixture::new(backend);
    let retry_at = utc(2030, 5, 1, 3, 0);
    let (m, id) = retrying_message(&f, retry_at);
    change(
        &f,
        m,
        &new_end(utc(2030, 5, 2, 0, 0)),
        utc(2030, 5, 1, 1, 10),
    );
    assert_eq!(f.row(id).next_attempt_at, Some(retry_at));
    change(
        &f,
        m,
        &new_end(utc(2030, 5, 2, 1, 0)),
        utc(2030, 5, 1, 1, 20),
    );
    assert_eq!(f.row(id).next_attempt_at, Some(retry_at));
}

each_backend!(a_replanned_retry_stays_retrying);
/// A replanned retry is still a retry: `retrying → scheduled` is not a transition the domain
/// allows (`MessageStatus::can_become`), and statistics would lose the failed attempt.
fn a_replanned_retry_stays_retrying(backend: Backend) {
    let f = Fixture::new(backend);
    let (m, id) = retrying_message(&f, utc(2030, 5, 1, 3, 0));
    change(
        &f,
        m,
        &new_end(utc(2030, 5, 2, 0, 0)),
        utc(2030, 5, 1, 1, 10),
    );
    f.row(id).assert_status(MessageStatus::Retrying);
}

each_backend!(a_retry_backoff_outside_a_new_window_waits_for_the_window);
/// A retry due after the new window closes waits for the window's next opening, exactly as
/// `plan_send` plans it from the backoff.
fn a_retry_backoff_outside_a_new_window_waits_for_the_window(backend: Backend) {
    let f = Fixture::new(backend);
    let retry_at = utc(2030, 5, 1, 21, 30);
    let (m, id) = retrying_message(&f, retry_at);
    let now = utc(2030, 5, 1, 20, 10);
    change(&f, m, &new_window("09:00", "21:00"), now);

    let schedule = f.store.get_mailing(m).unwrap().schedule;
    let SendPlan::At { send_at, .. } = plan_send(&schedule, zone(UTC).tz(), retry_at) else {
        panic!("the window opens again before the end");
    };
    assert_eq!(send_at, utc(2030, 5, 2, 9, 0));
    assert_eq!(f.row(id).next_attempt_at, Some(send_at));
}

each_backend!(a_retry_backoff_after_the_new_end_expires);
/// A retry whose backoff ends at or after the new end can never be sent, so replanning expires
/// it rather than leaving it waiting past its own deadline.
fn a_retry_backoff_after_the_new_end_expires(backend: Backend) {
    let f = Fixture::new(backend);
    let (m, id) = retrying_message(&f, utc(2030, 5, 1, 21, 30));
    change(
        &f,
        m,
        &new_end(utc(2030, 5, 1, 21, 0)),
        utc(2030, 5, 1, 20, 10),
    );
    let row = f.row(id);
    row.assert_status(MessageStatus::Expired);
    assert_eq!(row.next_attempt_at, None);
    assert_eq!(
        row.last_error.as_deref(),
        Some("no retry fits before the mailing's end; last attempt: probe timed out")
    );
}

each_backend!(a_claimed_message_gets_the_new_deadline_too);
/// A message a sender holds while the end moves earlier gets the new deadline too: if the
/// sender gives it back (release, a retry, a reclaim), it must not be handed out after the
/// mailing's new end.
fn a_claimed_message_gets_the_new_deadline_too(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(UTC, "bln", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 3, 0, 0)).create(store);
    let at = utc(2030, 5, 1, 1, 0);
    store.expand_mailing(m.id, at).unwrap().unwrap();
    let held = store.claim_due(at, 10).unwrap();
    assert_eq!(held.len(), 1);

    let end = utc(2030, 5, 1, 2, 0);
    change(&f, m.id, &new_end(end), utc(2030, 5, 1, 1, 5));
    f.row(held[0]).assert_status(MessageStatus::Queued);

    store.release(&held, utc(2030, 5, 1, 1, 10)).unwrap();
    let after_end = utc(2030, 5, 1, 3, 0);
    assert_eq!(
        store.claim_due(after_end, 10).unwrap(),
        vec![],
        "handed out after the mailing's end; stored deadline {:?}",
        f.row(held[0]).expires_at
    );
    assert_eq!(f.row(held[0]).expires_at, Some(end));
}

each_backend!(cancelled_or_deleted_mailings_are_not_replanned);
fn cancelled_or_deleted_mailings_are_not_replanned(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(MOSCOW, "bln", &[]);
    let mailing = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 3, 0, 0));
    let now = utc(2030, 5, 1, 1, 0);
    let cancelled = mailing.create(store).id;
    let deleted = mailing.create(store).id;
    for id in [cancelled, deleted] {
        store.expand_mailing(id, now).unwrap().unwrap();
    }
    store.cancel_mailing(cancelled, now).unwrap();
    store.delete_mailing(deleted, now).unwrap();
    let before = (f.rows(cancelled), f.rows(deleted));

    assert_eq!(store.replan_mailing(cancelled, now).unwrap(), 0);
    assert_eq!(store.replan_mailing(deleted, now).unwrap(), 0);
    assert_eq!(store.replan_mailing(MailingId(999), now).unwrap(), 0);
    assert_eq!((f.rows(cancelled), f.rows(deleted)), before);
}
