use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use mailing_domain::store::{
    ClientPatch, ClientQuery, Entity, MessageQuery, NewClient, NewTag, Rejection,
};
use mailing_domain::{ClientId, MessageStatus, TimeZone};
use std::thread;

each_backend!(create_makes_missing_tags_and_returns_them_sorted);
fn create_makes_missing_tags_and_returns_them_sorted(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let existing = store.create_tag(&NewTag { value: tag("b") }).unwrap();

    let created = client(&*store, "79854456670", "bln", &["c", "b", "a", "c", "B"]);
    assert_eq!(created.phone, phone("79854456670"));
    assert_eq!(created.operator_code, code("bln"));
    assert_eq!(created.time_zone.name(), "Europe/Moscow");
    assert_eq!(created.tags, vec![tag("B"), tag("a"), tag("b"), tag("c")]);
    assert_eq!(store.get_client(created.id).unwrap(), created);

    let tags = store.list_tags(ALL).unwrap();
    assert_eq!(tags.total, 4);
    assert!(tags.items.contains(&existing), "the existing tag is reused");
}

each_backend!(get_update_delete_missing_clients);
fn get_update_delete_missing_clients(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let missing = ClientId(77);
    assert_not_found(store.get_client(missing), Entity::Client);
    assert_not_found(
        store.update_client(missing, &ClientPatch::default()),
        Entity::Client,
    );
    assert_not_found(store.delete_client(missing), Entity::Client);
}

