//! Every behavioural test runs against both backends. [`each_backend!`] turns one test
//! function taking a [`Backend`] into a `postgres` and a `sqlite` test, and [`TestDb`] gives
//! each run a database of its own (a fresh PostgreSQL database, or a SQLite file in a fresh
//! directory), so tests run in parallel. What the store offers no call for (thousands of
//! clients at once, seeding a message in any state, the columns records leave out) goes
//! through `TestDb`'s raw SQL, written once per backend where the dialects differ.

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, TimestamptzSqlite};
use mailing_domain::store::Store;
use mailing_domain::{ClientId, MailingId, MessageId, MessageStatus};
use mailing_storage::testing::{TestDatabase, TestSqliteDatabase};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// `each_backend!(name);` above `fn name(backend: Backend)` makes the tests `name::postgres`
/// and `name::sqlite`, each calling `name` with its backend.
macro_rules! each_backend {
    ($test:ident) => {
        mod $test {
            #[test]
            fn postgres() {
                super::$test($crate::backend::Backend::Postgres)
            }

            #[test]
            fn sqlite() {
                super::$test($crate::backend::Backend::Sqlite)
            }
        }
    };
}

pub(crate) use each_backend;

/// A freshly created and migrated database on one backend, removed again when dropped.
pub enum TestDb {
    Postgres(TestDatabase),
    Sqlite(TestSqliteDatabase),
}

