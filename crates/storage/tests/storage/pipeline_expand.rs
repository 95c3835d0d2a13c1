//! Expanding mailings into messages: who gets one, when each zone is planned for, and which
//! mailings are due.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use chrono::Duration;
use mailing_domain::store::{Expansion, MessageQuery};
use mailing_domain::{ClientFilter, ClientId, MailingId, MessageStatus, SendPlan, plan_send};
use std::collections::BTreeSet;

fn recipients(f: &Fixture, mailing: MailingId) -> BTreeSet<ClientId> {
    f.store
        .list_messages(
            &MessageQuery {
                mailing_id: Some(mailing),
                ..MessageQuery::default()
            },
            ALL,
        )
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.client_id.unwrap())
        .collect()
}

each_backend!(one_message_per_matching_client_and_nobody_else);
fn one_message_per_matching_client_and_nobody_else(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let a = f.client(MOSCOW, "bln", &["vip"]).id;
    let b = f.client(MOSCOW, "bln", &[]).id;
    let c = f.client(VLADIVOSTOK, "mts", &["new"]).id;
    let d = f.client(UTC, "tele2", &["vip", "new"]).id;
    let e = f.client(MOSCOW, "mts", &["vip"]).id;
    let start = utc(2030, 5, 1, 0, 0);
    let end = utc(2030, 5, 2, 0, 0);
    let now = utc(2030, 5, 1, 1, 0);

    let cases = [
        // Both lists given: operator listed AND at least one listed tag.
        (filter(&["bln", "mts"], &["vip"]), vec![a, e]),
        (filter(&["bln"], &[]), vec![a, b]),
        (filter(&[], &["new", "vip"]), vec![a, c, d, e]),
        (filter(&[], &[]), vec![a, b, c, d, e]),
        (filter(&["tele2"], &["missing"]), vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            store.count_matching(&filter).unwrap(),
            expected.len() as u64,
            "{filter:?}"
        );
        let m = spec(start, end).filter(filter.clone()).create(store);
        let expansion = store.expand_mailing(m.id, now).unwrap();
        let expected: BTreeSet<ClientId> = expected.into_iter().collect();
        assert_eq!(recipients(&f, m.id), expected, "{filter:?}");
        // Each message is addressed to its client's number.
        for message in store
            .list_messages(
                &MessageQuery {
                    mailing_id: Some(m.id),
                    ..MessageQuery::default()
                },
                ALL,
            )
            .unwrap()
            .items
        {
            let client = store.get_client(message.client_id.unwrap()).unwrap();
            assert_eq!(message.phone, Some(client.phone), "{filter:?}");
        }
        assert_eq!(
            expansion,
            Some(Expansion {
                scheduled: expected.len() as u64,
                expired: 0,
                suppressed: 0,
            }),
            "{filter:?}"
        );
    }
}

each_backend!(expanding_twice_creates_nothing_new);
fn expanding_twice_creates_nothing_new(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(MOSCOW, "bln", &[]);
    f.client(UTC, "mts", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).create(store);
    let now = utc(2030, 5, 1, 1, 0);
    assert_eq!(
        store.expand_mailing(m.id, now).unwrap(),
        Some(Expansion {
            scheduled: 2,
            expired: 0,
            suppressed: 0,
        })
    );

    // A client that arrives later does not reopen the expansion.
    f.client(VLADIVOSTOK, "bln", &[]);
    assert_eq!(store.expand_mailing(m.id, now).unwrap(), None);
    assert_eq!(
        store
            .expand_mailing(m.id, now + Duration::hours(1))
            .unwrap(),
        None
    );
    assert_eq!(store.count_messages(m.id).unwrap().total(), 2);
}

each_backend!(messages_that_exist_before_the_expansion_stay_as_they_are);
/// Messages put in before the mailing expands (by tools or by hand) keep their state; the
/// expansion adds one for each client that has none.
fn messages_that_exist_before_the_expansion_stay_as_they_are(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let early = f.client(MOSCOW, "bln", &[]);
    f.client(UTC, "mts", &[]);
    f.client(VLADIVOSTOK, "bln", &[]);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).create(store);
    store
        .insert_messages(&[new_message(m.id, early.id, MessageStatus::Sent)])
        .unwrap();
    assert_eq!(
        store.expand_mailing(m.id, utc(2030, 5, 1, 1, 0)).unwrap(),
        Some(Expansion {
            scheduled: 2,
            expired: 0,
            suppressed: 0,
        })
    );
    f.row_for(m.id, &early).assert_status(MessageStatus::Sent);
    let counts = store.count_messages(m.id).unwrap();
    assert_eq!(
        (
            counts.get(MessageStatus::Sent),
            counts.get(MessageStatus::Scheduled)
        ),
        (1, 2)
    );
}

