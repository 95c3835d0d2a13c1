//! How an import's report is stored on PostgreSQL: `jsonb`.

use std::convert::Infallible;

/// A JSON column's value as diesel reads and writes it.
pub(super) type StoredJson = serde_json::Value;

pub(super) fn store_json(value: &serde_json::Value) -> StoredJson {
    value.clone()
}

pub(super) fn json_of(stored: StoredJson) -> Result<serde_json::Value, Infallible> {
    Ok(stored)
}