/// A connection of the test's own, beside the store's pool.
enum Raw {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$conn` bound to the raw connection, whichever backend it is: the body is
/// type-checked once per connection type, so it must be valid SQL for both.
macro_rules! on_either {
    ($raw:expr, |$conn:ident| $body:expr) => {
        match $raw {
            Raw::Postgres(mut $conn) => $body,
            Raw::Sqlite(mut $conn) => $body,
        }
    };
}

impl TestDb {
    pub fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Postgres => TestDb::Postgres(TestDatabase::create()),
            Backend::Sqlite => TestDb::Sqlite(TestSqliteDatabase::create()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            TestDb::Postgres(_) => Backend::Postgres,
            TestDb::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            TestDb::Postgres(db) => db.store(),
            TestDb::Sqlite(db) => db.store(),
        }
    }

    fn raw(&self) -> Raw {
        match self {
            TestDb::Postgres(db) => Raw::Postgres(PgConnection::establish(db.url()).unwrap()),
            TestDb::Sqlite(db) => {
                let mut conn = SqliteConnection::establish(db.path().to_str().unwrap()).unwrap();
                // As the store's own connections do: SQLite leaves foreign keys off by default.
                conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
                Raw::Sqlite(conn)
            }
        }
    }

    /// Runs a statement that reads the same on both backends.
    pub fn execute(&self, sql: &str) -> QueryResult<usize> {
        on_either!(self.raw(), |conn| diesel::sql_query(sql).execute(&mut conn))
    }

    /// The `count` a query of the same text on both backends returns.
    pub fn count(&self, sql: &str) -> i64 {
        let row: CountRow = on_either!(self.raw(), |conn| diesel::sql_query(sql)
            .get_result(&mut conn)
            .unwrap());
        row.count
    }

    /// `count` `bln` clients in `time_zone` with the phone numbers 70000000001 upwards, in one
    /// statement: thousands of store calls would each take a transaction. Returns their ids.
    pub fn bulk_clients(&self, count: u32, time_zone: &str) -> Vec<ClientId> {
        let sql = match self.backend() {
            Backend::Postgres => {
                "INSERT INTO clients (phone_number, operator_code, time_zone)
                 SELECT '7' || lpad(n::text, 10, '0'), 'bln', $2 FROM generate_series(1, $1) n
                 RETURNING id"
            }
            Backend::Sqlite => {
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?1)
                 INSERT INTO clients (phone_number, operator_code, time_zone)
                 SELECT '7' || printf('%010d', n), 'bln', ?2 FROM s
                 RETURNING id"
            }
        };
        let rows: Vec<IdRow> = on_either!(self.raw(), |conn| diesel::sql_query(sql)
            .bind::<Integer, _>(i32::try_from(count).unwrap())
            .bind::<Text, _>(time_zone)
            .load(&mut conn)
            .unwrap());
        rows.into_iter().map(|row| ClientId(row.id)).collect()
    }

    /// Every message of `mailing` as stored, by id.
    pub fn rows(&self, mailing: MailingId) -> Vec<Row> {
        self.load_rows("mailing_id", mailing.0)
    }

    pub fn row(&self, id: MessageId) -> Row {
        let mut rows = self.load_rows("id", id.0);
        assert_eq!(rows.len(), 1, "message {id}");
        rows.remove(0)
    }

    fn load_rows(&self, column: &str, value: i64) -> Vec<Row> {
        let sql = format!(
            "SELECT id, client_id, status, attempts, last_error, next_attempt_at, expires_at,
                    queued_at, sent_at
             FROM messages WHERE {column} = {value} ORDER BY id"
        );
        match self.raw() {
            Raw::Postgres(mut conn) => diesel::sql_query(sql)
                .load::<PgRow>(&mut conn)
                .unwrap()
                .into_iter()
                .map(Row::from)
                .collect(),
            Raw::Sqlite(mut conn) => diesel::sql_query(sql)
                .load::<SqliteRow>(&mut conn)
                .unwrap()
                .into_iter()
                .map(Row::from)
                .collect(),
        }
    }

    /// Writes a message straight into the table, in any state the schema accepts: addressed to
    /// its client's number, and if expired, with a reason.
    pub fn insert_message(&self, mailing: MailingId, client: ClientId, row: &NewRow) -> MessageId {
        let inserted: IdRow = match self.raw() {
            Raw::Postgres(mut conn) => diesel::sql_query(
                "INSERT INTO messages (mailing_id, client_id, status, next_attempt_at,
                                       expires_at, queued_at, sent_at, phone_number, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7,
                         (SELECT phone_number FROM clients WHERE id = $2),
                         CASE WHEN $3 = 'expired' THEN 'the mailing ended before its turn came' END)
                 RETURNING id",
            )
            .bind::<BigInt, _>(mailing.0)
            .bind::<BigInt, _>(client.0)
            .bind::<Text, _>(row.status.as_str())
            .bind::<Nullable<Timestamptz>, _>(row.next_attempt_at)
            .bind::<Nullable<Timestamptz>, _>(row.expires_at)
            .bind::<Nullable<Timestamptz>, _>(row.queued_at)
            .bind::<Nullable<Timestamptz>, _>(row.sent_at)
            .get_result(&mut conn),
            Raw::Sqlite(mut conn) => diesel::sql_query(
                "INSERT INTO messages (mailing_id, client_id, status, next_attempt_at,
                                       expires_at, queued_at, sent_at, phone_number, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
                         (SELECT phone_number FROM clients WHERE id = ?2),
                         CASE WHEN ?3 = 'expired' THEN 'the mailing ended before its turn came' END)
                 RETURNING id",
            )
            .bind::<BigInt, _>(mailing.0)
            .bind::<BigInt, _>(client.0)
            .bind::<Text, _>(row.status.as_str())
            .bind::<Nullable<TimestamptzSqlite>, _>(row.next_attempt_at)
            .bind::<Nullable<TimestamptzSqlite>, _>(row.expires_at)
            .bind::<Nullable<TimestamptzSqlite>, _>(row.queued_at)
            .bind::<Nullable<TimestamptzSqlite>, _>(row.sent_at)
            .get_result(&mut conn),
        }
        .unwrap();
        MessageId(inserted.id)
    }

    /// The outbox as stored, by id: each event's payload and, on PostgreSQL, the transaction
    /// that wrote it.
    pub fn outbox(&self) -> Vec<OutboxRow> {
        let sql = match self.backend() {
            Backend::Postgres => "SELECT id, payload, xmin::text AS tx FROM outbox ORDER BY id",
            Backend::Sqlite => "SELECT id, payload, NULL AS tx FROM outbox ORDER BY id",
        };
        on_either!(self.raw(), |conn| diesel::sql_query(sql)
            .load(&mut conn)
            .unwrap())
    }

    /// The transaction that last wrote the mailing's row, where the backend tells (PostgreSQL).
    pub fn mailing_tx(&self, id: MailingId) -> Option<String> {
        #[derive(QueryableByName)]
        struct Tx {
            #[diesel(sql_type = Text)]
            tx: String,
        }
        match self.raw() {
            Raw::Postgres(mut conn) => {
                let sql = format!("SELECT xmin::text AS tx FROM mailings WHERE id = {}", id.0);
                let row: Tx = diesel::sql_query(sql).get_result(&mut conn).unwrap();
                Some(row.tx)
            }
            Raw::Sqlite(_) => None,
        }
    }
}

/// The columns of a message to write with [`TestDb::insert_message`].
pub struct NewRow {
    pub status: MessageStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub queued_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message as stored, including the pipeline's own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub client_id: Option<i64>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub queued_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// [`Row`] as diesel loads it on a backend whose instants have the SQL type `$instant`.
macro_rules! loaded_row {
    ($name:ident, $instant:ty) => {
        #[derive(QueryableByName)]
        struct $name {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Nullable<BigInt>)]
            client_id: Option<i64>,
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Integer)]
            attempts: i32,
            #[diesel(sql_type = Nullable<Text>)]
            last_error: Option<String>,
            #[diesel(sql_type = Nullable<$instant>)]
            next_attempt_at: Option<DateTime<Utc>>,
            #[diesel(sql_type = Nullable<$instant>)]
            expires_at: Option<DateTime<Utc>>,
            #[diesel(sql_type = Nullable<$instant>)]
            queued_at: Option<DateTime<Utc>>,
            #[diesel(sql_type = Nullable<$instant>)]
            sent_at: Option<DateTime<Utc>>,
        }

        impl From<$name> for Row {
            fn from(row: $name) -> Row {
                Row {
                    id: row.id,
                    client_id: row.client_id,
                    status: row.status,
                    attempts: row.attempts,
                    last_error: row.last_error,
                    next_attempt_at: row.next_attempt_at,
                    expires_at: row.expires_at,
                    queued_at: row.queued_at,
                    sent_at: row.sent_at,
                }
            }
        }
    };
}

loaded_row!(PgRow, Timestamptz);
loaded_row!(SqliteRow, TimestamptzSqlite);

/// An outbox event as stored.
#[derive(QueryableByName, Debug)]
pub struct OutboxRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub payload: String,
    /// The transaction that wrote the row, on PostgreSQL.
    #[diesel(sql_type = Nullable<Text>)]
    pub tx: Option<String>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    count: i64,
}
