use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use chrono::Duration;
use mailing_domain::mailing::{MailingField, UpdateRefused};
use mailing_domain::store::{Entity, FilterSource, MailingPatch, MessageQuery, Rejection};
use mailing_domain::{
    ClientFilter, ClientFilterId, Invalid, MailingId, MailingStatus, MailingText, MessageStatus,
    SendWindow,
};

/// Before the helper mailing's start (2030-01-01 10:00 UTC).
fn before() -> chrono::DateTime<chrono::Utc> {
    utc(2029, 12, 31, 0, 0)
}

/// While the helper mailing runs.
fn during() -> chrono::DateTime<chrono::Utc> {
    utc(2030, 1, 1, 11, 0)
}

/// After the helper mailing's end.
fn after() -> chrono::DateTime<chrono::Utc> {
    utc(2030, 1, 2, 0, 0)
}

each_backend!(create_with_an_inline_or_a_saved_filter);
fn create_with_an_inline_or_a_saved_filter(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let window = SendWindow::parse("22:00", "06:00").unwrap();
    let mut inline = draft(
        utc(2030, 1, 1, 10, 0),
        utc(2030, 1, 2, 10, 0),
        FilterSource::Inline(filter(&["bln", "mts"], &["vip"])),
    );
    inline.schedule = mailing_domain::MailingSchedule::new(
        utc(2030, 1, 1, 10, 0),
        utc(2030, 1, 2, 10, 0),
        true,
        Some(window),
    )
    .unwrap();
    let created = store.create_mailing(&inline).unwrap();
    assert_eq!(created.text, inline.text);
    assert_eq!(created.schedule, inline.schedule);
    assert_eq!(created.filter, filter(&["bln", "mts"], &["vip"]));
    assert_eq!(created.client_filter_id, None);
    assert_eq!(created.cancelled_at, None);
    assert_eq!(store.get_mailing(created.id).unwrap(), created);

    let saved = saved_filter(&*store, &["tele2"], &[]);
    let from_saved = store
        .create_mailing(&draft(
            utc(2030, 1, 1, 10, 0),
            utc(2030, 1, 1, 12, 0),
            FilterSource::Saved(saved.id),
        ))
        .unwrap();
    assert_eq!(from_saved.filter, saved.filter);
    assert_eq!(from_saved.client_filter_id, Some(saved.id));

    let missing = store.create_mailing(&draft(
        utc(2030, 1, 1, 10, 0),
        utc(2030, 1, 1, 12, 0),
        FilterSource::Saved(ClientFilterId(999)),
    ));
    assert_eq!(rejection(missing), Rejection::UnknownClientFilter);
    assert_eq!(store.list_mailings(ALL).unwrap().total, 2);
}

each_backend!(lists_page_by_id_and_hide_deleted_mailings);
fn lists_page_by_id_and_hide_deleted_mailings(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let ids: Vec<MailingId> = (0..5).map(|_| mailing(&*store).id).collect();
    store.delete_mailing(ids[1], before()).unwrap();

    let listed = store.list_mailings(page(1, 2)).unwrap();
    assert_eq!(listed.total, 4);
    assert_eq!(
        listed.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [ids[2], ids[3]]
    );
}

