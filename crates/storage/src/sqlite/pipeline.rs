//! The delivery pipeline's bulk statements as SQLite runs them. No row locks: the IMMEDIATE
//! write transaction holds the database's single write lock, so replicas' claims cannot
//! overlap. Filter lists are JSON text (`json_each`, `json_array_length`), and PostgreSQL's
//! `unnest` batches become one statement per row inside that same transaction.
//! `pg/pipeline.rs` answers the same calls for PostgreSQL.

use super::Conn;
use super::dialect::MAX_BIND_PARAMETERS;
use super::dialect::{now, store_attributes, store_filter};
use super::schema::{client_tags, clients};
use crate::columns::{
    ClaimedEvent, CountRow, IdRow, MatchingRow, OutcomeColumns, RetryPlan, TextRow, ZoneCountRow,
    ZonePlan, ZoneRow, returned_ids,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, TimestamptzSqlite, Untyped};
use diesel::sqlite::Sqlite;
use mailing_domain::opt_out::SUPPRESSED_REASON;
use mailing_domain::{
    AttributeKey, AttributeValue, Attributes, ClientFilter, ExpiryReason, MailingId,
};

/// Leases up to `limit` unpublished outbox events until `until`, oldest first; returns
/// `(id, payload)` pairs.
pub(super) fn claim_outbox(
    conn: &mut Conn,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<ClaimedEvent> = diesel::sql_query(
        "UPDATE outbox SET claimed_until = ?1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?2)
             ORDER BY id LIMIT ?3)
         RETURNING id, payload",
    )
    .bind::<TimestamptzSqlite, _>(until)
    .bind::<TimestamptzSqlite, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| (row.id, row.payload)).collect())
}

/// Marks up to `limit` due messages `queued` with the claim time `claimed_at`, earliest due first;
/// returns their ids.
pub(super) fn claim_due(
    conn: &mut Conn,
    claimed_at: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    diesel::sql_query(
        "UPDATE messages SET status = 'queued', queued_at = ?1, claim_renewed_at = NULL,
             cap_held_at = NULL, updated_at = ?3
         WHERE id IN (
             SELECT id FROM messages
             WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= ?1
               AND (expires_at IS NULL OR expires_at > ?1)
               -- A paused mailing's messages wait.
               AND mailing_id NOT IN (SELECT id FROM mailings WHERE paused_at IS NOT NULL)
             ORDER BY next_attempt_at LIMIT ?2)
         RETURNING id",
    )
    .bind::<TimestamptzSqlite, _>(claimed_at)
    .bind::<BigInt, _>(limit)
    .bind::<TimestamptzSqlite, _>(now())
    .load(conn)
    .map(returned_ids)
}

/// Clients matching `filter`'s lists given as `?1` (operator codes) and `?2` (tag values), both
/// JSON arrays, as `c`; [`matches_filter`] adds its attributes. An empty list matches everyone
/// and its condition only names its parameter. A required tag selects the ids of its clients
/// once, which SQLite then looks up by id, instead of a check client by client over the whole
/// table.
fn matches_lists(filter: &ClientFilter) -> String {
    let codes = if filter.operator_codes().len() == 0 {
        "json_array_length(?1) = 0"
    } else {
        "c.operator_code IN (SELECT value FROM json_each(?1))"
    };
    let tags = if filter.tags().len() == 0 {
        "json_array_length(?2) = 0"
    } else {
        "c.id IN (SELECT ct.client_id FROM client_tags ct JOIN tags t ON t.id = ct.tag_id
                  WHERE t.value IN (SELECT value FROM json_each(?2)))"
    };
    format!("{codes} AND {tags}")
}

