//! Direct database access for what the api does not offer: inserting thousands of clients at
//! once, and reading every message of a mailing with its client's phone. One code path serves
//! both setups' databases, PostgreSQL and SQLite, the URL's scheme choosing; it branches only
//! where their SQL differs.

use crate::population::ClientSpec;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::backend::Backend;
use diesel::connection::SimpleConnection as _;
use diesel::deserialize::{self, FromSql};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use std::collections::BTreeSet;

#[derive(diesel::MultiConnection)]
enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    /// The `n`th (from 1) bound parameter as this backend writes it in raw SQL.
    fn placeholder(&self, n: usize) -> String {
        match self {
            AnyConnection::Postgresql(_) => format!("${n}"),
            AnyConnection::Sqlite(_) => "?".to_owned(),
        }
    }

    /// A timestamp column as a UTC reading: PostgreSQL keeps instants as `timestamptz`, SQLite
    /// as text already in UTC.
    fn utc_reading(&self, column: &str) -> String {
        match self {
            AnyConnection::Postgresql(_) => format!("{column} AT TIME ZONE 'UTC'"),
            AnyConnection::Sqlite(_) => column.to_owned(),
        }
    }
}

fn connect(url: &str) -> AnyConnection {
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("cannot open the test database: {e}") };
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = SqliteConnection::establish(path).unwrap_or_else(|e| fail(&e));
            // The deployment writes to the same file: wait for its lock rather than fail.
            conn.batch_execute("PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;")
                .unwrap_or_else(|e| fail(&e));
            AnyConnection::Sqlite(conn)
        }
        None => {
            AnyConnection::Postgresql(PgConnection::establish(url).unwrap_or_else(|e| fail(&e)))
        }
    }
}

/// Runs blocking database work off the test's async runtime.
async fn blocking<T: Send + 'static>(
    url: &str,
    job: impl FnOnce(&mut AnyConnection) -> T + Send + 'static,
) -> T {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || job(&mut connect(&url)))
        .await
        .expect("database task")
}

/// Rows per statement: three parameters a row stays well inside both backends' limits
/// (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 1_000;

/// Runs `statement` for `rows`, a chunk of rows at a time; `{rows}` in it stands for the rows as
/// a VALUES list.
fn insert_rows<const N: usize>(
    conn: &mut AnyConnection,
    statement: &str,
    rows: &[[&str; N]],
) -> QueryResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| {
                let fields: Vec<String> = (1..=N)
                    .map(|field| conn.placeholder(row * N + field))
                    .collect();
                format!("({})", fields.join(", "))
            })
            .collect();
        let mut query =
            diesel::sql_query(statement.replace("{rows}", &values.join(", "))).into_boxed();
        for value in chunk.iter().flatten() {
            query = query.bind::<Text, _>(*value);
        }
        query.execute(conn)?;
    }
    Ok(())
}

/// Inserts the clients, with the operators and tags they name, in one transaction.
pub async fn insert_clients(url: &str, clients: Vec<ClientSpec>) {
    blocking(url, move |conn| {
        conn.transaction(|conn| {
            let operators: BTreeSet<&str> = clients.iter().map(|c| c.operator.as_str()).collect();
            let operators: Vec<[&str; 2]> = operators.into_iter().map(|o| [o, o]).collect();
            insert_rows(
                conn,
                "INSERT INTO operators (code, name) VALUES {rows} ON CONFLICT (code) DO NOTHING",
                &operators,
            )?;
            let rows: Vec<[&str; 3]> = clients
                .iter()
                .map(|c| [c.phone.as_str(), c.operator.as_str(), c.time_zone.as_str()])
                .collect();
            insert_rows(
                conn,
                "INSERT INTO clients (phone_number, operator_code, time_zone) VALUES {rows}",
                &rows,
            )?;
            let tagged: Vec<[&str; 2]> = clients
                .iter()
                .flat_map(|c| c.tags.iter().map(|t| [c.phone.as_str(), t.as_str()]))
                .collect();
            let tags: BTreeSet<&str> = tagged.iter().map(|[_, tag]| *tag).collect();
            let tags: Vec<[&str; 1]> = tags.into_iter().map(|t| [t]).collect();
            insert_rows(
                conn,
                "INSERT INTO tags (value) VALUES {rows} ON CONFLICT (value) DO NOTHING",
                &tags,
            )?;
            // Both backends name a VALUES list's columns column1, column2, ...
            insert_rows(
                conn,
                "INSERT INTO client_tags (client_id, tag_id)
                 SELECT c.id, t.id FROM (VALUES {rows}) AS x
                 JOIN clients c ON c.phone_number = x.column1 JOIN tags t ON t.value = x.column2",
                &tagged,
            )
        })
        .unwrap_or_else(|e| panic!("inserting clients: {e}"));
    })
    .await;
}

/// One message with its client's phone and zone.
#[derive(Debug, Clone, QueryableByName)]
pub struct MessageRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub client_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub time_zone: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>, deserialize_as = UtcReading)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamp>, deserialize_as = UtcReading)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// A nullable instant read as its UTC reading, the timestamp type both backends can return.
struct UtcReading(Option<NaiveDateTime>);

impl<DB: Backend> FromSql<Nullable<Timestamp>, DB> for UtcReading
where
    Option<NaiveDateTime>: FromSql<Nullable<Timestamp>, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Option::<NaiveDateTime>::from_sql(bytes).map(UtcReading)
    }

    fn from_nullable_sql(bytes: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        Option::<NaiveDateTime>::from_nullable_sql(bytes).map(UtcReading)
    }
}

impl From<UtcReading> for Option<DateTime<Utc>> {
    fn from(reading: UtcReading) -> Self {
        reading.0.map(|at| at.and_utc())
    }
}

/// Every message of a mailing, by id.
pub async fn messages(url: &str, mailing_id: i64) -> Vec<MessageRow> {
    blocking(url, move |conn| {
        let sql = format!(
            "SELECT m.id, m.client_id, c.phone_number AS phone, c.time_zone, m.status, m.attempts,
                    m.last_error, {} AS next_attempt_at, {} AS sent_at
             FROM messages m LEFT JOIN clients c ON c.id = m.client_id
             WHERE m.mailing_id = {} ORDER BY m.id",
            conn.utc_reading("m.next_attempt_at"),
            conn.utc_reading("m.sent_at"),
            conn.placeholder(1),
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(mailing_id)
            .load(conn)
            .unwrap_or_else(|e| panic!("reading messages of mailing {mailing_id}: {e}"))
    })
    .await
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// (mailing, client) pairs holding more than one message; the schema forbids them.
pub async fn duplicate_pairs(url: &str) -> i64 {
    blocking(url, |conn| {
        diesel::sql_query(
            "SELECT count(*) AS count FROM (
                 SELECT mailing_id, client_id FROM messages WHERE client_id IS NOT NULL
                 GROUP BY mailing_id, client_id HAVING count(*) > 1) AS d",
        )
        .get_result::<Count>(conn)
        .map(|row| row.count)
        .unwrap_or_else(|e| panic!("counting duplicate messages: {e}"))
    })
    .await
}
