//! How an import's report is stored on SQLite: JSON text.

/// A JSON column's value as diesel reads and writes it.
pub(super) type StoredJson = String;

pub(super) fn store_json(value: &serde_json::Value) -> StoredJson {
    value.to_string()
}

pub(super) fn json_of(stored: StoredJson) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(&stored)
}
