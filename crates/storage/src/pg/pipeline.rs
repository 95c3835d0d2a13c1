//! The delivery pipeline's bulk statements as PostgreSQL runs them: claims that skip rows
//! another replica holds (`FOR UPDATE SKIP LOCKED`), filters matched against `text[]` lists,
//! and batches written in one statement from `unnest`ed arrays. `sqlite/pipeline.rs` answers
//! the same calls for SQLite.

use super::Conn;
use super::dialect::{store_attributes, store_filter};
use super::schema::clients;
use crate::columns::{
    ClaimedEvent, CountRow, IdRow, MatchingRow, OutcomeColumns, RetryPlan, TextRow, ZoneCountRow,
    ZonePlan, ZoneRow, returned_ids,
};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz};
use mailing_domain::opt_out::SUPPRESSED_REASON;
use mailing_domain::{AttributeKey, Attributes, ClientFilter, ExpiryReason, MailingId};

/// Leases up to `limit` unpublished outbox events until `until`, oldest first, skipping the
/// ones another relay is claiming right now; returns `(id, payload)` pairs.
pub(super) fn claim_outbox(
    conn: &mut Conn,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<ClaimedEvent> = diesel::sql_query(
        "UPDATE outbox SET claimed_until = $1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2)
             ORDER BY id LIMIT $3
             FOR UPDATE SKIP LOCKED)
         RETURNING id, payload",
    )
    .bind::<Timestamptz, _>(until)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| (row.id, row.payload)).collect())
}

/// Marks up to `limit` due messages of mailings not paused `queued` with the claim time
/// `claimed_at`, earliest due first, skipping rows another replica holds; returns their ids.
pub(super) fn claim_due(
    conn: &mut Conn,
    claimed_at: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    diesel::sql_query(
        "UPDATE messages SET status = 'queued', queued_at = $1, claim_renewed_at = NULL,
             cap_held_at = NULL, updated_at = now()
         WHERE id IN (
             SELECT id FROM messages
             WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= $1
               AND (expires_at IS NULL OR expires_at > $1)
               -- A paused mailing's messages wait.
               AND mailing_id NOT IN (SELECT id FROM mailings WHERE paused_at IS NOT NULL)
             ORDER BY next_attempt_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind::<Timestamptz, _>(claimed_at)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .map(returned_ids)
}

/// Clients matching `filter`'s lists given as `$1` (operator codes) and `$2` (tag values), as
/// `c`; [`matches_filter`] adds its attributes. An empty list matches everyone and its
/// condition only names its parameter. A required tag is an `EXISTS` of its own in the
/// conditions, which the planner turns into a semi-join that can start from the tag's clients
/// when they are few; inside an `OR` with the empty case it would be checked client by client
/// over the whole table (1.5 s over 1,000,000 clients for a tag nobody holds).
fn matches_lists(filter: &ClientFilter) -> String {
    let codes = if filter.operator_codes().len() == 0 {
        "cardinality($1::text[]) = 0"
    } else {
        "c.operator_code = ANY($1)"
    };
    let tags = if filter.tags().len() == 0 {
        "cardinality($2::text[]) = 0"
    } else {
        "EXISTS (SELECT 1 FROM client_tags ct JOIN tags t ON t.id = ct.tag_id
                 WHERE ct.client_id = c.id AND t.value = ANY($2))"
    };
    format!("{codes} AND {tags}")
}

/// Clients `filter` matches, as `c`, with its lists as `$1` and `$2` and, if it requires
/// attributes, those as the jsonb `$attributes` (see [`bind_attributes`]). The condition on
/// attributes is left out rather than bound to `{}`, which the planner would read as a
/// selective use of the attributes index.
fn matches_filter(filter: &ClientFilter, attributes: usize) -> String {
    let lists = matches_lists(filter);
    if filter.attributes().is_empty() {
        lists
    } else {
        format!(
            "{lists} AND {}",
            holds_attributes("c.attributes", attributes)
        )
    }
}

/// `column` holds every attribute value of the jsonb parameter `$param`: same keys, values of
/// the same type and equal (`1` = `1.0`, `"1"` ≠ `1` ≠ `true`). The clients' GIN index answers it.
fn holds_attributes(column: &str, param: usize) -> String {
    format!("{column} @> ${param}::jsonb")
}

/// Binds the attributes `filter` requires, the last parameter, if [`matches_filter`] named them.
fn bind_attributes<'a>(
    query: BoxedSqlQuery<'a, Pg, SqlQuery>,
    filter: &ClientFilter,
) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    if filter.attributes().is_empty() {
        query
    } else {
        query.bind::<Jsonb, _>(store_attributes(filter.attributes()))
    }
}

