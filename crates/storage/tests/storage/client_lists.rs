//! Clients selected by the attribute values a filter or a list requires, and long lists read
//! page by page: a cursor that survives writes between pages, totals exact or estimated.

use crate::backend::{Backend, each_backend};
use crate::helpers::*;
use crate::pipeline::*;
use mailing_domain::store::{
    Client, ClientPage, ClientPatch, ClientQuery, MessageQuery, PageRequest,
};
use mailing_domain::{Attributes, ClientId};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn attributes(value: Value) -> Attributes {
    Attributes::from_json(&value).unwrap()
}

/// A client of `f` holding `held`.
fn client_holding(f: &Fixture, operator_code: &str, held: Value) -> Client {
    let created = f.client(MOSCOW, operator_code, &[]);
    f.store
        .update_client(
            created.id,
            &ClientPatch {
                attributes: Some(attributes(held)),
                ..ClientPatch::default()
            },
        )
        .unwrap()
}

each_backend!(filters_and_lists_require_attribute_values_of_the_same_type);
fn filters_and_lists_require_attribute_values_of_the_same_type(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let clients = [
        client_holding(&f, "bln", json!({"city": "Kazan", "age": 30, "vip": true})),
        client_holding(
            &f,
            "mts",
            json!({"city": "Kazan", "age": 30.0, "vip": false}),
        ),
        client_holding(&f, "bln", json!({"city": "kazan", "age": "30", "vip": 1})),
        client_holding(
            &f,
            "bln",
            json!({"city": "Kazan", "code": "007", "age": 31}),
        ),
        client_holding(&f, "mts", json!({"code": 7, "zip": "1", "vip": "true"})),
        client_holding(&f, "bln", json!({})),
    ];
    let wanted = [
        json!({"city": "Kazan"}),
        json!({"city": "Kazan", "age": 30}),
        json!({"age": 30.0}),
        json!({"age": "30"}),
        json!({"vip": true}),
        json!({"vip": false}),
        json!({"vip": 1}),
        json!({"vip": "true"}),
        json!({"code": "007"}),
        json!({"code": 7}),
        json!({"zip": 1}),
        json!({"missing": "x"}),
        json!({"city": "Kazan", "vip": true, "age": 30}),
    ];
    let start = utc(2030, 5, 1, 0, 0);
    let end = utc(2030, 5, 2, 0, 0);
    let now = utc(2030, 5, 1, 1, 0);
    let codes_cases: [&[&str]; 2] = [&[], &["bln"]];
    for codes in codes_cases {
        for required in &wanted {
            let filter = filter(codes, &[]).with_attributes(attributes(required.clone()));
            let expected: BTreeSet<ClientId> = clients
                .iter()
                .filter(|c| filter.matches(&c.operator_code, &c.tags, &c.attributes))
                .map(|c| c.id)
                .collect();
            let case = format!("{codes:?} {required}");
            assert_eq!(
                store.count_matching(&filter).unwrap(),
                expected.len() as u64,
                "{case}"
            );
            let by_zone: u64 = store
                .count_matching_by_zone(&filter)
                .unwrap()
                .iter()
                .map(|(_, count)| count)
                .sum();
            assert_eq!(by_zone, expected.len() as u64, "{case}");

            let m = spec(start, end).filter(filter.clone()).create(store);
            store.expand_mailing(m.id, now).unwrap();
            let reached: BTreeSet<ClientId> = store
                .list_messages(
                    &MessageQuery {
                        mailing_id: Some(m.id),
                        ..MessageQuery::default()
                    },
                    ALL,
                )
                .unwrap()
                .items
                .into_iter()
                .map(|message| message.client_id.unwrap())
                .collect();
            assert_eq!(reached, expected, "{case}");

            let listed = store
                .list_clients(
                    &ClientQuery {
                        operator_code: codes.first().map(|c| code(c)),
                        attributes: attributes(required.clone()),
                        ..ClientQuery::default()
                    },
                    ALL,
                )
                .unwrap();
            let listed_ids: BTreeSet<ClientId> = listed.items.iter().map(|c| c.id).collect();
            assert_eq!(listed_ids, expected, "{case}");
            assert_eq!(listed.total, expected.len() as u64, "{case}");
        }
    }
    // Cases that match nothing would prove little alone.
    let kazan = filter(&[], &[]).with_attributes(attributes(json!({"city": "Kazan", "age": 30})));
    assert_eq!(store.count_matching(&kazan).unwrap(), 2);
}

