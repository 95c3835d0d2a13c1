use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use chrono::Duration;
use mailing_domain::store::{
    Entity, FilterSource, NewClient, NewTag, Rejection, StoreError, TagUse,
};
use mailing_domain::{ClientFilterId, MailingId, TagId};

fn new_tag(raw: &str) -> NewTag {
    NewTag { value: tag(raw) }
}

each_backend!(create_get_list_update_delete);
fn create_get_list_update_delete(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = store.create_tag(&new_tag("Important")).unwrap();
    assert_eq!(created.value, tag("Important"));
    assert_eq!(store.get_tag(created.id).unwrap(), created);

    let renamed = store.update_tag(created.id, &new_tag("Urgent")).unwrap();
    assert_eq!(renamed.value, tag("Urgent"));
    assert_eq!(renamed.id, created.id);
    assert_eq!(store.list_tags(ALL).unwrap().items, vec![renamed]);

    store.delete_tag(created.id, false).unwrap();
    assert_not_found(store.get_tag(created.id), Entity::Tag);
    assert_not_found(store.delete_tag(created.id, false), Entity::Tag);
    assert_not_found(store.delete_tag(created.id, true), Entity::Tag);
    assert_not_found(store.update_tag(TagId(424_242), &new_tag("x")), Entity::Tag);
}

each_backend!(values_are_unique);
fn values_are_unique(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.create_tag(&new_tag("Important")).unwrap();
    let other = store.create_tag(&new_tag("Another Tag")).unwrap();
    assert_eq!(
        rejection(store.create_tag(&new_tag("Important"))),
        Rejection::DuplicateTag
    );
    assert_eq!(
        rejection(store.update_tag(other.id, &new_tag("Important"))),
        Rejection::DuplicateTag
    );
    // Case matters: a different value.
    store.create_tag(&new_tag("important")).unwrap();
}

each_backend!(renaming_or_detaching_a_tag_changes_the_clients_that_carry_it);
fn renaming_or_detaching_a_tag_changes_the_clients_that_carry_it(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let tagged = client(&*store, "79000000001", "bln", &["Important", "Other"]);
    let untagged = client(&*store, "79000000002", "bln", &["Other"]);
    let important = store
        .list_tags(ALL)
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.value == tag("Important"))
        .unwrap();

    store.update_tag(important.id, &new_tag("Vital")).unwrap();
    let renamed = store.get_client(tagged.id).unwrap();
    assert_eq!(renamed.tags, vec![tag("Other"), tag("Vital")]);
    assert!(renamed.updated_at > tagged.updated_at);

    store.delete_tag(important.id, true).unwrap();
    assert_not_found(store.get_tag(important.id), Entity::Tag);
    let after = store.get_client(tagged.id).unwrap();
    assert_eq!(after.tags, vec![tag("Other")]);
    assert!(after.updated_at > renamed.updated_at);
    assert_eq!(store.get_client(untagged.id).unwrap(), untagged);
}

each_backend!(lists_page_by_id_with_the_whole_total);
fn lists_page_by_id_with_the_whole_total(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    for value in ["e", "d", "c", "b", "a"] {
        store.create_tag(&new_tag(value)).unwrap();
    }
    let last = store.list_tags(page(3, 10)).unwrap();
    assert_eq!(last.total, 5);
    let values: Vec<_> = last.items.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(values, ["b", "a"]);
}

/// The tag `value` as stored.
fn find(store: &dyn mailing_domain::store::Store, value: &str) -> mailing_domain::store::Tag {
    store
        .list_tags(ALL)
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.value == tag(value))
        .unwrap()
}

each_backend!(a_tag_clients_carry_is_deleted_only_when_taken_off_them);
fn a_tag_clients_carry_is_deleted_only_when_taken_off_them(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let first = client(&*store, "79000000001", "bln", &["vip", "new"]);
    client(&*store, "79000000002", "bln", &["vip"]);
    let vip = find(&*store, "vip");

    assert_eq!(
        rejection(store.delete_tag(vip.id, false)),
        Rejection::TagInUse(TagUse {
            clients: 2,
            ..TagUse::default()
        })
    );
    // Nothing changed: the tag and its clients are as they were.
    assert_eq!(store.get_tag(vip.id).unwrap(), vip);
    assert_eq!(store.get_client(first.id).unwrap(), first);

    store.delete_tag(vip.id, true).unwrap();
    assert_not_found(store.get_tag(vip.id), Entity::Tag);
    assert_eq!(store.get_client(first.id).unwrap().tags, vec![tag("new")]);

    // Once no client carries it, a tag goes without asking.
    let new = find(&*store, "new");
    store.delete_client(first.id).unwrap();
    store.delete_tag(new.id, false).unwrap();
    assert!(store.list_tags(ALL).unwrap().items.is_empty());
}

