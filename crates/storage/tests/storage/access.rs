//! Access control's storage: accounts with roles, disabling and deleting them (which ends their
//! sessions and tokens in the same transaction), single sign-on accounts, revocable access
//! tokens, API keys, sign-in attempts good once, and the append-only audit log.

use crate::backend::{Backend, TestDb, each_backend};
use chrono::{Duration, Utc};
use mailing_domain::store::{
    ActorKind, AuditQuery, NewAccessToken, NewAdminSession, NewApiKey, NewAuditEntry, NewUser,
    OidcSubject, PageRequest, Rejection, SignInAttempt, StoreError, UserChange,
};
use mailing_domain::{Role, SignInMethod, TimeZone};
use serde_json::json;

fn token(username: &str, token_id: &str, minutes: i64) -> NewAccessToken {
    let now = Utc::now();
    NewAccessToken {
        token_id: token_id.to_owned(),
        username: username.to_owned(),
        created_at: now,
        expires_at: now + Duration::minutes(minutes),
    }
}

fn session(username: &str, hash: &str) -> NewAdminSession {
    let now = Utc::now();
    NewAdminSession {
        token_hash: hash.to_owned(),
        username: username.to_owned(),
        signed_in_with: SignInMethod::Oidc,
        csrf_token: "c".repeat(64),
        time_zone: TimeZone::utc(),
        created_at: now,
        expires_at: now + Duration::hours(1),
    }
}

each_backend!(accounts_have_roles_and_disabling_one_signs_it_out_everywhere);
fn accounts_have_roles_and_disabling_one_signs_it_out_everywhere(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let ann = store
        .create_user(&NewUser {
            username: "ann".into(),
            role: Role::Manager,
            password_hash: Some("hash".into()),
        })
        .unwrap();
    assert_eq!((ann.role, ann.disabled), (Role::Manager, false));
    let sso_only = store
        .create_user(&NewUser {
            username: "bob".into(),
            role: Role::Viewer,
            password_hash: None,
        })
        .unwrap();
    assert_eq!(sso_only.password_hash, None);
    assert!(matches!(
        store.create_user(&NewUser {
            username: "ann".into(),
            role: Role::Viewer,
            password_hash: None,
        }),
        Err(StoreError::Rejected(Rejection::DuplicateUsername))
    ));
    assert_eq!(
        store
            .list_users(PageRequest {
                offset: 0,
                limit: 10
            })
            .unwrap()
            .items
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["ann", "bob"]
    );

    store.create_access_token(&token("ann", "t-1", 10)).unwrap();
    store.create_session(&session("ann", "s-1")).unwrap();
    let now = Utc::now();
    let signed_in = store.find_access_token("t-1", now).unwrap().unwrap();
    assert_eq!(
        (signed_in.username.as_str(), signed_in.role),
        ("ann", Role::Manager)
    );

    // A role change applies to the live token at once.
    let promoted = store
        .change_user(
            ann.id,
            &UserChange {
                role: Some(Role::Admin),
                ..UserChange::default()
            },
        )
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(
        store.find_access_token("t-1", now).unwrap().unwrap().role,
        Role::Admin
    );
    assert_eq!(
        store.find_session("s-1", now).unwrap().unwrap().user.role,
        Role::Admin
    );

    let disabled = store
        .change_user(
            ann.id,
            &UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
        )
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.find_access_token("t-1", now).unwrap(), None);
    assert_eq!(store.find_session("s-1", now).unwrap(), None);
    assert_eq!(db.count("SELECT count(*) AS count FROM access_tokens"), 0);
    assert_eq!(db.count("SELECT count(*) AS count FROM admin_sessions"), 0);

    // Enabled again, it needs new sign-ins; a password can be removed.
    let enabled = store
        .change_user(
            ann.id,
            &UserChange {
                disabled: Some(false),
                password_hash: Some(None),
                ..UserChange::default()
            },
        )
        .unwrap();
    assert!(!enabled.disabled);
    assert_eq!(enabled.password_hash, None);

    store.create_access_token(&token("bob", "t-2", 10)).unwrap();
    store.delete_user(sso_only.id).unwrap();
    assert_eq!(store.find_access_token("t-2", now).unwrap(), None);
    assert!(matches!(
        store.get_user(sso_only.id),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_user(sso_only.id),
        Err(StoreError::NotFound(_))
    ));
}

