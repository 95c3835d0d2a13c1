//! How an import's report is stored on PostgreSQL (`jsonb`), and how the planner learns what an
//! import changed.

use super::Conn;
use crate::columns::CountRow;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::convert::Infallible;

/// Batches of one import written at once: while one batch's statements travel or its rows are
/// classified, the database works on another's. On two cores a third gained nothing.
pub(super) const CONCURRENT_IMPORT_BATCHES: usize = 2;

/// A JSON column's value as diesel reads and writes it.
pub(super) type StoredJson = serde_json::Value;

pub(super) fn store_json(value: &serde_json::Value) -> StoredJson {
    value.clone()
}

pub(super) fn json_of(stored: StoredJson) -> Result<serde_json::Value, Infallible> {
    Ok(stored)
}

/// Brings the planner's statistics of `tables` up to date after an import wrote `written` rows
/// to each, if autovacuum would (more than 50 rows and 10 % of what the statistics hold): a
/// table loaded from empty would otherwise keep the statistics of an empty one until
/// autovacuum's next round (a minute, or never where it is off), and plans made for a handful
/// of rows run for seconds over a million. `ANALYZE` reads a fixed sample, a fraction of a
/// second whatever the size, and blocks no reads or writes.
pub(super) fn refresh_statistics(
    conn: &mut Conn,
    tables: &[&str],
    written: u64,
) -> QueryResult<()> {
    let written = i64::try_from(written).unwrap_or(i64::MAX);
    for table in tables {
        // `reltuples` is -1 until the table was first analyzed.
        let known: CountRow = diesel::sql_query(
            "SELECT GREATEST(reltuples, 0)::bigint AS count FROM pg_class
             WHERE oid = to_regclass($1)",
        )
        .bind::<Text, _>(*table)
        .get_result(conn)?;
        if written > 50 + known.count / 10 {
            // A name of the schema, not input: quoted, it cannot change the statement.
            diesel::sql_query(format!("ANALYZE \"{table}\"")).execute(conn)?;
        }
    }
    Ok(())
}