/// Every page of `query`, `size` clients at a time, following the cursor; `between` runs after
/// each page.
fn walk(
    f: &Fixture,
    query: &ClientQuery,
    size: u32,
    mut between: impl FnMut(usize),
) -> Vec<ClientId> {
    let mut seen = Vec::new();
    let mut query = query.clone();
    for turn in 0.. {
        let page = f
            .store
            .list_clients(
                &query,
                PageRequest {
                    offset: 0,
                    limit: size,
                },
            )
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        if !page.more {
            assert!(page.items.len() <= size as usize);
            break;
        }
        assert_eq!(
            page.items.len(),
            size as usize,
            "a page before the last is full"
        );
        query.after = page.items.last().map(|c| c.id);
        between(turn);
    }
    seen
}

each_backend!(a_cursor_reaches_every_client_once_while_others_come_and_go);
fn a_cursor_reaches_every_client_once_while_others_come_and_go(backend: Backend) {
    let f = Fixture::new(backend);
    let store = &*f.store;
    let steady: Vec<ClientId> = (0..23).map(|_| f.client(MOSCOW, "bln", &[]).id).collect();
    let mut passing: Vec<ClientId> = Vec::new();
    let seen = walk(&f, &ClientQuery::default(), 4, |turn| {
        // A client joins behind the cursor each turn, and an earlier newcomer leaves.
        passing.push(f.client(MOSCOW, "bln", &[]).id);
        if turn % 2 == 1 {
            let gone = passing.remove(0);
            store.delete_client(gone).unwrap();
        }
    });
    let unique: BTreeSet<ClientId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no client twice: {seen:?}");
    assert!(steady.iter().all(|id| unique.contains(id)), "{seen:?}");
    // Newcomers still there at the end were reached too, since they joined after the cursor.
    assert!(passing.iter().all(|id| unique.contains(id)), "{seen:?}");
    let sorted: Vec<ClientId> = unique.into_iter().collect();
    assert_eq!(seen, sorted, "in id order");

    // The cursor also walks a filtered list, and an offset counts from it.
    let vip: Vec<ClientId> = (0..5)
        .map(|_| f.client(MOSCOW, "mts", &["vip"]).id)
        .collect();
    let by_tag = ClientQuery {
        tag: Some(tag("vip")),
        ..ClientQuery::default()
    };
    assert_eq!(walk(&f, &by_tag, 2, |_| ()), vip);
    let skipped = store
        .list_clients(
            &ClientQuery {
                after: Some(vip[0]),
                ..by_tag
            },
            page(2, 10),
        )
        .unwrap();
    let ids: Vec<ClientId> = skipped.items.iter().map(|c| c.id).collect();
    assert_eq!(ids, vip[3..].to_vec());
    assert_eq!((skipped.total, skipped.total_estimated), (5, false));
}