/// Clients `filter` matches, as `c`, with its lists as `?1` and `?2` and, if it requires
/// attributes, those as the JSON object `?{attributes}` (see [`bind_attributes`]). SQLite
/// refuses a bound parameter its statement does not number, so one left out is not bound.
fn matches_filter(filter: &ClientFilter, attributes: usize) -> String {
    let lists = matches_lists(filter);
    if filter.attributes().is_empty() {
        lists
    } else {
        let holds: Vec<String> = filter
            .attributes()
            .iter()
            .map(|(key, value)| {
                holds_attribute("c.attributes", key, value, |path| {
                    format!("json_extract(?{attributes}, {path})")
                })
            })
            .collect();
        format!("{lists} AND {}", holds.join(" AND "))
    }
}

/// The condition that `column` holds `required` at `key`, where `value(path)` is the SQL of
/// the required value at the JSON path `path`: each key is looked up by its own path rather
/// than by walking the required object per client (`json_each`), which took five times as
/// long. A value matches only one of its JSON type: integers and reals are both numbers (so
/// `1` = `1.0`), while `"1"`, `1` and `true` differ. Keys are `[a-z0-9_]`, so the quoted path
/// built from one names exactly it.
fn holds_attribute(
    column: &str,
    key: &AttributeKey,
    required: &AttributeValue,
    value: impl Fn(&str) -> String,
) -> String {
    let path = format!("'$.\"{key}\"'");
    let condition = match required {
        // The value is compared too (`true` reads as 1) so the statement names its parameter,
        // which SQLite requires of every bound one.
        AttributeValue::Bool(flag) => format!(
            "json_extract({column}, {path}) = {} AND json_type({column}, {path}) = '{flag}'",
            value(&path)
        ),
        AttributeValue::Text(_) => format!(
            "json_extract({column}, {path}) = {} AND json_type({column}, {path}) = 'text'",
            value(&path)
        ),
        AttributeValue::Number(_) => format!(
            "json_extract({column}, {path}) = {} \
             AND json_type({column}, {path}) IN ('integer', 'real')",
            value(&path)
        ),
    };
    // A key the client lacks makes the condition NULL, which counts as not holding it.
    format!("coalesce({condition}, 0)")
}

/// Binds the attributes `filter` requires, the last parameter, if [`matches_filter`] named them.
fn bind_attributes<'a>(
    query: BoxedSqlQuery<'a, Sqlite, SqlQuery>,
    filter: &ClientFilter,
) -> BoxedSqlQuery<'a, Sqlite, SqlQuery> {
    if filter.attributes().is_empty() {
        query
    } else {
        query.bind::<Text, _>(store_attributes(filter.attributes()))
    }
}

/// The condition, on the clients table of a list, that a client holds every value `required`
/// names, each bound as a parameter of its own.
pub(super) fn holding_attributes(
    required: &Attributes,
) -> Box<dyn BoxableExpression<clients::table, Sqlite, SqlType = Bool>> {
    let mut holds: Box<dyn BoxableExpression<clients::table, Sqlite, SqlType = Bool>> =
        Box::new(diesel::dsl::sql::<Bool>("1"));
    for (key, value) in required.iter() {
        // The value, as JSON, is the one parameter of its condition.
        let condition = holds_attribute("clients.attributes", key, value, |_| {
            "json_extract(?, '$')".to_owned()
        });
        let single = serde_json::to_string(&value.to_json()).unwrap_or_default();
        let (before, after) = condition.split_once('?').unwrap_or((&condition, ""));
        let one = diesel::dsl::sql::<Bool>(before)
            .bind::<Text, _>(single)
            .sql(after);
        holds = Box::new(holds.and(one));
    }
    holds
}

/// `SELECT {columns}` over the clients `filter` matches, as `c`. Expansion finds its zones
/// with it and [`insert_planned_messages`] applies the same [`matches_filter`], so
/// [`count_matching`] always agrees with what expanding a mailing with the filter creates.
fn select_matching(
    columns: &str,
    filter: &ClientFilter,
) -> BoxedSqlQuery<'static, Sqlite, SqlQuery> {
    let (codes, tags) = store_filter(filter);
    let query = diesel::sql_query(format!(
        "SELECT {columns} FROM clients c WHERE {}",
        matches_filter(filter, 3)
    ))
    .into_boxed()
    .bind::<Text, _>(codes)
    .bind::<Text, _>(tags);
    bind_attributes(query, filter)
}

