//! How an import's report is stored on SQLite (JSON text), and how the query planner learns
//! what an import changed.

use super::Conn;
use diesel::prelude::*;

/// Batches of one import written at once: SQLite takes one writer at a time, so a second
/// would only wait for its turn.
pub(super) const CONCURRENT_IMPORT_BATCHES: usize = 1;

/// A JSON column's value as diesel reads and writes it.
pub(super) type StoredJson = String;

pub(super) fn store_json(value: &serde_json::Value) -> StoredJson {
    value.to_string()
}

pub(super) fn json_of(stored: StoredJson) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(&stored)
}

/// Lets SQLite bring its planner's statistics up to date after an import wrote rows:
/// `PRAGMA optimize` analyzes only the tables whose size changed enough to matter, each on a
/// bounded sample, and does nothing otherwise.
pub(super) fn refresh_statistics(
    conn: &mut Conn,
    _tables: &[&str],
    written: u64,
) -> QueryResult<()> {
    if written > 0 {
        diesel::sql_query("PRAGMA optimize").execute(conn)?;
    }
    Ok(())
}
