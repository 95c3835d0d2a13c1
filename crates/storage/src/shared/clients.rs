use super::dialect::{StoredAttributes, attributes_json, now, store_attributes};
use super::pipeline;
use super::schema::{client_tags, clients, operators, tags};
use super::tags::ensure_tags;
use super::{Backend, BackendStore, Conn};
use crate::columns::{MatchingRow, attributes_from_json, bounds, corrupt, starts_with, total};
use crate::errors::{Failure, OPERATOR_REFERENCE, refusing};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mailing_domain::store::{
    Client, ClientPage, ClientPatch, ClientQuery, ClientStore, Entity, MatchingClient, NewClient,
    PageRequest, Rejection, StoreError, StoreResult,
};
use mailing_domain::{
    AttributeKey, ClientFilter, ClientId, OperatorCode, PhoneNumber, TagValue, TimeZone,
};
use std::collections::{BTreeSet, HashMap};

#[derive(Queryable, Selectable)]
#[diesel(table_name = clients, check_for_backend(Backend))]
pub(super) struct ClientRow {
    id: i64,
    phone_number: String,
    operator_code: String,
    time_zone: String,
    attributes: StoredAttributes,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ClientRow {
    /// `tags` must already be sorted.
    pub(super) fn into_record(self, tags: Vec<TagValue>) -> Result<Client, Failure> {
        Ok(Client {
            id: ClientId(self.id),
            phone: PhoneNumber::parse(&self.phone_number)
                .map_err(|e| corrupt("clients", "phone_number", self.id, e))?,
            operator_code: OperatorCode::parse(&self.operator_code)
                .map_err(|e| corrupt("clients", "operator_code", self.id, e))?,
            tags,
            time_zone: TimeZone::parse(&self.time_zone)
                .map_err(|e| corrupt("clients", "time_zone", self.id, e))?,
            attributes: attributes_from_json(
                "clients",
                "attributes",
                self.id,
                attributes_json(self.attributes),
            )?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = clients)]
struct ClientChanges<'a> {
    phone_number: Option<&'a str>,
    operator_code: Option<&'a str>,
    time_zone: Option<&'a str>,
    attributes: Option<StoredAttributes>,
}

const NOT_FOUND: StoreError = StoreError::NotFound(Entity::Client);

/// The tags of several clients in one query, each client's sorted by value.
///
/// Sorted here rather than by `ORDER BY`, which would follow the database's collation instead of
/// the byte order the domain's `TagValue` compares by.
pub(super) fn load_tags(
    conn: &mut Conn,
    client_ids: &[i64],
) -> Result<HashMap<i64, Vec<TagValue>>, Failure> {
    // Not asked at all for nobody: an import of new clients asks for every batch, and
    // PostgreSQL may run the prepared statement with a plan made while the table was small,
    // which reads every link (35 ms a batch, a third of a million-row import's time).
    if client_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64, String)> = client_tags::table
        .inner_join(tags::table)
        .filter(client_tags::client_id.eq_any(client_ids))
        .select((client_tags::client_id, tags::id, tags::value))
        .load(conn)?;
    let mut by_client: HashMap<i64, Vec<TagValue>> = HashMap::new();
    for (client, tag, value) in rows {
        let value = TagValue::parse(&value).map_err(|e| corrupt("tags", "value", tag, e))?;
        by_client.entry(client).or_default().push(value);
    }
    for values in by_client.values_mut() {
        values.sort();
    }
    Ok(by_client)
}

/// Gives a client exactly `values` as its tags, creating missing tags; returns them sorted.
fn replace_tags(
    conn: &mut Conn,
    client: i64,
    values: &[TagValue],
) -> Result<Vec<TagValue>, Failure> {
    diesel::delete(client_tags::table.filter(client_tags::client_id.eq(client))).execute(conn)?;
    // Sorted, so concurrent writers creating the same new tags take their locks in one order
    // and cannot deadlock.
    let values: BTreeSet<&TagValue> = values.iter().collect();
    let names: Vec<&str> = values.iter().map(|value| value.as_str()).collect();
    let links: Vec<_> = ensure_tags(conn, &names)?
        .into_iter()
        .map(|tag_id| {
            (
                client_tags::client_id.eq(client),
                client_tags::tag_id.eq(tag_id),
            )
        })
        .collect();
    if !links.is_empty() {
        diesel::insert_into(client_tags::table)
            .values(&links)
            .execute(conn)?;
    }
    Ok(values.into_iter().cloned().collect())
}

/// How a list filtered by a tag finds the tag's clients. The tag is looked up by its value
/// first, so the database plans with the statistics of that one tag instead of an average
/// over all of them (a tag nobody holds would otherwise be planned like a common one).
#[derive(Clone, Copy)]
pub(super) enum TagFilter {
    /// No tag has the value: nobody matches.
    Unknown,
    /// Read the tag's clients from its index, then the clients by id.
    HoldersFirst(i64),
    /// Go through the clients in id order and check each holds the tag: for a tag held by
    /// many, whose first holders come early, where reading every holder first would not.
    CheckEach(i64),
}

/// The tag filter of `query`, if it names a tag.
pub(super) fn tag_filter(
    conn: &mut Conn,
    query: &ClientQuery,
) -> Result<Option<TagFilter>, Failure> {
    let Some(tag) = &query.tag else {
        return Ok(None);
    };
    let id: Option<i64> = tags::table
        .filter(tags::value.eq(tag.as_str()))
        .select(tags::id)
        .first(conn)
        .optional()?;
    let Some(id) = id else {
        return Ok(Some(TagFilter::Unknown));
    };
    Ok(Some(if pipeline::reads_tag_holders_first(conn, id)? {
        TagFilter::HoldersFirst(id)
    } else {
        TagFilter::CheckEach(id)
    }))
}

/// `query`'s conditions on the clients table, for both the page and its total, with its tag
/// resolved by [`tag_filter`]; with `after`, only the clients after that id.
pub(super) fn filtered(
    query: &ClientQuery,
    tag: Option<TagFilter>,
    after: Option<ClientId>,
) -> clients::BoxedQuery<'_, Backend> {
    let mut selected = clients::table.into_boxed();
    if let Some(after) = after {
        selected = selected.filter(clients::id.gt(after.0));
    }
    if let Some(code) = &query.operator_code {
        selected = selected.filter(clients::operator_code.eq(code.as_str()));
    }
    match tag {
        None => {}
        Some(TagFilter::Unknown) => {
            selected = selected.filter(clients::id.eq_any(Vec::<i64>::new()))
        }
        Some(TagFilter::HoldersFirst(tag_id)) => {
            let mut holders = client_tags::table
                .filter(client_tags::tag_id.eq(tag_id))
                .select(client_tags::client_id)
                .into_boxed();
            // Said again inside, so the holders are read from the cursor on, not from the first.
            if let Some(after) = after {
                holders = holders.filter(client_tags::client_id.gt(after.0));
            }
            selected = selected.filter(clients::id.eq_any(holders));
        }
        Some(TagFilter::CheckEach(tag_id)) => {
            // The LIMIT keeps SQLite from turning the check into a join, which it would then
            // plan as reading every holder of the tag first.
            selected = selected.filter(diesel::dsl::exists(
                client_tags::table
                    .filter(client_tags::client_id.eq(clients::id))
                    .filter(client_tags::tag_id.eq(tag_id))
                    .select(client_tags::client_id)
                    .limit(1),
            ));
        }
    }
    if let Some(prefix) = &query.phone_prefix {
        // The range lets the unique index on numbers find them. Numbers are digits, so for a
        // prefix of digits the range is exact; LIKE is added only for any other prefix (which
        // matches nobody), as the planner takes it for a further condition and would expect a
        // tenth of the matches there are.
        selected = selected.filter(clients::phone_number.ge(prefix.as_str()));
        match next_prefix(prefix) {
            Some(next) => selected = selected.filter(clients::phone_number.lt(next)),
            None => {
                selected =
                    selected.filter(clients::phone_number.like(starts_with(prefix)).escape('\\'))
            }
        }
    }
    if !query.attributes.is_empty() {
        selected = selected.filter(pipeline::holding_attributes(&query.attributes));
    }
    selected
}

