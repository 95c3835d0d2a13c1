//! Statistics read the counts the database keeps as messages are written (`message_counts`):
//! after every kind of change they must equal counting the messages themselves.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::store::{MailingPatch, Outcome, OutcomeKind, StatusCounts};
use mailing_domain::{ExpiryReason, MailingId, MessageId, MessageStatus};
use std::sync::Barrier;

/// The counts of `mailing` as a GROUP BY over its messages finds them.
fn counted(f: &Fixture, mailing: MailingId) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for status in MessageStatus::ALL {
        let count = f.db.count(&format!(
            "SELECT count(*) AS count FROM messages WHERE mailing_id = {} AND status = '{}'",
            mailing.0,
            status.as_str()
        ));
        counts.set(status, u64::try_from(count).unwrap());
    }
    counts
}

/// The counts of `mailing` as `message_counts` holds them, summed by hand.
fn stored(f: &Fixture, mailing: MailingId) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for status in MessageStatus::ALL {
        let count = f.db.count(&format!(
            "SELECT CAST(COALESCE(SUM(messages), 0) AS BIGINT) AS count FROM message_counts
             WHERE mailing_id = {} AND status = '{}'",
            mailing.0,
            status.as_str()
        ));
        counts.set(status, u64::try_from(count).unwrap());
    }
    counts
}

fn deleted(f: &Fixture, mailing: MailingId) -> bool {
    f.db.count(&format!(
        "SELECT count(*) AS count FROM mailings WHERE id = {} AND deleted_at IS NOT NULL",
        mailing.0
    )) > 0
}

/// Fails unless the counts kept for each of `mailings` equal counting their messages, and the
/// store shows them, asked one by one and all at once (a deleted mailing's as none); returns
/// those counts.
#[track_caller]
fn assert_counts_match(f: &Fixture, mailings: &[MailingId]) -> Vec<StatusCounts> {
    let together = f.store.count_messages_of(mailings).unwrap();
    mailings
        .iter()
        .map(|&mailing| {
            let expected = counted(f, mailing);
            assert_eq!(stored(f, mailing), expected, "mailing {mailing} as kept");
            let shown = if deleted(f, mailing) {
                StatusCounts::default()
            } else {
                expected
            };
            assert_eq!(
                f.store.count_messages(mailing).unwrap(),
                shown,
                "mailing {mailing}"
            );
            assert_eq!(
                together.get(&mailing).copied(),
                (shown.total() > 0).then_some(shown),
                "mailing {mailing} among {mailings:?}"
            );
            expected
        })
        .collect()
}

fn outcome(id: MessageId, kind: OutcomeKind) -> Outcome {
    Outcome {
        message_id: id,
        claimed_at: None,
        kind,
        text: None,
    }
}

each_backend!(counts_follow_every_change_of_a_message);
fn counts_follow_every_change_of_a_message(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let moscow: Vec<_> = (0..8).map(|_| f.client(MOSCOW, "bln", &[])).collect();
    let vladivostok: Vec<_> = (0..3).map(|_| f.client(VLADIVOSTOK, "mts", &[])).collect();
    // 05-01 00:00 to 05-02 00:00 UTC for everyone.
    let day = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0))
        .create(store)
        .id;
    // 00:00 to 01:00 UTC, 09:00 to 21:00 local: Vladivostok (UTC+10) is inside its window,
    // Moscow (UTC+3) never gets there before the end, so its messages are born expired.
    let hour = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 1, 1, 0))
        .window("09:00", "21:00")
        .create(store)
        .id;
    let both = [day, hour];
    let now = utc(2030, 5, 1, 0, 30);

    // Expansion.
    store.expand_mailing(day, now).unwrap().unwrap();
    let expansion = store.expand_mailing(hour, now).unwrap().unwrap();
    assert_eq!((expansion.scheduled, expansion.expired), (3, 8));
    let counts = assert_counts_match(&f, &both);
    assert_eq!(counts[0].get(MessageStatus::Scheduled), 11);
    assert_eq!(counts[1].get(MessageStatus::Expired), 8);

    // Claims, then every outcome a sender writes.
    let claimed = store.claim_due(now, 9).unwrap();
    assert_eq!(claimed.len(), 9);
    assert_counts_match(&f, &both);
    let later = now + Duration::minutes(1);
    let kinds = [
        OutcomeKind::Sent { at: later },
        OutcomeKind::Sent { at: later },
        OutcomeKind::Retry {
            error: "probe answered 503".to_owned(),
            next_attempt_at: later,
        },
        OutcomeKind::Failed {
            error: "probe answered 400".to_owned(),
        },
        OutcomeKind::Deferred {
            next_attempt_at: later,
        },
        OutcomeKind::Expired {
            reason: ExpiryReason::EndedBeforeTurn,
        },
        OutcomeKind::Cancelled,
    ];
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .zip(kinds)
        .map(|(&id, kind)| outcome(id, kind))
        .collect();
    assert_eq!(store.record_outcomes(&outcomes).unwrap().len(), 7);
    assert_counts_match(&f, &both);

    // Two claims are still out: one is handed back, the other taken back after its lease.
    store.release(&claimed[7..8], later).unwrap();
    assert_counts_match(&f, &both);
    assert_eq!(store.reclaim_stale(later, later).unwrap(), 1);
    assert_counts_match(&f, &both);

    // A retry, claimed and recorded again; then the retrying ones replanned by an earlier end.
    let retried = store.claim_due(later, 100).unwrap();
    let retry_at = later + Duration::minutes(5);
    let retries: Vec<Outcome> = retried
        .iter()
        .map(|&id| {
            outcome(
                id,
                OutcomeKind::Retry {
                    error: "probe timed out".to_owned(),
                    next_attempt_at: retry_at,
                },
            )
        })
        .collect();
    store.record_outcomes(&retries).unwrap();
    assert_counts_match(&f, &both);
    let patch = MailingPatch {
        end_at: Some(utc(2030, 5, 1, 0, 33).fixed_offset()),
        ..MailingPatch::default()
    };
    store.update_mailing(day, &patch, later).unwrap();
    store.replan_mailing(day, later).unwrap();
    assert_counts_match(&f, &both);

    // The deadline passes for what still waits.
    assert!(store.expire_overdue(utc(2030, 5, 1, 2, 0)).unwrap() > 0);
    let counts = assert_counts_match(&f, &both);
    assert_eq!(counts[0].get(MessageStatus::Scheduled), 0);

    // Messages inserted one by one, then a deleted client: its unsent messages are cancelled.
    let third = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0))
        .create(store)
        .id;
    let mailings = [day, hour, third];
    let batch: Vec<_> = moscow
        .iter()
        .chain(&vladivostok)
        .map(|client| new_message(third, client.id, MessageStatus::Scheduled))
        .collect();
    assert_eq!(store.insert_messages(&batch).unwrap(), 11);
    assert_counts_match(&f, &mailings);
    store.delete_client(vladivostok[0].id).unwrap();
    let counts = assert_counts_match(&f, &mailings);
    assert_eq!(counts[2].get(MessageStatus::Cancelled), 1);

    // Cancelling one mailing, deleting another (its messages stay in the database, counted,
    // though no read shows them).
    store.cancel_mailing(third, later).unwrap();
    let counts = assert_counts_match(&f, &mailings);
    assert_eq!(counts[2].get(MessageStatus::Cancelled), 11);
    store.delete_mailing(hour, later).unwrap();
    assert_counts_match(&f, &mailings);

    // Rows removed by hand, and a mailing deleted for good with its messages.
    f.db.execute(&format!(
        "DELETE FROM messages WHERE mailing_id = {} AND status = 'sent'",
        day.0
    ))
    .unwrap();
    assert_counts_match(&f, &mailings);
    f.db.execute(&format!("DELETE FROM mailings WHERE id = {}", third.0))
        .unwrap();
    let counts = assert_counts_match(&f, &mailings);
    assert_eq!(counts[2].total(), 0);
    let left = format!(
        "SELECT count(*) AS count FROM message_counts WHERE mailing_id = {}",
        third.0
    );
    assert_eq!(f.db.count(&left), 0);
}