/// The condition, on the clients table of a list, that a client holds every value `required`
/// names.
pub(super) fn holding_attributes(
    required: &Attributes,
) -> Box<dyn BoxableExpression<clients::table, Pg, SqlType = Bool>> {
    Box::new(
        diesel::dsl::sql::<Bool>("clients.attributes @> ")
            .bind::<Jsonb, _>(store_attributes(required)),
    )
}

/// `SELECT {columns}` over the clients `filter` matches, as `c`. Expansion finds its zones
/// with it and [`insert_planned_messages`] applies the same [`matches_filter`], so
/// [`count_matching`] always agrees with what expanding a mailing with the filter creates.
fn select_matching(columns: &str, filter: &ClientFilter) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (codes, tags) = store_filter(filter);
    let query = diesel::sql_query(format!(
        "SELECT {columns} FROM clients c WHERE {}",
        matches_filter(filter, 3)
    ))
    .into_boxed()
    .bind::<Array<Text>, _>(codes)
    .bind::<Array<Text>, _>(tags);
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
        "c.id, c.phone_number, c.operator_code, c.attributes::text AS attributes, c.time_zone,
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
        .map(|key| format!("count(*) FILTER (WHERE coalesce(c.attributes->>'{key}', '') = '')"))
        .collect();
    let row: TextRow = select_matching(
        &format!("json_build_array({})::text AS text", counts.join(", ")),
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
    .bind::<Array<Text>, _>(codes)
    .bind::<Array<Text>, _>(tags);
    let row: CountRow = bind_attributes(query, filter).get_result(conn)?;
    Ok(row.count)
}

