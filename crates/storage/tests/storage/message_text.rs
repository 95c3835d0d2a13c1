//! The text each message's first attempt sent: kept with its encoding and parts, added up in
//! the statistics, forgotten by waiting messages when the mailing's text changes, and the
//! clients a preview renders it for.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Duration, Utc};
use mailing_domain::opt_out::NewOptOut;
use mailing_domain::store::{MailingPatch, Outcome, OutcomeKind};
use mailing_domain::{
    AttributeKey, Attributes, MailingId, MailingText, MessageId, MessageStatus, MessageText,
    OptOutSource,
};
use serde_json::json;

fn expand_at() -> DateTime<Utc> {
    utc(2030, 5, 1, 1, 0)
}

fn running(f: &Fixture) -> MailingId {
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).create(&*f.store);
    f.store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    m.id
}

fn attempted(id: MessageId, kind: OutcomeKind, text: &str) -> Outcome {
    Outcome {
        message_id: id,
        claimed_at: None,
        kind,
        text: Some(MessageText::counted(text.to_owned())),
    }
}

fn retry(at: DateTime<Utc>) -> OutcomeKind {
    OutcomeKind::Retry {
        error: "HTTP 503".to_owned(),
        next_attempt_at: at,
    }
}

each_backend!(a_message_keeps_the_text_its_first_attempt_sent_and_counts_its_parts);
fn a_message_keeps_the_text_its_first_attempt_sent_and_counts_its_parts(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let first = f.client(UTC, "bln", &[]);
    let second = f.client(UTC, "mts", &[]);
    let m = running(&f);
    let (one, two) = (f.row_for(m, &first).id(), f.row_for(m, &second).id());
    assert_eq!(store.get_message(one).unwrap().text, None);
    assert_eq!(store.load_for_send(&[one]).unwrap()[0].sent_text, None);

    store.claim_due(expand_at(), 10).unwrap();
    let later = expand_at() + Duration::minutes(1);
    let long = "ж".repeat(71);
    store
        .record_outcomes(&[
            attempted(one, retry(later), &long),
            attempted(two, OutcomeKind::Sent { at: later }, "Hello, Bob"),
        ])
        .unwrap();
    let kept = store.get_message(one).unwrap().text.unwrap();
    assert_eq!(
        (kept.text.as_str(), kept.encoding.as_str(), kept.segments),
        (long.as_str(), "ucs2", 2)
    );
    // The next attempt sends what the first one did.
    store.claim_due(later, 10).unwrap();
    assert_eq!(
        store.load_for_send(&[one]).unwrap()[0].sent_text,
        Some(kept.clone())
    );
    // An outcome without a text (not attempted) leaves it.
    store
        .record_outcomes(&[Outcome {
            message_id: one,
            claimed_at: None,
            kind: OutcomeKind::Deferred {
                next_attempt_at: later,
            },
            text: None,
        }])
        .unwrap();
    assert_eq!(store.get_message(one).unwrap().text, Some(kept.clone()));
    store.claim_due(later, 10).unwrap();
    store
        .record_outcomes(&[attempted(one, OutcomeKind::Sent { at: later }, &long)])
        .unwrap();

    let counts = store.count_messages(m).unwrap();
    assert_eq!(counts.get(MessageStatus::Sent), 2);
    assert_eq!(counts.segments_sent(), 3);
    assert_eq!(store.message_totals().unwrap().segments_sent(), 3);
    assert_eq!(
        store.count_messages_of(&[m]).unwrap()[&m].segments_sent(),
        3
    );
    // The counts kept by the database equal adding up the messages.
    assert_eq!(
        f.db.count(&format!(
            "SELECT CAST(COALESCE(SUM(segments), 0) AS BIGINT) AS count FROM message_counts \
             WHERE mailing_id = {m} AND status = 'sent'"
        )),
        f.db.count(&format!(
            "SELECT CAST(COALESCE(SUM(segments), 0) AS BIGINT) AS count FROM messages \
             WHERE mailing_id = {m} AND status = 'sent'"
        ))
    );
    // A text is stored with its encoding and parts, or not at all.
    assert!(
        f.db.execute(&format!(
            "UPDATE messages SET segments = NULL WHERE id = {one}"
        ))
        .is_err()
    );
    assert!(
        f.db.execute(&format!(
            "UPDATE messages SET encoding = 'utf8' WHERE id = {one}"
        ))
        .is_err()
    );
}

