//! The admin UI's browser sessions: found by token hash until they expire, ended one by one,
//! purged in bulk, and gone with their account.

use crate::backend::{Backend, TestDb, each_backend};
use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use mailing_domain::TimeZone;
use mailing_domain::store::{AdminSession, NewAdminSession, Store, storage_instant};

fn new_session(token_hash: &str, expires_at: DateTime<Utc>) -> NewAdminSession {
    NewAdminSession {
        token_hash: token_hash.to_owned(),
        username: "admin".to_owned(),
        signed_in_with: mailing_domain::SignInMethod::Password,
        csrf_token: format!("csrf-{token_hash}"),
        time_zone: TimeZone::parse("Asia/Vladivostok").unwrap(),
        created_at: expires_at - Duration::hours(12),
        expires_at,
    }
}

fn session(store: &dyn Store, token_hash: &str, expires_at: DateTime<Utc>) -> AdminSession {
    store
        .create_session(&new_session(token_hash, expires_at))
        .unwrap()
}

each_backend!(a_session_is_found_by_its_token_hash_until_it_expires);
fn a_session_is_found_by_its_token_hash_until_it_expires(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.save_user("admin", "hash").unwrap();
    // Sub-microsecond digits are cut, as every stored instant is.
    let expires_at = Utc.timestamp_opt(1_900_000_000, 123_456_789).unwrap();
    let new = new_session("token-hash-1", expires_at);

    let created = store.create_session(&new).unwrap();
    assert_eq!(created.token_hash, "token-hash-1");
    assert_eq!(created.user.username, "admin");
    assert_eq!(created.user.role, mailing_domain::Role::Admin);
    assert_eq!(
        created.signed_in_with,
        mailing_domain::SignInMethod::Password
    );
    assert_eq!(created.csrf_token, "csrf-token-hash-1");
    assert_eq!(created.time_zone.name(), "Asia/Vladivostok");
    assert_eq!(created.created_at, storage_instant(new.created_at));
    assert_eq!(created.expires_at, storage_instant(expires_at));
    assert_ne!(created.expires_at, expires_at, "the nanoseconds are cut");

    let before = expires_at - Duration::seconds(1);
    assert_eq!(
        store.find_session("token-hash-1", before).unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.find_session("token-hash-2", before).unwrap(), None);
    assert_eq!(store.find_session("TOKEN-HASH-1", before).unwrap(), None);

    // Expired at its expiry instant and after it.
    assert_eq!(
        store
            .find_session("token-hash-1", created.expires_at)
            .unwrap(),
        None
    );
    let after = expires_at + Duration::days(1);
    assert_eq!(store.find_session("token-hash-1", after).unwrap(), None);
    let last_moment = created.expires_at - Duration::microseconds(1);
    assert_eq!(
        store.find_session("token-hash-1", last_moment).unwrap(),
        Some(created)
    );
}

each_backend!(deleting_a_session_ends_it_and_deleting_a_missing_one_does_nothing);
fn deleting_a_session_ends_it_and_deleting_a_missing_one_does_nothing(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.save_user("admin", "hash").unwrap();
    let expires_at = utc(2030, 1, 1, 12, 0);
    let now = utc(2030, 1, 1, 10, 0);
    let ended = session(&*store, "ended", expires_at);
    let kept = session(&*store, "kept", expires_at);
    assert_ne!(ended.id, kept.id);

    store.delete_session("ended").unwrap();
    assert_eq!(store.find_session("ended", now).unwrap(), None);
    assert_eq!(store.find_session("kept", now).unwrap(), Some(kept));
    store.delete_session("ended").unwrap();
    store.delete_session("never-existed").unwrap();
}

each_backend!(purging_removes_exactly_the_expired_sessions);
fn purging_removes_exactly_the_expired_sessions(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.save_user("admin", "hash").unwrap();
    let now = utc(2030, 1, 1, 10, 0);
    session(&*store, "long-gone", now - Duration::days(3));
    session(&*store, "just-now", now);
    let live = session(&*store, "live", now + Duration::seconds(1));

    assert_eq!(store.purge_expired_sessions(now).unwrap(), 2);
    assert_eq!(store.purge_expired_sessions(now).unwrap(), 0);
    assert_eq!(
        db.count("SELECT count(*) AS count FROM admin_sessions"),
        1,
        "expired sessions are removed, not only hidden"
    );
    let earlier = now - Duration::days(7);
    assert_eq!(store.find_session("long-gone", earlier).unwrap(), None);
    assert_eq!(store.find_session("live", now).unwrap(), Some(live));
    assert_eq!(
        store
            .purge_expired_sessions(now + Duration::seconds(1))
            .unwrap(),
        1
    );
}

each_backend!(sessions_belong_to_an_account_and_end_with_it);
fn sessions_belong_to_an_account_and_end_with_it(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let expires_at = utc(2030, 1, 1, 12, 0);
    assert!(
        store
            .create_session(&new_session("orphan", expires_at))
            .is_err(),
        "no account is called admin yet"
    );

    store.save_user("admin", "hash").unwrap();
    store.save_user("viewer", "hash").unwrap();
    session(&*store, "admin-1", expires_at);
    session(&*store, "admin-2", expires_at);
    let viewer = store
        .create_session(&NewAdminSession {
            username: "viewer".to_owned(),
            ..new_session("viewer-1", expires_at)
        })
        .unwrap();
    assert!(
        store
            .create_session(&new_session("admin-1", expires_at))
            .is_err(),
        "a token hash names one session"
    );
    // A new password keeps the account, and so its sessions.
    store.save_user("admin", "new-hash").unwrap();
    let now = utc(2030, 1, 1, 10, 0);
    assert!(store.find_session("admin-1", now).unwrap().is_some());

    db.execute("DELETE FROM users WHERE username = 'admin'")
        .unwrap();
    assert_eq!(store.find_session("admin-1", now).unwrap(), None);
    assert_eq!(store.find_session("admin-2", now).unwrap(), None);
    assert_eq!(store.find_session("viewer-1", now).unwrap(), Some(viewer));
}
