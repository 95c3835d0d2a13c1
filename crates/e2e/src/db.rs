//! Direct database access for what the api does not offer: inserting thousands of clients at
//! once, and reading every message of a mailing with its client's phone.

use crate::population::ClientSpec;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz};

fn connect(url: &str) -> PgConnection {
    PgConnection::establish(url).unwrap_or_else(|e| panic!("cannot open the test database: {e}"))
}

/// Runs blocking database work off the test's async runtime.
async fn blocking<T: Send + 'static>(
    url: &str,
    job: impl FnOnce(&mut PgConnection) -> T + Send + 'static,
) -> T {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || job(&mut connect(&url)))
        .await
        .expect("database task")
}

/// Inserts the clients, with the operators and tags they name, in one transaction.
pub async fn insert_clients(url: &str, clients: Vec<ClientSpec>) {
    blocking(url, move |conn| {
        conn.transaction(|conn| {
            let phones: Vec<&str> = clients.iter().map(|c| c.phone.as_str()).collect();
            let operators: Vec<&str> = clients.iter().map(|c| c.operator.as_str()).collect();
            let zones: Vec<&str> = clients.iter().map(|c| c.time_zone.as_str()).collect();
            diesel::sql_query(
                "INSERT INTO operators (code, name) SELECT DISTINCT code, code FROM unnest($1::text[]) AS o(code)
                 ON CONFLICT (code) DO NOTHING",
            )
            .bind::<Array<Text>, _>(&operators)
            .execute(conn)?;
            diesel::sql_query(
                "INSERT INTO clients (phone_number, operator_code, time_zone)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
            )
            .bind::<Array<Text>, _>(&phones)
            .bind::<Array<Text>, _>(&operators)
            .bind::<Array<Text>, _>(&zones)
            .execute(conn)?;
            let (tagged_phones, tags): (Vec<&str>, Vec<&str>) = clients
                .iter()
                .flat_map(|c| c.tags.iter().map(|t| (c.phone.as_str(), t.as_str())))
                .unzip();
            diesel::sql_query(
                "INSERT INTO tags (value) SELECT DISTINCT value FROM unnest($1::text[]) AS t(value)
                 ON CONFLICT (value) DO NOTHING",
            )
            .bind::<Array<Text>, _>(&tags)
            .execute(conn)?;
            diesel::sql_query(
                "INSERT INTO client_tags (client_id, tag_id)
                 SELECT c.id, t.id FROM unnest($1::text[], $2::text[]) AS x(phone, tag)
                 JOIN clients c ON c.phone_number = x.phone JOIN tags t ON t.value = x.tag",
            )
            .bind::<Array<Text>, _>(&tagged_phones)
            .bind::<Array<Text>, _>(&tags)
            .execute(conn)?;
            diesel::QueryResult::Ok(())
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
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// Every message of a mailing, by id.
pub async fn messages(url: &str, mailing_id: i64) -> Vec<MessageRow> {
    blocking(url, move |conn| {
        diesel::sql_query(
            "SELECT m.id, m.client_id, c.phone_number AS phone, c.time_zone, m.status, m.attempts,
                    m.last_error, m.next_attempt_at, m.sent_at
             FROM messages m LEFT JOIN clients c ON c.id = m.client_id
             WHERE m.mailing_id = $1 ORDER BY m.id",
        )
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