/// The time zones of the clients `filter` matches.
pub(super) fn zones_matching(conn: &mut Conn, filter: &ClientFilter) -> QueryResult<Vec<String>> {
    let rows: Vec<ZoneRow> = select_matching("DISTINCT c.time_zone", filter).load(conn)?;
    Ok(rows.into_iter().map(|row| row.time_zone).collect())
}

/// How many clients `filter` matches in each time zone.
pub(super) fn count_matching_by_zone(
    conn: &mut Conn,
    filter: &ClientFilter,
) -> QueryResult<Vec<ZoneCountRow>> {
    select_matching("c.time_zone AS time_zone, count(*) AS count", filter)
        .sql(" GROUP BY c.time_zone")
        .load(conn)
}

/// Up to `limit` of the clients `filter` matches, in id order after `after`, with whether
/// their number opted out. The two numbers are written into the statement: they cannot change
/// its meaning.
pub(super) fn matching_after(
    conn: &mut Conn,
    filter: &ClientFilter,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<MatchingRow>> {
    select_matching(
        "c.id, c.phone_number, c.operator_code, c.attributes AS attributes, c.time_zone,
         EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone_number = c.phone_number) AS opted_out",
        filter,
    )
    .sql(format!(" AND c.id > {after} ORDER BY c.id LIMIT {limit}"))
    .load(conn)
}

/// For each of `keys`, how many clients `filter` matches lack the attribute or hold an empty
/// text there, as a JSON array in the order given. Keys are `[a-z0-9_]`, so each can be
/// written into the statement.
pub(super) fn count_lacking(
    conn: &mut Conn,
    filter: &ClientFilter,
    keys: &[AttributeKey],
) -> QueryResult<String> {
    let counts: Vec<String> = keys
        .iter()
        .map(|key| {
            format!(
                r#"coalesce(sum(coalesce(json_extract(c.attributes, '$."{key}"'), '') = ''), 0)"#
            )
        })
        .collect();
    let row: TextRow = select_matching(
        &format!("json_array({}) AS text", counts.join(", ")),
        filter,
    )
    .get_result(conn)?;
    Ok(row.text)
}

/// How many clients `filter` matches.
pub(super) fn count_matching(conn: &mut Conn, filter: &ClientFilter) -> QueryResult<i64> {
    let row: CountRow = select_matching("count(*) AS count", filter).get_result(conn)?;
    Ok(row.count)
}

/// How many clients `filter` matches, counting no further than `cap`.
pub(super) fn count_matching_up_to(
    conn: &mut Conn,
    filter: &ClientFilter,
    cap: i64,
) -> QueryResult<i64> {
    let (codes, tags) = store_filter(filter);
    // `cap` is a number, not text: written into the statement, it cannot change its meaning.
    let query = diesel::sql_query(format!(
        "SELECT count(*) AS count FROM (
             SELECT 1 FROM clients c WHERE {} LIMIT {cap}) capped",
        matches_filter(filter, 3)
    ))
    .into_boxed()
    .bind::<Text, _>(codes)
    .bind::<Text, _>(tags);
    let row: CountRow = bind_attributes(query, filter).get_result(conn)?;
    Ok(row.count)
}