each_backend!(a_new_text_reaches_the_messages_still_waiting_but_not_those_sent);
fn a_new_text_reaches_the_messages_still_waiting_but_not_those_sent(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let waiting = f.client(UTC, "bln", &[]);
    let done = f.client(UTC, "mts", &[]);
    let m = running(&f);
    let (waits, sent) = (f.row_for(m, &waiting).id(), f.row_for(m, &done).id());
    store.claim_due(expand_at(), 10).unwrap();
    let later = expand_at() + Duration::minutes(1);
    store
        .record_outcomes(&[
            attempted(waits, retry(later), "Old text"),
            attempted(sent, OutcomeKind::Sent { at: later }, "Old text"),
        ])
        .unwrap();
    assert_eq!(
        store
            .count_messages(m)
            .unwrap()
            .segments(MessageStatus::Retrying),
        1
    );

    let patch = MailingPatch {
        text: Some(MailingText::parse("New text").unwrap()),
        ..MailingPatch::default()
    };
    store.update_mailing(m, &patch, later).unwrap();
    assert_eq!(store.get_message(waits).unwrap().text, None);
    assert_eq!(
        store.get_message(sent).unwrap().text.unwrap().text,
        "Old text"
    );
    let counts = store.count_messages(m).unwrap();
    assert_eq!(counts.segments(MessageStatus::Retrying), 0);
    assert_eq!(counts.segments_sent(), 1);

    // The same text again changes nothing.
    store.claim_due(later, 10).unwrap();
    store
        .record_outcomes(&[attempted(waits, retry(later), "New text")])
        .unwrap();
    store.update_mailing(m, &patch, later).unwrap();
    assert_eq!(
        store.get_message(waits).unwrap().text.unwrap().text,
        "New text"
    );
}

each_backend!(a_preview_reads_every_matching_client_in_batches_with_its_opt_out);
fn a_preview_reads_every_matching_client_in_batches_with_its_opt_out(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let mut made = vec![];
    for i in 0..5 {
        let client = f.client(UTC, if i % 2 == 0 { "bln" } else { "mts" }, &["vip"]);
        made.push(client);
    }
    f.client(UTC, "bln", &[]);
    let attributes = |value: serde_json::Value| Attributes::from_json(&value).unwrap();
    store
        .update_client(
            made[0].id,
            &mailing_domain::store::ClientPatch {
                attributes: Some(attributes(json!({"name": "Анна", "vip": true}))),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .update_client(
            made[1].id,
            &mailing_domain::store::ClientPatch {
                attributes: Some(attributes(json!({"name": ""}))),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .add_opt_out(&NewOptOut {
            phone: made[2].phone.clone(),
            source: OptOutSource::Api,
            reason: None,
        })
        .unwrap();

    let vip = filter(&[], &["vip"]);
    let mut seen = vec![];
    let mut after = None;
    loop {
        let batch = store.matching_clients_after(&vip, after, 2).unwrap();
        assert!(batch.len() <= 2);
        after = batch.last().map(|client| client.id);
        let done = batch.len() < 2;
        seen.extend(batch);
        if done {
            break;
        }
    }
    let ids: Vec<_> = seen.iter().map(|client| client.id).collect();
    assert_eq!(ids, made.iter().map(|client| client.id).collect::<Vec<_>>());
    assert_eq!(
        seen[0].attributes,
        attributes(json!({"name": "Анна", "vip": true}))
    );
    assert_eq!(seen[0].operator_code, code("bln"));
    let opted: Vec<bool> = seen.iter().map(|client| client.opted_out).collect();
    assert_eq!(opted, vec![false, false, true, false, false]);

    // Lacking: no value, or an empty text; counted over the filter's clients only.
    let keys = [
        AttributeKey::parse("name").unwrap(),
        AttributeKey::parse("vip").unwrap(),
        AttributeKey::parse("city").unwrap(),
    ];
    assert_eq!(store.count_lacking(&vip, &keys).unwrap(), vec![4, 4, 5]);
    let everyone = filter(&[], &[]);
    assert_eq!(
        store.count_lacking(&everyone, &keys).unwrap(),
        vec![5, 5, 6]
    );
    let nobody = filter(&["tele2"], &[]);
    assert_eq!(store.count_lacking(&nobody, &keys).unwrap(), vec![0, 0, 0]);
}
