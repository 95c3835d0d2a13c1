//! What senders read and write: send tasks, and outcomes of claimed messages.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::store::{Client, MailingPatch, MailingState, Outcome, OutcomeKind, SendTask};
use mailing_domain::{ExpiryReason, MailingId, MailingText, MessageId, MessageStatus};
use std::collections::HashMap;

/// A running mailing (05-01 00:00 to 05-02 00:00 UTC, no window) expanded at `expand_at()`.
fn running(f: &Fixture) -> MailingId {
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).create(&*f.store);
    f.store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    m.id
}

fn expand_at() -> DateTime<Utc> {
    utc(2030, 5, 1, 1, 0)
}

fn outcome(id: MessageId, kind: OutcomeKind) -> Outcome {
    Outcome {
        message_id: id,
        claimed_at: None,
        kind,
        text: None,
    }
}

fn task(f: &Fixture, id: MessageId) -> SendTask {
    let mut tasks = f.store.load_for_send(&[id]).unwrap();
    assert_eq!(tasks.len(), 1);
    tasks.remove(0)
}

each_backend!(load_for_send_returns_everything_a_sender_needs);
fn load_for_send_returns_everything_a_sender_needs(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(VLADIVOSTOK, "bln", &[]);
    let mailing = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).window("09:00", "21:00");
    let m = mailing.create(store);
    store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    let id = f.rows(m.id)[0].id();

    let tasks = store.load_for_send(&[id, MessageId(999_999)]).unwrap();
    assert_eq!(
        tasks,
        vec![SendTask {
            message_id: id,
            mailing_id: m.id,
            client_id: Some(client.id),
            status: MessageStatus::Scheduled,
            queued_at: None,
            attempts: 0,
            last_error: None,
            phone: Some(client.phone.clone()),
            opted_out: false,
            time_zone: Some(client.time_zone),
            operator_code: Some(client.operator_code.clone()),
            attributes: client.attributes.clone(),
            text: MailingText::parse("Hello from the pipeline").unwrap(),
            sent_text: None,
            schedule: mailing.schedule(),
            mailing_active: true,
            mailing_paused: false,
            frequency_cap: None,
            auto_pause: Default::default(),
        }]
    );
    assert!(store.load_for_send(&[]).unwrap().is_empty());

    store.claim_due(expand_at(), 10).unwrap();
    let retry_at = expand_at() + Duration::minutes(5);
    store
        .record_outcomes(&[outcome(
            id,
            OutcomeKind::Retry {
                error: "502".to_owned(),
                next_attempt_at: retry_at,
            },
        )])
        .unwrap();
    store.claim_due(retry_at, 10).unwrap();
    let claimed = task(&f, id);
    assert_eq!(
        (
            claimed.status,
            claimed.attempts,
            claimed.last_error.as_deref()
        ),
        (MessageStatus::Queued, 1, Some("502"))
    );

    store.cancel_mailing(m.id, retry_at).unwrap();
    let cancelled = task(&f, id);
    assert_eq!(
        (cancelled.status, cancelled.mailing_active),
        (MessageStatus::Cancelled, false)
    );
}

each_backend!(load_for_send_after_the_mailing_or_client_is_deleted);
fn load_for_send_after_the_mailing_or_client_is_deleted(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let kept = f.client(MOSCOW, "bln", &[]);
    let leaving = f.client(MOSCOW, "mts", &[]);
    let m = running(&f);
    let kept_id = f.row_for(m, &kept).id();
    let leaving_id = f.row_for(m, &leaving).id();

    store.delete_client(leaving.id).unwrap();
    let orphan = task(&f, leaving_id);
    // The number stays with the message; the zone went with the client.
    assert_eq!(
        (
            orphan.client_id,
            orphan.phone,
            orphan.time_zone,
            orphan.status
        ),
        (None, Some(leaving.phone), None, MessageStatus::Cancelled)
    );
    assert!(orphan.mailing_active);

    store.delete_mailing(m, expand_at()).unwrap();
    let hidden = task(&f, kept_id);
    assert_eq!(
        (hidden.mailing_active, hidden.status, hidden.phone),
        (false, MessageStatus::Cancelled, Some(kept.phone))
    );
}

