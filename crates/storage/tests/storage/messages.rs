use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use chrono::{Duration, Utc};
use mailing_domain::store::{Entity, MessageQuery, NewMessage, StatusCounts, storage_instant};
use mailing_domain::{ClientId, MailingId, MessageId, MessageStatus};
use std::collections::HashMap;

each_backend!(insert_skips_pairs_that_already_have_a_message);
fn insert_skips_pairs_that_already_have_a_message(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let m = mailing(&*store);
    let clients: Vec<_> = (0..3)
        .map(|i| client(&*store, &format!("7900000000{i}"), "bln", &[]).id)
        .collect();
    let batch: Vec<_> = clients
        .iter()
        .map(|&c| new_message(m.id, c, MessageStatus::Scheduled))
        .collect();
    assert_eq!(store.insert_messages(&batch).unwrap(), 3);
    assert_eq!(store.insert_messages(&batch).unwrap(), 0);

    let fourth = client(&*store, "79000000009", "bln", &[]).id;
    let mut mixed = batch.clone();
    mixed.push(new_message(m.id, fourth, MessageStatus::Scheduled));
    assert_eq!(store.insert_messages(&mixed).unwrap(), 1);
    assert_eq!(store.insert_messages(&[]).unwrap(), 0);
    assert_eq!(store.count_messages(m.id).unwrap().total(), 4);
}

each_backend!(insert_skips_mailings_that_are_cancelled_deleted_or_missing);
fn insert_skips_mailings_that_are_cancelled_deleted_or_missing(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let c = client(&*store, "79000000001", "bln", &[]).id;
    let open = mailing(&*store);
    let cancelled = mailing(&*store);
    let deleted = mailing(&*store);
    let during = utc(2030, 1, 1, 11, 0);
    store.cancel_mailing(cancelled.id, during).unwrap();
    store.delete_mailing(deleted.id, during).unwrap();

    let batch: Vec<_> = [open.id, cancelled.id, deleted.id, MailingId(9_999)]
        .into_iter()
        .map(|m| new_message(m, c, MessageStatus::Scheduled))
        .collect();
    assert_eq!(store.insert_messages(&batch).unwrap(), 1);
    let all = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert_eq!(all.total, 1);
    assert_eq!(all.items[0].mailing_id, open.id);
}

each_backend!(a_queued_message_is_inserted_with_its_claim);
/// The schema insists a queued message carries its claim time, so inserting one claims it.
fn a_queued_message_is_inserted_with_its_claim(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let m = mailing(&*store);
    let c = client(&*store, "79000000001", "bln", &[]).id;
    let before = storage_instant(Utc::now());
    store
        .insert_messages(&[new_message(m.id, c, MessageStatus::Queued)])
        .unwrap();
    let id = store
        .list_messages(&MessageQuery::default(), ALL)
        .unwrap()
        .items[0]
        .id;
    let task = &store.load_for_send(&[id]).unwrap()[0];
    assert_eq!(task.status, MessageStatus::Queued);
    let claim = task.queued_at.expect("a queued message carries its claim");
    assert!(before <= claim && claim <= Utc::now(), "claimed at {claim}");
}