/// The saved filters, and the mailings yet to pick their clients (not expanded, cancelled or
/// deleted), whose filter names the tag `value`; their ids in order.
pub(super) fn filters_naming_tag(
    conn: &mut Conn,
    value: &str,
) -> QueryResult<(Vec<i64>, Vec<i64>)> {
    let filters: Vec<IdRow> =
        diesel::sql_query("SELECT id FROM client_filters WHERE $1 = ANY(tags) ORDER BY id")
            .bind::<Text, _>(value)
            .load(conn)?;
    let mailings: Vec<IdRow> = diesel::sql_query(
        "SELECT id FROM mailings
         WHERE $1 = ANY(filter_tags)
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
    let audience = if recipients_only {
        "c.id IN (SELECT client_id FROM mailing_recipients WHERE mailing_id = $3)".to_owned()
    } else {
        matches_filter(filter, 10)
    };
    let (codes, tags) = store_filter(filter);
    let zones: Vec<&str> = plans.iter().map(|(zone, _)| *zone).collect();
    let statuses: Vec<&str> = plans.iter().map(|(_, plan)| plan.status).collect();
    let next_at: Vec<Option<DateTime<Utc>>> =
        plans.iter().map(|(_, plan)| plan.next_attempt_at).collect();
    let expires_at: Vec<DateTime<Utc>> = plans.iter().map(|(_, plan)| plan.expires_at).collect();
    let reasons: Vec<Option<&str>> = plans.iter().map(|(_, p)| p.reason.as_deref()).collect();
    let on_conflict = if skip_existing {
        "ON CONFLICT (mailing_id, client_id) DO NOTHING"
    } else {
        ""
    };
    let query = diesel::sql_query(format!(
        "INSERT INTO messages (mailing_id, client_id, phone_number, status, next_attempt_at,
                               expires_at, last_error)
         SELECT $3, c.id, c.phone_number,
                CASE WHEN o.phone_number IS NULL THEN p.status ELSE 'suppressed' END,
                CASE WHEN o.phone_number IS NULL THEN p.next_at END,
                p.expires_at,
                CASE WHEN o.phone_number IS NULL THEN p.reason ELSE $9 END
         FROM clients c
         -- A number that opted out gets its message suppressed, never sent.
         LEFT JOIN opt_outs o ON o.phone_number = c.phone_number
         JOIN unnest($4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[])
              AS p (time_zone, status, next_at, expires_at, reason)
           ON p.time_zone = c.time_zone
         WHERE {audience}
         {on_conflict}"
    ))
    .into_boxed()
    .bind::<Array<Text>, _>(codes)
    .bind::<Array<Text>, _>(tags)
    .bind::<BigInt, _>(mailing.0)
    .bind::<Array<Text>, _>(zones)
    .bind::<Array<Text>, _>(statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(next_at)
    .bind::<Array<Timestamptz>, _>(expires_at)
    .bind::<Array<Nullable<Text>>, _>(reasons)
    .bind::<Text, _>(SUPPRESSED_REASON);
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
        "UPDATE messages m SET
             status = CASE WHEN m.status = 'queued' THEN m.status ELSE $1 END,
             next_attempt_at = CASE WHEN m.status = 'queued' THEN m.next_attempt_at
                                    ELSE $2 END,
             expires_at = $3,
             last_error = CASE WHEN m.status = 'queued' OR $6::text IS NULL THEN m.last_error
                               ELSE COALESCE($7 || m.last_error, $6) END,
             updated_at = now()
         FROM clients c
         WHERE c.id = m.client_id AND c.time_zone = $4
           AND m.mailing_id = $5 AND m.status IN ('scheduled', 'queued')",
    )
    .bind::<Text, _>(plan.status)
    .bind::<Nullable<Timestamptz>, _>(plan.next_attempt_at)
    .bind::<Timestamptz, _>(plan.expires_at)
    .bind::<Text, _>(zone)
    .bind::<BigInt, _>(mailing.0)
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
    let ids: Vec<i64> = plans.iter().map(|plan| plan.id).collect();
    let statuses: Vec<&str> = plans.iter().map(|plan| plan.status).collect();
    let next: Vec<Option<DateTime<Utc>>> = plans.iter().map(|plan| plan.next_attempt_at).collect();
    let reasons: Vec<Option<&str>> = plans.iter().map(|plan| plan.reason.as_deref()).collect();
    diesel::sql_query(
        "UPDATE messages m SET status = o.status, next_attempt_at = o.next_at, expires_at = $4,
             last_error = COALESCE(o.reason, m.last_error), updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $5::text[])
              AS o(id, status, next_at, reason)
         WHERE m.id = o.id AND m.status = 'retrying'",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(&next)
    .bind::<Timestamptz, _>(expires_at)
    .bind::<Array<Nullable<Text>>, _>(&reasons)
    .execute(conn)
}

