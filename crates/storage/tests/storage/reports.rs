//! The daily report's reads and its once-a-day rows: which mailings a day counts and what
//! happened to them in it, the breakers' trips, and the claim that lets one scheduler send.

use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::{client, draft, new_message, operator};
use chrono::{Duration, NaiveDate, Utc};
use mailing_domain::store::{
    FilterSource, NewMessage, ReportSent, Span, Store, TripReason, storage_instant,
};
use mailing_domain::{ClientFilter, MessageStatus};

fn everyone() -> FilterSource {
    FilterSource::Inline(ClientFilter::default())
}

each_backend!(a_day_counts_the_mailings_active_in_it_and_what_happened_then);
fn a_day_counts_the_mailings_active_in_it_and_what_happened_then(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let now = Utc::now();
    let span = Span {
        from: now - Duration::hours(1),
        to: now + Duration::hours(1),
    };
    operator(store, "mts");
    let clients: Vec<_> = (0..6)
        .map(|i| client(store, &format!("7900000000{i}"), "mts", &[]).id)
        .collect();
    let active = store
        .create_mailing(&draft(
            now - Duration::hours(3),
            now + Duration::minutes(30),
            everyone(),
        ))
        .unwrap();
    let over = store
        .create_mailing(&draft(
            now - Duration::hours(5),
            now - Duration::hours(2),
            everyone(),
        ))
        .unwrap();
    let cancelled = store
        .create_mailing(&draft(
            now - Duration::hours(3),
            now + Duration::hours(3),
            everyone(),
        ))
        .unwrap();
    let sent_at = |at| NewMessage {
        sent_at: Some(at),
        ..new_message(active.id, clients[0], MessageStatus::Sent)
    };
    let messages = vec![
        sent_at(now - Duration::minutes(30)),
        NewMessage {
            client_id: clients[1],
            attempts: 3,
            ..sent_at(now - Duration::minutes(20))
        },
        NewMessage {
            client_id: clients[2],
            ..sent_at(now - Duration::hours(2))
        },
        NewMessage {
            last_error: Some("HTTP 400 from the provider".to_owned()),
            ..new_message(active.id, clients[3], MessageStatus::Failed)
        },
        new_message(active.id, clients[4], MessageStatus::Expired),
        new_message(active.id, clients[5], MessageStatus::Scheduled),
        new_message(over.id, clients[0], MessageStatus::Sent),
    ];
    store.insert_messages(&messages).unwrap();
    store.pause_mailing(active.id, now).unwrap();
    store
        .cancel_mailing(cancelled.id, now - Duration::hours(2))
        .unwrap();

    let activity = store.mailing_activity(span).unwrap();
    let ids: Vec<_> = activity.iter().map(|a| a.mailing.id).collect();
    assert_eq!(
        ids,
        [active.id],
        "the ended and the cancelled one are left out"
    );
    let day = &activity[0].in_span;
    assert_eq!(
        day.sent, 2,
        "the one sent before the span is not counted: {day:?}"
    );
    assert_eq!(day.sent_after_retry, 1);
    assert_eq!(day.segments_sent, 0, "inserted rows carry no parts");
    assert_eq!(day.failed, 1);
    assert_eq!(day.expired, 1);
    assert_eq!(day.failure_reasons[0].text, "HTTP 400 from the provider");
    assert_eq!(day.failure_reasons[0].messages, 1);
    assert_eq!(day.expiry_reasons.len(), 1);
    assert_eq!(activity[0].now.total(), 6, "every message it holds now");
    assert_eq!(activity[0].now.get(MessageStatus::Sent), 3);
    assert_eq!(activity[0].now, store.count_messages(active.id).unwrap());
    assert_eq!(activity[0].pauses.len(), 1);

    let earlier = Span {
        from: now - Duration::hours(6),
        to: now - Duration::hours(4),
    };
    let before = store.mailing_activity(earlier).unwrap();
    assert!(
        before.is_empty(),
        "a mailing is not active before it was created, whatever its start: {before:?}"
    );
}