/// The smallest digit string above every number starting with the digits `prefix`, if any
/// (`79` → `8`, `7999` → `8`, `999` → none); `None` for a prefix that is not all digits.
fn next_prefix(prefix: &str) -> Option<String> {
    if !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kept = prefix.trim_end_matches('9');
    let last = kept.bytes().last()?;
    let mut next = kept[..kept.len() - 1].to_owned();
    next.push(char::from(last + 1));
    Some(next)
}

/// The planner's estimate of a list above which [`total_of`] takes it as the list's total.
const PLANNED_TOTAL_ABOVE: u64 = 5 * ClientPage::EXACT_TOTAL_UP_TO;

/// How many clients `query` selects (ignoring where its cursor stands), and whether that is an
/// estimate. Up to [`ClientPage::EXACT_TOTAL_UP_TO`] it is counted exactly, reading at most
/// one match more. Beyond, counting would read every match on every page, so it is estimated.
///
/// Where the database's planner estimates row counts (PostgreSQL), a list it expects to hold
/// far more than the exact limit is not read at all: its total is the planner's estimate, from
/// the same conditions, which costs one planning round trip however rare the matches are among
/// the first ids. Otherwise the total is extrapolated from the id span the first matches
/// cover. Nearer the exact limit the planner's error could matter, so those are read.
fn total_of(
    conn: &mut Conn,
    query: &ClientQuery,
    tag: Option<TagFilter>,
) -> Result<(u64, bool), Failure> {
    let exact_up_to = ClientPage::EXACT_TOTAL_UP_TO;
    let planned = pipeline::planned_rows(conn, filtered(query, tag, None).select(clients::id))?;
    if let Some(planned) = planned.filter(|&rows| rows > PLANNED_TOTAL_ABOVE) {
        return Ok((planned, true));
    }
    if planned.is_some() {
        // A short list is counted from the matches in whatever order the database finds them
        // fastest: from an index on the attributes, say, rather than walking every id.
        let limit = i64::try_from(exact_up_to + 1).unwrap_or(i64::MAX);
        let found: Vec<i64> = filtered(query, tag, None)
            .select(clients::id)
            .limit(limit)
            .load(conn)?;
        if found.len() as u64 <= exact_up_to {
            return Ok((found.len() as u64, false));
        }
    }
    // Without an estimate, the matches are read in id order at once, as extrapolating needs.
    let beyond: Option<i64> = filtered(query, tag, None)
        .select(clients::id)
        .order(clients::id.asc())
        .offset(i64::try_from(exact_up_to).unwrap_or(i64::MAX))
        .first(conn)
        .optional()?;
    let Some(beyond) = beyond else {
        let count: i64 = filtered(query, tag, None).count().get_result(conn)?;
        return Ok((total(count), false));
    };
    let first: i64 = filtered(query, tag, None)
        .select(clients::id)
        .order(clients::id.asc())
        .first(conn)?;
    let last: Option<i64> = clients::table
        .select(diesel::dsl::max(clients::id))
        .first(conn)?;
    let seen = exact_up_to + 1;
    // The matches among the first ids, as a share of those ids, applied to the ids after them.
    let density = seen as f64 / (beyond - first + 1).max(1) as f64;
    let rest = (last.unwrap_or(beyond) - beyond).max(0) as f64;
    Ok((seen + (density * rest).round() as u64, true))
}