each_backend!(get_and_list_with_filters);
fn get_and_list_with_filters(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let first = mailing(&*store);
    let second = mailing(&*store);
    let a = client(&*store, "79000000001", "bln", &[]).id;
    let b = client(&*store, "79000000002", "bln", &[]).id;
    let retry_at = utc(2030, 1, 1, 10, 5);
    let batch = vec![
        new_message(first.id, a, MessageStatus::Sent),
        new_message(first.id, b, MessageStatus::Scheduled),
        NewMessage {
            attempts: 2,
            next_attempt_at: Some(retry_at),
            ..new_message(second.id, a, MessageStatus::Retrying)
        },
    ];
    store.insert_messages(&batch).unwrap();

    let all = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert_eq!(all.total, 3);
    let ids: Vec<MessageId> = all.items.iter().map(|m| m.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");

    let retrying = &all.items[2];
    assert_eq!(retrying.mailing_id, second.id);
    assert_eq!(retrying.client_id, Some(a));
    assert_eq!(retrying.status, MessageStatus::Retrying);
    assert_eq!(retrying.attempts, 2);
    assert_eq!(retrying.next_attempt_at, Some(retry_at));
    assert_eq!(retrying.sent_at, None);
    assert_eq!(retrying.last_error, None);
    assert_eq!(store.get_message(retrying.id).unwrap(), *retrying);
    assert_eq!(all.items[0].sent_at, Some(utc(2030, 1, 1, 10, 30)));

    let of = |query: MessageQuery| -> (Vec<MessageId>, u64) {
        let listed = store.list_messages(&query, ALL).unwrap();
        (listed.items.iter().map(|m| m.id).collect(), listed.total)
    };
    let by_mailing = MessageQuery {
        mailing_id: Some(first.id),
        ..MessageQuery::default()
    };
    assert_eq!(of(by_mailing), (vec![ids[0], ids[1]], 2));
    let by_client = MessageQuery {
        client_id: Some(a),
        ..MessageQuery::default()
    };
    assert_eq!(of(by_client), (vec![ids[0], ids[2]], 2));
    let by_status = MessageQuery {
        mailing_id: Some(first.id),
        client_id: None,
        status: Some(MessageStatus::Scheduled),
        phone_prefix: None,
    };
    assert_eq!(of(by_status), (vec![ids[1]], 1));
    let none_in_status = MessageQuery {
        mailing_id: Some(second.id),
        client_id: None,
        status: Some(MessageStatus::Sent),
        phone_prefix: None,
    };
    assert_eq!(of(none_in_status), (vec![], 0));
    let nobody = MessageQuery {
        client_id: Some(ClientId(999)),
        ..MessageQuery::default()
    };
    assert_eq!(of(nobody), (vec![], 0));

    let paged = store
        .list_messages(&MessageQuery::default(), page(1, 1))
        .unwrap();
    assert_eq!(paged.total, 3);
    assert_eq!(paged.items.len(), 1);
    assert_eq!(paged.items[0].id, ids[1]);

    assert_not_found(store.get_message(MessageId(424_242)), Entity::Message);
}

each_backend!(counts_by_status_for_one_or_many_mailings);
fn counts_by_status_for_one_or_many_mailings(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let busy = mailing(&*store);
    let quiet = mailing(&*store);
    let empty = mailing(&*store);
    let statuses = [
        MessageStatus::Sent,
        MessageStatus::Sent,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Scheduled,
    ];
    let mut batch = Vec::new();
    for (i, status) in statuses.into_iter().enumerate() {
        let c = client(&*store, &format!("7900000000{i}"), "bln", &[]).id;
        batch.push(new_message(busy.id, c, status));
        if i == 0 {
            batch.push(new_message(quiet.id, c, MessageStatus::Expired));
        }
    }
    store.insert_messages(&batch).unwrap();

    let mut expected_busy = StatusCounts::default();
    expected_busy.set(MessageStatus::Sent, 3);
    expected_busy.set(MessageStatus::Failed, 1);
    expected_busy.set(MessageStatus::Scheduled, 1);
    let mut expected_quiet = StatusCounts::default();
    expected_quiet.set(MessageStatus::Expired, 1);

    assert_eq!(store.count_messages(busy.id).unwrap(), expected_busy);
    assert_eq!(store.count_messages(busy.id).unwrap().total(), 5);
    assert_eq!(
        store.count_messages(empty.id).unwrap(),
        StatusCounts::default()
    );

    let counts = store
        .count_messages_of(&[busy.id, quiet.id, empty.id])
        .unwrap();
    assert_eq!(counts.len(), 2, "mailings without messages are absent");
    assert_eq!(counts[&busy.id], expected_busy);
    assert_eq!(counts[&quiet.id], expected_quiet);
    assert!(store.count_messages_of(&[]).unwrap().is_empty());

    let mut everything = expected_busy;
    everything.set(MessageStatus::Expired, 1);
    assert_eq!(store.message_totals().unwrap(), everything);
}

each_backend!(large_batches_stay_under_the_bind_parameter_limit);
fn large_batches_stay_under_the_bind_parameter_limit(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let m = mailing(&*store);
    // Twelve thousand clients through SQL: the store's API would take a transaction each.
    let client_ids = db.bulk_clients(12_000, "UTC");
    let batch: Vec<_> = client_ids
        .iter()
        .map(|&c| new_message(m.id, c, MessageStatus::Scheduled))
        .collect();
    assert_eq!(store.insert_messages(&batch).unwrap(), 12_000);
    assert_eq!(store.insert_messages(&batch).unwrap(), 0);
    assert_eq!(
        store
            .count_messages(m.id)
            .unwrap()
            .get(MessageStatus::Scheduled),
        12_000
    );
}

each_backend!(messages_are_listed_by_the_start_of_the_number_they_are_addressed_to);
fn messages_are_listed_by_the_start_of_the_number_they_are_addressed_to(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let first = mailing(&*store);
    let second = mailing(&*store);
    let a = client(&*store, "79001110001", "bln", &[]).id;
    let b = client(&*store, "79001110002", "bln", &[]).id;
    let c = client(&*store, "79002220001", "bln", &[]).id;
    let gone = client(&*store, "79001119999", "bln", &[]).id;
    let batch = vec![
        new_message(first.id, a, MessageStatus::Sent),
        new_message(first.id, b, MessageStatus::Scheduled),
        new_message(first.id, c, MessageStatus::Sent),
        new_message(first.id, gone, MessageStatus::Sent),
        new_message(second.id, a, MessageStatus::Scheduled),
    ];
    store.insert_messages(&batch).unwrap();
    // Its sent message stays, without a client but with its number.
    store.delete_client(gone).unwrap();
    let ids: Vec<MessageId> = store
        .list_messages(&MessageQuery::default(), ALL)
        .unwrap()
        .items
        .iter()
        .map(|m| m.id)
        .collect();

    let of = |mailing: Option<MailingId>, status: Option<MessageStatus>, prefix: &str| {
        let query = MessageQuery {
            mailing_id: mailing,
            status,
            phone_prefix: Some(prefix.to_owned()),
            ..MessageQuery::default()
        };
        let listed = store.list_messages(&query, ALL).unwrap();
        let found: Vec<MessageId> = listed.items.iter().map(|m| m.id).collect();
        (found, listed.total)
    };
    assert_eq!(
        of(None, None, "7900111"),
        (vec![ids[0], ids[1], ids[3], ids[4]], 4)
    );
    // The mailing's total comes from the messages, not from its counts by status.
    assert_eq!(
        of(Some(first.id), None, "7900111"),
        (vec![ids[0], ids[1], ids[3]], 3)
    );
    assert_eq!(
        of(Some(first.id), Some(MessageStatus::Sent), "7900111"),
        (vec![ids[0], ids[3]], 2)
    );
    assert_eq!(of(Some(first.id), None, "79002220001"), (vec![ids[2]], 1));
    assert_eq!(of(None, None, "79001119999"), (vec![ids[3]], 1));
    // Every number starts with nothing and with 7.
    assert_eq!(of(None, None, ""), (ids.clone(), 5));
    assert_eq!(of(None, None, "7"), (ids.clone(), 5));
    assert_eq!(of(Some(second.id), None, "7900222"), (vec![], 0));
    // LIKE wildcards are taken literally.
    assert_eq!(of(None, None, "7900_"), (vec![], 0));
    assert_eq!(of(None, None, "%"), (vec![], 0));

    let paged = store
        .list_messages(
            &MessageQuery {
                phone_prefix: Some("7900111".to_owned()),
                ..MessageQuery::default()
            },
            page(1, 1),
        )
        .unwrap();
    assert_eq!(paged.total, 4);
    assert_eq!(
        paged.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ids[1]]
    );
}