each_backend!(mailing_states_read_the_current_schedule);
fn mailing_states_read_the_current_schedule(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let windowed = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).window("09:00", "18:00");
    let local = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).local_time();
    let (w, l) = (windowed.create(store).id, local.create(store).id);
    let states = |ids: &[MailingId]| {
        let mut states = store.mailing_states(ids).unwrap();
        states.sort_by_key(|state| state.id);
        states
    };
    let state = |id, spec: &Spec, active| MailingState {
        id,
        schedule: spec.schedule(),
        active,
        paused: false,
        frequency_cap: None,
        auto_pause: Default::default(),
    };
    assert_eq!(
        states(&[w, l, MailingId(999_999)]),
        vec![state(w, &windowed, true), state(l, &local, true)]
    );
    assert!(states(&[]).is_empty());

    // The window goes, the mailing is cancelled; the other one is deleted and disappears.
    let before = utc(2030, 4, 1, 0, 0);
    let unwindowed = MailingPatch {
        send_window: Some(None),
        ..MailingPatch::default()
    };
    store.update_mailing(w, &unwindowed, before).unwrap();
    store.cancel_mailing(w, before).unwrap();
    store.delete_mailing(l, before).unwrap();
    assert_eq!(
        states(&[w, l]),
        vec![state(
            w,
            &spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)),
            false
        )]
    );
}

each_backend!(id_lists_longer_than_a_statement_binds_are_read_and_released);
/// SQLite binds each id of a list as a parameter of its own, and a statement takes 32,766.
fn id_lists_longer_than_a_statement_binds_are_read_and_released(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(UTC, "bln", &[]);
    let m = running(&f);
    let id = f.rows(m)[0].id();
    let absent = 1_000_000..1_040_000;
    let messages: Vec<MessageId> = absent.clone().map(MessageId).chain([id]).collect();
    let mailings: Vec<MailingId> = absent.map(MailingId).chain([m]).collect();
    assert_eq!(store.load_for_send(&messages).unwrap().len(), 1);
    assert_eq!(store.mailing_states(&mailings).unwrap().len(), 1);
    assert_eq!(store.claim_due(expand_at(), 10).unwrap(), vec![id]);
    assert_eq!(store.release(&messages, expand_at()).unwrap(), 1);
}

each_backend!(each_outcome_sets_its_columns_and_ends_the_claim);
fn each_outcome_sets_its_columns_and_ends_the_claim(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let clients: [Client; 7] = std::array::from_fn(|_| f.client(UTC, "bln", &[]));
    let m = running(&f);
    let now = expand_at();
    let [sent, retry, failed, deferred, expired, ran_out, cancelled] =
        clients.each_ref().map(|c| f.row_for(m, c).id());
    assert_eq!(store.claim_due(now, 10).unwrap().len(), 7);

    let sent_at = now + Duration::seconds(2);
    let retry_at = now + Duration::minutes(5);
    let defer_to = now + Duration::hours(2);
    let outcomes = vec![
        outcome(sent, OutcomeKind::Sent { at: sent_at }),
        outcome(
            retry,
            OutcomeKind::Retry {
                error: "probe answered 503".to_owned(),
                next_attempt_at: retry_at,
            },
        ),
        outcome(
            failed,
            OutcomeKind::Failed {
                error: "probe answered 400".to_owned(),
            },
        ),
        outcome(
            deferred,
            OutcomeKind::Deferred {
                next_attempt_at: defer_to,
            },
        ),
        outcome(
            expired,
            OutcomeKind::Expired {
                reason: ExpiryReason::EndedBeforeTurn,
            },
        ),
        // This attempt failed and no retry fits before the end.
        outcome(
            ran_out,
            OutcomeKind::Expired {
                reason: ExpiryReason::NoRetryFits {
                    last_error: "probe answered 502".to_owned(),
                },
            },
        ),
        outcome(cancelled, OutcomeKind::Cancelled),
    ];
    let written = store.record_outcomes(&outcomes).unwrap();
    assert_eq!(
        sorted(written),
        sorted(vec![
            sent, retry, failed, deferred, expired, ran_out, cancelled
        ])
    );

    // (status, attempts, last_error, next_attempt_at, sent_at)
    let expected = [
        (sent, ("sent", 1, None, None, Some(sent_at))),
        (
            retry,
            (
                "retrying",
                1,
                Some("probe answered 503"),
                Some(retry_at),
                None,
            ),
        ),
        (
            failed,
            ("failed", 1, Some("probe answered 400"), None, None),
        ),
        (deferred, ("scheduled", 0, None, Some(defer_to), None)),
        (
            expired,
            (
                "expired",
                0,
                Some("the mailing ended before its turn came"),
                None,
                None,
            ),
        ),
        (
            ran_out,
            (
                "expired",
                1,
                Some("no retry fits before the mailing's end; last attempt: probe answered 502"),
                None,
                None,
            ),
        ),
        (cancelled, ("cancelled", 0, None, None, None)),
    ];
    for (id, want) in expected {
        let row = f.row(id);
        let got = (
            row.status.as_str(),
            row.attempts,
            row.last_error.as_deref(),
            row.next_attempt_at,
            row.sent_at,
        );
        assert_eq!(got, want, "message {id}");
        assert_eq!(row.queued_at, None, "message {id} is no longer claimed");
    }

    // The retry comes round again, is deferred, then delivered: the error of the failed
    // attempt stays until a delivery clears it, and only attempts count.
    assert_eq!(store.claim_due(retry_at, 10).unwrap(), vec![retry]);
    let open_again = retry_at + Duration::minutes(10);
    store
        .record_outcomes(&[outcome(
            retry,
            OutcomeKind::Deferred {
                next_attempt_at: open_again,
            },
        )])
        .unwrap();
    let row = f.row(retry);
    assert_eq!(
        (row.status.as_str(), row.attempts, row.last_error.as_deref()),
        ("scheduled", 1, Some("probe answered 503"))
    );
    assert_eq!(store.claim_due(open_again, 10).unwrap(), vec![retry]);
    store
        .record_outcomes(&[outcome(retry, OutcomeKind::Sent { at: open_again })])
        .unwrap();
    let row = f.row(retry);
    assert_eq!(
        (
            row.status.as_str(),
            row.attempts,
            row.last_error,
            row.sent_at
        ),
        ("sent", 2, None, Some(open_again))
    );
    assert_eq!(f.claim_mismatches(), 0);
}