/// The saved filters, and the mailings yet to pick their clients (not expanded, cancelled or
/// deleted), whose filter names the tag `value`; their ids in order.
pub(super) fn filters_naming_tag(
    conn: &mut Conn,
    value: &str,
) -> QueryResult<(Vec<i64>, Vec<i64>)> {
    let filters: Vec<IdRow> = diesel::sql_query(
        "SELECT id FROM client_filters
         WHERE EXISTS (SELECT 1 FROM json_each(tags) WHERE json_each.value = ?1)
         ORDER BY id",
    )
    .bind::<Text, _>(value)
    .load(conn)?;
    let mailings: Vec<IdRow> = diesel::sql_query(
        "SELECT id FROM mailings
         WHERE EXISTS (SELECT 1 FROM json_each(filter_tags) WHERE json_each.value = ?1)
           AND expanded_at IS NULL AND cancelled_at IS NULL AND deleted_at IS NULL
         ORDER BY id",
    )
    .bind::<Text, _>(value)
    .load(conn)?;
    Ok((returned_ids(filters), returned_ids(mailings)))
}

/// Creates a message for each client `filter` matches in a zone `plans` holds, planned as its
/// zone (or suppressed, if its number opted out), in one statement; returns how many it created. With `skip_existing`, clients that have
/// a message of this mailing already are passed over; without it, there must be none.
pub(super) fn insert_planned_messages(
    conn: &mut Conn,
    mailing: MailingId,
    filter: &ClientFilter,
    plans: &[(&str, &ZonePlan)],
    skip_existing: bool,
    recipients_only: bool,
) -> QueryResult<usize> {
    // A resend reaches its fixed recipients, whatever the filter matches now.
    // The attributes, if the filter requires any, follow the plans' parameters.
    let audience = if recipients_only {
        "c.id IN (SELECT client_id FROM mailing_recipients WHERE mailing_id = ?3)".to_owned()
    } else {
        matches_filter(filter, 6 + 5 * plans.len())
    };
    let (codes, tags) = store_filter(filter);
    // The plans as a table of bound rows, numbered after the five fixed parameters. CROSS JOIN
    // keeps the clients in the outer loop: SQLite would otherwise read them once per zone.
    let rows: Vec<String> = (0..plans.len())
        .map(|i| {
            let first = 6 + 5 * i;
            let [a, b, c, d] = [1, 2, 3, 4].map(|offset| first + offset);
            format!("(?{first}, ?{a}, ?{b}, ?{c}, ?{d})")
        })
        .collect();
    let on_conflict = if skip_existing {
        "ON CONFLICT (mailing_id, client_id) DO NOTHING"
    } else {
        ""
    };
    let mut query = diesel::sql_query(format!(
        "WITH p (time_zone, status, next_at, expires_at, reason) AS (VALUES {})
         INSERT INTO messages (mailing_id, client_id, phone_number, status, next_attempt_at,
                               expires_at, last_error, created_at, updated_at)
         SELECT ?3, c.id, c.phone_number,
                CASE WHEN o.phone_number IS NULL THEN p.status ELSE 'suppressed' END,
                CASE WHEN o.phone_number IS NULL THEN p.next_at END,
                p.expires_at,
                CASE WHEN o.phone_number IS NULL THEN p.reason ELSE ?5 END,
                ?4, ?4
         FROM clients c CROSS JOIN p ON p.time_zone = c.time_zone
         -- A number that opted out gets its message suppressed, never sent.
         LEFT JOIN opt_outs o ON o.phone_number = c.phone_number
         WHERE {audience}
         {on_conflict}",
        rows.join(", ")
    ))
    .into_boxed()
    .bind::<Text, _>(codes)
    .bind::<Text, _>(tags)
    .bind::<BigInt, _>(mailing.0)
    .bind::<TimestamptzSqlite, _>(now())
    .bind::<Text, _>(SUPPRESSED_REASON);
    for (zone, plan) in plans {
        query = query
            .bind::<Text, _>(*zone)
            .bind::<Text, _>(plan.status)
            .bind::<Nullable<TimestamptzSqlite>, _>(plan.next_attempt_at)
            .bind::<TimestamptzSqlite, _>(plan.expires_at)
            .bind::<Nullable<Text>, _>(plan.reason.as_deref());
    }
    if recipients_only {
        query.execute(conn)
    } else {
        bind_attributes(query, filter).execute(conn)
    }
}

