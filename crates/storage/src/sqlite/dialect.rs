//! What SQLite does its own way, in the names the shared modules call; `pg/dialect.rs` answers
//! the same names for PostgreSQL.

use crate::columns::filter_lists;
use chrono::{DateTime, Utc};
use mailing_domain::store::storage_instant;
use mailing_domain::{Attributes, ClientFilter};

/// The clock rows are stamped with, read here: SQLite's own `CURRENT_TIMESTAMP` has another
/// text format than the bound instants it would be compared with.
pub(super) fn now() -> DateTime<Utc> {
    storage_instant(Utc::now())
}

/// A list of strings as its column holds it: SQLite has no arrays, so a JSON array in `TEXT`
/// (the migrations check it is one).
pub(super) type StoredList = String;

/// Attributes as their column holds them: a JSON object in `TEXT` (the migrations check it is
/// one).
pub(super) type StoredAttributes = String;

pub(super) fn store_attributes(attributes: &Attributes) -> StoredAttributes {
    attributes.to_json().to_string()
}

/// The JSON an attributes column holds.
pub(super) fn attributes_json(
    stored: StoredAttributes,
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(&stored)
}

/// A filter's operator codes and tag values as their list columns hold them.
pub(super) fn store_filter(filter: &ClientFilter) -> (StoredList, StoredList) {
    let (codes, tags) = filter_lists(filter);
    let json = |values: Vec<String>| serde_json::to_string(&values).expect("strings serialise");
    (json(codes), json(tags))
}

/// The strings a list column holds; what is not a list makes the row corrupt.
pub(super) fn read_list(stored: StoredList) -> Result<Vec<String>, serde_json::Error> {
    serde_json::from_str(&stored)
}

/// The most bind parameters one statement may carry (`SQLITE_MAX_VARIABLE_NUMBER`).
pub(super) const MAX_BIND_PARAMETERS: usize = 32_766;

/// No row locks: every write runs in an IMMEDIATE transaction, which holds the database's one
/// write lock from its start, so nothing can change a row between our read and our write.
macro_rules! for_update {
    ($query:expr) => {
        $query
    };
}

/// As [`for_update!`]: the IMMEDIATE transaction already keeps every row as read.
macro_rules! for_share {
    ($query:expr) => {
        $query
    };
}

/// As [`for_update!`]: with one writer at a time, no row is ever held by another one.
macro_rules! for_update_skip_locked {
    ($query:expr) => {
        $query
    };
}

pub(super) use {for_share, for_update, for_update_skip_locked};