each_backend!(totals_are_exact_for_short_lists_and_estimated_beyond);
fn totals_are_exact_for_short_lists_and_estimated_beyond(backend: Backend) {
    let f = Fixture::new(backend);
    let exact = ClientPage::EXACT_TOTAL_UP_TO;
    let ids =
        f.db.bulk_clients(u32::try_from(exact).unwrap(), "Europe/Moscow");
    let one = PageRequest {
        offset: 0,
        limit: 1,
    };
    let all = f.store.list_clients(&ClientQuery::default(), one).unwrap();
    assert_eq!((all.total, all.total_estimated), (exact, false));

    // Beyond the exact count, the ids are dense here, so the estimate is right on.
    f.db.execute(
        "INSERT INTO clients (phone_number, operator_code, time_zone)
         VALUES ('78000000001', 'mts', 'UTC'), ('78000000002', 'mts', 'UTC')",
    )
    .unwrap();
    let all = f.store.list_clients(&ClientQuery::default(), one).unwrap();
    assert_eq!((all.total, all.total_estimated), (exact + 2, true));
    assert_eq!(all.items[0].id, ids[0]);

    // Twice as many, then half of the first ones gone: the estimate follows the density of
    // the first matches, near but not exactly right.
    f.db.execute(
        "INSERT INTO clients (phone_number, operator_code, time_zone)
         SELECT '71' || substr(phone_number, 3), operator_code, time_zone FROM clients
         WHERE phone_number LIKE '70%'",
    )
    .unwrap();
    f.db.execute(&format!(
        "DELETE FROM clients WHERE id % 2 = 0 AND id <= {}",
        ids[ids.len() - 1].0
    ))
    .unwrap();
    let remaining = f.db.count("SELECT count(*) AS count FROM clients") as u64;
    assert_eq!(remaining, 2 * exact + 2 - exact / 2);
    let all = f.store.list_clients(&ClientQuery::default(), one).unwrap();
    assert!(all.total_estimated);
    assert!(
        all.total.abs_diff(remaining) <= remaining / 5,
        "{} estimated for {remaining}",
        all.total
    );

    // A filter selecting few counts them exactly again.
    let few = ClientQuery {
        operator_code: Some(code("mts")),
        ..ClientQuery::default()
    };
    let mts = f.store.list_clients(&few, ALL).unwrap();
    assert_eq!(
        (mts.total, mts.total_estimated, mts.items.len()),
        (2, false, 2)
    );
    // A phone prefix selects a range of numbers: those from 71000000001 to 71000000099 here.
    let prefix = ClientQuery {
        phone_prefix: Some("710000000".to_owned()),
        ..ClientQuery::default()
    };
    let by_prefix = f.store.list_clients(&prefix, ALL).unwrap();
    assert!(
        by_prefix
            .items
            .iter()
            .all(|c| c.phone.as_str().starts_with("710000000"))
    );
    assert_eq!(by_prefix.total, by_prefix.items.len() as u64);
    assert!(!by_prefix.total_estimated);
    assert_eq!(by_prefix.items.len(), 99);
}

each_backend!(a_long_lists_total_is_the_planners_estimate_where_the_database_gives_one);
fn a_long_lists_total_is_the_planners_estimate_where_the_database_gives_one(backend: Backend) {
    let f = Fixture::new(backend);
    let ids = f.db.bulk_clients(12_000, "UTC");
    // The first 2,000 ids all remain and every other one after them goes: the first matches
    // are dense, so extrapolating from them would count about 12,000 for the 7,000 there are.
    f.db.execute(&format!(
        "DELETE FROM clients WHERE id % 2 = 0 AND id > {}",
        ids[1_999].0
    ))
    .unwrap();
    f.db.execute("ANALYZE clients").unwrap();
    let remaining = f.db.count("SELECT count(*) AS count FROM clients") as u64;
    assert_eq!(remaining, 7_000);
    let one = PageRequest {
        offset: 0,
        limit: 1,
    };
    let all = f.store.list_clients(&ClientQuery::default(), one).unwrap();
    assert!(all.total_estimated);
    match backend {
        // The planner's statistics, fresh from ANALYZE, know how many rows there are.
        Backend::Postgres => assert!(
            all.total.abs_diff(remaining) <= remaining / 20,
            "the planner's {} for {remaining}",
            all.total
        ),
        // SQLite reports no row estimate: its total is extrapolated from the first matches.
        Backend::Sqlite => assert!(
            all.total.abs_diff(12_000) <= 12_000 / 20,
            "extrapolated {} from dense first ids",
            all.total
        ),
    }
}

