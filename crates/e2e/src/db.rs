//! Direct database access for what the api does not offer: inserting thousands (or a million)
//! of clients at once, reading every message of a mailing with its client's phone, and cheap
//! progress readings for benchmarks through a [`Session`] kept open. One code path serves both
//! setups' databases, PostgreSQL and SQLite, the URL's scheme choosing; it branches only where
//! their SQL differs.

use crate::population::ClientSpec;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::backend::Backend;
use diesel::connection::SimpleConnection as _;
use diesel::deserialize::{self, FromSql};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

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

/// Inserts `count` clients numbered from `first`, exactly as [`crate::population::generated`]
/// describes them (phones `790nnnnnnnn`, operators `bln` and `mts`, tags "Important",
/// "Another Tag" or none), with the operators and tags, in one transaction of set-based
/// statements: the database generates the rows, so a million take seconds rather than a
/// million parameters. On PostgreSQL the tables are then vacuumed and analysed, as autovacuum
/// would do soon after such a load, so that plans (and autovacuum itself) do not change under
/// whatever runs next; SQLite keeps no statistics unless asked, and the product never asks.
///
/// # Panics
/// If the numbers do not fit in eight digits, or the database refuses the rows (phones already
/// taken, say).
pub async fn insert_generated_clients(url: &str, first: u64, count: u64, time_zone: &str) {
    assert!(
        first + count <= 100_000_000,
        "phone numbers have 8 free digits"
    );
    if count == 0 {
        return;
    }
    let time_zone = time_zone.to_owned();
    blocking(url, move |conn| {
        let first = i64::try_from(first).expect("fits: checked above");
        let last = first + i64::try_from(count).expect("fits: checked above") - 1;
        // The numbers first..=last, as a relation `seq(n)` a statement can prefix.
        let numbers = match conn {
            AnyConnection::Postgresql(_) => {
                "WITH seq(n) AS (SELECT generate_series($1::bigint, $2::bigint))"
            }
            AnyConnection::Sqlite(_) => {
                "WITH RECURSIVE seq(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2)"
            }
        };
        let (phone, tz) = match conn {
            AnyConnection::Postgresql(_) => ("'790' || lpad(n::text, 8, '0')", "$3"),
            AnyConnection::Sqlite(_) => ("'790' || printf('%08d', n)", "?3"),
        };
        let phone_range = (format!("790{first:08}"), format!("790{last:08}"));
        conn.transaction(|conn| {
            conn.batch_execute(
                "INSERT INTO operators (code, name) VALUES ('bln', 'bln'), ('mts', 'mts')
                     ON CONFLICT (code) DO NOTHING;
                 INSERT INTO tags (value) VALUES ('Important'), ('Another Tag')
                     ON CONFLICT (value) DO NOTHING;",
            )?;
            diesel::sql_query(format!(
                "{numbers}
                 INSERT INTO clients (phone_number, operator_code, time_zone)
                 SELECT {phone}, CASE WHEN n % 2 = 0 THEN 'bln' ELSE 'mts' END, {tz} FROM seq"
            ))
            .bind::<BigInt, _>(first)
            .bind::<BigInt, _>(last)
            .bind::<Text, _>(&time_zone)
            .execute(conn)?;
            diesel::sql_query(format!(
                "INSERT INTO client_tags (client_id, tag_id)
                 SELECT c.id, t.id FROM clients c JOIN tags t ON t.value =
                     CASE CAST(substr(c.phone_number, 4) AS BIGINT) % 3
                         WHEN 0 THEN 'Important' WHEN 1 THEN 'Another Tag' END
                 WHERE c.phone_number BETWEEN {} AND {}",
                conn.placeholder(1),
                conn.placeholder(2)
            ))
            .bind::<Text, _>(&phone_range.0)
            .bind::<Text, _>(&phone_range.1)
            .execute(conn)
        })
        .unwrap_or_else(|e| panic!("inserting {count} generated clients: {e}"));
        if let AnyConnection::Postgresql(_) = conn {
            conn.batch_execute("VACUUM ANALYZE operators, tags, clients, client_tags")
                .unwrap_or_else(|e| panic!("analysing the clients: {e}"));
        }
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

/// When a mailing's messages were sent, as the database records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct SentSpan {
    /// How many of its messages are `sent`.
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = Nullable<Timestamp>, deserialize_as = UtcReading)]
    pub first: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamp>, deserialize_as = UtcReading)]
    pub last: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// One connection kept open for repeated readings, so that polling pays neither a new