/// Gives the mailing's waiting messages in `zone` the zone's new plan; a claimed one keeps its
/// claim but learns the new deadline, in case it comes back unsent. A message the plan expires
/// says why: the plan's reason, or the failure of its last attempt if one failed. Returns how
/// many changed.
pub(super) fn replan_zone(
    conn: &mut Conn,
    mailing: MailingId,
    zone: &str,
    plan: &ZonePlan,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE messages SET
             status = CASE WHEN status = 'queued' THEN status ELSE ?1 END,
             next_attempt_at = CASE WHEN status = 'queued' THEN next_attempt_at
                                    ELSE ?2 END,
             expires_at = ?3,
             last_error = CASE WHEN status = 'queued' OR ?7 IS NULL THEN last_error
                               ELSE COALESCE(?8 || last_error, ?7) END,
             updated_at = ?6
         WHERE mailing_id = ?5 AND status IN ('scheduled', 'queued')
           AND client_id IN (SELECT id FROM clients WHERE time_zone = ?4)",
    )
    .bind::<Text, _>(plan.status)
    .bind::<Nullable<TimestamptzSqlite>, _>(plan.next_attempt_at)
    .bind::<TimestamptzSqlite, _>(plan.expires_at)
    .bind::<Text, _>(zone)
    .bind::<BigInt, _>(mailing.0)
    .bind::<TimestamptzSqlite, _>(now())
    .bind::<Nullable<Text>, _>(plan.reason.as_deref())
    .bind::<Text, _>(ExpiryReason::ENDED_WHILE_FAILING)
    .execute(conn)
}

/// Writes retry plans of one zone, with its deadline `expires_at`, to the messages still
/// retrying; returns how many changed.
pub(super) fn write_retry_plans(
    conn: &mut Conn,
    plans: &[RetryPlan],
    expires_at: DateTime<Utc>,
) -> QueryResult<usize> {
    let stamp = now();
    let mut changed = 0;
    for plan in plans {
        changed += diesel::sql_query(
            "UPDATE messages SET status = ?1, next_attempt_at = ?2, expires_at = ?3,
                 last_error = COALESCE(?6, last_error), updated_at = ?4
             WHERE id = ?5 AND status = 'retrying'",
        )
        .bind::<Text, _>(plan.status)
        .bind::<Nullable<TimestamptzSqlite>, _>(plan.next_attempt_at)
        .bind::<TimestamptzSqlite, _>(expires_at)
        .bind::<TimestamptzSqlite, _>(stamp)
        .bind::<BigInt, _>(plan.id)
        .bind::<Nullable<Text>, _>(plan.reason.as_deref())
        .execute(conn)?;
    }
    Ok(changed)
}