each_backend!(outcomes_land_only_on_their_claim_but_deliveries_always_do);
fn outcomes_land_only_on_their_claim_but_deliveries_always_do(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(UTC, "bln", &[]);
    let cancelled_mailing = running(&f);
    let now = expand_at();
    let withdrawn = f.rows(cancelled_mailing)[0].id();
    let live = running(&f);
    let live_id = f.rows(live)[0].id();
    assert_eq!(store.claim_due(now, 10).unwrap().len(), 2);
    // Cancelled while a sender held it.
    store.cancel_mailing(cancelled_mailing, now).unwrap();
    let delivered_at = now + Duration::seconds(1);
    let first = store
        .record_outcomes(&[
            outcome(withdrawn, OutcomeKind::Sent { at: delivered_at }),
            outcome(live_id, OutcomeKind::Sent { at: delivered_at }),
            outcome(MessageId(999_999), OutcomeKind::Sent { at: delivered_at }),
        ])
        .unwrap();
    // The probe accepted the withdrawn one while the cancel ran: the statistics say so.
    let mut first = first;
    first.sort();
    let mut expected = vec![withdrawn, live_id];
    expected.sort();
    assert_eq!(first, expected);
    let row = f.row(withdrawn);
    row.assert_status(MessageStatus::Sent);
    assert_eq!((row.attempts, row.sent_at), (1, Some(delivered_at)));

    // An outcome from a job whose claim was taken back and renewed lands nowhere.
    let reclaimed = running(&f);
    let reclaimed_id = f.rows(reclaimed)[0].id();
    let old_claim = now + Duration::seconds(2);
    store.claim_due(old_claim, 10).unwrap();
    store
        .reclaim_stale(old_claim + Duration::seconds(1), old_claim)
        .unwrap();
    store
        .claim_due(old_claim + Duration::seconds(5), 10)
        .unwrap();
    let stale = store
        .record_outcomes(&[Outcome {
            message_id: reclaimed_id,
            claimed_at: Some(old_claim),
            kind: OutcomeKind::Retry {
                error: "500".to_owned(),
                next_attempt_at: old_claim + Duration::minutes(1),
            },
            text: None,
        }])
        .unwrap();
    assert!(stale.is_empty());
    f.row(reclaimed_id).assert_status(MessageStatus::Queued);

    // A second sender reporting on the same message changes nothing.
    let delivered = f.row(live_id);
    let again = store
        .record_outcomes(&[outcome(
            live_id,
            OutcomeKind::Failed {
                error: "late duplicate".to_owned(),
            },
        )])
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(f.row(live_id), delivered);

    // Never claimed: still waiting for its turn.
    let waiting = running(&f);
    let waiting_id = f.rows(waiting)[0].id();
    let before = f.row(waiting_id);
    assert!(
        store
            .record_outcomes(&[outcome(
                waiting_id,
                OutcomeKind::Expired {
                    reason: ExpiryReason::EndedBeforeTurn
                }
            )])
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.row(waiting_id), before);
    assert!(store.record_outcomes(&[]).unwrap().is_empty());
}

