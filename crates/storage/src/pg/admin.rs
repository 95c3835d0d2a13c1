//! Work on the server rather than in one database: creating the database a URL names.

use crate::errors::Redactor;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use mailing_domain::store::{StoreError, StoreResult};

/// Creates the database `url` names if the server does not have it yet, connecting to the
/// server's `postgres` database with the same credentials. Returns whether it was created.
pub fn create_database_if_missing(url: &str) -> StoreResult<bool> {
    let redactor = Redactor::for_url(url);
    let name = database_name(url)
        .ok_or_else(|| StoreError::Internal("the database URL names no database".to_owned()))?;
    let unavailable = |error: &dyn std::fmt::Display| {
        StoreError::Unavailable(redactor.redact(&error.to_string()))
    };
    let mut admin = PgConnection::establish(&with_database(url, "postgres"))
        .map_err(|error| unavailable(&error))?;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&name)
            .get_result::<Exists>(&mut admin)
            .map_err(|error| unavailable(&error))?;
    if found.exists {
        return Ok(false);
    }
    // CREATE DATABASE takes no bind parameters; quote the name as an identifier instead.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(format!("CREATE DATABASE {quoted}")).execute(&mut admin) {
        Ok(_) => Ok(true),
        // Another process created it between our check and our statement.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(error) => Err(StoreError::Internal(redactor.redact(&error.to_string()))),
    }
}

/// The database name in a `postgres://` URL, percent-decoding left aside (names are plain).
fn database_name(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let before_query = rest.split('?').next().unwrap_or(rest);
    let authority_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let slash = before_query[authority_start..].find('/')?;
    let name = &before_query[authority_start + slash + 1..];
    (!name.is_empty()).then(|| name.to_owned())
}

/// `url` with its database name replaced by `database`, keeping credentials, host and query.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.find('?') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    // The authority ends at the first '/' after the credentials' last '@'.
    let authority_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let authority_end = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |slash| authority_start + slash);
    format!(
        "{scheme}://{}/{database}{query}",
        &before_query[..authority_end]
    )
}

#[cfg(test)]
mod tests {
    use super::{database_name, with_database};

    #[test]
    fn swaps_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p/w@db/admin?sslmode=disable", "t1"),
            "postgresql://u:p/w@db/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db", "t1"), "postgres://db/t1");
    }

    #[test]
    fn finds_the_database_name() {
        assert_eq!(
            database_name("postgres://u:p@h:5432/mailing?sslmode=disable").as_deref(),
            Some("mailing")
        );
        assert_eq!(
            database_name("postgres://u:p/w@db/admin").as_deref(),
            Some("admin")
        );
        assert_eq!(database_name("postgres://db"), None);
        assert_eq!(database_name("postgres://db/"), None);
    }
}