each_backend!(a_tag_lists_its_holders_whether_many_few_or_none_hold_it);
fn a_tag_lists_its_holders_whether_many_few_or_none_hold_it(backend: Backend) {
    let f = Fixture::new(backend);
    // More holders than SQLite reads before the clients, so both ways of finding them run.
    let ids = f.db.bulk_clients(21_000, "UTC");
    let even: Vec<ClientId> = ids.iter().copied().filter(|id| id.0 % 2 == 0).collect();
    f.db.execute("INSERT INTO tags (value) VALUES ('common'), ('rare'), ('unheld')")
        .unwrap();
    f.db.execute(
        "INSERT INTO client_tags (client_id, tag_id)
         SELECT c.id, t.id FROM clients c, tags t WHERE t.value = 'common' AND c.id % 2 = 0",
    )
    .unwrap();
    let rare = [ids[5], ids[7_000], ids[20_999]];
    f.db.execute(&format!(
        "INSERT INTO client_tags (client_id, tag_id)
         SELECT c.id, t.id FROM clients c, tags t
         WHERE t.value = 'rare' AND c.id IN ({}, {}, {})",
        rare[0].0, rare[1].0, rare[2].0
    ))
    .unwrap();
    let by_tag = |value: &str, after: Option<ClientId>| ClientQuery {
        tag: Some(tag(value)),
        after,
        ..ClientQuery::default()
    };
    let listed = |query: &ClientQuery| {
        let page = f.store.list_clients(query, page(0, 4)).unwrap();
        let ids: Vec<ClientId> = page.items.iter().map(|c| c.id).collect();
        (ids, page.total, page.total_estimated)
    };

    let (first, total, estimated) = listed(&by_tag("common", None));
    assert_eq!(first, even[..4].to_vec());
    assert!(
        estimated && total.abs_diff(10_500) <= 10_500 / 20,
        "{total}"
    );
    let (deep, _, _) = listed(&by_tag("common", Some(even[9_999])));
    assert_eq!(deep, even[10_000..10_004].to_vec());

    assert_eq!(listed(&by_tag("rare", None)), (rare.to_vec(), 3, false));
    assert_eq!(
        listed(&by_tag("rare", Some(rare[0]))),
        (rare[1..].to_vec(), 3, false)
    );
    // A tag nobody holds and a tag that does not exist both list nobody, exactly.
    assert_eq!(listed(&by_tag("unheld", None)), (vec![], 0, false));
    assert_eq!(listed(&by_tag("nowhere", None)), (vec![], 0, false));
}

each_backend!(a_phone_prefix_lists_its_clients_in_id_order_wherever_they_stand);
fn a_phone_prefix_lists_its_clients_in_id_order_wherever_they_stand(backend: Backend) {
    let f = Fixture::new(backend);
    let ids = f.db.bulk_clients(20_000, "UTC");
    // A thousand clients in the middle of the ids get numbers `78…`, in the opposite order to
    // their ids, so the numbers' index gives them back in reverse.
    let (first, last) = (ids[10_000], ids[10_999]);
    let renumber = match backend {
        Backend::Postgres => "'78' || lpad((100000 - id)::text, 9, '0')",
        Backend::Sqlite => "'78' || printf('%09d', 100000 - id)",
    };
    f.db.execute(&format!(
        "UPDATE clients SET phone_number = {renumber} WHERE id BETWEEN {} AND {}",
        first.0, last.0
    ))
    .unwrap();
    // With fresh statistics PostgreSQL expects the few matches they are, and reads them first.
    f.db.execute("ANALYZE").unwrap();
    let prefixed = ids[10_000..11_000].to_vec();
    let by_prefix = |after: Option<ClientId>| ClientQuery {
        phone_prefix: Some("78".to_owned()),
        after,
        ..ClientQuery::default()
    };
    let listed = |query: &ClientQuery, request: PageRequest| {
        let page = f.store.list_clients(query, request).unwrap();
        let ids: Vec<ClientId> = page.items.iter().map(|c| c.id).collect();
        (ids, page.total, page.total_estimated, page.more)
    };
    assert_eq!(
        listed(&by_prefix(None), page(0, 4)),
        (prefixed[..4].to_vec(), 1_000, false, true)
    );
    assert_eq!(
        listed(&by_prefix(None), page(8, 4)).0,
        prefixed[8..12].to_vec()
    );
    assert_eq!(
        listed(&by_prefix(Some(prefixed[500])), page(0, 4)).0,
        prefixed[501..505].to_vec()
    );
    assert_eq!(
        listed(&by_prefix(Some(prefixed[997])), page(0, 4)),
        (prefixed[998..].to_vec(), 1_000, false, false)
    );
}