each_backend!(cancelled_deleted_and_missing_mailings_are_not_expanded);
fn cancelled_deleted_and_missing_mailings_are_not_expanded(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.client(MOSCOW, "bln", &[]);
    let schedule = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0));
    let now = utc(2030, 5, 1, 1, 0);
    let cancelled = schedule.create(store);
    let deleted = schedule.create(store);
    store.cancel_mailing(cancelled.id, now).unwrap();
    store.delete_mailing(deleted.id, now).unwrap();

    for id in [cancelled.id, deleted.id, MailingId(999)] {
        assert_eq!(store.expand_mailing(id, now).unwrap(), None, "{id}");
        assert_eq!(store.count_messages(id).unwrap().total(), 0, "{id}");
    }
}

each_backend!(concurrent_expansions_of_one_mailing_create_each_message_once);
fn concurrent_expansions_of_one_mailing_create_each_message_once(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.bulk_clients(2_000, MOSCOW);
    let m = spec(utc(2030, 5, 1, 0, 0), utc(2030, 5, 2, 0, 0)).create(store);
    let now = utc(2030, 5, 1, 1, 0);

    let start = std::sync::Barrier::new(2);
    let expand = || {
        start.wait();
        store.expand_mailing(m.id, now).unwrap()
    };
    let results = std::thread::scope(|s| {
        let a = s.spawn(expand);
        let b = s.spawn(expand);
        [a.join().unwrap(), b.join().unwrap()]
    });
    let done: Vec<Expansion> = results.into_iter().flatten().collect();
    assert_eq!(
        done,
        vec![Expansion {
            scheduled: 2_000,
            expired: 0,
            suppressed: 0,
        }]
    );
    assert_eq!(store.count_messages(m.id).unwrap().total(), 2_000);
}

each_backend!(each_zone_is_planned_on_its_own_clock_within_the_window);
fn each_zone_is_planned_on_its_own_clock_within_the_window(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let moscow = f.client(MOSCOW, "bln", &[]);
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let utc_client = f.client(UTC, "bln", &[]);
    let end = utc(2030, 5, 3, 0, 0);
    let mailing = spec(utc(2030, 5, 1, 0, 0), end).window("09:00", "21:00");
    let m = mailing.create(store);
    // 07:00 in Moscow, 14:00 in Vladivostok, 04:00 in UTC.
    let now = utc(2030, 5, 1, 4, 0);

    assert_eq!(
        store.expand_mailing(m.id, now).unwrap(),
        Some(Expansion {
            scheduled: 3,
            expired: 0,
            suppressed: 0,
        })
    );
    f.row_for(m.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 6, 0), end);
    f.row_for(m.id, &vladivostok).assert_planned(now, end);
    f.row_for(m.id, &utc_client)
        .assert_planned(utc(2030, 5, 1, 9, 0), end);

    // The same answers as the domain's planner.
    for client in [&moscow, &vladivostok, &utc_client] {
        let row = f.row_for(m.id, client);
        assert_eq!(
            plan_send(&mailing.schedule(), client.time_zone.tz(), now),
            SendPlan::At {
                send_at: row.next_attempt_at.unwrap(),
                expires_at: row.expires_at.unwrap(),
            },
            "{}",
            client.time_zone
        );
    }
}

