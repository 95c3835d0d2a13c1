//! The repositories ported to SQLite after the basics (clients, client filters, mailings,
//! messages, scheduler, sender) and `connect("sqlite://…")`: the key PostgreSQL behaviours,
//! against `SqliteStore` through the `Store` trait.

use crate::helpers::*;
use crate::pipeline::{MOSCOW, UTC, VLADIVOSTOK, sorted, spec, zone};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use mailing_domain::MessageStatus::*;
use mailing_domain::events::MailingEvent;
use mailing_domain::store::{
    ClientPatch, ClientQuery, Entity, FilterSource, MailingPatch, MessageQuery, NewClient,
    NewSavedFilter, Outcome, OutcomeKind, Rejection, SavedFilterPatch, Store, StoreError,
    storage_instant,
};
use mailing_domain::{ClientFilter, MailingId, MessageId};
use mailing_storage::testing::TestSqliteDatabase;
use mailing_storage::{ConnectOptions, connect, create_database_if_missing};
use std::collections::HashSet;
use std::sync::Arc;

/// A migrated SQLite database with operators `bln` and `mts`, opened through `connect`.
struct Lite {
    db: TestSqliteDatabase,
    store: Arc<dyn Store>,
    next_phone: std::cell::Cell<u64>,
}

impl Lite {
    fn new() -> Self {
        let db = TestSqliteDatabase::create();
        let store = connect(db.url(), &ConnectOptions::default()).unwrap();
        operator(&*store, "bln");
        operator(&*store, "mts");
        Self {
            db,
            store,
            next_phone: std::cell::Cell::new(79_000_000_000),
        }
    }

    fn client(
        &self,
        time_zone: &str,
        operator_code: &str,
        tags: &[&str],
    ) -> mailing_domain::store::Client {
        let number = self.next_phone.get();
        self.next_phone.set(number + 1);
        self.store
            .create_client(&NewClient {
                phone: phone(&number.to_string()),
                operator_code: code(operator_code),
                tags: tags.iter().map(|t| tag(t)).collect(),
                time_zone: zone(time_zone),
            })
            .unwrap()
    }

    fn conn(&self) -> SqliteConnection {
        SqliteConnection::establish(self.db.path().to_str().unwrap()).unwrap()
    }

    fn messages(&self, mailing: MailingId) -> Vec<mailing_domain::store::Message> {
        self.store
            .list_messages(
                &MessageQuery {
                    mailing_id: Some(mailing),
                    ..MessageQuery::default()
                },
                ALL,
            )
            .unwrap()
            .items
    }

    /// Outbox events not yet published, oldest first.
    fn events(&self) -> Vec<MailingEvent> {
        self.store
            .claim_outbox(100, std::time::Duration::from_secs(60), Utc::now())
            .unwrap()
            .into_iter()
            .map(|event| event.event)
            .collect()
    }
}

const START: fn() -> DateTime<Utc> = || utc(2030, 5, 1, 0, 0);