each_backend!(a_tag_filters_name_is_not_deleted_even_when_taken_off_clients);
fn a_tag_filters_name_is_not_deleted_even_when_taken_off_clients(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let carrier = client(&*store, "79000000001", "bln", &["vip"]);
    let vip = find(&*store, "vip");
    let saved = saved_filter(&*store, &[], &["vip", "other"]);
    saved_filter(&*store, &["bln"], &[]);
    // Mailings yet to pick their clients hold it; one that has, or a cancelled one, does not.
    let start = chrono::Utc::now() + Duration::days(1);
    let by_tag = || FilterSource::Inline(filter(&[], &["vip"]));
    let upcoming = store
        .create_mailing(&draft(start, start + Duration::hours(1), by_tag()))
        .unwrap();
    let cancelled = store
        .create_mailing(&draft(start, start + Duration::hours(1), by_tag()))
        .unwrap();
    store
        .cancel_mailing(cancelled.id, chrono::Utc::now())
        .unwrap();
    let started = store
        .create_mailing(&draft(
            start - Duration::days(2),
            start + Duration::hours(1),
            by_tag(),
        ))
        .unwrap();
    store
        .expand_mailing(started.id, chrono::Utc::now())
        .unwrap()
        .unwrap();

    let expected = Rejection::TagInUse(TagUse {
        clients: 1,
        client_filters: vec![ClientFilterId(saved.id.0)],
        mailings: vec![MailingId(upcoming.id.0)],
    });
    assert_eq!(rejection(store.delete_tag(vip.id, false)), expected);
    assert_eq!(rejection(store.delete_tag(vip.id, true)), expected);
    // Refused means untouched: the client keeps the tag.
    assert_eq!(store.get_client(carrier.id).unwrap().tags, vec![tag("vip")]);

    store.delete_client_filter(saved.id).unwrap();
    store
        .delete_mailing(upcoming.id, chrono::Utc::now())
        .unwrap();
    store.delete_tag(vip.id, true).unwrap();
    assert_not_found(store.get_tag(vip.id), Entity::Tag);
}

each_backend!(a_tag_deleted_while_clients_are_created_with_it_never_fails_them);
/// One thread keeps creating a client with a tag and deleting it again, while another keeps
/// deleting that tag whenever no client carries it. Every creation succeeds, carrying the tag
/// (created again if it was gone), and every delete is either done or refused as in use.
fn a_tag_deleted_while_clients_are_created_with_it_never_fails_them(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let rounds = 150;
    let creator = {
        let store = store.clone();
        std::thread::spawn(move || {
            for round in 0..rounds {
                let created = store
                    .create_client(&NewClient {
                        phone: phone(&format!("7900{round:07}")),
                        operator_code: code("bln"),
                        tags: vec![tag("racy")],
                        time_zone: mailing_domain::TimeZone::utc(),
                        attributes: mailing_domain::Attributes::default(),
                    })
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert_eq!(created.tags, vec![tag("racy")]);
                store.delete_client(created.id).unwrap();
            }
        })
    };
    let mut deleted = 0;
    while !creator.is_finished() {
        let Some(racy) = store
            .list_tags(ALL)
            .unwrap()
            .items
            .into_iter()
            .find(|t| t.value == tag("racy"))
        else {
            continue;
        };
        match store.delete_tag(racy.id, false) {
            Ok(()) => deleted += 1,
            Err(StoreError::NotFound(Entity::Tag)) => {}
            Err(StoreError::Rejected(Rejection::TagInUse(_))) => {}
            Err(other) => panic!("deleting the tag: {other}"),
        }
    }
    creator.join().unwrap();
    assert!(deleted > 0, "the tag was never deleted between creations");
}
