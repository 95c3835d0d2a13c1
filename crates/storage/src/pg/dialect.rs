//! What PostgreSQL does its own way, in the names the shared modules call; `sqlite/dialect.rs`
//! answers the same names for SQLite.

use crate::columns::filter_lists;
use mailing_domain::{Attributes, ClientFilter};
use std::convert::Infallible;

/// The clock rows are stamped with: the transaction's start, as the column defaults take it.
pub(super) fn now() -> diesel::dsl::now {
    diesel::dsl::now
}

/// A list of strings as its column holds it: `text[]`.
pub(super) type StoredList = Vec<String>;

/// Attributes as their column holds them: `jsonb`.
pub(super) type StoredAttributes = serde_json::Value;

pub(super) fn store_attributes(attributes: &Attributes) -> StoredAttributes {
    attributes.to_json()
}

/// The JSON an attributes column holds.
pub(super) fn attributes_json(stored: StoredAttributes) -> Result<serde_json::Value, Infallible> {
    Ok(stored)
}

/// A filter's operator codes and tag values as their list columns hold them.
pub(super) fn store_filter(filter: &ClientFilter) -> (StoredList, StoredList) {
    filter_lists(filter)
}

/// The strings a list column holds; what is not a list makes the row corrupt.
pub(super) fn read_list(stored: StoredList) -> Result<Vec<String>, Infallible> {
    Ok(stored)
}

/// The most bind parameters one statement may carry.
pub(super) const MAX_BIND_PARAMETERS: usize = 65_535;

/// Reads rows and holds them against writers until the transaction ends. Statements that read
/// a row and then write depending on it take this lock first.
macro_rules! for_update {
    ($query:expr) => {
        $query.for_update()
    };
}

/// Reads rows and keeps them from changing or vanishing until the transaction ends, while
/// other readers may do the same.
macro_rules! for_share {
    ($query:expr) => {
        $query.for_share()
    };
}

/// As [`for_update!`], but passes over rows another transaction holds instead of waiting for
/// them: a replica already working on a row keeps it to itself.
macro_rules! for_update_skip_locked {
    ($query:expr) => {
        $query.for_update().skip_locked()
    };
}

pub(super) use {for_share, for_update, for_update_skip_locked};