each_backend!(zones_whose_window_never_opens_before_the_end_get_expired_messages);
fn zones_whose_window_never_opens_before_the_end_get_expired_messages(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let moscow = [f.client(MOSCOW, "bln", &[]), f.client(MOSCOW, "mts", &[])];
    let utc_client = f.client(UTC, "bln", &[]);
    let start = utc(2030, 5, 1, 0, 0);
    let end = utc(2030, 5, 1, 5, 0);
    let m = spec(start, end).window("09:00", "21:00").create(store);
    // Open in Vladivostok (10:00); Moscow (03:00) opens at 06:00 UTC and UTC at 09:00, both
    // after the end.
    let now = start;

    assert_eq!(
        store.expand_mailing(m.id, now).unwrap(),
        Some(Expansion {
            scheduled: 1,
            expired: 3,
            suppressed: 0,
        })
    );
    f.row_for(m.id, &vladivostok).assert_planned(now, end);
    assert_eq!(f.row_for(m.id, &vladivostok).last_error, None);
    for client in moscow.iter().chain([&utc_client]) {
        let row = f.row_for(m.id, client);
        row.assert_status(MessageStatus::Expired);
        assert_eq!((row.next_attempt_at, row.queued_at), (None, None));
        // Each says why, with its own zone.
        assert_eq!(
            row.last_error.as_deref(),
            Some(
                format!(
                    "the mailing ended before the client's send window opened \
                     (window 09:00\u{2013}21:00 {})",
                    client.time_zone.name()
                )
                .as_str()
            )
        );
    }
    // Long after: only Vladivostok's message is ever handed out.
    let claimed = store.claim_due(utc(2030, 5, 1, 4, 59), 100).unwrap();
    assert_eq!(claimed, vec![f.row_for(m.id, &vladivostok).id()]);
}

each_backend!(count_matching_is_what_an_expansion_now_creates);
/// The count a filter's preview shows is the number of messages expanding a mailing with that
/// filter creates, whichever of them are planned to wait and whichever expire at once.
fn count_matching_is_what_an_expansion_now_creates(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    f.bulk_clients(500, UTC);
    // Listed operator and at least one listed tag; the second carries two of them.
    f.client(VLADIVOSTOK, "bln", &["vip"]);
    f.client(VLADIVOSTOK, "mts", &["vip", "new"]);
    f.client(MOSCOW, "mts", &["new", "other"]);
    f.client(UTC, "bln", &["new"]);
    // An unlisted operator, or no listed tag.
    f.client(MOSCOW, "tele2", &["vip"]);
    f.client(UTC, "bln", &["other"]);
    let start = utc(2030, 5, 1, 0, 0);
    let end = utc(2030, 5, 1, 5, 0);
    // The window is open in Vladivostok; Moscow's and UTC's open only after the end.
    let mailing = spec(start, end).window("09:00", "21:00");
    let now = start;

    let both = filter(&["bln", "mts"], &["vip", "new"]);
    assert_eq!(store.count_matching(&both).unwrap(), 4);
    let m = mailing.clone().filter(both.clone()).create(store);
    assert_eq!(
        store.expand_mailing(m.id, now).unwrap(),
        Some(Expansion {
            scheduled: 2,
            expired: 2,
            suppressed: 0,
        })
    );

    let cases = [
        (filter(&["bln"], &[]), 503),
        (filter(&["bln", "tele2"], &["vip", "other"]), 3),
        (filter(&[], &["vip"]), 3),
        (filter(&["mts"], &["missing"]), 0),
        (ClientFilter::default(), 506),
    ];
    for (wanted, expected) in cases {
        let counted = store.count_matching(&wanted).unwrap();
        assert_eq!(counted, expected, "{wanted:?}");
        let m = mailing.clone().filter(wanted.clone()).create(store);
        let expansion = store.expand_mailing(m.id, now).unwrap().unwrap();
        assert_eq!(
            expansion.scheduled + expansion.expired,
            counted,
            "{wanted:?}"
        );
        assert_eq!(store.count_messages(m.id).unwrap().total(), counted);
    }
}

