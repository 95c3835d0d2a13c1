//! Opt-outs and replies: kept once per number, listed newest first, and never sent to: adding
//! one suppresses the number's waiting messages, expansion suppresses its new ones, and a
//! sender reads it with a message it holds.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::{DateTime, Utc};
use mailing_domain::opt_out::{
    InboundText, NewInboundMessage, NewOptOut, OptOutQuery, OptOutReason, SUPPRESSED_REASON,
};
use mailing_domain::store::{Entity, Outcome, OutcomeKind};
use mailing_domain::{InboundAction, MessageStatus, OptOutSource, PhoneNumber};

fn opt_out(number: &PhoneNumber, source: OptOutSource, reason: Option<&str>) -> NewOptOut {
    NewOptOut {
        phone: number.clone(),
        source,
        reason: reason.map(|r| OptOutReason::parse(r).unwrap()),
    }
}

fn reply(number: &PhoneNumber, text: &str, action: InboundAction) -> NewInboundMessage {
    NewInboundMessage {
        phone: number.clone(),
        text: InboundText::parse(text).unwrap(),
        action,
    }
}

fn start() -> DateTime<Utc> {
    utc(2030, 5, 1, 0, 0)
}

fn end() -> DateTime<Utc> {
    utc(2030, 5, 2, 0, 0)
}

fn expand_at() -> DateTime<Utc> {
    utc(2030, 5, 1, 1, 0)
}

each_backend!(a_number_opts_out_once_and_back_in);
fn a_number_opts_out_once_and_back_in(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let first = phone("79001110001");
    let added = store
        .add_opt_out(&opt_out(&first, OptOutSource::Api, Some("asked by phone")))
        .unwrap();
    assert!(added.created);
    assert_eq!(added.opt_out.phone, first);
    assert_eq!(added.opt_out.source, OptOutSource::Api);
    assert_eq!(
        added.opt_out.reason.as_ref().unwrap().as_str(),
        "asked by phone"
    );
    assert_eq!(added.suppressed, 0);

    // Again, from elsewhere: the first entry stays and is answered.
    let again = store
        .add_opt_out(&opt_out(&first, OptOutSource::Ui, None))
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.opt_out, added.opt_out);
    assert_eq!(store.get_opt_out(&first).unwrap(), added.opt_out);

    let second = phone("79001110002");
    let third = phone("79002220003");
    store
        .add_opt_out(&opt_out(&second, OptOutSource::Inbound, None))
        .unwrap();
    store
        .add_opt_out(&opt_out(&third, OptOutSource::Import, None))
        .unwrap();

    let all = store
        .list_opt_outs(&OptOutQuery::default(), page(0, 10))
        .unwrap();
    assert_eq!(all.total, 3);
    let listed: Vec<&str> = all.items.iter().map(|o| o.phone.as_str()).collect();
    // Newest first.
    assert_eq!(listed, ["79002220003", "79001110002", "79001110001"]);
    let paged = store
        .list_opt_outs(&OptOutQuery::default(), page(1, 1))
        .unwrap();
    assert_eq!(
        (paged.total, paged.items[0].phone.as_str()),
        (3, "79001110002")
    );
    let prefixed = OptOutQuery {
        phone_prefix: Some("7900111".to_owned()),
        ..OptOutQuery::default()
    };
    let found = store.list_opt_outs(&prefixed, page(0, 10)).unwrap();
    assert_eq!(found.total, 2);
    let exact = OptOutQuery {
        phone: Some(second.clone()),
        ..OptOutQuery::default()
    };
    let found = store.list_opt_outs(&exact, page(0, 10)).unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].source, OptOutSource::Inbound);
    // A prefix is taken literally.
    let wildcard = OptOutQuery {
        phone_prefix: Some("7_0".to_owned()),
        ..OptOutQuery::default()
    };
    assert_eq!(
        store.list_opt_outs(&wildcard, page(0, 10)).unwrap().total,
        0
    );

    store.remove_opt_out(&first).unwrap();
    assert_not_found(store.get_opt_out(&first), Entity::OptOut);
    assert_not_found(store.remove_opt_out(&first), Entity::OptOut);
    assert_eq!(
        store
            .list_opt_outs(&OptOutQuery::default(), page(0, 10))
            .unwrap()
            .total,
        2
    );
}