each_backend!(duplicate_outcomes_in_one_batch_write_one);
fn duplicate_outcomes_in_one_batch_write_one(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(UTC, "bln", &[]);
    let m = running(&f);
    let id = f.rows(m)[0].id();
    store.claim_due(expand_at(), 10).unwrap();
    let at = expand_at() + Duration::seconds(1);
    let written = store
        .record_outcomes(&[
            outcome(
                id,
                OutcomeKind::Retry {
                    error: "timeout".to_owned(),
                    next_attempt_at: at + Duration::minutes(1),
                },
            ),
            outcome(id, OutcomeKind::Sent { at }),
            outcome(id, OutcomeKind::Sent { at }),
        ])
        .unwrap();
    assert_eq!(written, vec![id]);
    let row = f.row(id);
    assert_eq!(row.attempts, 1, "one attempt recorded: {row:?}");
    assert!(row.status == "sent" || row.status == "retrying", "{row:?}");
    assert_eq!(row.queued_at, None);
}

each_backend!(five_thousand_outcomes_in_one_call);
fn five_thousand_outcomes_in_one_call(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.bulk_clients(5_000, UTC);
    let m = running(&f);
    let now = expand_at();
    let claimed = store.claim_due(now, 5_000).unwrap();
    assert_eq!(claimed.len(), 5_000);

    let at = now + Duration::seconds(3);
    let outcomes: Vec<Outcome> = claimed
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let kind = match i % 3 {
                0 => OutcomeKind::Sent { at },
                1 => OutcomeKind::Retry {
                    error: format!("attempt {i} timed out"),
                    next_attempt_at: at + Duration::minutes(1),
                },
                _ => OutcomeKind::Failed {
                    error: "number blocked".to_owned(),
                },
            };
            outcome(id, kind)
        })
        .collect();
    let written = store.record_outcomes(&outcomes).unwrap();
    assert_eq!(sorted(written), sorted(claimed));

    let counts = store.count_messages(m).unwrap();
    let by_status: HashMap<MessageStatus, u64> = counts.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        by_status,
        HashMap::from([
            (MessageStatus::Sent, 1_667),
            (MessageStatus::Retrying, 1_667),
            (MessageStatus::Failed, 1_666),
        ])
    );
    assert_eq!(f.claim_mismatches(), 0);
}

each_backend!(cancelling_or_deleting_ends_claims);
fn cancelling_or_deleting_ends_claims(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let stays = f.client(UTC, "bln", &[]);
    let leaves = f.client(UTC, "mts", &[]);
    let cancelled = running(&f);
    let deleted = running(&f);
    let client_gone = running(&f);
    let now = expand_at();
    assert_eq!(store.claim_due(now, 10).unwrap().len(), 6);

    store.cancel_mailing(cancelled, now).unwrap();
    store.delete_mailing(deleted, now).unwrap();
    store.delete_client(leaves.id).unwrap();

    for m in [cancelled, deleted] {
        for row in f.rows(m) {
            row.assert_status(MessageStatus::Cancelled);
            assert_eq!(row.queued_at, None);
        }
    }
    let orphans: Vec<Row> = f
        .rows(client_gone)
        .into_iter()
        .filter(|row| row.client_id.is_none())
        .collect();
    assert_eq!(orphans.len(), 1);
    orphans[0].assert_status(MessageStatus::Cancelled);
    assert_eq!(orphans[0].queued_at, None);
    f.row_for(client_gone, &stays)
        .assert_status(MessageStatus::Queued);
    assert_eq!(f.claim_mismatches(), 0);
}

each_backend!(the_schema_refuses_claims_without_a_claim_time_and_the_reverse);
/// The rule holds in the schema, so every path above that succeeded kept it.
fn the_schema_refuses_claims_without_a_claim_time_and_the_reverse(backend: Backend) {
    let f = Fixture::new(backend);
    f.client(UTC, "bln", &[]);
    let m = running(&f);
    let id = f.rows(m)[0].id;
    for statement in [
        format!("UPDATE messages SET status = 'queued' WHERE id = {id}"),
        format!("UPDATE messages SET queued_at = CURRENT_TIMESTAMP WHERE id = {id}"),
    ] {
        let refused = f.db.execute(&statement);
        let message = refused.expect_err(&statement).to_string();
        assert!(
            message.contains("messages_queued_at_when_queued"),
            "{message}"
        );
    }
}