each_backend!(tokens_are_refused_once_revoked_or_expired);
fn tokens_are_refused_once_revoked_or_expired(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.save_user("admin", "hash").unwrap();
    store
        .create_access_token(&token("admin", "live", 10))
        .unwrap();
    store
        .create_access_token(&token("admin", "old", -1))
        .unwrap();
    let now = Utc::now();
    assert!(store.find_access_token("live", now).unwrap().is_some());
    assert_eq!(store.find_access_token("old", now).unwrap(), None);
    assert_eq!(store.find_access_token("never-issued", now).unwrap(), None);
    assert!(store.revoke_access_token("live").unwrap());
    assert!(!store.revoke_access_token("live").unwrap(), "once");
    assert_eq!(store.find_access_token("live", now).unwrap(), None);
    assert_eq!(store.purge_expired_access_tokens(now).unwrap(), 1);
}

each_backend!(single_sign_on_finds_its_account_by_subject_and_sets_its_role);
fn single_sign_on_finds_its_account_by_subject_and_sets_its_role(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    store.save_user("admin", "hash").unwrap();
    let subject = OidcSubject {
        issuer: "https://idp".into(),
        subject: "sub-1".into(),
    };
    let now = Utc::now();
    let first = store
        .sign_in_oidc_user(&subject, "carol", Role::Viewer, now)
        .unwrap();
    assert_eq!(
        (first.role, first.password_hash.clone()),
        (Role::Viewer, None)
    );
    assert_eq!(first.oidc, Some(subject.clone()));
    assert!(first.last_sign_in_at.is_some());
    // The provider renamed her and moved her to managers: same account, new role.
    let again = store
        .sign_in_oidc_user(&subject, "carol.new", Role::Manager, now)
        .unwrap();
    assert_eq!(
        (again.id, again.username.as_str(), again.role),
        (first.id, "carol", Role::Manager)
    );
    // Another subject cannot take a name an account holds.
    let other = OidcSubject {
        issuer: "https://idp".into(),
        subject: "sub-2".into(),
    };
    assert!(matches!(
        store.sign_in_oidc_user(&other, "admin", Role::Admin, now),
        Err(StoreError::Rejected(Rejection::DuplicateUsername))
    ));
    assert_eq!(store.find_user("admin").unwrap().unwrap().oidc, None);
    // A disabled account stays disabled.
    store
        .change_user(
            first.id,
            &UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
        )
        .unwrap();
    let refused = store
        .sign_in_oidc_user(&subject, "carol", Role::Admin, now + Duration::hours(1))
        .unwrap();
    assert!(refused.disabled);
    assert_eq!(
        refused.last_sign_in_at, again.last_sign_in_at,
        "a refused attempt is no sign-in"
    );
}

each_backend!(api_keys_are_found_by_hash_until_revoked_or_expired);
fn api_keys_are_found_by_hash_until_revoked_or_expired(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = Utc::now();
    let new = |name: &str, hash: &str, expires: Option<i64>| NewApiKey {
        name: name.into(),
        prefix: format!("mlk_{hash}"),
        secret_hash: hash.into(),
        role: Role::Manager,
        created_by: "admin".into(),
        created_at: now,
        expires_at: expires.map(|minutes| now + Duration::minutes(minutes)),
    };
    let crm = store.create_api_key(&new("crm", "h-1", None)).unwrap();
    store.create_api_key(&new("old", "h-2", Some(-1))).unwrap();
    assert!(matches!(
        store.create_api_key(&new("crm", "h-3", None)),
        Err(StoreError::Rejected(Rejection::DuplicateApiKeyName))
    ));
    let listed = store
        .list_api_keys(PageRequest {
            offset: 0,
            limit: 10,
        })
        .unwrap()
        .items;
    assert_eq!(
        listed.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["old", "crm"]
    );
    assert_eq!(crm.last_used_at, None);

    let precision = Duration::minutes(1);
    let used = store.use_api_key("h-1", now, precision).unwrap().unwrap();
    assert_eq!((used.id, used.role), (crm.id, Role::Manager));
    let first_use = used.last_used_at.unwrap();
    // Within the minute, the last use is not written again.
    let later = now + Duration::seconds(30);
    let again = store.use_api_key("h-1", later, precision).unwrap().unwrap();
    assert_eq!(again.last_used_at, Some(first_use));
    let much_later = now + Duration::minutes(5);
    let touched = store
        .use_api_key("h-1", much_later, precision)
        .unwrap()
        .unwrap();
    assert!(touched.last_used_at.unwrap() > first_use);

    assert_eq!(
        store.use_api_key("h-2", now, precision).unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.use_api_key("h-9", now, precision).unwrap(),
        None,
        "unknown"
    );
    assert_eq!(store.delete_api_key(crm.id).unwrap().name, "crm");
    assert_eq!(
        store.use_api_key("h-1", now, precision).unwrap(),
        None,
        "revoked"
    );
    assert!(matches!(
        store.delete_api_key(crm.id),
        Err(StoreError::NotFound(_))
    ));
}