/// connection nor (on PostgreSQL) a new server process each time. Cloning shares it.
#[derive(Clone)]
pub struct Session {
    conn: Arc<Mutex<AnyConnection>>,
}

impl Session {
    /// Opens a connection to the database at `url`.
    ///
    /// # Panics
    /// If the database cannot be opened.
    pub async fn open(url: &str) -> Session {
        let url = url.to_owned();
        let conn = tokio::task::spawn_blocking(move || connect(&url))
            .await
            .expect("database task");
        Session {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut AnyConnection) -> T + Send + 'static,
    ) -> T {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            job(&mut conn)
        })
        .await
        .expect("database task")
    }

    /// The server's name and version: PostgreSQL's `version()`, or `SQLite <version>`.
    pub async fn server_version(&self) -> String {
        self.run(|conn| {
            let sql = match conn {
                AnyConnection::Postgresql(_) => "SELECT version() AS version",
                AnyConnection::Sqlite(_) => "SELECT 'SQLite ' || sqlite_version() AS version",
            };
            diesel::sql_query(sql)
                .get_result::<Version>(conn)
                .map(|row| row.version)
                .unwrap_or_else(|e| panic!("reading the server version: {e}"))
        })
        .await
    }

    /// Does now what PostgreSQL's autovacuum does within a minute or so of a bulk write:
    /// vacuums and analyses every table, so that plans and index-only scans no longer depend
    /// on whether it has run yet. SQLite has no such thing, and the product never analyses
    /// there, so on SQLite this does nothing.
    pub async fn autovacuum_now(&self) {
        self.run(|conn| {
            if let AnyConnection::Postgresql(_) = conn {
                conn.batch_execute("VACUUM ANALYZE")
                    .unwrap_or_else(|e| panic!("vacuuming the database: {e}"));
            }
        })
        .await;
    }

    /// Whether the scheduler has expanded the mailing into its messages.
    pub async fn expanded(&self, mailing_id: i64) -> bool {
        self.run(move |conn| {
            let sql = format!(
                "SELECT count(*) AS count FROM mailings WHERE id = {} AND expanded_at IS NOT NULL",
                conn.placeholder(1)
            );
            diesel::sql_query(sql)
                .bind::<BigInt, _>(mailing_id)
                .get_result::<Count>(conn)
                .map(|row| row.count > 0)
                .unwrap_or_else(|e| panic!("reading mailing {mailing_id}: {e}"))
        })
        .await
    }

    /// The mailing's messages counted by status; statuses without messages are absent.
    pub async fn status_counts(&self, mailing_id: i64) -> BTreeMap<String, i64> {
        self.run(move |conn| {
            let sql = format!(
                "SELECT status, count(*) AS count FROM messages WHERE mailing_id = {}
                 GROUP BY status",
                conn.placeholder(1)
            );
            diesel::sql_query(sql)
                .bind::<BigInt, _>(mailing_id)
                .load::<StatusCount>(conn)
                .map(|rows| rows.into_iter().map(|r| (r.status, r.count)).collect())
                .unwrap_or_else(|e| panic!("counting messages of mailing {mailing_id}: {e}"))
        })
        .await
    }

    /// The mailing's messages that may still reach the probe (scheduled, queued, retrying).
    pub async fn unsettled(&self, mailing_id: i64) -> i64 {
        self.run(move |conn| {
            let sql = format!(
                "SELECT count(*) AS count FROM messages WHERE mailing_id = {}
                 AND status IN ('scheduled', 'queued', 'retrying')",
                conn.placeholder(1)
            );
            diesel::sql_query(sql)
                .bind::<BigInt, _>(mailing_id)
                .get_result::<Count>(conn)
                .map(|row| row.count)
                .unwrap_or_else(|e| panic!("counting messages of mailing {mailing_id}: {e}"))
        })
        .await
    }

    /// How many of the mailing's messages are sent, and the first and last `sent_at`.
    pub async fn sent_span(&self, mailing_id: i64) -> SentSpan {
        self.run(move |conn| {
            let sql = format!(
                "SELECT count(*) AS sent, {} AS first, {} AS last FROM messages
                 WHERE mailing_id = {} AND status = 'sent'",
                conn.utc_reading("min(sent_at)"),
                conn.utc_reading("max(sent_at)"),
                conn.placeholder(1)
            );
            diesel::sql_query(sql)
                .bind::<BigInt, _>(mailing_id)
                .get_result::<SentSpan>(conn)
                .unwrap_or_else(|e| panic!("reading sent messages of mailing {mailing_id}: {e}"))
        })
        .await
    }
}