/// Renews the claims that still hold: each `(id, claimed_at)` whose message is queued under
/// exactly that claim gets `claim_renewed_at = now`. Returns the renewed ids.
pub(super) fn renew_claims(
    conn: &mut Conn,
    claims: &[(i64, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> QueryResult<Vec<i64>> {
    let ids: Vec<i64> = claims.iter().map(|(id, _)| *id).collect();
    let claimed: Vec<DateTime<Utc>> = claims.iter().map(|(_, at)| *at).collect();
    diesel::sql_query(
        "UPDATE messages m SET claim_renewed_at = $3
         FROM unnest($1::bigint[], $2::timestamptz[]) AS c(id, claimed_at)
         WHERE m.id = c.id AND m.status = 'queued' AND m.queued_at = c.claimed_at
         RETURNING m.id",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Timestamptz>, _>(&claimed)
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .map(returned_ids)
}

/// Writes outcomes (at most one per message) in one statement and ends their claims. What the
/// probe accepted lands whatever happened meanwhile; anything else only while the message
/// still holds the outcome's claim. Returns the ids written.
pub(super) fn record_outcomes(
    conn: &mut Conn,
    outcomes: &[OutcomeColumns],
) -> QueryResult<Vec<i64>> {
    let ids: Vec<i64> = outcomes.iter().map(|o| o.id).collect();
    let statuses: Vec<&str> = outcomes.iter().map(|o| o.status).collect();
    let attempted: Vec<i32> = outcomes.iter().map(|o| o.attempted).collect();
    let errors: Vec<Option<&str>> = outcomes.iter().map(|o| o.error.as_deref()).collect();
    let next_at: Vec<Option<DateTime<Utc>>> = outcomes.iter().map(|o| o.next_attempt_at).collect();
    let sent_at: Vec<Option<DateTime<Utc>>> = outcomes.iter().map(|o| o.sent_at).collect();
    let claims: Vec<Option<DateTime<Utc>>> = outcomes.iter().map(|o| o.claimed_at).collect();
    let texts: Vec<Option<&str>> = outcomes.iter().map(|o| o.text.as_deref()).collect();
    let encodings: Vec<Option<&str>> = outcomes.iter().map(|o| o.encoding).collect();
    let segments: Vec<Option<i32>> = outcomes.iter().map(|o| o.segments).collect();
    diesel::sql_query(
        "UPDATE messages AS m SET
             status = o.status,
             attempts = m.attempts + o.attempted,
             last_error = CASE WHEN o.status = 'sent' THEN NULL
                               ELSE COALESCE(o.error, m.last_error) END,
             next_attempt_at = o.next_at,
             sent_at = o.sent_at,
             queued_at = NULL,
             claim_renewed_at = NULL,
             updated_at = now(),
             text = COALESCE(o.text, m.text),
             encoding = COALESCE(o.encoding, m.encoding),
             segments = COALESCE(o.segments, m.segments)
         FROM unnest($1::bigint[], $2::text[], $3::int4[], $4::text[],
                     $5::timestamptz[], $6::timestamptz[], $7::timestamptz[],
                     $8::text[], $9::text[], $10::int4[])
              AS o(id, status, attempted, error, next_at, sent_at, claimed_at,
                   text, encoding, segments)
         WHERE m.id = o.id
           AND CASE
               -- What the probe accepted is recorded whatever happened meanwhile.
               WHEN o.status = 'sent' THEN m.status NOT IN ('sent', 'failed')
               -- Anything else only while the message still holds this job's claim.
               ELSE m.status = 'queued'
                    AND (o.claimed_at IS NULL OR m.queued_at = o.claimed_at)
           END
         RETURNING m.id",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Int4>, _>(&attempted)
    .bind::<Array<Nullable<Text>>, _>(&errors)
    .bind::<Array<Nullable<Timestamptz>>, _>(&next_at)
    .bind::<Array<Nullable<Timestamptz>>, _>(&sent_at)
    .bind::<Array<Nullable<Timestamptz>>, _>(&claims)
    .bind::<Array<Nullable<Text>>, _>(&texts)
    .bind::<Array<Nullable<Text>>, _>(&encodings)
    .bind::<Array<Nullable<Int4>>, _>(&segments)
    .load(conn)
    .map(returned_ids)
}

/// `EXPLAIN (FORMAT JSON)` of a query: its plan, without running it.
struct Explained<Q>(Q);

impl<Q: diesel::query_builder::QueryFragment<Pg>> diesel::query_builder::QueryFragment<Pg>
    for Explained<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("EXPLAIN (FORMAT JSON) ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> diesel::query_builder::QueryId for Explained<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> diesel::query_builder::Query for Explained<Q> {
    type SqlType = Text;
}

impl<Q> RunQueryDsl<Conn> for Explained<Q> {}

/// Whether a list filtered by tag `_tag_id` reads the tag's clients before the clients: always,
/// since the planner, given the tag's id, weighs that against walking the clients in id order
/// from its statistics of that tag.
pub(super) fn reads_tag_holders_first(_conn: &mut Conn, _tag_id: i64) -> QueryResult<bool> {
    Ok(true)
}

/// Whether a page of the clients `matches` selects is best read by finding every match, then
/// sorting them by id, rather than by walking the clients in id order until the page is full:
/// when the planner expects the matches to be under a quarter of the clients. The planner
/// itself takes matches for spread evenly over the ids and walks; but clients of one phone
/// prefix were mostly added together, so they sit in one stretch of ids that the walk reaches
/// only after every client before it (half a million of them, 60 ms, for a prefix in the middle
/// of a million clients, against 35 ms to find and sort its hundred thousand).
pub(super) fn reads_every_match_first<Q>(conn: &mut Conn, matches: Q) -> QueryResult<bool>
where
    Q: diesel::query_builder::QueryFragment<Pg>,
{
    let matching = planned_rows(conn, matches)?;
    let all = planned_rows(conn, clients::table.select(clients::id))?;
    Ok(matches!((matching, all), (Some(matching), Some(all)) if matching.saturating_mul(4) < all))
}

/// How many rows the planner expects `query` to return, from its statistics: one planning round
/// trip, whatever the table holds, and nothing read from the rows themselves. `None` when the
/// plan does not say.
pub(super) fn planned_rows<Q>(conn: &mut Conn, query: Q) -> QueryResult<Option<u64>>
where
    Q: diesel::query_builder::QueryFragment<Pg>,
{
    let plan: String = Explained(query).get_result(conn)?;
    let plan: serde_json::Value = match serde_json::from_str(&plan) {
        Ok(plan) => plan,
        Err(_) => return Ok(None),
    };
    Ok(plan[0]["Plan"]["Plan Rows"]
        .as_f64()
        .filter(|rows| rows.is_finite() && *rows >= 0.0)
        .map(|rows| rows.round() as u64))
}

/// Writes the fields an import sets on the stored clients `ids` (the i-th entry of each list
/// belongs to the i-th id), in one statement from `unnest`ed arrays.
pub(super) fn update_imported_clients(
    conn: &mut Conn,
    ids: &[i64],
    operator_codes: &[&str],
    time_zones: &[&str],
    attributes: &[serde_json::Value],
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE clients SET operator_code = u.operator_code, time_zone = u.time_zone,
             attributes = u.attributes, updated_at = now()
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])
             AS u(id, operator_code, time_zone, attributes)
         WHERE clients.id = u.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Text>, _>(operator_codes)
    .bind::<Array<Text>, _>(time_zones)
    .bind::<Array<Jsonb>, _>(attributes)
    .execute(conn)
}

/// Creates the clients of an import (the i-th entry of each list belongs to the i-th client) in
/// one statement from `unnest`ed arrays: four array parameters however many rows, where a
/// multi-row `VALUES` would bind and plan four parameters a row. Returns each new client's id
/// with its number.
pub(super) fn insert_imported_clients(
    conn: &mut Conn,
    phones: &[&str],
    operator_codes: &[&str],
    time_zones: &[&str],
    attributes: &[serde_json::Value],
) -> QueryResult<Vec<(i64, String)>> {
    #[derive(QueryableByName)]
    struct Created {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        phone_number: String,
    }
    let created: Vec<Created> = diesel::sql_query(
        "INSERT INTO clients (phone_number, operator_code, time_zone, attributes)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
         RETURNING id, phone_number",
    )
    .bind::<Array<Text>, _>(phones)
    .bind::<Array<Text>, _>(operator_codes)
    .bind::<Array<Text>, _>(time_zones)
    .bind::<Array<Jsonb>, _>(attributes)
    .load(conn)?;
    Ok(created
        .into_iter()
        .map(|row| (row.id, row.phone_number))
        .collect())
}

/// Links each client of `client_ids` to the tag at the same place of `tag_ids`, in one
/// statement.
pub(super) fn insert_client_tags(
    conn: &mut Conn,
    client_ids: &[i64],
    tag_ids: &[i64],
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO client_tags (client_id, tag_id)
         SELECT * FROM unnest($1::bigint[], $2::bigint[])",
    )
    .bind::<Array<BigInt>, _>(client_ids)
    .bind::<Array<BigInt>, _>(tag_ids)
    .execute(conn)
}