each_backend!(update_changes_given_fields_and_replaces_tags_only_when_given);
fn update_changes_given_fields_and_replaces_tags_only_when_given(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    operator(&*store, "mts");
    let created = client(&*store, "79000000001", "bln", &["x", "y"]);

    let moved = store
        .update_client(
            created.id,
            &ClientPatch {
                phone: Some(phone("79000000009")),
                operator_code: Some(code("mts")),
                tags: None,
                time_zone: Some(TimeZone::parse("Asia/Vladivostok").unwrap()),
                attributes: None,
            },
        )
        .unwrap();
    assert_eq!(moved.phone, phone("79000000009"));
    assert_eq!(moved.operator_code, code("mts"));
    assert_eq!(moved.time_zone.name(), "Asia/Vladivostok");
    assert_eq!(moved.tags, vec![tag("x"), tag("y")]);
    assert_eq!(moved.created_at, created.created_at);
    assert!(moved.updated_at > created.updated_at);

    let retagged = store
        .update_client(
            created.id,
            &ClientPatch {
                tags: Some(vec![tag("z"), tag("x")]),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert_eq!(retagged.tags, vec![tag("x"), tag("z")]);
    assert_eq!(retagged.phone, moved.phone);
    assert!(retagged.updated_at > moved.updated_at);
    assert_eq!(store.get_client(created.id).unwrap(), retagged);

    let untagged = store
        .update_client(
            created.id,
            &ClientPatch {
                tags: Some(Vec::new()),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert!(untagged.tags.is_empty());
    // The tags themselves stay.
    assert_eq!(store.list_tags(ALL).unwrap().total, 3);
}

each_backend!(phone_numbers_are_unique);
fn phone_numbers_are_unique(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    client(&*store, "79000000001", "bln", &[]);
    let second = client(&*store, "79000000002", "bln", &[]);
    let duplicate = store.create_client(&NewClient {
        phone: phone("79000000001"),
        operator_code: code("bln"),
        tags: vec![tag("new")],
        time_zone: TimeZone::utc(),
        attributes: mailing_domain::Attributes::default(),
    });
    assert_eq!(rejection(duplicate), Rejection::DuplicatePhone);
    // Nothing of the refused write stays, not even its new tag.
    assert_eq!(store.list_tags(ALL).unwrap().total, 0);

    let renumber = store.update_client(
        second.id,
        &ClientPatch {
            phone: Some(phone("79000000001")),
            ..ClientPatch::default()
        },
    );
    assert_eq!(rejection(renumber), Rejection::DuplicatePhone);
}

each_backend!(clients_need_a_known_operator);
fn clients_need_a_known_operator(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let unknown = store.create_client(&NewClient {
        phone: phone("79000000001"),
        operator_code: code("nope"),
        tags: Vec::new(),
        time_zone: TimeZone::utc(),
        attributes: mailing_domain::Attributes::default(),
    });
    assert_eq!(rejection(unknown), Rejection::UnknownOperator);

    let created = client(&*store, "79000000001", "bln", &[]);
    let moved = store.update_client(
        created.id,
        &ClientPatch {
            operator_code: Some(code("nope")),
            ..ClientPatch::default()
        },
    );
    assert_eq!(rejection(moved), Rejection::UnknownOperator);
    assert_eq!(store.get_client(created.id).unwrap(), created);
}

each_backend!(list_filters_by_operator_tag_and_phone_prefix);
fn list_filters_by_operator_tag_and_phone_prefix(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    operator(&*store, "mts");
    let a = client(&*store, "79850000001", "bln", &["vip"]);
    let b = client(&*store, "79850000002", "mts", &["vip", "new"]);
    let c = client(&*store, "79880000003", "bln", &[]);
    let d = client(&*store, "79880000004", "mts", &["new"]);

    let ids = |query: ClientQuery| -> (Vec<ClientId>, u64) {
        let listed = store.list_clients(&query, ALL).unwrap();
        (listed.items.iter().map(|c| c.id).collect(), listed.total)
    };
    assert_eq!(
        ids(ClientQuery::default()),
        (vec![a.id, b.id, c.id, d.id], 4)
    );
    let by_operator = ClientQuery {
        operator_code: Some(code("bln")),
        ..ClientQuery::default()
    };
    assert_eq!(ids(by_operator), (vec![a.id, c.id], 2));
    let by_tag = ClientQuery {
        tag: Some(tag("vip")),
        ..ClientQuery::default()
    };
    assert_eq!(ids(by_tag), (vec![a.id, b.id], 2));
    let by_prefix = ClientQuery {
        phone_prefix: Some("7988".to_owned()),
        ..ClientQuery::default()
    };
    assert_eq!(ids(by_prefix), (vec![c.id, d.id], 2));
    let all_three = ClientQuery {
        operator_code: Some(code("mts")),
        tag: Some(tag("new")),
        phone_prefix: Some("798".to_owned()),
        ..ClientQuery::default()
    };
    assert_eq!(ids(all_three), (vec![b.id, d.id], 2));
    let wildcard = ClientQuery {
        phone_prefix: Some("7_8".to_owned()),
        ..ClientQuery::default()
    };
    assert_eq!(ids(wildcard), (vec![], 0));
    let unknown_tag = ClientQuery {
        tag: Some(tag("none")),
        ..ClientQuery::default()
    };
    assert_eq!(ids(unknown_tag), (vec![], 0));

    // A page carries each client's own tags, and the total of the whole filtered list.
    let vip_page = store
        .list_clients(
            &ClientQuery {
                tag: Some(tag("vip")),
                ..ClientQuery::default()
            },
            page(1, 1),
        )
        .unwrap();
    assert_eq!(vip_page.total, 2);
    assert_eq!(vip_page.items, vec![b]);
}

each_backend!(delete_cancels_unsent_messages_and_keeps_finished_ones);
fn delete_cancels_unsent_messages_and_keeps_finished_ones(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let gone = client(&*store, "79000000001", "bln", &["t"]);
    let stays = client(&*store, "79000000002", "bln", &[]);
    let statuses = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Retrying,
        MessageStatus::Sent,
        MessageStatus::Failed,
    ];
    let mailings: Vec<_> = statuses.iter().map(|_| mailing(&*store).id).collect();
    let mut batch: Vec<_> = mailings
        .iter()
        .zip(statuses)
        .map(|(&m, status)| new_message(m, gone.id, status))
        .collect();
    batch.push(new_message(mailings[0], stays.id, MessageStatus::Scheduled));
    assert_eq!(store.insert_messages(&batch).unwrap(), 6);

    store.delete_client(gone.id).unwrap();
    assert_not_found(store.get_client(gone.id), Entity::Client);

    let orphans = store
        .list_messages(
            &MessageQuery {
                mailing_id: None,
                client_id: None,
                status: None,
                phone_prefix: None,
            },
            ALL,
        )
        .unwrap()
        .items;
    let orphan_statuses: Vec<_> = orphans
        .iter()
        .filter(|m| m.client_id.is_none())
        .map(|m| m.status)
        .collect();
    assert_eq!(
        orphan_statuses,
        [
            MessageStatus::Cancelled,
            MessageStatus::Cancelled,
            MessageStatus::Cancelled,
            MessageStatus::Sent,
            MessageStatus::Failed,
        ]
    );
    let others: Vec<_> = orphans
        .iter()
        .filter(|m| m.client_id == Some(stays.id))
        .collect();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].status, MessageStatus::Scheduled);
    let sent = orphans
        .iter()
        .find(|m| m.status == MessageStatus::Sent)
        .unwrap();
    assert!(sent.sent_at.is_some());
    // The tag outlives the client.
    assert_eq!(store.list_tags(ALL).unwrap().total, 1);
}

each_backend!(concurrent_clients_share_a_new_tag);
fn concurrent_clients_share_a_new_tag(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let phones = ["79000000001", "79000000002", "79000000003", "79000000004"];
    thread::scope(|scope| {
        for number in phones {
            let store = &store;
            scope.spawn(move || client(&**store, number, "bln", &["fresh", "shared"]));
        }
    });
    let tags = store.list_tags(ALL).unwrap();
    assert_eq!(tags.total, 2);
    let carriers = store
        .list_clients(
            &ClientQuery {
                tag: Some(tag("fresh")),
                ..ClientQuery::default()
            },
            ALL,
        )
        .unwrap();
    assert_eq!(carriers.total, 4);
}