#[test]
fn connect_routes_sqlite_urls_and_create_database_makes_the_directory() {
    let db = TestSqliteDatabase::create();
    let dir = db.path().parent().unwrap().join("nested/deeper");
    let url = format!("sqlite://{}", dir.join("fresh.db").display());
    assert!(create_database_if_missing(&url).unwrap());
    assert!(dir.join("fresh.db").exists());
    assert!(!create_database_if_missing(&url).unwrap());
    let store = connect(&url, &ConnectOptions::default()).unwrap();
    store.ping().unwrap();
    assert_eq!(store.migrate().unwrap().len(), 3);
    assert!(store.migrate().unwrap().is_empty());
    match connect("sqlite://", &ConnectOptions::default()) {
        Err(StoreError::Internal(_)) => {}
        other => panic!("expected an internal error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn clients_round_trip_with_tags_and_keep_their_rules() {
    let f = Lite::new();
    let store = &*f.store;
    let created = client(store, "79001234567", "bln", &["vip", "a_b", "vip"]);
    assert_eq!(created.tags, vec![tag("a_b"), tag("vip")]);
    assert_eq!(store.get_client(created.id).unwrap(), created);
    assert_eq!(
        store.list_tags(ALL).unwrap().total,
        2,
        "tags were created once"
    );

    let duplicate = NewClient {
        phone: phone("79001234567"),
        operator_code: code("mts"),
        tags: vec![],
        time_zone: zone(UTC),
    };
    assert_eq!(
        rejection(store.create_client(&duplicate)),
        Rejection::DuplicatePhone
    );
    let unknown = NewClient {
        phone: phone("79007654321"),
        operator_code: code("nobody"),
        ..duplicate
    };
    assert_eq!(
        rejection(store.create_client(&unknown)),
        Rejection::UnknownOperator
    );

    // Only given fields change; tags are replaced only when given.
    let moved = store
        .update_client(
            created.id,
            &ClientPatch {
                operator_code: Some(code("mts")),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert_eq!(moved.operator_code, code("mts"));
    assert_eq!(moved.tags, created.tags);
    assert!(moved.updated_at >= created.updated_at);
    let retagged = store
        .update_client(
            created.id,
            &ClientPatch {
                tags: Some(vec![tag("new")]),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert_eq!(retagged.tags, vec![tag("new")]);
    assert_eq!(
        rejection(store.update_client(
            created.id,
            &ClientPatch {
                operator_code: Some(code("nobody")),
                ..ClientPatch::default()
            },
        )),
        Rejection::UnknownOperator
    );
    let other = client(store, "79001110000", "bln", &["vip"]);
    assert_eq!(
        rejection(store.update_client(
            other.id,
            &ClientPatch {
                phone: Some(phone("79001234567")),
                ..ClientPatch::default()
            },
        )),
        Rejection::DuplicatePhone
    );

    // Filters: operator, tag, and a phone prefix taken literally.
    let list = |query: ClientQuery| -> Vec<_> {
        store
            .list_clients(&query, ALL)
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(
        list(ClientQuery {
            operator_code: Some(code("bln")),
            ..ClientQuery::default()
        }),
        vec![other.id]
    );
    assert_eq!(
        list(ClientQuery {
            tag: Some(tag("new")),
            ..ClientQuery::default()
        }),
        vec![created.id]
    );
    assert_eq!(
        list(ClientQuery {
            phone_prefix: Some("790012".to_owned()),
            ..ClientQuery::default()
        }),
        vec![created.id]
    );
    assert!(
        list(ClientQuery {
            phone_prefix: Some("7900_".to_owned()),
            ..ClientQuery::default()
        })
        .is_empty(),
        "'_' is no wildcard"
    );
    let page = store
        .list_clients(&ClientQuery::default(), page(1, 1))
        .unwrap();
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0].id, other.id);

    assert_not_found(
        store.get_client(mailing_domain::ClientId(999)),
        Entity::Client,
    );
    assert_not_found(
        store.update_client(mailing_domain::ClientId(999), &ClientPatch::default()),
        Entity::Client,
    );
    assert_not_found(
        store.delete_client(mailing_domain::ClientId(999)),
        Entity::Client,
    );
}

#[test]
fn deleting_a_client_cancels_unsent_messages_and_keeps_sent_ones_without_the_client() {
    let f = Lite::new();
    let store = &*f.store;
    let gone = client(store, "79001234567", "bln", &["vip"]);
    let stays = client(store, "79001234568", "bln", &[]);
    let first = mailing(store);
    let second = mailing(store);
    let inserted = store
        .insert_messages(&[
            new_message(first.id, gone.id, Sent),
            new_message(second.id, gone.id, Scheduled),
            new_message(second.id, stays.id, Scheduled),
        ])
        .unwrap();
    assert_eq!(inserted, 3);
    store.delete_client(gone.id).unwrap();
    assert_not_found(store.get_client(gone.id), Entity::Client);

    let kept = f.messages(first.id);
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].status, kept[0].client_id), (Sent, None));
    assert!(kept[0].sent_at.is_some());
    let statuses: Vec<_> = f
        .messages(second.id)
        .into_iter()
        .map(|m| (m.client_id, m.status))
        .collect();
    assert_eq!(
        statuses,
        vec![(None, Cancelled), (Some(stays.id), Scheduled)]
    );
    // The tag stays; only the link went.
    assert_eq!(store.list_tags(ALL).unwrap().total, 1);
}

#[test]
fn client_filters_round_trip_and_mailings_keep_their_copy() {
    let f = Lite::new();
    let store = &*f.store;
    let saved = saved_filter(store, &["mts", "bln"], &["vip"]);
    assert_eq!(saved.filter, filter(&["bln", "mts"], &["vip"]));
    assert_eq!(store.get_client_filter(saved.id).unwrap(), saved);
    assert_eq!(store.list_client_filters(ALL).unwrap().total, 1);

    let m = store
        .create_mailing(&draft(
            utc(2030, 1, 1, 10, 0),
            utc(2030, 1, 1, 12, 0),
            FilterSource::Saved(saved.id),
        ))
        .unwrap();
    assert_eq!(
        (m.filter.clone(), m.client_filter_id),
        (saved.filter.clone(), Some(saved.id))
    );

    let renamed = store
        .update_client_filter(
            saved.id,
            &SavedFilterPatch {
                name: Some(None),
                filter: Some(filter(&[], &["other"])),
            },
        )
        .unwrap();
    assert_eq!(renamed.name, None);
    assert_eq!(renamed.filter, filter(&[], &["other"]));
    assert_eq!(
        store.get_mailing(m.id).unwrap().filter,
        saved.filter,
        "a copy"
    );

    store.delete_client_filter(saved.id).unwrap();
    assert_not_found(store.get_client_filter(saved.id), Entity::ClientFilter);
    assert_not_found(store.delete_client_filter(saved.id), Entity::ClientFilter);
    let after = store.get_mailing(m.id).unwrap();
    assert_eq!((after.filter, after.client_filter_id), (saved.filter, None));
    assert!(after.updated_at >= m.updated_at);
    assert_eq!(
        rejection(store.create_mailing(&draft(
            utc(2030, 1, 1, 10, 0),
            utc(2030, 1, 1, 12, 0),
            FilterSource::Saved(saved.id),
        ))),
        Rejection::UnknownClientFilter
    );
    let _ = store
        .create_client_filter(&NewSavedFilter {
            name: None,
            filter: ClientFilter::default(),
        })
        .unwrap();
}

#[test]
fn mailings_update_cancel_and_delete_with_their_events() {
    let f = Lite::new();
    let store = &*f.store;
    let a = client(store, "79001234567", "bln", &[]);
    let b = client(store, "79001234568", "bln", &[]);
    let m = mailing(store); // 2030-01-01 10:00 to 12:00 UTC
    assert_eq!(store.get_mailing(m.id).unwrap(), m);
    let before = utc(2029, 12, 1, 0, 0);

    let patch = MailingPatch {
        text: Some(mailing_domain::MailingText::parse("Changed").unwrap()),
        ..MailingPatch::default()
    };
    let changed = store.update_mailing(m.id, &patch, before).unwrap();
    assert_eq!(changed.text.as_str(), "Changed");
    assert_eq!(changed.schedule, m.schedule);

    store
        .insert_messages(&[
            new_message(m.id, a.id, Sent),
            new_message(m.id, b.id, Scheduled),
        ])
        .unwrap();
    let cancelled = store.cancel_mailing(m.id, before).unwrap();
    assert_eq!(cancelled.cancelled_at, Some(before));
    let again = store
        .cancel_mailing(m.id, before + Duration::hours(1))
        .unwrap();
    assert_eq!(
        again.cancelled_at,
        Some(before),
        "cancelling twice is a no-op"
    );
    let counts = store.count_messages(m.id).unwrap();
    assert_eq!((counts.get(Sent), counts.get(Cancelled)), (1, 1));
    assert_eq!(
        store
            .insert_messages(&[new_message(m.id, a.id, Scheduled)])
            .unwrap(),
        0,
        "a cancelled mailing gets no messages"
    );

    let finished = mailing(store);
    assert_eq!(
        rejection(store.cancel_mailing(finished.id, utc(2030, 1, 2, 0, 0))),
        Rejection::MailingFinished
    );

    let deleted = mailing(store);
    store
        .insert_messages(&[new_message(deleted.id, a.id, Scheduled)])
        .unwrap();
    store.delete_mailing(deleted.id, before).unwrap();
    assert_not_found(store.get_mailing(deleted.id), Entity::Mailing);
    assert_not_found(store.delete_mailing(deleted.id, before), Entity::Mailing);
    assert_not_found(
        store.update_mailing(deleted.id, &patch, before),
        Entity::Mailing,
    );
    assert_eq!(
        f.messages(deleted.id)[0].status,
        Cancelled,
        "the messages stay"
    );
    assert_eq!(store.list_mailings(ALL).unwrap().total, 2);

    assert_eq!(
        f.events(),
        vec![
            MailingEvent::MailingCreated { mailing_id: m.id },
            MailingEvent::MailingUpdated { mailing_id: m.id },
            MailingEvent::MailingCancelled { mailing_id: m.id },
            MailingEvent::MailingCreated {
                mailing_id: finished.id
            },
            MailingEvent::MailingCreated {
                mailing_id: deleted.id
            },
            MailingEvent::MailingDeleted {
                mailing_id: deleted.id
            },
        ]
    );
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[test]
fn messages_insert_once_per_pair_count_and_list() {
    let f = Lite::new();
    let store = &*f.store;
    let a = client(store, "79001234567", "bln", &[]);
    let b = client(store, "79001234568", "bln", &[]);
    let busy = mailing(store);
    let quiet = mailing(store);
    let batch = [
        new_message(busy.id, a.id, Sent),
        new_message(busy.id, b.id, Queued),
        new_message(quiet.id, a.id, Scheduled),
        new_message(MailingId(999), a.id, Scheduled),
    ];
    assert_eq!(store.insert_messages(&batch).unwrap(), 3);
    assert_eq!(
        store.insert_messages(&batch).unwrap(),
        0,
        "pairs are skipped"
    );
    let counts = store
        .count_messages_of(&[busy.id, quiet.id, MailingId(999)])
        .unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!(
        (counts[&busy.id].get(Sent), counts[&busy.id].get(Queued)),
        (1, 1)
    );
    assert_eq!(counts[&quiet.id].get(Scheduled), 1);
    let queued = store
        .list_messages(
            &MessageQuery {
                status: Some(Queued),
                ..MessageQuery::default()
            },
            ALL,
        )
        .unwrap();
    assert_eq!(queued.total, 1);
    let tasks = store.load_for_send(&[queued.items[0].id]).unwrap();
    assert!(
        tasks[0].queued_at.is_some(),
        "a queued message carries its claim"
    );
    assert_eq!(
        store.get_message(queued.items[0].id).unwrap(),
        queued.items[0]
    );
    assert_not_found(store.get_message(MessageId(999)), Entity::Message);

    // Twelve thousand at once stay under SQLite's bind parameter limit.
    let ids: Vec<IdRow> = diesel::sql_query(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 12000)
         INSERT INTO clients (phone_number, operator_code, time_zone)
         SELECT '7' || printf('%010d', n), 'bln', 'UTC' FROM s WHERE true
         RETURNING id",
    )
    .load(&mut f.conn())
    .unwrap();
    let many: Vec<_> = ids
        .iter()
        .map(|row| new_message(quiet.id, mailing_domain::ClientId(row.id), Scheduled))
        .collect();
    assert_eq!(store.insert_messages(&many).unwrap(), 12_000);
}

#[test]
fn expansion_plans_each_zone_within_the_window_once() {
    let f = Lite::new();
    let store = &*f.store;
    let moscow = f.client(MOSCOW, "bln", &["vip"]);
    let vladivostok = f.client(VLADIVOSTOK, "bln", &["vip"]);
    let _other_operator = f.client(MOSCOW, "mts", &["vip"]);
    let _untagged = f.client(MOSCOW, "bln", &[]);
    // 00:00-02:00 UTC with a 09:00-18:00 window: Moscow (03:00-05:00) never gets a chance,
    // Vladivostok (10:00-12:00) starts at once.
    let short = spec(START(), START() + Duration::hours(2))
        .window("09:00", "18:00")
        .filter(filter(&["bln"], &["vip"]))
        .create(store);
    // 00:00-24:00 UTC: Moscow waits for 09:00 local, 06:00 UTC.
    let long = spec(START(), START() + Duration::days(1))
        .window("09:00", "18:00")
        .filter(filter(&["bln"], &["vip"]))
        .create(store);

    assert_eq!(
        store
            .mailings_to_expand(START() - Duration::minutes(1), 10)
            .unwrap(),
        vec![]
    );
    assert_eq!(
        store.mailings_to_expand(START(), 10).unwrap(),
        vec![short.id, long.id]
    );
    let e = store.expand_mailing(short.id, START()).unwrap().unwrap();
    assert_eq!((e.scheduled, e.expired), (1, 1));
    let e = store.expand_mailing(long.id, START()).unwrap().unwrap();
    assert_eq!((e.scheduled, e.expired), (2, 0));
    assert_eq!(
        store.expand_mailing(long.id, START()).unwrap(),
        None,
        "expanded once"
    );
    assert_eq!(store.mailings_to_expand(START(), 10).unwrap(), vec![]);

    let plan = |m: MailingId| -> Vec<_> {
        f.messages(m)
            .into_iter()
            .map(|msg| (msg.client_id.unwrap(), msg.status, msg.next_attempt_at))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    };
    let short_plan: HashSet<_> = plan(short.id).into_iter().collect();
    assert_eq!(
        short_plan,
        HashSet::from([
            (moscow.id, Expired, None),
            (vladivostok.id, Scheduled, Some(START())),
        ])
    );
    let long_plan: HashSet<_> = plan(long.id).into_iter().collect();
    assert_eq!(
        long_plan,
        HashSet::from([
            (moscow.id, Scheduled, Some(START() + Duration::hours(6))),
            (vladivostok.id, Scheduled, Some(START())),
        ])
    );

    // Cancelled ones are not expanded.
    let cancelled = spec(START(), START() + Duration::days(1)).create(store);
    store
        .cancel_mailing(cancelled.id, START() - Duration::days(1))
        .unwrap();
    assert_eq!(store.expand_mailing(cancelled.id, START()).unwrap(), None);
    assert_eq!(store.expand_mailing(MailingId(999), START()).unwrap(), None);
}

#[test]
fn local_time_mailings_are_listed_fourteen_hours_early() {
    let f = Lite::new();
    let store = &*f.store;
    let noon = utc(2030, 5, 1, 12, 0);
    let local = spec(noon, noon + Duration::hours(6))
        .local_time()
        .create(store);
    let plain = spec(noon, noon + Duration::hours(6)).create(store);
    let at = |h: i64, m: i64| noon - Duration::hours(h) + Duration::minutes(m);
    assert_eq!(store.mailings_to_expand(at(14, -1), 10).unwrap(), vec![]);
    assert_eq!(
        store.mailings_to_expand(at(14, 0), 10).unwrap(),
        vec![local.id]
    );
    assert_eq!(
        store.mailings_to_expand(noon, 10).unwrap(),
        vec![local.id, plain.id]
    );
    assert_eq!(store.mailings_to_expand(noon, 1).unwrap(), vec![local.id]);
}

/// `count` UTC clients and one expanded, all-day mailing whose messages are due at START.
fn due_messages(f: &Lite, count: usize) -> (MailingId, Vec<MessageId>) {
    for _ in 0..count {
        f.client(UTC, "bln", &[]);
    }
    let m = spec(START(), START() + Duration::days(1)).create(&*f.store);
    f.store.expand_mailing(m.id, START()).unwrap().unwrap();
    let ids = f.messages(m.id).into_iter().map(|msg| msg.id).collect();
    (m.id, ids)
}

#[test]
fn claims_release_reclaim_renew_and_expire() {
    let f = Lite::new();
    let store = &*f.store;
    let (m, ids) = due_messages(&f, 4);
    // Sub-microsecond parts are dropped, as PostgreSQL drops them.
    let now = START() + Duration::minutes(1) + Duration::nanoseconds(1_234_567_891);
    let claim = storage_instant(now);
    assert_eq!(store.due_backlog(now).unwrap(), 4);
    assert_eq!(
        store.due_backlog(START() - Duration::seconds(1)).unwrap(),
        0
    );

    let first = store.claim_due(now, 3).unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(store.due_backlog(now).unwrap(), 1);
    let tasks = store.load_for_send(&first).unwrap();
    assert!(
        tasks
            .iter()
            .all(|t| t.status == Queued && t.queued_at == Some(claim))
    );
    let rest = store.claim_due(now, 10).unwrap();
    assert_eq!(
        sorted([first.clone(), rest.clone()].concat()),
        sorted(ids.clone())
    );
    assert!(store.claim_due(now, 10).unwrap().is_empty());

    // Renewal needs the exact claim; the untruncated instant names the same claim.
    let later = now + Duration::minutes(5);
    let renewed = store
        .renew_claims(
            &[
                (first[0], now),
                (first[1], now + Duration::seconds(1)),
                (rest[0], claim),
            ],
            later,
        )
        .unwrap();
    assert_eq!(sorted(renewed), sorted(vec![first[0], rest[0]]));
    assert!(store.renew_claims(&[], later).unwrap().is_empty());

    // Only claims neither made nor renewed since the cutoff go back.
    let cutoff = now + Duration::minutes(1);
    assert_eq!(store.reclaim_stale(cutoff, later).unwrap(), 2);
    let waiting: HashSet<_> = store
        .load_for_send(&ids)
        .unwrap()
        .into_iter()
        .filter(|t| t.status == Scheduled)
        .map(|t| {
            assert_eq!(t.queued_at, None);
            t.message_id
        })
        .collect();
    assert_eq!(waiting, HashSet::from([first[1], first[2]]));

    // Release puts claimed ones back at `at`; unclaimed ones are left alone.
    let at = later + Duration::minutes(1);
    assert_eq!(store.release(&[first[0], first[1]], at).unwrap(), 1);
    let released = store.get_message(first[0]).unwrap();
    assert_eq!(
        (released.status, released.next_attempt_at),
        (Scheduled, Some(storage_instant(at)))
    );
    assert_eq!(store.release(&[], at).unwrap(), 0);

    // Past the end, waiting messages expire and are no longer due.
    let end = START() + Duration::days(1);
    assert_eq!(store.due_backlog(end).unwrap(), 0);
    assert!(store.claim_due(end, 10).unwrap().is_empty());
    assert_eq!(store.expire_overdue(end).unwrap(), 3);
    let counts = store.count_messages(m).unwrap();
    assert_eq!((counts.get(Expired), counts.get(Queued)), (3, 1));
}

#[test]
fn concurrent_claims_are_disjoint_and_cover_every_due_message() {
    let f = Lite::new();
    let (_, ids) = due_messages(&f, 300);
    let now = START() + Duration::minutes(1);
    let store = &*f.store;
    let claim_all = || {
        let mut mine = Vec::new();
        loop {
            let batch = store.claim_due(now, 7).unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch);
        }
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(claim_all);
        let b = s.spawn(claim_all);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.len() + b.len(), ids.len(), "every message exactly once");
    assert_eq!(sorted([a, b].concat()), sorted(ids));
}

#[test]
fn outcomes_land_only_on_their_claim_but_deliveries_always_do() {
    let f = Lite::new();
    let store = &*f.store;
    let (m, _) = due_messages(&f, 6);
    let now = START() + Duration::minutes(1);
    let claimed = sorted(store.claim_due(now, 10).unwrap());
    let [retry, stale, unchecked, sent, delivered_late, failed] = claimed[..] else {
        panic!("six claims");
    };
    let next = now + Duration::minutes(10);
    let outcome = |id, claimed_at, kind| Outcome {
        message_id: id,
        claimed_at,
        kind,
    };
    let written = store
        .record_outcomes(&[
            outcome(
                retry,
                Some(now),
                OutcomeKind::Retry {
                    error: "busy".into(),
                    next_attempt_at: next,
                },
            ),
            outcome(
                stale,
                Some(now - Duration::seconds(1)),
                OutcomeKind::Failed {
                    error: "lost".into(),
                },
            ),
            outcome(
                unchecked,
                None,
                OutcomeKind::Deferred {
                    next_attempt_at: next,
                },
            ),
            outcome(sent, Some(now), OutcomeKind::Sent { at: now }),
            outcome(
                failed,
                Some(now),
                OutcomeKind::Failed { error: "no".into() },
            ),
        ])
        .unwrap();
    assert_eq!(
        sorted(written),
        sorted(vec![retry, unchecked, sent, failed])
    );

    let message = |id| store.get_message(id).unwrap();
    let r = message(retry);
    assert_eq!(
        (
            r.status,
            r.attempts,
            r.last_error.as_deref(),
            r.next_attempt_at
        ),
        (Retrying, 1, Some("busy"), Some(next))
    );
    assert_eq!(message(stale).status, Queued, "another claim: skipped");
    let d = message(unchecked);
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at),
        (Scheduled, 0, Some(next))
    );
    let s = message(sent);
    assert_eq!((s.status, s.attempts, s.sent_at), (Sent, 1, Some(now)));
    assert_eq!(message(failed).status, Failed);
    assert!(
        store
            .load_for_send(&[retry, sent])
            .unwrap()
            .iter()
            .all(|t| t.queued_at.is_none()),
        "outcomes end the claim"
    );

    // A retrying message is no longer queued: only a delivery still lands, and it clears
    // the error; a sent or failed message takes nothing.
    let nothing = store
        .record_outcomes(&[
            outcome(retry, None, OutcomeKind::Cancelled),
            outcome(sent, None, OutcomeKind::Sent { at: next }),
            outcome(failed, None, OutcomeKind::Sent { at: next }),
        ])
        .unwrap();
    assert!(nothing.is_empty());
    assert_eq!(
        store
            .record_outcomes(&[outcome(retry, Some(now), OutcomeKind::Sent { at: next })])
            .unwrap(),
        vec![retry]
    );
    let r = message(retry);
    assert_eq!((r.status, r.attempts, r.last_error), (Sent, 2, None));

    // A delivery lands even after the mailing was cancelled under it.
    store.cancel_mailing(m, now).unwrap();
    assert_eq!(message(delivered_late).status, Cancelled);
    assert_eq!(
        store
            .record_outcomes(&[outcome(
                delivered_late,
                Some(now),
                OutcomeKind::Sent { at: now }
            )])
            .unwrap(),
        vec![delivered_late]
    );
    assert_eq!(message(delivered_late).status, Sent);
    assert_eq!(message(stale).status, Cancelled);

    assert!(store.record_outcomes(&[]).unwrap().is_empty());
}

