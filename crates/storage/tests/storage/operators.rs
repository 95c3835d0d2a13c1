use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use mailing_domain::store::{Entity, OperatorPatch, Rejection};
use mailing_domain::{OperatorId, store::NewOperator};
use mailing_domain::{OperatorName, Price};

each_backend!(create_get_list_update_delete);
fn create_get_list_update_delete(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = operator(&*store, "bln");
    assert_eq!(created.code, code("bln"));
    assert_eq!(created.name.as_str(), "Operator bln");
    assert_eq!(store.get_operator(created.id).unwrap(), created);

    let renamed = store
        .update_operator(
            created.id,
            &OperatorPatch {
                code: None,
                name: Some(OperatorName::parse("Beeline").unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.code, code("bln"));
    assert_eq!(renamed.name.as_str(), "Beeline");
    assert_eq!(renamed.created_at, created.created_at);
    assert!(renamed.updated_at > created.updated_at);

    let recoded = store
        .update_operator(
            created.id,
            &OperatorPatch {
                code: Some(code("beeline")),
                name: None,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(recoded.code, code("beeline"));
    assert_eq!(recoded.name.as_str(), "Beeline");
    assert_eq!(store.list_operators(ALL).unwrap().items, vec![recoded]);

    store.delete_operator(created.id).unwrap();
    assert_not_found(store.get_operator(created.id), Entity::Operator);
    assert_not_found(store.delete_operator(created.id), Entity::Operator);
    assert_not_found(
        store.update_operator(created.id, &OperatorPatch::default()),
        Entity::Operator,
    );
    assert_not_found(store.get_operator(OperatorId(999_999)), Entity::Operator);
}

each_backend!(a_price_per_segment_is_kept_exactly_changed_and_removed);
fn a_price_per_segment_is_kept_exactly_changed_and_removed(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let priced = store
        .create_operator(&NewOperator {
            code: code("mts"),
            name: OperatorName::parse("MTS").unwrap(),
            price_per_segment: Some(Price::parse("0.000125").unwrap()),
        })
        .unwrap();
    assert_eq!(priced.price_per_segment.unwrap().to_string(), "0.000125");
    assert_eq!(store.get_operator(priced.id).unwrap(), priced);
    let changed = store
        .update_operator(
            priced.id,
            &OperatorPatch {
                price_per_segment: Some(Some(Price::parse("1000000").unwrap())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        changed.price_per_segment.unwrap().micros(),
        1_000_000_000_000
    );
    assert_eq!(changed.name.as_str(), "MTS");
    let kept = store
        .update_operator(priced.id, &OperatorPatch::default())
        .unwrap();
    assert_eq!(kept.price_per_segment, changed.price_per_segment);
    let removed = store
        .update_operator(
            priced.id,
            &OperatorPatch {
                price_per_segment: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(removed.price_per_segment, None);
    // The database refuses a negative price whatever writes it.
    assert!(
        db.execute("UPDATE operators SET price_per_segment_micros = -1")
            .is_err()
    );
}

each_backend!(codes_are_unique);
fn codes_are_unique(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    operator(&*store, "bln");
    let mts = operator(&*store, "mts");
    let again = store.create_operator(&NewOperator {
        code: code("bln"),
        name: OperatorName::parse("Other").unwrap(),
        price_per_segment: None,
    });
    assert_eq!(rejection(again), Rejection::DuplicateOperatorCode);
    let recode = store.update_operator(
        mts.id,
        &OperatorPatch {
            code: Some(code("bln")),
            name: None,
            ..Default::default()
        },
    );
    assert_eq!(rejection(recode), Rejection::DuplicateOperatorCode);
    assert_eq!(store.list_operators(ALL).unwrap().total, 2);
}

each_backend!(an_operator_in_use_can_be_renamed_but_not_recoded_or_deleted);
fn an_operator_in_use_can_be_renamed_but_not_recoded_or_deleted(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let bln = operator(&*store, "bln");
    client(&*store, "79000000001", "bln", &[]);

    assert_eq!(
        rejection(store.delete_operator(bln.id)),
        Rejection::OperatorInUse
    );
    let recode = store.update_operator(
        bln.id,
        &OperatorPatch {
            code: Some(code("beeline")),
            name: None,
            ..Default::default()
        },
    );
    assert_eq!(rejection(recode), Rejection::OperatorInUse);

    // Writing the code it already has is no change of code.
    let same = store
        .update_operator(
            bln.id,
            &OperatorPatch {
                code: Some(code("bln")),
                name: Some(OperatorName::parse("Beeline").unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(same.name.as_str(), "Beeline");
    assert_eq!(store.get_operator(bln.id).unwrap().code, code("bln"));
}

each_backend!(lists_page_by_id_with_the_whole_total);
fn lists_page_by_id_with_the_whole_total(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let ids: Vec<_> = ["a1", "a2", "a3", "a4", "a5"]
        .iter()
        .map(|c| operator(&*store, c).id)
        .collect();
    let second = store.list_operators(page(1, 2)).unwrap();
    assert_eq!(second.total, 5);
    assert_eq!(
        second.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        ids[1..3]
    );
    let beyond = store.list_operators(page(10, 2)).unwrap();
    assert_eq!(beyond.total, 5);
    assert!(beyond.items.is_empty());
}
