use crate::backend::{Backend, TestDb, each_backend};

each_backend!(save_user_creates_then_replaces_the_hash);
fn save_user_creates_then_replaces_the_hash(backend: Backend) {
    let db = TestDb::create(backend);
    let store = db.store();
    assert_eq!(store.find_user("admin").unwrap(), None);

    let created = store.save_user("admin", "hash-1").unwrap();
    assert_eq!(created.username, "admin");
    assert_eq!(created.password_hash.as_deref(), Some("hash-1"));
    assert_eq!(created.role, mailing_domain::Role::Admin);
    assert_eq!(store.find_user("admin").unwrap(), Some(created.clone()));

    let replaced = store.save_user("admin", "hash-2").unwrap();
    assert_eq!(replaced.id, created.id);
    assert_eq!(replaced.password_hash.as_deref(), Some("hash-2"));
    assert_eq!(store.find_user("admin").unwrap(), Some(replaced));

    let other = store.save_user("viewer", "hash-3").unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(store.find_user("Admin").unwrap(), None);
}