#[test]
fn load_for_send_and_mailing_states_read_the_current_state() {
    let f = Lite::new();
    let store = &*f.store;
    let c = f.client(MOSCOW, "bln", &[]);
    let m = spec(START(), START() + Duration::days(1))
        .window("09:00", "18:00")
        .create(store);
    let other = spec(START(), START() + Duration::days(1)).create(store);
    store.expand_mailing(m.id, START()).unwrap().unwrap();
    let id = f.messages(m.id)[0].id;

    let task = &store.load_for_send(&[id, MessageId(999)]).unwrap()[0];
    assert_eq!(task.message_id, id);
    assert_eq!(task.mailing_id, m.id);
    assert_eq!(task.client_id, Some(c.id));
    assert_eq!(task.phone.as_ref(), Some(&c.phone));
    assert_eq!(task.time_zone, Some(zone(MOSCOW)));
    assert_eq!(task.text, m.text);
    assert_eq!(task.schedule, m.schedule);
    assert_eq!(
        (task.status, task.attempts, task.queued_at),
        (Scheduled, 0, None)
    );
    assert!(task.mailing_active);

    let states = store
        .mailing_states(&[m.id, other.id, MailingId(999)])
        .unwrap();
    assert_eq!(states.len(), 2);
    assert!(states.iter().all(|s| s.active));
    let state = states.iter().find(|s| s.id == m.id).unwrap();
    assert_eq!(state.schedule, m.schedule);

    store.cancel_mailing(m.id, START()).unwrap();
    store.delete_mailing(other.id, START()).unwrap();
    store.delete_client(c.id).unwrap();
    let task = &store.load_for_send(&[id]).unwrap()[0];
    assert_eq!(
        (task.client_id, task.phone.clone(), task.time_zone),
        (None, None, None)
    );
    assert!(!task.mailing_active);
    assert_eq!(task.status, Cancelled);
    let states = store.mailing_states(&[m.id, other.id]).unwrap();
    assert_eq!(states.len(), 1, "deleted mailings are absent");
    assert!(!states[0].active);
}

#[test]
fn replanning_moves_waiting_messages_to_the_new_plan() {
    let f = Lite::new();
    let store = &*f.store;
    f.client(MOSCOW, "bln", &[]);
    let m = spec(START(), START() + Duration::days(1)).create(store);
    store.expand_mailing(m.id, START()).unwrap().unwrap();
    let before = f.messages(m.id)[0].clone();
    assert_eq!(before.next_attempt_at, Some(START()));
    let window = mailing_domain::SendWindow::parse("09:00", "18:00").unwrap();
    store
        .update_mailing(
            m.id,
            &MailingPatch {
                send_window: Some(Some(window)),
                ..MailingPatch::default()
            },
            START() - Duration::hours(1),
        )
        .unwrap();
    assert_eq!(store.replan_mailing(m.id, START()).unwrap(), 1);
    let after = store.get_message(before.id).unwrap();
    assert_eq!(
        (after.status, after.next_attempt_at),
        (Scheduled, Some(START() + Duration::hours(6)))
    );
    assert_eq!(store.replan_mailing(MailingId(999), START()).unwrap(), 0);
}