each_backend!(a_scheduled_mailing_accepts_any_change);
fn a_scheduled_mailing_accepts_any_change(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = mailing(&*store);
    let saved = saved_filter(&*store, &["bln"], &[]);
    let window = SendWindow::parse("09:00", "21:00").unwrap();

    let updated = store
        .update_mailing(
            created.id,
            &MailingPatch {
                text: Some(MailingText::parse("Changed").unwrap()),
                start_at: Some(utc(2030, 2, 1, 10, 0).into()),
                end_at: Some(utc(2030, 2, 2, 10, 0).into()),
                local_time: Some(true),
                send_window: Some(Some(window)),
                filter: Some(FilterSource::Saved(saved.id)),
                frequency_cap: None,
                auto_pause: None,
            },
            before(),
        )
        .unwrap();
    assert_eq!(updated.text.as_str(), "Changed");
    assert_eq!(updated.schedule.start_at(), utc(2030, 2, 1, 10, 0));
    assert_eq!(updated.schedule.end_at(), utc(2030, 2, 2, 10, 0));
    assert!(updated.schedule.local_time());
    assert_eq!(updated.schedule.send_window(), Some(window));
    assert_eq!(updated.filter, saved.filter);
    assert_eq!(updated.client_filter_id, Some(saved.id));
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at > created.updated_at);
    assert_eq!(store.get_mailing(created.id).unwrap(), updated);

    // An inline filter replaces the copy and unlinks the saved filter; no window clears it.
    let inline = store
        .update_mailing(
            created.id,
            &MailingPatch {
                send_window: Some(None),
                filter: Some(FilterSource::Inline(filter(&[], &["vip"]))),
                ..MailingPatch::default()
            },
            before(),
        )
        .unwrap();
    assert_eq!(inline.filter, filter(&[], &["vip"]));
    assert_eq!(inline.client_filter_id, None);
    assert_eq!(inline.schedule.send_window(), None);
    assert_eq!(inline.text.as_str(), "Changed");
    assert_eq!(store.get_mailing(created.id).unwrap(), inline);

    let missing = store.update_mailing(
        created.id,
        &MailingPatch {
            filter: Some(FilterSource::Saved(ClientFilterId(12_345))),
            ..MailingPatch::default()
        },
        before(),
    );
    assert_eq!(rejection(missing), Rejection::UnknownClientFilter);
}

each_backend!(a_running_mailing_keeps_its_audience_and_start);
fn a_running_mailing_keeps_its_audience_and_start(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = mailing(&*store);

    let refiltered = store.update_mailing(
        created.id,
        &MailingPatch {
            filter: Some(FilterSource::Inline(filter(&["bln"], &[]))),
            ..MailingPatch::default()
        },
        during(),
    );
    assert_eq!(
        rejection(refiltered),
        Rejection::MailingLocked(UpdateRefused::RunningFieldsLocked(vec![
            MailingField::Filter
        ]))
    );
    // Restating the same filter changes nothing, so it is allowed.
    store
        .update_mailing(
            created.id,
            &MailingPatch {
                filter: Some(FilterSource::Inline(ClientFilter::default())),
                ..MailingPatch::default()
            },
            during(),
        )
        .unwrap();

    let extended = store
        .update_mailing(
            created.id,
            &MailingPatch {
                text: Some(MailingText::parse("Last call").unwrap()),
                end_at: Some((created.schedule.end_at() + Duration::hours(1)).into()),
                ..MailingPatch::default()
            },
            during(),
        )
        .unwrap();
    assert_eq!(extended.text.as_str(), "Last call");
    assert_eq!(extended.schedule.end_at(), utc(2030, 1, 1, 13, 0));
    assert_eq!(store.get_mailing(created.id).unwrap(), extended);
}

each_backend!(updates_are_checked_against_the_stored_mailing);
fn updates_are_checked_against_the_stored_mailing(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = mailing(&*store);
    let early_end = store.update_mailing(
        created.id,
        &MailingPatch {
            end_at: Some(utc(2030, 1, 1, 9, 0).into()),
            ..MailingPatch::default()
        },
        before(),
    );
    assert_eq!(
        rejection(early_end),
        Rejection::Invalid {
            field: "end_at",
            rule: Invalid::EndNotAfterStart
        }
    );

    let finished = store.update_mailing(
        created.id,
        &MailingPatch {
            text: Some(MailingText::parse("Too late").unwrap()),
            ..MailingPatch::default()
        },
        after(),
    );
    assert_eq!(
        rejection(finished),
        Rejection::MailingLocked(UpdateRefused::NotEditable(MailingStatus::Finished))
    );
    assert_eq!(store.get_mailing(created.id).unwrap(), created);
    assert_not_found(
        store.update_mailing(MailingId(4040), &MailingPatch::default(), before()),
        Entity::Mailing,
    );
}