/// Renews the claims that still hold: each `(id, claimed_at)` whose message is queued under
/// exactly that claim gets `claim_renewed_at = now`. Returns the renewed ids.
pub(super) fn renew_claims(
    conn: &mut Conn,
    claims: &[(i64, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<Vec<i64>> {
    let mut renewed = Vec::with_capacity(claims.len());
    for (id, claimed_at) in claims {
        let rows: Vec<IdRow> = diesel::sql_query(
            "UPDATE messages SET claim_renewed_at = ?1
             WHERE id = ?2 AND status = 'queued' AND queued_at = ?3
             RETURNING id",
        )
        .bind::<TimestamptzSqlite, _>(now)
        .bind::<BigInt, _>(*id)
        .bind::<TimestamptzSqlite, _>(*claimed_at)
        .load(conn)?;
        renewed.extend(returned_ids(rows));
    }
    Ok(renewed)
}

/// Writes outcomes (at most one per message) and ends their claims. What the probe accepted
/// lands whatever happened meanwhile; anything else only while the message still holds the
/// outcome's claim. Returns the ids written.
pub(super) fn record_outcomes(
    conn: &mut Conn,
    outcomes: &[OutcomeColumns],
) -> QueryResult<Vec<i64>> {
    let stamp = now();
    let mut written = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let rows: Vec<IdRow> = WriteOutcome { outcome, stamp }.load(conn)?;
        written.extend(returned_ids(rows));
    }
    Ok(written)
}

/// The statement [`record_outcomes`] runs for each outcome. Written out as a query of its own
/// rather than a `sql_query`, which diesel prepares afresh on every run: SQLite would compile
/// the statement, and the counting triggers it fires, once per message sent.
struct WriteOutcome<'a> {
    outcome: &'a OutcomeColumns,
    stamp: DateTime<Utc>,
}

impl QueryFragment<Sqlite> for WriteOutcome<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let o = self.outcome;
        // Each bound value writes its own `?`, in the order they come.
        out.push_sql("UPDATE messages SET status = ");
        out.push_bind_param::<Text, _>(&o.status)?;
        out.push_sql(", attempts = attempts + ");
        out.push_bind_param::<Integer, _>(&o.attempted)?;
        out.push_sql(", last_error = CASE WHEN ");
        out.push_bind_param::<Text, _>(&o.status)?;
        out.push_sql(" = 'sent' THEN NULL ELSE COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&o.error)?;
        out.push_sql(", last_error) END, next_attempt_at = ");
        out.push_bind_param::<Nullable<TimestamptzSqlite>, _>(&o.next_attempt_at)?;
        out.push_sql(", sent_at = ");
        out.push_bind_param::<Nullable<TimestamptzSqlite>, _>(&o.sent_at)?;
        out.push_sql(", queued_at = NULL, claim_renewed_at = NULL, updated_at = ");
        out.push_bind_param::<TimestamptzSqlite, _>(&self.stamp)?;
        out.push_sql(", text = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&o.text)?;
        out.push_sql(", text), encoding = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&o.encoding)?;
        out.push_sql(", encoding), segments = COALESCE(");
        out.push_bind_param::<Nullable<Integer>, _>(&o.segments)?;
        out.push_sql(", segments) WHERE id = ");
        out.push_bind_param::<BigInt, _>(&o.id)?;
        // What the probe accepted is recorded whatever happened meanwhile; anything else only
        // while the message still holds this job's claim.
        out.push_sql(" AND CASE WHEN ");
        out.push_bind_param::<Text, _>(&o.status)?;
        out.push_sql(
            " = 'sent' THEN status NOT IN ('sent', 'failed') ELSE status = 'queued' AND (",
        );
        out.push_bind_param::<Nullable<TimestamptzSqlite>, _>(&o.claimed_at)?;
        out.push_sql(" IS NULL OR queued_at = ");
        out.push_bind_param::<Nullable<TimestamptzSqlite>, _>(&o.claimed_at)?;
        out.push_sql(") END RETURNING id");
        Ok(())
    }
}

/// One statement text whatever the values, so the prepared statement is kept and reused.
impl QueryId for WriteOutcome<'_> {
    type QueryId = WriteOutcome<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for WriteOutcome<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<Conn> for WriteOutcome<'_> {}

/// A tag held by fewer clients than this has its clients read before the clients in a list
/// filtered by it; one held by more is checked client by client in id order. SQLite reads all of
/// a subquery's rows before the first client, which for a tag held by a third of a million
/// clients took 60 ms a page, while checking each client of a tag nobody holds reads the whole
/// table (370 ms).
const TAG_HOLDERS_READ_FIRST_BELOW: i64 = 10_000;

/// Whether a list filtered by tag `tag_id` reads the tag's clients before the clients: when
/// they are few (see [`TAG_HOLDERS_READ_FIRST_BELOW`]), counted from the tag's index up to
/// that bound.
pub(super) fn reads_tag_holders_first(conn: &mut Conn, tag_id: i64) -> QueryResult<bool> {
    let row: CountRow = diesel::sql_query(
        "SELECT count(*) AS count FROM
             (SELECT 1 FROM client_tags WHERE tag_id = ?1 LIMIT ?2)",
    )
    .bind::<BigInt, _>(tag_id)
    .bind::<BigInt, _>(TAG_HOLDERS_READ_FIRST_BELOW)
    .get_result(conn)?;
    Ok(row.count < TAG_HOLDERS_READ_FIRST_BELOW)
}

/// Whether a page of the clients `matches` selects is best read by finding every match, then
/// sorting them by id: never asked for here, since SQLite already reads a phone prefix's
/// clients from the numbers' index (which holds their ids) and sorts them.
pub(super) fn reads_every_match_first<Q>(_conn: &mut Conn, _matches: Q) -> QueryResult<bool>
where
    Q: diesel::query_builder::QueryFragment<Sqlite>,
{
    Ok(false)
}

/// How many rows the planner expects `query` to return: SQLite's planner does not estimate row
/// counts in a form it reports, so never known here.
pub(super) fn planned_rows<Q>(_conn: &mut Conn, _query: Q) -> QueryResult<Option<u64>>
where
    Q: diesel::query_builder::QueryFragment<Sqlite>,
{
    Ok(None)
}

/// Writes the fields an import sets on the stored clients `ids` (the i-th entry of each list
/// belongs to the i-th id), one statement a client: SQLite runs them in-process, inside the
/// batch's transaction, so there is no round trip to save.
pub(super) fn update_imported_clients(
    conn: &mut Conn,
    ids: &[i64],
    operator_codes: &[&str],
    time_zones: &[&str],
    attributes: &[String],
) -> QueryResult<usize> {
    let mut updated = 0;
    for (((id, code), zone), stored) in ids
        .iter()
        .zip(operator_codes)
        .zip(time_zones)
        .zip(attributes)
    {
        updated += diesel::update(clients::table.find(id))
            .set((
                clients::operator_code.eq(code),
                clients::time_zone.eq(zone),
                clients::attributes.eq(stored),
                clients::updated_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(updated)
}

/// Creates the clients of an import (the i-th entry of each list belongs to the i-th client),
/// as many to a statement as SQLite binds; returns each new client's id with its number.
pub(super) fn insert_imported_clients(
    conn: &mut Conn,
    phones: &[&str],
    operator_codes: &[&str],
    time_zones: &[&str],
    attributes: &[String],
) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<_> = phones
        .iter()
        .zip(operator_codes)
        .zip(time_zones)
        .zip(attributes)
        .map(|(((phone, code), zone), stored)| {
            (
                clients::phone_number.eq(*phone),
                clients::operator_code.eq(*code),
                clients::time_zone.eq(*zone),
                clients::attributes.eq(stored),
                clients::created_at.eq(now()),
                clients::updated_at.eq(now()),
            )
        })
        .collect();
    let mut created = Vec::with_capacity(rows.len());
    // Six bind parameters a row.
    for chunk in rows.chunks(MAX_BIND_PARAMETERS / 6) {
        created.extend(
            diesel::insert_into(clients::table)
                .values(chunk)
                .returning((clients::id, clients::phone_number))
                .get_results::<(i64, String)>(conn)?,
        );
    }
    Ok(created)
}

/// Links each client of `client_ids` to the tag at the same place of `tag_ids`.
pub(super) fn insert_client_tags(
    conn: &mut Conn,
    client_ids: &[i64],
    tag_ids: &[i64],
) -> QueryResult<usize> {
    let links: Vec<_> = client_ids
        .iter()
        .zip(tag_ids)
        .map(|(client, tag)| {
            (
                client_tags::client_id.eq(*client),
                client_tags::tag_id.eq(*tag),
            )
        })
        .collect();
    let mut inserted = 0;
    for chunk in links.chunks(MAX_BIND_PARAMETERS / 2) {
        inserted += diesel::insert_into(client_tags::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(inserted)
}