each_backend!(opting_out_suppresses_only_the_numbers_waiting_messages);
fn opting_out_suppresses_only_the_numbers_waiting_messages(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let m = spec(start(), end()).create(store);
    let next = expand_at();
    let scheduled = f.seed(m.id, Seed::waiting(MessageStatus::Scheduled, next, end()));
    let retrying = f.seed(m.id, Seed::waiting(MessageStatus::Retrying, next, end()));
    let queued = f.seed(m.id, Seed::queued(next, end()));
    let sent = f.seed(m.id, Seed::finished(MessageStatus::Sent, next, end()));
    let other = f.seed(m.id, Seed::waiting(MessageStatus::Scheduled, next, end()));
    let number_of = |id| {
        let client = f.row(id).client_id.unwrap();
        store
            .get_client(mailing_domain::ClientId(client))
            .unwrap()
            .phone
    };

    let mut suppressed = 0;
    for id in [scheduled, retrying, queued, sent] {
        let added = store
            .add_opt_out(&opt_out(&number_of(id), OptOutSource::Api, None))
            .unwrap();
        suppressed += added.suppressed;
    }
    assert_eq!(suppressed, 2);
    for id in [scheduled, retrying] {
        let row = f.row(id);
        row.assert_status(MessageStatus::Suppressed);
        assert_eq!(row.last_error.as_deref(), Some(SUPPRESSED_REASON));
        assert_eq!((row.next_attempt_at, row.queued_at), (None, None));
    }
    // A sender holds the queued one and suppresses it itself; a sent one stays sent.
    f.row(queued).assert_status(MessageStatus::Queued);
    f.row(sent).assert_status(MessageStatus::Sent);
    f.row(other).assert_status(MessageStatus::Scheduled);

    let counts = store.count_messages(m.id).unwrap();
    assert_eq!(counts.get(MessageStatus::Suppressed), 2);
    assert_eq!(counts.get(MessageStatus::Scheduled), 1);
    assert_eq!(
        store
            .message_totals()
            .unwrap()
            .get(MessageStatus::Suppressed),
        2
    );
    // Suppressed messages are never due.
    let claimed = store.claim_due(expand_at(), 100).unwrap();
    assert_eq!(claimed, vec![other]);
}

each_backend!(expansion_suppresses_numbers_that_opted_out);
fn expansion_suppresses_numbers_that_opted_out(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let kept = f.client(UTC, "bln", &[]);
    let gone = f.client(UTC, "bln", &[]);
    let gone_far = f.client(VLADIVOSTOK, "bln", &[]);
    for client in [&gone, &gone_far] {
        store
            .add_opt_out(&opt_out(&client.phone, OptOutSource::Inbound, None))
            .unwrap();
    }
    // Vladivostok's window never opens before the end: its zone is planned expired, yet an
    // opted-out number there is suppressed all the same.
    let m = spec(start(), utc(2030, 5, 1, 3, 0))
        .window("09:00", "10:00")
        .create(store);
    let expansion = store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    assert_eq!(
        (expansion.scheduled, expansion.expired, expansion.suppressed),
        (0, 1, 2)
    );
    f.row_for(m.id, &kept).assert_status(MessageStatus::Expired);
    for client in [&gone, &gone_far] {
        let row = f.row_for(m.id, client);
        row.assert_status(MessageStatus::Suppressed);
        assert_eq!(row.last_error.as_deref(), Some(SUPPRESSED_REASON));
        assert_eq!(row.next_attempt_at, None);
    }

    let m = spec(start(), end()).create(store);
    let expansion = store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    assert_eq!(
        (expansion.scheduled, expansion.expired, expansion.suppressed),
        (1, 0, 2)
    );
    let counts = store.count_messages(m.id).unwrap();
    assert_eq!(
        (
            counts.get(MessageStatus::Scheduled),
            counts.get(MessageStatus::Suppressed)
        ),
        (1, 2)
    );
    let claimed = store.claim_due(expand_at(), 100).unwrap();
    assert_eq!(claimed, vec![f.row_for(m.id, &kept).id()]);
}