each_backend!(breaker_trips_are_counted_by_reason_within_the_span);
fn breaker_trips_are_counted_by_reason_within_the_span(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let now = Utc::now();
    store
        .record_breaker_trips(&[
            (now - Duration::minutes(5), TripReason::ProviderFailing),
            (now - Duration::minutes(4), TripReason::ProviderFailing),
            (now - Duration::minutes(3), TripReason::TokenRejected),
            (now - Duration::days(2), TripReason::ProviderFailing),
        ])
        .unwrap();
    store.record_breaker_trips(&[]).unwrap();
    let trips = store
        .breaker_trips(Span {
            from: now - Duration::hours(1),
            to: now,
        })
        .unwrap();
    assert_eq!(trips.provider_failing, 2);
    assert_eq!(trips.token_rejected, 1);
}

fn date(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

fn sent(at: chrono::DateTime<Utc>, message_id: &str) -> ReportSent {
    ReportSent {
        at,
        recipients: "ops@example.com".to_owned(),
        message_id: message_id.to_owned(),
    }
}

each_backend!(one_claimer_at_a_time_sends_a_days_report_once);
fn one_claimer_at_a_time_sends_a_days_report_once(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let now = Utc::now();
    let day = date("2026-12-06");
    let lease = now + Duration::minutes(2);
    assert_eq!(store.daily_report(day).unwrap(), None);

    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "a", lease, now)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "b", lease, now)
            .unwrap(),
        None,
        "held by a"
    );
    // a fails: nobody may try before the backoff ends, and then b may.
    let retry_at = now + Duration::seconds(10);
    store
        .daily_report_failed(day, "a", "451 try again later", retry_at, now)
        .unwrap();
    let record = store.daily_report(day).unwrap().unwrap();
    assert_eq!(record.last_error.as_deref(), Some("451 try again later"));
    assert_eq!(record.claimed_by, None);
    assert_eq!(record.next_attempt_at, storage_instant(retry_at));
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "b", lease, now)
            .unwrap(),
        None
    );
    let later = retry_at + Duration::seconds(1);
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "b", later + Duration::minutes(2), later)
            .unwrap(),
        Some(2)
    );
    // A failure reported by someone who no longer holds the claim changes nothing.
    store
        .daily_report_failed(day, "a", "stale", later + Duration::hours(1), later)
        .unwrap();
    assert_eq!(
        store
            .daily_report(day)
            .unwrap()
            .unwrap()
            .claimed_by
            .as_deref(),
        Some("b")
    );

    assert!(
        store
            .daily_report_sent(day, "UTC", &sent(later, "<one@x>"))
            .unwrap()
    );
    assert!(
        !store
            .daily_report_sent(day, "UTC", &sent(later, "<two@x>"))
            .unwrap(),
        "the first sending stays recorded"
    );
    let record = store.daily_report(day).unwrap().unwrap();
    assert_eq!(record.sent.unwrap().message_id, "<one@x>");
    assert_eq!(record.claimed_by, None);
    assert_eq!(record.last_error, None);
    let much_later = later + Duration::hours(1);
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "c", much_later, much_later)
            .unwrap(),
        None,
        "a sent report is never claimed again"
    );
}

each_backend!(a_claim_whose_holder_vanished_is_taken_over_after_its_lease);
fn a_claim_whose_holder_vanished_is_taken_over_after_its_lease(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let now = Utc::now();
    let day = date("2026-12-06");
    let lease = now + Duration::minutes(2);
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "a", lease, now)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "b", lease, lease - Duration::seconds(1))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_daily_report(day, "UTC", "b", lease + Duration::minutes(2), lease)
            .unwrap(),
        Some(2)
    );
}

each_backend!(a_report_sent_by_hand_before_its_time_is_recorded_as_sent);
fn a_report_sent_by_hand_before_its_time_is_recorded_as_sent(backend: Backend) {
    let db = TestDb::create(backend);
    let store: &dyn Store = &*db.store();
    let now = Utc::now();
    let day = date("2026-12-06");
    assert!(
        store
            .daily_report_sent(day, "Europe/Moscow", &sent(now, "<hand@x>"))
            .unwrap()
    );
    let record = store.daily_report(day).unwrap().unwrap();
    assert_eq!(record.time_zone, "Europe/Moscow");
    assert_eq!(record.attempts, 0);
    assert_eq!(
        store
            .claim_daily_report(day, "Europe/Moscow", "a", now + Duration::minutes(2), now)
            .unwrap(),
        None
    );
}
