//! Campaign control as stored: pausing and resuming a mailing (by hand, or by itself when its
//! attempts fail), how a pause meets the claim, the expansion and the end, and resends to the
//! clients a mailing did not reach. The frequency cap's check is in `campaign_cap`.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::campaign::{FailureShare, Pause, Paused};
use mailing_domain::events::{self, MailingEvent};
use mailing_domain::store::{
    ClientPatch, Entity, FilterSource, Mailing, MailingDraft, MailingPatch, ResendDraft, Store,
};
use mailing_domain::{
    AutoPauseOverride, ClientFilter, ExpiryReason, FrequencyCap, Invalid, MailingId,
    MailingSchedule, MailingStatus, MailingText, MessageStatus, PauseReason, SendWindow,
};

/// The mailing these tests pause: 2030-05-01 00:00 to 05-02 00:00 UTC, reaching everyone.
fn day_long(f: &Fixture) -> Mailing {
    spec(start(), end()).create(&*f.store)
}

fn start() -> DateTime<Utc> {
    utc(2030, 5, 1, 0, 0)
}

fn end() -> DateTime<Utc> {
    utc(2030, 5, 2, 0, 0)
}

/// While [`day_long`] runs.
fn at(h: u32, m: u32) -> DateTime<Utc> {
    utc(2030, 5, 1, h, m)
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

/// The mailing events stored in the outbox, oldest first.
fn events_of(f: &Fixture, id: MailingId) -> Vec<MailingEvent> {
    f.db.outbox()
        .into_iter()
        .map(|row| events::decode::<MailingEvent>(row.payload.as_bytes()).unwrap())
        .filter(|event| event.mailing_id() == id)
        .collect()
}

fn manual(since: DateTime<Utc>) -> Option<Paused> {
    Some(Paused {
        since,
        reason: PauseReason::Manual,
    })
}

each_backend!(pausing_and_resuming_keeps_the_time_and_the_history);
fn pausing_and_resuming_keeps_the_time_and_the_history(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = day_long(&f);
    assert_eq!(
        (m.paused.clone(), m.paused_before),
        (None, Duration::zero())
    );

    let paused = store.pause_mailing(m.id, at(1, 0)).unwrap();
    assert_eq!(paused.paused, manual(at(1, 0)));
    assert_eq!(paused.status(at(1, 5)), MailingStatus::Paused);
    assert_eq!(paused.paused_time(at(1, 20)), minutes(20));
    assert_eq!(store.get_mailing(m.id).unwrap(), paused);

    // Pausing again changes nothing: the pause keeps its start and writes no event.
    let again = store.pause_mailing(m.id, at(1, 10)).unwrap();
    assert_eq!(again, paused);

    let resumed = store.resume_mailing(m.id, at(1, 30)).unwrap();
    assert_eq!(resumed.paused, None);
    assert_eq!(resumed.paused_before, minutes(30));
    assert_eq!(resumed.status(at(1, 30)), MailingStatus::Running);
    // Resuming a mailing that is not paused changes nothing either.
    assert_eq!(store.resume_mailing(m.id, at(1, 40)).unwrap(), resumed);

    // A second pause adds its own length to the first's.
    store.pause_mailing(m.id, at(2, 0)).unwrap();
    let second = store.get_mailing(m.id).unwrap();
    assert_eq!(second.paused_before, minutes(30));
    assert_eq!(second.paused_time(at(2, 5)), minutes(35));
    let resumed = store.resume_mailing(m.id, at(2, 15)).unwrap();
    assert_eq!(resumed.paused_before, minutes(45));
    assert_eq!(resumed.paused_time(at(5, 0)), minutes(45));
    assert_eq!(resumed.auto_pauses, 0);

    assert_eq!(
        store.mailing_pauses(m.id).unwrap(),
        vec![
            Pause {
                reason: PauseReason::Manual,
                detail: None,
                paused_at: at(1, 0),
                resumed_at: Some(at(1, 30)),
            },
            Pause {
                reason: PauseReason::Manual,
                detail: None,
                paused_at: at(2, 0),
                resumed_at: Some(at(2, 15)),
            },
        ]
    );
    // One event per change that took place, so the scheduler and the senders hear of it.
    let paused = MailingEvent::MailingPaused { mailing_id: m.id };
    let resumed = MailingEvent::MailingResumed { mailing_id: m.id };
    assert_eq!(
        events_of(&f, m.id),
        vec![
            MailingEvent::MailingCreated { mailing_id: m.id },
            paused,
            resumed,
            paused,
            resumed,
        ]
    );
}

each_backend!(pausing_an_unknown_or_deleted_mailing_finds_nothing);
fn pausing_an_unknown_or_deleted_mailing_finds_nothing(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let unknown = MailingId(999_999);
    assert_not_found(store.pause_mailing(unknown, at(1, 0)), Entity::Mailing);
    assert_not_found(store.resume_mailing(unknown, at(1, 0)), Entity::Mailing);
    assert_not_found(store.mailing_pauses(unknown), Entity::Mailing);

    let m = day_long(&f);
    store.pause_mailing(m.id, at(1, 0)).unwrap();
    store.delete_mailing(m.id, at(1, 5)).unwrap();
    assert_not_found(store.pause_mailing(m.id, at(1, 10)), Entity::Mailing);
    assert_not_found(store.resume_mailing(m.id, at(1, 10)), Entity::Mailing);
    assert_not_found(store.mailing_pauses(m.id), Entity::Mailing);
}

each_backend!(a_mailing_that_is_over_cannot_be_paused_or_resumed);
fn a_mailing_that_is_over_cannot_be_paused_or_resumed(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;

    let finished = day_long(&f);
    for result in [
        store.pause_mailing(finished.id, end()),
        store.resume_mailing(finished.id, end()),
    ] {
        assert_eq!(
            rejection(result),
            mailing_domain::store::Rejection::MailingOver(MailingStatus::Finished)
        );
    }
    assert!(store.mailing_pauses(finished.id).unwrap().is_empty());

    let cancelled = day_long(&f);
    store.cancel_mailing(cancelled.id, at(1, 0)).unwrap();
    for result in [
        store.pause_mailing(cancelled.id, at(2, 0)),
        store.resume_mailing(cancelled.id, at(2, 0)),
    ] {
        assert_eq!(
            rejection(result),
            mailing_domain::store::Rejection::MailingOver(MailingStatus::Cancelled)
        );
    }

    // Paused until its end: finished, still paused in the record, and its pause stops counting
    // at the end.
    let outlived = day_long(&f);
    store.pause_mailing(outlived.id, at(23, 0)).unwrap();
    assert_eq!(
        rejection(store.resume_mailing(outlived.id, end() + minutes(5))),
        mailing_domain::store::Rejection::MailingOver(MailingStatus::Finished)
    );
    let stored = store.get_mailing(outlived.id).unwrap();
    assert_eq!(stored.status(end()), MailingStatus::Finished);
    assert_eq!(stored.paused_time(end() + Duration::days(3)), minutes(60));

    // Paused, then cancelled: over, and its pause stops counting when it was cancelled.
    let paused_then_cancelled = day_long(&f);
    store
        .pause_mailing(paused_then_cancelled.id, at(1, 0))
        .unwrap();
    let cancelled = store
        .cancel_mailing(paused_then_cancelled.id, at(1, 30))
        .unwrap();
    assert_eq!(cancelled.status(at(2, 0)), MailingStatus::Cancelled);
    assert_eq!(cancelled.paused_time(at(5, 0)), minutes(30));
    assert_eq!(
        rejection(store.resume_mailing(paused_then_cancelled.id, at(2, 0))),
        mailing_domain::store::Rejection::MailingOver(MailingStatus::Cancelled)
    );
}

each_backend!(a_mailing_paused_before_its_start_expands_but_sends_nothing_until_resumed);
fn a_mailing_paused_before_its_start_expands_but_sends_nothing_until_resumed(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    for _ in 0..2 {
        f.client(UTC, "bln", &[]);
    }
    let m = spec(at(10, 0), end()).create(store);
    let paused = store.pause_mailing(m.id, at(9, 0)).unwrap();
    assert_eq!(paused.status(at(9, 0)), MailingStatus::Paused);
    let in_status = |status, now| -> Vec<MailingId> {
        store
            .list_mailings_in_status(status, now, ALL)
            .unwrap()
            .items
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(in_status(MailingStatus::Paused, at(9, 0)), vec![m.id]);
    assert!(in_status(MailingStatus::Scheduled, at(9, 0)).is_empty());

    // Its start still comes: the list of recipients is made then, as for any mailing.
    assert_eq!(store.mailings_to_expand(at(10, 0), 10).unwrap(), vec![m.id]);
    let expansion = store.expand_mailing(m.id, at(10, 0)).unwrap().unwrap();
    assert_eq!(expansion.scheduled, 2);
    assert_eq!(in_status(MailingStatus::Paused, at(10, 0)), vec![m.id]);
    assert!(in_status(MailingStatus::Running, at(10, 0)).is_empty());

    // But nothing of it is claimed while it is paused.
    assert!(store.claim_due(at(10, 5), 100).unwrap().is_empty());
    assert_eq!(store.due_backlog(at(10, 5)).unwrap(), 0);
    for row in f.rows(m.id) {
        row.assert_status(MessageStatus::Scheduled);
    }

    store.resume_mailing(m.id, at(10, 30)).unwrap();
    assert_eq!(in_status(MailingStatus::Running, at(10, 30)), vec![m.id]);
    assert_eq!(store.due_backlog(at(10, 30)).unwrap(), 2);
    let claimed = store.claim_due(at(10, 30), 100).unwrap();
    assert_eq!(
        sorted(claimed),
        sorted(f.rows(m.id).iter().map(Row::id).collect())
    );
}

each_backend!(the_claim_passes_over_a_paused_mailing_and_takes_it_up_again_after_resume);
fn the_claim_passes_over_a_paused_mailing_and_takes_it_up_again_after_resume(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    for _ in 0..3 {
        f.client(UTC, "bln", &[]);
    }
    let paused = day_long(&f);
    let running = day_long(&f);
    for m in [paused.id, running.id] {
        store.expand_mailing(m, at(1, 0)).unwrap().unwrap();
    }
    // One of the paused mailing's messages is waiting for a retry: it waits too.
    let first = f.rows(paused.id)[0].id();
    f.db.execute(&format!(
        "UPDATE messages SET status = 'retrying', attempts = 1, last_error = 'probe answered 503'
         WHERE id = {first}"
    ))
    .unwrap();

    store.pause_mailing(paused.id, at(1, 0)).unwrap();
    let claimed = store.claim_due(at(1, 5), 100).unwrap();
    assert_eq!(
        sorted(claimed),
        sorted(f.rows(running.id).iter().map(Row::id).collect())
    );
    assert!(store.claim_due(at(1, 10), 100).unwrap().is_empty());
    let waiting: Vec<String> = f.rows(paused.id).into_iter().map(|r| r.status).collect();
    assert_eq!(waiting, ["retrying", "scheduled", "scheduled"]);

    store.resume_mailing(paused.id, at(1, 20)).unwrap();
    let claimed = store.claim_due(at(1, 20), 100).unwrap();
    assert_eq!(
        sorted(claimed),
        sorted(f.rows(paused.id).iter().map(Row::id).collect())
    );
    assert_eq!(f.claim_mismatches(), 0);
}

each_backend!(the_end_expires_a_paused_mailings_messages);
fn the_end_expires_a_paused_mailings_messages(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    for _ in 0..2 {
        f.client(UTC, "bln", &[]);
    }
    let m = day_long(&f);
    store.expand_mailing(m.id, at(1, 0)).unwrap().unwrap();
    store.pause_mailing(m.id, at(2, 0)).unwrap();

    assert_eq!(store.expire_overdue(end() - minutes(1)).unwrap(), 0);
    assert_eq!(store.expire_overdue(end()).unwrap(), 2);
    for row in f.rows(m.id) {
        row.assert_status(MessageStatus::Expired);
        assert_eq!(
            row.last_error.as_deref(),
            Some(ExpiryReason::ENDED_BEFORE_TURN)
        );
    }
    let over = store.get_mailing(m.id).unwrap();
    assert_eq!(over.status(end()), MailingStatus::Finished);
    let finished = store
        .list_mailings_in_status(MailingStatus::Finished, end(), ALL)
        .unwrap();
    assert_eq!(finished.items, vec![over]);
    assert_eq!(
        store
            .list_mailings_in_status(MailingStatus::Paused, end(), ALL)
            .unwrap()
            .total,
        0
    );
}

each_backend!(a_failing_mailing_pauses_itself_once_and_says_why);
fn a_failing_mailing_pauses_itself_once_and_says_why(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = day_long(&f);
    let detail = "9 of the last 10 attempts failed at the provider";

    assert!(store.auto_pause_mailing(m.id, detail, at(1, 0)).unwrap());
    let paused = store.get_mailing(m.id).unwrap();
    assert_eq!(
        paused.paused,
        Some(Paused {
            since: at(1, 0),
            reason: PauseReason::ProviderFailing,
        })
    );
    assert_eq!(paused.auto_pauses, 1);
    assert_eq!(paused.status(at(1, 0)), MailingStatus::Paused);
    // Paused already: neither another sender's verdict nor a manual pause changes it.
    assert!(!store.auto_pause_mailing(m.id, "again", at(1, 1)).unwrap());
    assert_eq!(store.pause_mailing(m.id, at(1, 2)).unwrap(), paused);
    assert_eq!(
        store.mailing_pauses(m.id).unwrap(),
        vec![Pause {
            reason: PauseReason::ProviderFailing,
            detail: Some(detail.to_owned()),
            paused_at: at(1, 0),
            resumed_at: None,
        }]
    );

    // Resumed, then paused by hand: a failing provider does not take the pause over.
    store.resume_mailing(m.id, at(2, 0)).unwrap();
    store.pause_mailing(m.id, at(3, 0)).unwrap();
    assert!(!store.auto_pause_mailing(m.id, detail, at(3, 1)).unwrap());
    let manual_pause = store.get_mailing(m.id).unwrap();
    assert_eq!(manual_pause.paused, manual(at(3, 0)));
    assert_eq!(manual_pause.auto_pauses, 1);

    // Resumed again, it may pause itself again, and it counts.
    store.resume_mailing(m.id, at(4, 0)).unwrap();
    assert!(store.auto_pause_mailing(m.id, detail, at(5, 0)).unwrap());
    assert_eq!(store.get_mailing(m.id).unwrap().auto_pauses, 2);
    let reasons: Vec<(PauseReason, bool)> = store
        .mailing_pauses(m.id)
        .unwrap()
        .into_iter()
        .map(|p| (p.reason, p.detail.is_some()))
        .collect();
    assert_eq!(
        reasons,
        [
            (PauseReason::ProviderFailing, true),
            (PauseReason::Manual, false),
            (PauseReason::ProviderFailing, true),
        ]
    );
}

each_backend!(a_mailing_that_is_over_or_gone_does_not_pause_itself);
fn a_mailing_that_is_over_or_gone_does_not_pause_itself(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let detail = "50 of the last 50 attempts failed at the provider";
    assert!(
        !store
            .auto_pause_mailing(MailingId(999_999), detail, at(1, 0))
            .unwrap()
    );

    let cancelled = day_long(&f);
    store.cancel_mailing(cancelled.id, at(1, 0)).unwrap();
    let finished = day_long(&f);
    let deleted = day_long(&f);
    store.delete_mailing(deleted.id, at(1, 0)).unwrap();
    for (m, now) in [
        (cancelled.id, at(2, 0)),
        (finished.id, end()),
        (deleted.id, at(2, 0)),
    ] {
        assert!(!store.auto_pause_mailing(m, detail, now).unwrap(), "{m}");
    }
    for m in [cancelled.id, finished.id] {
        let stored = store.get_mailing(m).unwrap();
        assert_eq!((stored.paused, stored.auto_pauses), (None, 0), "{m}");
        assert!(store.mailing_pauses(m).unwrap().is_empty());
    }
}

/// A mailing with every rule a resend copies: local time, a window, a cap, auto-pause.
fn ruled_original(store: &dyn Store, filter: ClientFilter) -> Mailing {
    store
        .create_mailing(&MailingDraft {
            text: MailingText::parse("We missed you").unwrap(),
            schedule: MailingSchedule::new(
                start(),
                end(),
                true,
                Some(SendWindow::parse("09:00", "21:00").unwrap()),
            )
            .unwrap(),
            filter: FilterSource::Inline(filter),
            frequency_cap: Some(FrequencyCap::new(2, 24).unwrap()),
            auto_pause: AutoPauseOverride {
                enabled: Some(true),
                attempts: Some(20),
                failure_share: Some(FailureShare::new(0.5).unwrap()),
            },
        })
        .unwrap()
}

fn resend_draft(original: MailingId, statuses: &[MessageStatus]) -> ResendDraft {
    ResendDraft {
        original,
        statuses: statuses.to_vec(),
        start_at: utc(2030, 5, 3, 9, 0).fixed_offset(),
        end_at: utc(2030, 5, 4, 21, 0).fixed_offset(),
    }
}

/// After [`day_long`] and [`ruled_original`] ended.
fn later() -> DateTime<Utc> {
    utc(2030, 5, 2, 12, 0)
}

each_backend!(a_resend_reaches_exactly_the_clients_whose_messages_ended_so);
fn a_resend_reaches_exactly_the_clients_whose_messages_ended_so(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let vip = filter(&[], &["vip"]);
    let original = ruled_original(store, vip.clone());
    let failed = f.client(UTC, "bln", &["vip"]);
    let expired = f.client(UTC, "bln", &["vip"]);
    let cancelled = f.client(UTC, "bln", &["vip"]);
    let sent = f.client(UTC, "bln", &["vip"]);
    let failed_then_deleted = f.client(UTC, "bln", &["vip"]);
    let never_reached = f.client(UTC, "bln", &["vip"]);
    let plan = [
        (&failed, MessageStatus::Failed),
        (&expired, MessageStatus::Expired),
        (&cancelled, MessageStatus::Cancelled),
        (&sent, MessageStatus::Sent),
        (&failed_then_deleted, MessageStatus::Failed),
    ];
    let new: Vec<_> = plan
        .iter()
        .map(|(client, status)| new_message(original.id, client.id, *status))
        .collect();
    assert_eq!(store.insert_messages(&new).unwrap(), 5);
    store.delete_client(failed_then_deleted.id).unwrap();

    let resend = store
        .resend_mailing(
            &resend_draft(
                original.id,
                &[MessageStatus::Failed, MessageStatus::Expired],
            ),
            later(),
        )
        .unwrap();
    assert_eq!(resend.resend_of, Some(original.id));
    assert_ne!(resend.id, original.id);
    // The original's text, filter, window, clock and rules, over the new span.
    assert_eq!(resend.text, original.text);
    assert_eq!(resend.filter, original.filter);
    assert_eq!(resend.client_filter_id, None);
    assert_eq!(
        resend.schedule,
        MailingSchedule::new(
            utc(2030, 5, 3, 9, 0),
            utc(2030, 5, 4, 21, 0),
            true,
            original.schedule.send_window(),
        )
        .unwrap()
    );
    assert_eq!(resend.frequency_cap, original.frequency_cap);
    assert_eq!(resend.auto_pause, original.auto_pause);
    assert_eq!(
        (
            resend.paused.clone(),
            resend.auto_pauses,
            resend.cap_deferrals
        ),
        (None, 0, 0)
    );
    assert_eq!(store.get_mailing(resend.id).unwrap(), resend);
    assert_eq!(
        events_of(&f, resend.id),
        vec![MailingEvent::MailingCreated {
            mailing_id: resend.id
        }]
    );
    // The original is left as it was.
    assert_eq!(store.get_mailing(original.id).unwrap(), original);

    // The recipients were fixed when it was made: one leaves the filter, another joins it,
    // and the expansion still reaches exactly the two.
    store
        .update_client(
            failed.id,
            &ClientPatch {
                tags: Some(vec![]),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    f.client(UTC, "bln", &["vip"]);
    let expansion = store
        .expand_mailing(resend.id, utc(2030, 5, 3, 10, 0))
        .unwrap()
        .unwrap();
    assert_eq!(expansion.scheduled + expansion.expired, 2);
    let mut reached: Vec<Option<i64>> = f.rows(resend.id).iter().map(|r| r.client_id).collect();
    reached.sort();
    assert_eq!(reached, vec![Some(failed.id.0), Some(expired.id.0)]);
    let _ = (cancelled, sent, never_reached);
}

each_backend!(a_resend_of_several_statuses_and_of_a_running_mailing);
fn a_resend_of_several_statuses_and_of_a_running_mailing(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let original = day_long(&f);
    let clients: Vec<_> = (0..4).map(|_| f.client(UTC, "bln", &[])).collect();
    let statuses = [
        MessageStatus::Failed,
        MessageStatus::Cancelled,
        MessageStatus::Scheduled,
        MessageStatus::Expired,
    ];
    let new: Vec<_> = clients
        .iter()
        .zip(statuses)
        .map(|(client, status)| new_message(original.id, client.id, status))
        .collect();
    store.insert_messages(&new).unwrap();

    // While the original runs, its waiting messages are not among the recipients.
    let resend = store
        .resend_mailing(
            &resend_draft(
                original.id,
                &[
                    MessageStatus::Failed,
                    MessageStatus::Expired,
                    MessageStatus::Cancelled,
                ],
            ),
            at(12, 0),
        )
        .unwrap();
    assert!(!resend.schedule.local_time());
    store
        .expand_mailing(resend.id, utc(2030, 5, 3, 9, 0))
        .unwrap()
        .unwrap();
    let mut reached: Vec<Option<i64>> = f.rows(resend.id).iter().map(|r| r.client_id).collect();
    reached.sort();
    assert_eq!(
        reached,
        vec![
            Some(clients[0].id.0),
            Some(clients[1].id.0),
            Some(clients[3].id.0)
        ]
    );
}

each_backend!(a_resend_with_nobody_to_reach_or_a_bad_span_stores_nothing);
fn a_resend_with_nobody_to_reach_or_a_bad_span_stores_nothing(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let original = day_long(&f);
    let reached = f.client(UTC, "bln", &[]);
    let deleted = f.client(UTC, "bln", &[]);
    store
        .insert_messages(&[
            new_message(original.id, reached.id, MessageStatus::Sent),
            new_message(original.id, deleted.id, MessageStatus::Failed),
        ])
        .unwrap();
    store.delete_client(deleted.id).unwrap();
    let before = store.list_mailings(ALL).unwrap();
    let outbox = f.db.outbox().len();

    let all = [
        MessageStatus::Failed,
        MessageStatus::Expired,
        MessageStatus::Cancelled,
    ];
    assert_eq!(
        rejection(store.resend_mailing(&resend_draft(original.id, &all), later())),
        mailing_domain::store::Rejection::NoResendRecipients
    );
    let ended = ResendDraft {
        end_at: (later() - minutes(1)).fixed_offset(),
        start_at: (later() - minutes(60)).fixed_offset(),
        ..resend_draft(original.id, &all)
    };
    assert_eq!(
        rejection(store.resend_mailing(&ended, later())),
        mailing_domain::store::Rejection::Invalid {
            field: "end_at",
            rule: Invalid::InPast
        }
    );
    let backwards = ResendDraft {
        start_at: utc(2030, 5, 5, 0, 0).fixed_offset(),
        ..resend_draft(original.id, &all)
    };
    assert_eq!(
        rejection(store.resend_mailing(&backwards, later())),
        mailing_domain::store::Rejection::Invalid {
            field: "end_at",
            rule: Invalid::EndNotAfterStart
        }
    );
    assert_not_found(
        store.resend_mailing(&resend_draft(MailingId(999_999), &all), later()),
        Entity::Mailing,
    );

    assert_eq!(store.list_mailings(ALL).unwrap(), before);
    assert_eq!(f.db.outbox().len(), outbox);
    assert_eq!(
        f.db.count("SELECT count(*) AS count FROM mailing_recipients"),
        0
    );
}

each_backend!(the_rules_of_a_paused_mailing_may_change_as_its_clock_allows);
fn the_rules_of_a_paused_mailing_may_change_as_its_clock_allows(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = day_long(&f);
    store.pause_mailing(m.id, at(1, 0)).unwrap();
    let cap = FrequencyCap::new(1, 12).unwrap();
    let patch = MailingPatch {
        frequency_cap: Some(Some(cap)),
        auto_pause: Some(AutoPauseOverride {
            enabled: Some(false),
            ..AutoPauseOverride::default()
        }),
        end_at: Some(utc(2030, 5, 3, 0, 0).fixed_offset()),
        ..MailingPatch::default()
    };
    let changed = store.update_mailing(m.id, &patch, at(2, 0)).unwrap();
    assert_eq!(changed.frequency_cap, Some(cap));
    assert_eq!(changed.auto_pause.enabled, Some(false));
    // Still paused, with its pause intact.
    assert_eq!(changed.paused, manual(at(1, 0)));
    let cleared = store
        .update_mailing(
            m.id,
            &MailingPatch {
                frequency_cap: Some(None),
                auto_pause: Some(AutoPauseOverride::default()),
                ..MailingPatch::default()
            },
            at(2, 0),
        )
        .unwrap();
    assert_eq!(
        (cleared.frequency_cap, cleared.auto_pause),
        (None, AutoPauseOverride::default())
    );
    // Who it reaches was fixed at its start, paused or not.
    let refused = store.update_mailing(
        m.id,
        &MailingPatch {
            filter: Some(FilterSource::Inline(filter(&["mts"], &[]))),
            ..MailingPatch::default()
        },
        at(2, 0),
    );
    assert!(matches!(
        rejection(refused),
        mailing_domain::store::Rejection::MailingLocked(_)
    ));
}
