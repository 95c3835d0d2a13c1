//! The frequency cap's check right before an attempt (`hold_for_cap`): a client's deliveries
//! within the span and its messages held for an attempt count, one client at a time across
//! every sender, and the claim forgets an old hold.

use crate::backend::{Backend, NewRow, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::store::{CapHold, Client, Outcome, OutcomeKind, Store};
use mailing_domain::{FrequencyCap, MailingId, MessageId, MessageStatus};
use std::sync::Barrier;

fn now() -> DateTime<Utc> {
    utc(2030, 5, 1, 12, 0)
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn cap(max: u32, per_hours: u32) -> FrequencyCap {
    FrequencyCap::new(max, per_hours).unwrap()
}

/// A mailing to hang messages on; one client has at most one message per mailing, so each
/// message of a client needs a mailing of its own.
fn host(f: &Fixture) -> MailingId {
    mailing(&*f.store).id
}

/// A message of `mailing` for `client`, queued under the claim `claimed_at`.
fn queued(
    f: &Fixture,
    mailing: MailingId,
    client: &Client,
    claimed_at: DateTime<Utc>,
) -> MessageId {
    f.db.insert_message(
        mailing,
        client.id,
        &NewRow {
            status: MessageStatus::Queued,
            next_attempt_at: Some(claimed_at),
            expires_at: Some(claimed_at + hours(6)),
            queued_at: Some(claimed_at),
            sent_at: None,
        },
    )
}

/// A message delivered to `client` at `at`, from a mailing of its own.
fn delivered(f: &Fixture, client: &Client, at: DateTime<Utc>) -> MessageId {
    f.db.insert_message(
        host(f),
        client.id,
        &NewRow {
            status: MessageStatus::Sent,
            next_attempt_at: Some(at),
            expires_at: None,
            queued_at: None,
            sent_at: Some(at),
        },
    )
}

/// Messages held for an attempt by a cap, anywhere.
fn holds(f: &Fixture) -> i64 {
    f.db.count("SELECT count(*) AS count FROM messages WHERE cap_held_at IS NOT NULL")
}

fn held(f: &Fixture, id: MessageId) -> bool {
    f.db.count(&format!(
        "SELECT count(*) AS count FROM messages WHERE id = {id} AND cap_held_at IS NOT NULL"
    )) == 1
}

fn deferrals(store: &dyn Store, id: MailingId) -> u64 {
    store.get_mailing(id).unwrap().cap_deferrals
}

each_backend!(the_cap_lets_messages_through_until_full_then_says_until_when);
fn the_cap_lets_messages_through_until_full_then_says_until_when(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    // Delivered 3 and 1 hours ago, and once more long ago, which no longer counts.
    delivered(&f, &client, now() - hours(3));
    delivered(&f, &client, now() - hours(1));
    delivered(&f, &client, now() - hours(30));
    // Someone else's deliveries do not count either.
    let other = f.client(UTC, "bln", &[]);
    for h in 1..=3 {
        delivered(&f, &other, now() - hours(h));
    }
    let m = host(&f);
    let message = queued(&f, m, &client, now());

    assert_eq!(
        store
            .hold_for_cap(message, now(), cap(2, 24), now())
            .unwrap(),
        CapHold::Wait {
            until: now() - hours(3) + hours(24)
        }
    );
    assert!(!held(&f, message));
    assert_eq!(deferrals(store, m), 1);
    assert_eq!(
        store
            .hold_for_cap(message, now(), cap(1, 2), now())
            .unwrap(),
        CapHold::Wait {
            until: now() - hours(1) + hours(2)
        }
    );
    assert_eq!(deferrals(store, m), 2);

    // Three a day, or two in the last two hours: room for one more.
    for room in [cap(3, 24), cap(2, 2)] {
        assert_eq!(
            store.hold_for_cap(message, now(), room, now()).unwrap(),
            CapHold::Held
        );
        assert!(held(&f, message));
    }
    assert_eq!(deferrals(store, m), 2);
    assert_eq!(holds(&f), 1);
    // The row is still queued under its claim, as the sender expects.
    f.row(message).assert_status(MessageStatus::Queued);
    assert_eq!(f.row(message).queued_at, Some(now()));
}

each_backend!(a_held_message_counts_until_its_outcome_is_written);
fn a_held_message_counts_until_its_outcome_is_written(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    let (a, b) = (host(&f), host(&f));
    let first = queued(&f, a, &client, now());
    let second = queued(&f, b, &client, now());
    let one_a_day = cap(1, 24);

    assert_eq!(
        store.hold_for_cap(first, now(), one_a_day, now()).unwrap(),
        CapHold::Held
    );
    // The first is on its way: the second waits for its outcome, not a whole day.
    assert_eq!(
        store.hold_for_cap(second, now(), one_a_day, now()).unwrap(),
        CapHold::Wait {
            until: now() + FrequencyCap::IN_FLIGHT_WAIT
        }
    );
    assert_eq!((deferrals(store, a), deferrals(store, b)), (0, 1));
    // Checking the held one again does not count it against itself.
    assert_eq!(
        store.hold_for_cap(first, now(), one_a_day, now()).unwrap(),
        CapHold::Held
    );

    // It failed for now: it no longer counts, and the second may go.
    let retry_at = now() + Duration::minutes(5);
    store
        .record_outcomes(&[Outcome {
            message_id: first,
            claimed_at: Some(now()),
            kind: OutcomeKind::Retry {
                error: "probe answered 503".to_owned(),
                next_attempt_at: retry_at,
            },
            text: None,
        }])
        .unwrap();
    assert_eq!(
        store.hold_for_cap(second, now(), one_a_day, now()).unwrap(),
        CapHold::Held
    );
    // The second was delivered: the first, claimed again, waits a day from that delivery.
    let sent_at = now() + Duration::minutes(1);
    store
        .record_outcomes(&[Outcome {
            message_id: second,
            claimed_at: Some(now()),
            kind: OutcomeKind::Sent { at: sent_at },
            text: None,
        }])
        .unwrap();
    assert_eq!(store.claim_due(retry_at, 10).unwrap(), vec![first]);
    assert_eq!(
        store
            .hold_for_cap(first, retry_at, one_a_day, retry_at)
            .unwrap(),
        CapHold::Wait {
            until: sent_at + hours(24)
        }
    );
    assert_eq!(deferrals(store, a), 1);
}

each_backend!(a_message_no_longer_queued_under_the_claim_is_gone);
fn a_message_no_longer_queued_under_the_claim_is_gone(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    let m = host(&f);
    let message = queued(&f, m, &client, now());
    let any = cap(1, 24);

    // Claimed again since (another claim time), never there, or no longer queued.
    let earlier = now() - Duration::minutes(1);
    assert_eq!(
        store.hold_for_cap(message, earlier, any, now()).unwrap(),
        CapHold::Gone
    );
    assert_eq!(
        store
            .hold_for_cap(MessageId(999_999), now(), any, now())
            .unwrap(),
        CapHold::Gone
    );
    let waiting = f.seed(
        m,
        Seed::waiting(MessageStatus::Scheduled, now(), now() + hours(1)),
    );
    assert_eq!(
        store.hold_for_cap(waiting, now(), any, now()).unwrap(),
        CapHold::Gone
    );
    // Its client was deleted (which cancels it too).
    store.delete_client(client.id).unwrap();
    assert_eq!(
        store.hold_for_cap(message, now(), any, now()).unwrap(),
        CapHold::Gone
    );
    assert_eq!(holds(&f), 0);
    assert_eq!(deferrals(store, m), 0);
}

each_backend!(the_claim_forgets_an_old_hold);
fn the_claim_forgets_an_old_hold(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    let message = queued(&f, host(&f), &client, now());
    assert_eq!(
        store
            .hold_for_cap(message, now(), cap(1, 24), now())
            .unwrap(),
        CapHold::Held
    );
    // Handed back without an attempt (its sender stopped), then claimed again.
    assert_eq!(store.release(&[message], now()).unwrap(), 1);
    let later = now() + Duration::minutes(1);
    assert_eq!(store.claim_due(later, 10).unwrap(), vec![message]);
    assert!(!held(&f, message));
    // So it does not stand in its own way, nor in another's.
    let other = queued(&f, host(&f), &client, later);
    assert_eq!(
        store.hold_for_cap(other, later, cap(1, 24), later).unwrap(),
        CapHold::Held
    );
}

each_backend!(two_senders_checking_one_clients_cap_at_once_let_one_message_through);
fn two_senders_checking_one_clients_cap_at_once_let_one_message_through(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let one_a_day = cap(1, 24);
    for round in 0..10 {
        let client = f.client(UTC, "bln", &[]);
        // Two mailings running at once, each with a message for the client.
        let pair = [
            queued(&f, host(&f), &client, now()),
            queued(&f, host(&f), &client, now()),
        ];
        let go = Barrier::new(2);
        let verdicts: Vec<CapHold> = std::thread::scope(|s| {
            let senders: Vec<_> = pair
                .iter()
                .map(|&message| {
                    let go = &go;
                    s.spawn(move || {
                        go.wait();
                        store
                            .hold_for_cap(message, now(), one_a_day, now())
                            .unwrap()
                    })
                })
                .collect();
            senders.into_iter().map(|s| s.join().unwrap()).collect()
        });
        let through = verdicts.iter().filter(|v| **v == CapHold::Held).count();
        assert_eq!(through, 1, "round {round}: {verdicts:?}");
        assert!(
            verdicts.contains(&CapHold::Wait {
                until: now() + FrequencyCap::IN_FLIGHT_WAIT
            }),
            "round {round}: {verdicts:?}"
        );
        assert_eq!(
            pair.iter().filter(|&&id| held(&f, id)).count(),
            1,
            "round {round}"
        );
    }
}

each_backend!(a_delivery_written_during_anothers_check_is_counted_either_as_in_flight_or_as_sent);
fn a_delivery_written_during_anothers_check_is_counted_either_as_in_flight_or_as_sent(
    backend: Backend,
) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let one_a_day = cap(1, 24);
    // The outcome's commit has to land inside the other check to catch a check that reads the
    // deliveries and the messages in flight apart; many rounds make that likely.
    for round in 0..200 {
        let client = f.client(UTC, "bln", &[]);
        let first = queued(&f, host(&f), &client, now());
        let second = queued(&f, host(&f), &client, now());
        assert_eq!(
            store.hold_for_cap(first, now(), one_a_day, now()).unwrap(),
            CapHold::Held
        );
        let go = Barrier::new(2);
        let verdict = std::thread::scope(|s| {
            let go = &go;
            s.spawn(move || {
                go.wait();
                store
                    .record_outcomes(&[Outcome {
                        message_id: first,
                        claimed_at: Some(now()),
                        kind: OutcomeKind::Sent { at: now() },
                        text: None,
                    }])
                    .unwrap();
            });
            let check = s.spawn(move || {
                go.wait();
                store.hold_for_cap(second, now(), one_a_day, now()).unwrap()
            });
            check.join().unwrap()
        });
        assert_ne!(
            verdict,
            CapHold::Held,
            "round {round}: the first message was in flight or delivered, never neither"
        );
    }
}
