use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use mailing_domain::ClientFilterId;
use mailing_domain::store::{Entity, FilterSource, NewSavedFilter, SavedFilterPatch};

each_backend!(create_get_list_update_delete);
fn create_get_list_update_delete(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = store
        .create_client_filter(&NewSavedFilter {
            name: Some("Beeline VIPs".to_owned()),
            filter: filter(&["bln"], &["vip", "Another Tag"]),
        })
        .unwrap();
    assert_eq!(created.name.as_deref(), Some("Beeline VIPs"));
    assert_eq!(created.filter, filter(&["bln"], &["Another Tag", "vip"]));
    assert_eq!(store.get_client_filter(created.id).unwrap(), created);

    let unnamed = store
        .update_client_filter(
            created.id,
            &SavedFilterPatch {
                name: Some(None),
                filter: None,
            },
        )
        .unwrap();
    assert_eq!(unnamed.name, None);
    assert_eq!(unnamed.filter, created.filter);
    assert!(unnamed.updated_at > created.updated_at);

    let refiltered = store
        .update_client_filter(
            created.id,
            &SavedFilterPatch {
                name: None,
                filter: Some(filter(&[], &[])),
            },
        )
        .unwrap();
    assert_eq!(refiltered.name, None);
    assert_eq!(refiltered.filter, filter(&[], &[]));

    let renamed = store
        .update_client_filter(
            created.id,
            &SavedFilterPatch {
                name: Some(Some("All".to_owned())),
                filter: None,
            },
        )
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("All"));
    assert_eq!(store.list_client_filters(ALL).unwrap().items, vec![renamed]);

    store.delete_client_filter(created.id).unwrap();
    assert_not_found(store.get_client_filter(created.id), Entity::ClientFilter);
    assert_not_found(store.delete_client_filter(created.id), Entity::ClientFilter);
    assert_not_found(
        store.update_client_filter(ClientFilterId(5), &SavedFilterPatch::default()),
        Entity::ClientFilter,
    );
}

each_backend!(mailings_keep_their_copy_when_the_saved_filter_changes_or_goes);
fn mailings_keep_their_copy_when_the_saved_filter_changes_or_goes(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let saved = saved_filter(&*store, &["bln"], &["vip"]);
    let copied = store
        .create_mailing(&draft(
            utc(2030, 1, 1, 10, 0),
            utc(2030, 1, 1, 12, 0),
            FilterSource::Saved(saved.id),
        ))
        .unwrap();

    store
        .update_client_filter(
            saved.id,
            &SavedFilterPatch {
                name: None,
                filter: Some(filter(&["mts"], &[])),
            },
        )
        .unwrap();
    assert_eq!(store.get_mailing(copied.id).unwrap(), copied);

    store.delete_client_filter(saved.id).unwrap();
    let orphan = store.get_mailing(copied.id).unwrap();
    assert_eq!(orphan.filter, filter(&["bln"], &["vip"]));
    assert_eq!(orphan.client_filter_id, None);
    assert!(orphan.updated_at > copied.updated_at);
}

each_backend!(lists_page_by_id_with_the_whole_total);
fn lists_page_by_id_with_the_whole_total(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let ids: Vec<_> = (0..4).map(|_| saved_filter(&*store, &[], &[]).id).collect();
    let listed = store.list_client_filters(page(2, 5)).unwrap();
    assert_eq!(listed.total, 4);
    assert_eq!(
        listed.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        ids[2..]
    );
}