/// A mailing with one client in each message status.
fn mailing_with_every_status(store: &dyn mailing_domain::store::Store) -> MailingId {
    operator(store, "bln");
    let created = mailing(store);
    let batch: Vec<_> = MessageStatus::ALL
        .iter()
        .enumerate()
        .map(|(i, &status)| {
            let client = client(store, &format!("7900000000{i}"), "bln", &[]);
            new_message(created.id, client.id, status)
        })
        .collect();
    assert_eq!(
        store.insert_messages(&batch).unwrap(),
        MessageStatus::ALL.len() as u64
    );
    created.id
}

fn statuses(store: &dyn mailing_domain::store::Store, mailing: MailingId) -> Vec<MessageStatus> {
    let query = MessageQuery {
        mailing_id: Some(mailing),
        ..MessageQuery::default()
    };
    store
        .list_messages(&query, ALL)
        .unwrap()
        .items
        .iter()
        .map(|m| m.status)
        .collect()
}

/// What cancelling or deleting leaves of [`mailing_with_every_status`]'s messages.
/// A suppressed message, never to be sent, stays suppressed.
const AFTER_CANCEL: [MessageStatus; 8] = [
    MessageStatus::Cancelled,
    MessageStatus::Cancelled,
    MessageStatus::Sent,
    MessageStatus::Cancelled,
    MessageStatus::Failed,
    MessageStatus::Expired,
    MessageStatus::Cancelled,
    MessageStatus::Suppressed,
];

each_backend!(cancel_stops_unsent_messages_once);
fn cancel_stops_unsent_messages_once(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let id = mailing_with_every_status(&*store);

    let cancelled = store.cancel_mailing(id, during()).unwrap();
    assert_eq!(cancelled.cancelled_at, Some(during()));
    assert_eq!(cancelled.status(during()), MailingStatus::Cancelled);
    assert_eq!(statuses(&*store, id), AFTER_CANCEL);
    assert_eq!(store.get_mailing(id).unwrap(), cancelled);

    let again = store.cancel_mailing(id, after()).unwrap();
    assert_eq!(again, cancelled);

    let edit = store.update_mailing(
        id,
        &MailingPatch {
            text: Some(MailingText::parse("Changed").unwrap()),
            ..MailingPatch::default()
        },
        during(),
    );
    assert_eq!(
        rejection(edit),
        Rejection::MailingLocked(UpdateRefused::NotEditable(MailingStatus::Cancelled))
    );
}

each_backend!(a_finished_mailing_cannot_be_cancelled);
fn a_finished_mailing_cannot_be_cancelled(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let created = mailing(&*store);
    assert_eq!(
        rejection(store.cancel_mailing(created.id, after())),
        Rejection::MailingFinished
    );
    assert_eq!(store.get_mailing(created.id).unwrap().cancelled_at, None);
    assert_not_found(
        store.cancel_mailing(MailingId(31), before()),
        Entity::Mailing,
    );
}

each_backend!(delete_hides_the_mailing_and_cancels_unsent_messages);
fn delete_hides_the_mailing_and_cancels_unsent_messages(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let id = mailing_with_every_status(&*store);

    store.delete_mailing(id, during()).unwrap();
    assert_not_found(store.get_mailing(id), Entity::Mailing);
    assert_not_found(
        store.update_mailing(id, &MailingPatch::default(), during()),
        Entity::Mailing,
    );
    assert_not_found(store.cancel_mailing(id, during()), Entity::Mailing);
    assert_not_found(store.delete_mailing(id, during()), Entity::Mailing);
    // Its messages stay in the database, settled as a cancellation leaves them, but no read
    // shows them any more, as none shows the mailing.
    let kept = |condition: &str| {
        db.count(&format!(
            "SELECT count(*) AS count FROM messages WHERE mailing_id = {}{condition}",
            id.0
        ))
    };
    assert_eq!(kept(""), MessageStatus::ALL.len() as i64);
    assert_eq!(
        kept(" AND status IN ('scheduled', 'queued', 'retrying')"),
        0
    );
    assert!(statuses(&*store, id).is_empty());
    assert_eq!(store.count_messages(id).unwrap().total(), 0);
}