impl ClientStore for BackendStore {
    #[tracing::instrument(skip_all, fields(client_id = tracing::field::Empty))]
    fn create_client(&self, new: &NewClient) -> StoreResult<Client> {
        self.write(|conn| {
            let row: ClientRow = diesel::insert_into(clients::table)
                .values((
                    clients::phone_number.eq(new.phone.as_str()),
                    clients::operator_code.eq(new.operator_code.as_str()),
                    clients::time_zone.eq(new.time_zone.name()),
                    clients::attributes.eq(store_attributes(&new.attributes)),
                    clients::created_at.eq(now()),
                    clients::updated_at.eq(now()),
                ))
                .returning(ClientRow::as_returning())
                .get_result(conn)
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::UnknownOperator))?;
            tracing::Span::current().record("client_id", row.id);
            let tags = replace_tags(conn, row.id, &new.tags)?;
            row.into_record(tags)
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = id.0))]
    fn get_client(&self, id: ClientId) -> StoreResult<Client> {
        self.read(|conn| {
            let row = clients::table
                .find(id.0)
                .select(ClientRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(NOT_FOUND))?;
            let tags = load_tags(conn, &[row.id])?.remove(&row.id);
            row.into_record(tags.unwrap_or_default())
        })
    }

    fn list_clients(&self, query: &ClientQuery, page: PageRequest) -> StoreResult<ClientPage> {
        let (offset, limit) = bounds(page);
        self.read(|conn| {
            let tag = tag_filter(conn, query)?;
            let mut selected = filtered(query, tag, query.after);
            selected = if query.phone_prefix.is_some()
                && pipeline::reads_every_match_first(
                    conn,
                    filtered(query, tag, query.after).select(clients::id),
                )? {
                // The same order in a form no index gives, so the matches are found through
                // the conditions' indexes, then sorted.
                selected.order((clients::id + 0_i64).asc())
            } else {
                selected.order(clients::id.asc())
            };
            // One more than the page holds tells whether clients follow it.
            let mut rows: Vec<ClientRow> = selected
                .select(ClientRow::as_select())
                .offset(offset)
                .limit(limit.saturating_add(1))
                .load(conn)?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let (total, total_estimated) = total_of(conn, query, tag)?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let mut tags = load_tags(conn, &ids)?;
            let items = rows
                .into_iter()
                .map(|row| {
                    let own = tags.remove(&row.id).unwrap_or_default();
                    row.into_record(own)
                })
                .collect::<Result<_, _>>()?;
            Ok(ClientPage {
                items,
                total,
                total_estimated,
                more,
            })
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = id.0))]
    fn update_client(&self, id: ClientId, patch: &ClientPatch) -> StoreResult<Client> {
        self.write(|conn| {
            let changes = ClientChanges {
                phone_number: patch.phone.as_ref().map(PhoneNumber::as_str),
                operator_code: patch.operator_code.as_ref().map(OperatorCode::as_str),
                time_zone: patch.time_zone.as_ref().map(TimeZone::name),
                attributes: patch.attributes.as_ref().map(store_attributes),
            };
            // A new number reaches the client's messages still waiting for a sender; the
            // database moves them (see the migrations `message_history`).
            let row: ClientRow = diesel::update(clients::table.find(id.0))
                .set((changes, clients::updated_at.eq(now())))
                .returning(ClientRow::as_returning())
                .get_result(conn)
                .optional()
                .map_err(refusing(OPERATOR_REFERENCE, Rejection::UnknownOperator))?
                .ok_or(Failure::Store(NOT_FOUND))?;
            let tags = match &patch.tags {
                Some(values) => replace_tags(conn, row.id, values)?,
                None => load_tags(conn, &[row.id])?
                    .remove(&row.id)
                    .unwrap_or_default(),
            };
            row.into_record(tags)
        })
    }

    #[tracing::instrument(skip_all, fields(client_id = id.0))]
    fn delete_client(&self, id: ClientId) -> StoreResult<()> {
        self.write(|conn| {
            // Its tag links go with it. The database cancels its unsent messages and clears the
            // link of all of them, so its delivered ones stay for the statistics, with the
            // number they went to; a message
            // being inserted for it meanwhile either commits first and is cancelled with the
            // rest, or fails its reference check (see the migrations `message_references`).
            let deleted = diesel::delete(clients::table.find(id.0)).execute(conn)?;
            if deleted == 0 {
                return Err(Failure::Store(NOT_FOUND));
            }
            Ok(())
        })
    }

    fn count_matching(&self, filter: &ClientFilter) -> StoreResult<u64> {
        self.read(|conn| Ok(total(pipeline::count_matching(conn, filter)?)))
    }

    fn count_matching_up_to(&self, filter: &ClientFilter, cap: u64) -> StoreResult<u64> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        self.read(|conn| Ok(total(pipeline::count_matching_up_to(conn, filter, cap)?)))
    }

    fn count_matching_by_zone(&self, filter: &ClientFilter) -> StoreResult<Vec<(TimeZone, u64)>> {
        self.read(|conn| {
            pipeline::count_matching_by_zone(conn, filter)?
                .into_iter()
                .map(|row| {
                    let zone = TimeZone::parse(&row.time_zone)
                        .map_err(|e| corrupt("clients", "time_zone", 0, e))?;
                    Ok((zone, total(row.count)))
                })
                .collect()
        })
    }

    fn count_lacking(&self, filter: &ClientFilter, keys: &[AttributeKey]) -> StoreResult<Vec<u64>> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        self.read(|conn| {
            let counts = pipeline::count_lacking(conn, filter, keys)?;
            serde_json::from_str::<Vec<u64>>(&counts)
                .map_err(|e| corrupt("clients", "attributes", 0, e))
        })
    }

    fn matching_clients_after(
        &self,
        filter: &ClientFilter,
        after: Option<ClientId>,
        limit: u32,
    ) -> StoreResult<Vec<MatchingClient>> {
        let after = after.map_or(0, |id| id.0);
        self.read(|conn| {
            pipeline::matching_after(conn, filter, after, i64::from(limit))?
                .into_iter()
                .map(MatchingRow::into_record)
                .collect()
        })
    }

    fn missing_operators(&self, codes: &[OperatorCode]) -> StoreResult<Vec<OperatorCode>> {
        let wanted: Vec<&str> = codes.iter().map(OperatorCode::as_str).collect();
        self.read(|conn| {
            let known: BTreeSet<String> = operators::table
                .filter(operators::code.eq_any(&wanted))
                .select(operators::code)
                .load(conn)?
                .into_iter()
                .collect();
            Ok(unknown(codes, &known, OperatorCode::as_str))
        })
    }

    fn missing_tags(&self, values: &[TagValue]) -> StoreResult<Vec<TagValue>> {
        let wanted: Vec<&str> = values.iter().map(TagValue::as_str).collect();
        self.read(|conn| {
            let known: BTreeSet<String> = tags::table
                .filter(tags::value.eq_any(&wanted))
                .select(tags::value)
                .load(conn)?
                .into_iter()
                .collect();
            Ok(unknown(values, &known, TagValue::as_str))
        })
    }
}

/// The entries of `wanted` whose name is not among the `known` ones, in the order asked.
fn unknown<T: Clone>(wanted: &[T], known: &BTreeSet<String>, name: fn(&T) -> &str) -> Vec<T> {
    wanted
        .iter()
        .filter(|entry| !known.contains(name(entry)))
        .cloned()
        .collect()
}