each_backend!(a_message_keeps_the_number_it_went_to_and_a_waiting_one_follows_its_client);
fn a_message_keeps_the_number_it_went_to_and_a_waiting_one_follows_its_client(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let moving = client(&*store, "79000000001", "bln", &[]);
    let statuses = [
        MessageStatus::Sent,
        MessageStatus::Scheduled,
        MessageStatus::Retrying,
        MessageStatus::Queued,
        MessageStatus::Failed,
    ];
    let batch: Vec<_> = statuses
        .iter()
        .map(|&status| new_message(mailing(&*store).id, moving.id, status))
        .collect();
    store.insert_messages(&batch).unwrap();
    let numbers = || -> Vec<(MessageStatus, Option<String>)> {
        store
            .list_messages(&MessageQuery::default(), ALL)
            .unwrap()
            .items
            .into_iter()
            .map(|m| (m.status, m.phone.map(|p| p.as_str().to_owned())))
            .collect()
    };
    let old = Some("79000000001".to_owned());
    assert!(numbers().iter().all(|(_, number)| *number == old));

    let before = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    store
        .update_client(
            moving.id,
            &mailing_domain::store::ClientPatch {
                phone: Some(phone("79000000002")),
                ..Default::default()
            },
        )
        .unwrap();
    // What went (or is going) to the old number keeps it; what waits goes to the new one.
    let new = Some("79000000002".to_owned());
    assert_eq!(
        numbers(),
        vec![
            (MessageStatus::Sent, old.clone()),
            (MessageStatus::Scheduled, new.clone()),
            (MessageStatus::Retrying, new.clone()),
            (MessageStatus::Queued, old.clone()),
            (MessageStatus::Failed, old.clone()),
        ]
    );
    let after = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert_eq!(
        after.items[0], before.items[0],
        "a sent message is left alone"
    );

    // A deleted client's messages keep their numbers; the unsent ones are cancelled.
    store.delete_client(moving.id).unwrap();
    let kept = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert!(kept.items.iter().all(|m| m.client_id.is_none()));
    assert_eq!(
        kept.items
            .iter()
            .map(|m| m.phone.as_ref().unwrap().as_str())
            .collect::<Vec<_>>(),
        [
            "79000000001",
            "79000000002",
            "79000000002",
            "79000000001",
            "79000000001"
        ]
    );
    assert_eq!(kept.items[0].status, MessageStatus::Sent);
}