each_backend!(a_sign_in_attempt_is_taken_once_and_not_after_it_expired);
fn a_sign_in_attempt_is_taken_once_and_not_after_it_expired(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = Utc::now();
    let attempt = |hash: &str, minutes: i64| SignInAttempt {
        state_hash: hash.into(),
        nonce: format!("nonce-{hash}"),
        pkce_verifier: format!("verifier-{hash}"),
        created_at: now,
        expires_at: now + Duration::minutes(minutes),
    };
    store.save_sign_in_attempt(&attempt("a", 10)).unwrap();
    store.save_sign_in_attempt(&attempt("b", -1)).unwrap();
    let taken = store.take_sign_in_attempt("a", now).unwrap().unwrap();
    assert_eq!(
        (taken.nonce.as_str(), taken.pkce_verifier.as_str()),
        ("nonce-a", "verifier-a")
    );
    assert_eq!(
        store.take_sign_in_attempt("a", now).unwrap(),
        None,
        "replayed"
    );
    assert_eq!(
        store.take_sign_in_attempt("b", now).unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        db.count("SELECT count(*) AS count FROM sign_in_attempts"),
        0
    );
}

each_backend!(the_audit_log_is_filtered_newest_first_and_only_appended_to);
fn the_audit_log_is_filtered_newest_first_and_only_appended_to(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    let now = Utc::now();
    let entry = |actor: &str, resource: &str, id: Option<&str>, minutes_ago: i64| NewAuditEntry {
        at: now - Duration::minutes(minutes_ago),
        actor_kind: ActorKind::User,
        actor: actor.into(),
        actor_id: 1,
        signed_in_with: SignInMethod::Password,
        interface: "api".into(),
        action: "update".into(),
        resource: resource.into(),
        resource_id: id.map(str::to_owned),
        changes: json!({"text": "Привет", "password": "[masked]"}),
        request_id: "r-1".into(),
        client_address: "10.0.0.1".into(),
    };
    let first = store
        .append_audit(&entry("ann", "mailings", Some("7"), 30))
        .unwrap();
    let second = store
        .append_audit(&entry("bob", "mailings", Some("8"), 20))
        .unwrap();
    let third = store
        .append_audit(&entry("ann", "clients", Some("7"), 10))
        .unwrap();
    assert!(first < second && second < third);
    let all = PageRequest {
        offset: 0,
        limit: 50,
    };
    let ids = |query: AuditQuery| -> Vec<i64> {
        store
            .list_audit(&query, all)
            .unwrap()
            .items
            .iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids(AuditQuery::default()), [third, second, first]);
    assert_eq!(
        ids(AuditQuery {
            actor: Some("ann".into()),
            ..AuditQuery::default()
        }),
        [third, first]
    );
    assert_eq!(
        ids(AuditQuery {
            resource: Some("mailings".into()),
            resource_id: Some("7".into()),
            ..AuditQuery::default()
        }),
        [first]
    );
    assert_eq!(
        ids(AuditQuery {
            since: Some(now - Duration::minutes(25)),
            until: Some(now - Duration::minutes(15)),
            ..AuditQuery::default()
        }),
        [second]
    );
    let page = store
        .list_audit(
            &AuditQuery::default(),
            PageRequest {
                offset: 1,
                limit: 1,
            },
        )
        .unwrap();
    assert_eq!((page.items[0].id, page.total), (second, 3));
    let read = &store.list_audit(&AuditQuery::default(), all).unwrap().items[2];
    assert_eq!(
        read.entry,
        entry("ann", "mailings", Some("7"), 30).with_stored_at(read.entry.at)
    );

    for statement in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ] {
        let refused = db.execute(statement).unwrap_err().to_string();
        assert!(refused.contains("append-only"), "{statement}: {refused}");
    }
    assert_eq!(db.count("SELECT count(*) AS count FROM audit_log"), 3);
}

trait StoredAt {
    fn with_stored_at(self, at: chrono::DateTime<Utc>) -> Self;
}

impl StoredAt for NewAuditEntry {
    /// The entry as read back: instants are stored to the microsecond.
    fn with_stored_at(mut self, at: chrono::DateTime<Utc>) -> Self {
        assert!((self.at - at).num_milliseconds().abs() < 1);
        self.at = at;
        self
    }
}