each_backend!(local_time_mailings_start_and_end_on_each_clients_clock);
fn local_time_mailings_start_and_end_on_each_clients_clock(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let moscow = f.client(MOSCOW, "bln", &[]);
    let vladivostok = f.client(VLADIVOSTOK, "bln", &[]);
    let utc_client = f.client(UTC, "bln", &[]);
    // 10:00 to 12:00 on every client's own clock.
    let mailing = spec(utc(2030, 5, 1, 10, 0), utc(2030, 5, 1, 12, 0)).local_time();
    let early = mailing.create(store);
    let late = mailing.create(store);

    // Due once the easternmost zone (UTC+14) reaches 10:00.
    let due = utc(2030, 4, 30, 21, 0);
    assert_eq!(
        store.expand_mailing(early.id, due).unwrap(),
        Some(Expansion {
            scheduled: 3,
            expired: 0,
            suppressed: 0,
        })
    );
    f.row_for(early.id, &vladivostok)
        .assert_planned(utc(2030, 5, 1, 0, 0), utc(2030, 5, 1, 2, 0));
    f.row_for(early.id, &moscow)
        .assert_planned(utc(2030, 5, 1, 7, 0), utc(2030, 5, 1, 9, 0));
    f.row_for(early.id, &utc_client)
        .assert_planned(utc(2030, 5, 1, 10, 0), utc(2030, 5, 1, 12, 0));

    // At 08:00 UTC it is 18:00 in Vladivostok (over), 11:00 in Moscow (running), 08:00 in
    // UTC (not started).
    let now = utc(2030, 5, 1, 8, 0);
    assert_eq!(
        store.expand_mailing(late.id, now).unwrap(),
        Some(Expansion {
            scheduled: 2,
            expired: 1,
            suppressed: 0,
        })
    );
    let gone = f.row_for(late.id, &vladivostok);
    gone.assert_status(MessageStatus::Expired);
    assert_eq!(gone.next_attempt_at, None);
    assert_eq!(
        gone.last_error.as_deref(),
        Some("the mailing ended before its turn came")
    );
    f.row_for(late.id, &moscow)
        .assert_planned(now, utc(2030, 5, 1, 9, 0));
    f.row_for(late.id, &utc_client)
        .assert_planned(utc(2030, 5, 1, 10, 0), utc(2030, 5, 1, 12, 0));
}

each_backend!(mailings_to_expand_lists_due_mailings_only);
fn mailings_to_expand_lists_due_mailings_only(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let now = utc(2030, 5, 1, 12, 0);
    let end = utc(2030, 5, 3, 0, 0);
    let started = spec(utc(2030, 5, 1, 11, 0), end).create(store).id;
    let starting_now = spec(now, end).create(store).id;
    let future = spec(now + Duration::minutes(1), end).create(store).id;
    // Local 01:00 on 05-02 is reached at UTC+14 at 11:00 UTC on 05-01: due.
    let local_due = spec(utc(2030, 5, 2, 1, 0), end)
        .local_time()
        .create(store)
        .id;
    // Local 03:00 on 05-02 is reached nowhere before 13:00 UTC.
    let local_future = spec(utc(2030, 5, 2, 3, 0), end)
        .local_time()
        .create(store)
        .id;
    let cancelled = spec(utc(2030, 5, 1, 11, 0), end).create(store).id;
    store.cancel_mailing(cancelled, now).unwrap();
    let deleted = spec(utc(2030, 5, 1, 11, 0), end).create(store).id;
    store.delete_mailing(deleted, now).unwrap();
    let expanded = spec(utc(2030, 5, 1, 11, 0), end).create(store).id;
    store.expand_mailing(expanded, now).unwrap().unwrap();

    let due = store.mailings_to_expand(now, 100).unwrap();
    assert_eq!(
        due.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([started, starting_now, local_due]),
        "future {future}, local_future {local_future}"
    );
    // Oldest first, and no more than asked for.
    assert_eq!(store.mailings_to_expand(now, 1).unwrap(), vec![started]);
    assert_eq!(
        store
            .mailings_to_expand(now - Duration::days(1), 100)
            .unwrap(),
        vec![]
    );
}

each_backend!(local_time_mailings_are_listed_fourteen_hours_early);
/// The earliest zone (UTC+14) reaches a local-time mailing's start fourteen hours before UTC.
fn local_time_mailings_are_listed_fourteen_hours_early(backend: Backend) {
    let f = Fixture::new(backend);
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
        store.mailings_to_expand(at(0, -1), 10).unwrap(),
        vec![local.id]
    );
    assert_eq!(
        store.mailings_to_expand(noon, 10).unwrap(),
        vec![local.id, plain.id]
    );
    assert_eq!(store.mailings_to_expand(noon, 1).unwrap(), vec![local.id]);
}