each_backend!(a_deleted_mailings_messages_leave_every_read);
fn a_deleted_mailings_messages_leave_every_read(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let kept = mailing(&*store);
    let deleted = mailing(&*store);
    let a = client(&*store, "79000000001", "bln", &[]).id;
    let b = client(&*store, "79000000002", "bln", &[]).id;
    let batch = vec![
        new_message(kept.id, a, MessageStatus::Sent),
        new_message(deleted.id, a, MessageStatus::Sent),
        new_message(deleted.id, b, MessageStatus::Scheduled),
    ];
    store.insert_messages(&batch).unwrap();
    let all = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    let gone = all.items[1].id;
    let since = utc(2030, 1, 1, 10, 0);
    assert_eq!(store.message_totals().unwrap().total(), 3);

    store
        .delete_mailing(deleted.id, utc(2030, 1, 1, 11, 0))
        .unwrap();
    let listed = store.list_messages(&MessageQuery::default(), ALL).unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].mailing_id, kept.id);
    assert_not_found(store.get_message(gone), Entity::Message);
    for query in [
        MessageQuery {
            mailing_id: Some(deleted.id),
            ..MessageQuery::default()
        },
        MessageQuery {
            mailing_id: Some(deleted.id),
            status: Some(MessageStatus::Sent),
            ..MessageQuery::default()
        },
        MessageQuery {
            client_id: Some(a),
            status: Some(MessageStatus::Sent),
            ..MessageQuery::default()
        },
    ] {
        let found = store.list_messages(&query, ALL).unwrap();
        assert!(
            found.items.iter().all(|m| m.mailing_id == kept.id),
            "{query:?}"
        );
        assert_eq!(found.total, found.items.len() as u64, "{query:?}");
    }
    assert_eq!(
        store.count_messages(deleted.id).unwrap(),
        StatusCounts::default()
    );
    let counts = store.count_messages_of(&[kept.id, deleted.id]).unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), [&kept.id]);
    let mut only_kept = StatusCounts::default();
    only_kept.set(MessageStatus::Sent, 1);
    assert_eq!(store.message_totals().unwrap(), only_kept);
    assert_eq!(
        store.sent_since(&[kept.id, deleted.id], since).unwrap(),
        HashMap::from([(kept.id, 1)])
    );
}

each_backend!(sent_since_counts_each_mailings_deliveries_from_an_instant_on);
fn sent_since_counts_each_mailings_deliveries_from_an_instant_on(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let busy = mailing(&*store);
    let quiet = mailing(&*store);
    let waiting = mailing(&*store);
    let idle = mailing(&*store);
    let since = utc(2030, 1, 1, 10, 30);
    let sent_at = |seconds: i64| since + Duration::seconds(seconds);
    let sent = |mailing: MailingId, client: ClientId, at| NewMessage {
        sent_at: Some(at),
        ..new_message(mailing, client, MessageStatus::Sent)
    };
    let mut batch = Vec::new();
    for i in 0..6 {
        let c = client(&*store, &format!("7900000000{i}"), "bln", &[]).id;
        match i {
            // Before the window, at its very start, and inside it.
            0 => batch.push(sent(busy.id, c, sent_at(-1))),
            1 => batch.push(sent(busy.id, c, since)),
            2 | 3 => batch.push(sent(busy.id, c, sent_at(30))),
            _ => batch.push(sent(quiet.id, c, sent_at(-60))),
        }
        if i < 2 {
            batch.push(sent(quiet.id, c, sent_at(59)));
        }
        batch.push(new_message(waiting.id, c, MessageStatus::Scheduled));
        batch.push(new_message(idle.id, c, MessageStatus::Failed));
    }
    store.insert_messages(&batch).unwrap();
    let just_before = since - Duration::microseconds(1);

    let all = [busy.id, quiet.id, waiting.id, idle.id, MailingId(9_999)];
    assert_eq!(
        store.sent_since(&all, since).unwrap(),
        HashMap::from([(busy.id, 3), (quiet.id, 2)]),
        "mailings with nothing sent in the window are absent"
    );
    assert_eq!(
        store
            .sent_since(&all, just_before - Duration::seconds(1))
            .unwrap(),
        HashMap::from([(busy.id, 4), (quiet.id, 2)])
    );
    assert_eq!(
        store.sent_since(&all, sent_at(-3_600)).unwrap(),
        HashMap::from([(busy.id, 4), (quiet.id, 4)])
    );
    assert_eq!(
        store.sent_since(&[busy.id], sent_at(31)).unwrap(),
        HashMap::new()
    );
    assert_eq!(
        store.sent_since(&[quiet.id], sent_at(1)).unwrap(),
        HashMap::from([(quiet.id, 2)])
    );
    assert!(store.sent_since(&[], since).unwrap().is_empty());
}