each_backend!(a_sender_reads_a_later_opt_out_and_suppresses_the_message);
fn a_sender_reads_a_later_opt_out_and_suppresses_the_message(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    let bystander = f.client(UTC, "bln", &[]);
    let m = spec(start(), end()).create(store);
    store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    let ids = store.claim_due(expand_at(), 10).unwrap();
    assert_eq!(ids.len(), 2);
    let id = f.row_for(m.id, &client).id();
    let other = f.row_for(m.id, &bystander).id();
    let opted_out = |id| store.load_for_send(&[id]).unwrap()[0].opted_out;
    assert!(!opted_out(id));

    // The opt-out comes while a sender holds the message: it stays queued for the sender.
    store
        .add_opt_out(&opt_out(&client.phone, OptOutSource::Api, None))
        .unwrap();
    f.row(id).assert_status(MessageStatus::Queued);
    let tasks = store.load_for_send(&[id, other]).unwrap();
    let flags: Vec<(i64, bool)> = tasks
        .iter()
        .map(|t| (t.message_id.0, t.opted_out))
        .collect();
    assert!(flags.contains(&(id.0, true)) && flags.contains(&(other.0, false)));

    let claimed_at = f.row(id).queued_at;
    let written = store
        .record_outcomes(&[Outcome {
            message_id: id,
            claimed_at,
            kind: OutcomeKind::Suppressed,
            text: None,
        }])
        .unwrap();
    assert_eq!(written, vec![id]);
    let row = f.row(id);
    row.assert_status(MessageStatus::Suppressed);
    assert_eq!(row.last_error.as_deref(), Some(SUPPRESSED_REASON));
    assert_eq!((row.attempts, row.queued_at, row.sent_at), (0, None, None));
    assert_eq!(
        store
            .count_messages(m.id)
            .unwrap()
            .get(MessageStatus::Suppressed),
        1
    );
    // Terminal: nothing claims it again.
    assert!(
        store
            .claim_due(end() - chrono::Duration::minutes(1), 10)
            .unwrap()
            .is_empty()
    );
}

each_backend!(replies_are_kept_and_opt_numbers_out_and_back_in);
fn replies_are_kept_and_opt_numbers_out_and_back_in(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let client = f.client(UTC, "bln", &[]);
    let m = spec(start(), end()).create(store);
    store.expand_mailing(m.id, expand_at()).unwrap().unwrap();
    let number = client.phone.clone();

    let recorded = store
        .record_inbound(&reply(&number, " СТОП ", InboundAction::OptOut))
        .unwrap();
    assert_eq!(recorded.message.action, InboundAction::OptOut);
    assert_eq!(recorded.message.text.as_str(), " СТОП ");
    let added = recorded.opt_out.unwrap();
    assert!(added.created);
    assert_eq!(added.suppressed, 1);
    assert_eq!(added.opt_out.source, OptOutSource::Inbound);
    assert_eq!(added.opt_out.reason.unwrap().as_str(), "replied \"СТОП\"");
    f.row_for(m.id, &client)
        .assert_status(MessageStatus::Suppressed);

    let chat = store
        .record_inbound(&reply(&number, "thanks", InboundAction::None))
        .unwrap();
    assert!(chat.opt_out.is_none() && !chat.opted_in);
    assert!(store.get_opt_out(&number).is_ok());

    let back = store
        .record_inbound(&reply(&number, "start", InboundAction::OptIn))
        .unwrap();
    assert!(back.opted_in);
    assert_not_found(store.get_opt_out(&number), Entity::OptOut);
    // Opting in again finds nothing to remove, and is kept all the same.
    let twice = store
        .record_inbound(&reply(&number, "start", InboundAction::OptIn))
        .unwrap();
    assert!(!twice.opted_in);
    // What was suppressed stays so.
    f.row_for(m.id, &client)
        .assert_status(MessageStatus::Suppressed);

    let stranger = phone("79009998877");
    store
        .record_inbound(&reply(&stranger, "hello", InboundAction::None))
        .unwrap();
    let all = store.list_inbound(None, page(0, 10)).unwrap();
    assert_eq!(all.total, 5);
    let texts: Vec<&str> = all.items.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "start", "start", "thanks", " СТОП "]);
    let theirs = store.list_inbound(Some(&number), page(2, 2)).unwrap();
    assert_eq!(theirs.total, 4);
    let texts: Vec<&str> = theirs.items.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["thanks", " СТОП "]);
}
