use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use mailing_domain::TagId;
use mailing_domain::store::{Entity, NewTag, Rejection};

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

    store.delete_tag(created.id).unwrap();
    assert_not_found(store.get_tag(created.id), Entity::Tag);
    assert_not_found(store.delete_tag(created.id), Entity::Tag);
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

each_backend!(renaming_or_deleting_a_tag_changes_the_clients_that_carry_it);
fn renaming_or_deleting_a_tag_changes_the_clients_that_carry_it(backend: Backend) {
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

    store.delete_tag(important.id).unwrap();
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