each_backend!(a_mailing_written_by_many_statements_keeps_a_few_count_rows);
/// PostgreSQL adds a row per statement and folds them now and then; SQLite keeps one per
/// status. Either way a busy mailing's counts stay a handful of rows.
fn a_mailing_written_by_many_statements_keeps_a_few_count_rows(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.bulk_clients(200, UTC);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0))
        .create(store)
        .id;
    let now = utc(2030, 5, 1, 1, 0);
    store.expand_mailing(m, now).unwrap().unwrap();
    for _ in 0..100 {
        let claimed = store.claim_due(now, 2).unwrap();
        let sent = outcome(claimed[0], OutcomeKind::Sent { at: now });
        store.record_outcomes(&[sent]).unwrap();
    }
    let counts = assert_counts_match(&f, &[m]);
    assert_eq!(counts[0].get(MessageStatus::Sent), 100);
    assert_eq!(counts[0].get(MessageStatus::Queued), 100);
    let rows = f.db.count(&format!(
        "SELECT count(*) AS count FROM message_counts WHERE mailing_id = {}",
        m.0
    ));
    assert!(rows <= 40, "{rows} rows");
}

each_backend!(concurrent_claims_and_outcomes_keep_the_counts_exact);
/// Schedulers claiming and senders recording outcomes at once, all on one mailing: no call fails
/// (a deadlock on counters would fail one), and the counts come out exact.
fn concurrent_claims_and_outcomes_keep_the_counts_exact(backend: Backend) {
    const WORKERS: usize = 4;
    const ROUNDS: usize = 25;
    let f = Fixture::new(backend);
    f.bulk_clients(2_000, UTC);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0))
        .create(&*f.store)
        .id;
    let now = utc(2030, 5, 1, 1, 0);
    f.store.expand_mailing(m, now).unwrap().unwrap();
    let start = Barrier::new(WORKERS);
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let store = &f.store;
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for round in 0..ROUNDS {
                    let claimed = store.claim_due(now, 20).unwrap();
                    let outcomes: Vec<Outcome> = claimed
                        .iter()
                        .enumerate()
                        .map(|(i, &id)| outcome(id, kind_for(worker + round + i, now)))
                        .collect();
                    store.record_outcomes(&outcomes).unwrap();
                }
            });
        }
    });
    let counts = assert_counts_match(&f, &[m]);
    assert_eq!(counts[0].total(), 2_000);
    assert_eq!(counts[0].get(MessageStatus::Queued), 0);
}

/// A mix of outcomes, chosen by `n`.
fn kind_for(n: usize, now: DateTime<Utc>) -> OutcomeKind {
    match n % 4 {
        0 | 1 => OutcomeKind::Sent { at: now },
        2 => OutcomeKind::Retry {
            error: "probe timed out".to_owned(),
            next_attempt_at: now + Duration::hours(1),
        },
        _ => OutcomeKind::Failed {
            error: "probe answered 400".to_owned(),
        },
    }
}
