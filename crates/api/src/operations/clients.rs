//! Clients, the directory mailings are sent to: what a body or a search may say about them, and
//! creating, changing and deleting them.

use crate::error::{ApiError, FieldError};
use crate::operations::examples;
use crate::operations::input::{Change, Field, QueryValue, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::operations::references::References;
use crate::state::AppState;
use mailing_domain::store::{Client, ClientPatch, ClientQuery, NewClient};
use mailing_domain::{
    AttributeKey, AttributeValue, Attributes, ClientId, Invalid, OperatorCode, PhoneNumber,
    TagValue, TimeZone,
};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

/// Bound on the tags of one client.
const MAX_TAGS: usize = 50;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ClientInput {
    /// Exactly 11 digits starting with 7, e.g. `79001234567`. Unique.
    pub phone_number: Required<String>,
    /// Code of an existing operator.
    pub operator_code: Required<String>,
    /// Tag values (up to 50); missing tags are created. Default: none.
    pub tags: Field<Vec<String>>,
    /// IANA time zone name, e.g. `Europe/Moscow`. Default: `UTC`.
    pub time_zone: Field<String>,
    /// Facts to filter and personalise by, e.g. `{"city": "Kazan", "vip": true, "age": 30}`:
    /// up to 50 keys of 1 to 64 characters `a-z`, `0-9` or `_`, whose values are strings,
    /// numbers or booleans, at most 4096 bytes as JSON. Default: none.
    pub attributes: Field<serde_json::Value>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: a field left out keeps its value; `null` gives `tags` and `time_zone` their
/// defaults (no tags, `UTC`); `phone_number` and `operator_code` may not be `null`.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ClientPatchInput {
    pub phone_number: Field<String>,
    pub operator_code: Field<String>,
    /// Replaces the whole set of tags; `null` removes every tag.
    pub tags: Field<Vec<String>>,
    /// `null` sets `UTC`.
    pub time_zone: Field<String>,
    /// Replaces the whole object; `null` removes every attribute.
    pub attributes: Field<serde_json::Value>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// The conditions of a client list, and where its page starts. Unknown parameters are refused
/// by [`ClientListQuery::parse`], which reads the `attr.<key>` ones.
#[derive(Deserialize, Apiv2Schema)]
pub struct ClientListQuery {
    /// Page number, from 1; give this or `cursor`. Deep pages are cheaper through `cursor`.
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only clients of this operator.
    pub operator_code: Option<String>,
    /// Only clients carrying this tag.
    pub tag: Option<String>,
    /// Only clients whose phone number starts with these digits.
    pub phone_prefix: Option<String>,
    /// The `next_cursor` of the page before: the page right after it, however deep, as fast
    /// as the first. Clients added or removed meanwhile never make the walk skip or repeat
    /// one.
    pub cursor: Option<String>,
    /// `attr.<key>=<value>`: only clients holding this attribute value, read as a CSV cell is:
    /// `attr.vip=true` (a boolean), `attr.age=30` (a number), `attr.zip="007"` (a string, as
    /// quotes keep it), `attr.city=Kazan` (other text).
    #[serde(flatten)]
    pub attributes: AttributeParams,
}

/// The conditions of a client export: the list's, without paging, since an export holds every
/// client they select. Unknown parameters (`page` among them) are refused by
/// [`ClientExportQuery::parse`].
#[derive(Deserialize, Apiv2Schema)]
pub struct ClientExportQuery {
    /// Only clients of this operator.
    pub operator_code: Option<String>,
    /// Only clients carrying this tag.
    pub tag: Option<String>,
    /// Only clients whose phone number starts with these digits.
    pub phone_prefix: Option<String>,
    /// `attr.<key>=<value>`: only clients holding this attribute value, read as a CSV cell is:
    /// `attr.vip=true` (a boolean), `attr.age=30` (a number), `attr.zip="007"` (a string, as
    /// quotes keep it), `attr.city=Kazan` (other text).
    #[serde(flatten)]
    pub attributes: AttributeParams,
}

/// The query parameters a list does not name itself, in the order sent: `attr.<key>` ones, or
/// unknown ones to refuse.
#[derive(Debug, Clone, Default)]
pub struct AttributeParams(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for AttributeParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = AttributeParams;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("query parameters")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = vec![];
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(AttributeParams(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

impl paperclip::v2::schema::Apiv2Schema for AttributeParams {
    fn required() -> bool {
        false
    }
}

/// The prefix of a query parameter requiring an attribute value.
const ATTRIBUTE_PARAM: &str = "attr.";

/// Reads `attr.<key>=<value>` parameters into the attribute values a list requires, naming a
/// problem after its parameter; any other parameter is unknown.
fn parse_attribute_params(params: AttributeParams, problems: &mut Problems) -> Attributes {
    let mut wanted = serde_json::Map::new();
    for (name, raw) in params.0 {
        let Some(key) = name.strip_prefix(ATTRIBUTE_PARAM) else {
            problems.push(FieldError::new(
                name,
                "unknown_field",
                "is not a parameter of this list; check the spelling against the API document",
            ));
            continue;
        };
        if let Err(rule) = AttributeKey::parse(key) {
            problems.invalid(name, &rule);
            continue;
        }
        match AttributeValue::from_cell(&raw) {
            Some(value) => {
                if wanted.insert(key.to_owned(), value.to_json()).is_some() {
                    problems.push(FieldError::new(
                        name,
                        "duplicate",
                        "is given twice; give each attribute once, e.g. attr.city=Kazan",
                    ));
                }
            }
            None => problems.push(FieldError::new(
                name,
                "empty",
                "must not be empty; e.g. attr.city=Kazan, attr.vip=true or attr.zip=\"007\"",
            )),
        }
    }
    let wanted = serde_json::Value::Object(wanted);
    parse_attributes(ATTRIBUTE_PARAM.trim_end_matches('.'), &wanted, problems).unwrap_or_default()
}

/// A cursor as [`cursor_after`] reads it: where the page before ended.
pub fn cursor_of(last: ClientId) -> String {
    format!("{CURSOR_PREFIX}{:x}", last.0)
}

/// The version mark of a cursor, so that another encoding later can tell old ones apart.
const CURSOR_PREFIX: &str = "c1.";

/// The client a cursor made by [`cursor_of`] points after.
fn cursor_after(raw: &str) -> Option<ClientId> {
    let hex = raw.strip_prefix(CURSOR_PREFIX)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = i64::from_str_radix(hex, 16).ok()?;
    (id > 0).then_some(ClientId(id))
}

/// Parses a list of tag values, naming each bad entry by its index. Repeated values collapse.
pub fn parse_tags(
    field: &str,
    raw: &[String],
    max: usize,
    problems: &mut Problems,
) -> Vec<TagValue> {
    if raw.len() > max {
        problems.push(FieldError::invalid(field, &Invalid::TooMany { max }));
        return vec![];
    }
    let unique: std::collections::BTreeSet<TagValue> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, value)| problems.check(format!("{field}[{i}]"), TagValue::parse(value)))
        .collect();
    unique.into_iter().collect()
}

/// Reads an attributes object, naming each bad entry as `{field}.{key}`.
pub fn parse_attributes(
    field: &str,
    raw: &serde_json::Value,
    problems: &mut Problems,
) -> Option<Attributes> {
    match Attributes::from_json(raw) {
        Ok(attributes) => Some(attributes),
        Err(found) => {
            for problem in found {
                let error = match &problem.key {
                    Some(key) => FieldError::invalid(format!("{field}.{key}"), &problem.problem),
                    // A rule on the whole object (how many keys, how large) shows one that
                    // keeps it.
                    None => {
                        let mut error = FieldError::invalid(field, &problem.problem);
                        if !error.message.contains("e.g.") {
                            error.message.push_str(&examples::suffix(field));
                        }
                        error
                    }
                };
                problems.push(error);
            }
            None
        }
    }
}

/// A phone prefix to search by: 1 to 11 digits.
pub fn parse_phone_prefix(
    field: &str,
    raw: Option<String>,
    problems: &mut Problems,
) -> Option<String> {
    raw.filter(|raw| {
        let digits = !raw.is_empty() && raw.len() <= 11 && raw.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            problems.push(FieldError::new(field, "digits", "must be 1 to 11 digits"));
        }
        digits
    })
}

/// A client read from a body, the problems found, and the operator it names.
struct Read<T> {
    value: Option<T>,
    problems: Problems,
    references: References,
}

impl<T> Read<T> {
    /// The value, or every problem: those of the body, and an unknown operator beside them.
    /// A body without other problems skips the look-up: storing it refuses an unknown
    /// operator by itself.
    async fn finish(mut self, state: &AppState) -> Result<T, ApiError> {
        if !self.problems.is_empty() {
            self.references.check(state, &mut self.problems).await?;
        }
        let value = self.value;
        self.problems.finish(|| value.expect("no problems"))
    }
}

fn read_operator(
    raw: Option<String>,
    problems: &mut Problems,
    references: &mut References,
) -> Option<OperatorCode> {
    let code = raw.and_then(|raw| problems.check("operator_code", OperatorCode::parse(&raw)))?;
    references.operator("operator_code", &code);
    Some(code)
}

impl ClientPatchInput {
    fn read(self) -> Read<ClientPatch> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let phone = self
            .phone_number
            .set_only("phone_number", &mut problems)
            .and_then(|raw| problems.check("phone_number", PhoneNumber::parse(&raw)));
        let raw_code = self.operator_code.set_only("operator_code", &mut problems);
        let operator_code = read_operator(raw_code, &mut problems, &mut references);
        let tags = self
            .tags
            .change("tags", &mut problems)
            .map(|raw| parse_tags("tags", &raw, MAX_TAGS, &mut problems));
        let time_zone = self
            .time_zone
            .change("time_zone", &mut problems)
            .map(|raw| problems.check("time_zone", TimeZone::parse(&raw)));
        let attributes = self
            .attributes
            .change("attributes", &mut problems)
            .map(|raw| parse_attributes("attributes", &raw, &mut problems));
        self.unknown.report("", &mut problems);
        let attributes = match attributes {
            Change::Keep | Change::Set(None) => None,
            Change::Clear => Some(Attributes::default()),
            Change::Set(Some(attributes)) => Some(attributes),
        };
        let tags = match tags {
            Change::Keep => None,
            Change::Clear => Some(vec![]),
            Change::Set(tags) => Some(tags),
        };
        let time_zone = match time_zone {
            Change::Keep | Change::Set(None) => None,
            Change::Clear => Some(TimeZone::utc()),
            Change::Set(Some(zone)) => Some(zone),
        };
        Read {
            value: Some(ClientPatch {
                phone,
                operator_code,
                tags,
                time_zone,
                attributes,
            }),
            problems,
            references,
        }
    }
}

impl ClientInput {
    /// Every field, defaults filled in for those left out or `null`.
    fn read(self) -> Read<NewClient> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let phone = self
            .phone_number
            .require("phone_number", &mut problems)
            .and_then(|raw| problems.check("phone_number", PhoneNumber::parse(&raw)));
        let raw_code = self.operator_code.require("operator_code", &mut problems);
        let operator_code = read_operator(raw_code, &mut problems, &mut references);
        let tags = self
            .tags
            .optional("tags", &mut problems)
            .map_or_else(Vec::new, |raw| {
                parse_tags("tags", &raw, MAX_TAGS, &mut problems)
            });
        let time_zone = match self.time_zone.optional("time_zone", &mut problems) {
            Some(raw) => problems.check("time_zone", TimeZone::parse(&raw)),
            None => Some(TimeZone::utc()),
        };
        let attributes = match self.attributes.optional("attributes", &mut problems) {
            Some(raw) => parse_attributes("attributes", &raw, &mut problems),
            None => Some(Attributes::default()),
        };
        self.unknown.report("", &mut problems);
        let value = match (phone, operator_code, time_zone, attributes) {
            (Some(phone), Some(operator_code), Some(time_zone), Some(attributes)) => {
                Some(NewClient {
                    phone,
                    operator_code,
                    tags,
                    time_zone,
                    attributes,
                })
            }
            _ => None,
        };
        Read {
            value,
            problems,
            references,
        }
    }
}

impl ClientListQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub fn parse(self) -> Result<(ClientQuery, Paging), ApiError> {
        let query = self;
        let mut problems = Problems::default();
        let paging = Paging::read(query.page.as_ref(), query.page_size.as_ref(), &mut problems);
        let after = query.cursor.and_then(|raw| {
            let after = cursor_after(&raw);
            if after.is_none() {
                problems.push(FieldError::new(
                    "cursor",
                    "invalid_cursor",
                    "must be the next_cursor of a page of this list, e.g. c1.3e8",
                ));
            }
            after
        });
        if after.is_some() && query.page.is_some() {
            problems.push(FieldError::new(
                "page",
                "exclusive",
                "give either page or cursor, not both; a cursor says where to go on, e.g. \
                 cursor=c1.3e8 alone",
            ));
        }
        let conditions = ClientExportQuery {
            operator_code: query.operator_code,
            tag: query.tag,
            phone_prefix: query.phone_prefix,
            attributes: query.attributes,
        };
        let filter = conditions.read(&mut problems);
        problems.finish_query(|| {
            let filter = ClientQuery { after, ..filter };
            (filter, paging.expect("checked"))
        })
    }
}

impl ClientExportQuery {
    /// The conditions asked for; problems make a 400.
    pub fn parse(self) -> Result<ClientQuery, ApiError> {
        let mut problems = Problems::default();
        let filter = self.read(&mut problems);
        problems.finish_query(|| filter)
    }

    /// The conditions, with each problem added to `problems`; those with one are left out.
    fn read(self, problems: &mut Problems) -> ClientQuery {
        let operator_code = self
            .operator_code
            .and_then(|raw| problems.check("operator_code", OperatorCode::parse(&raw)));
        let tag = self
            .tag
            .and_then(|raw| problems.check("tag", TagValue::parse(&raw)));
        let phone_prefix = parse_phone_prefix("phone_prefix", self.phone_prefix, problems);
        let attributes = parse_attribute_params(self.attributes, problems);
        ClientQuery {
            operator_code,
            tag,
            phone_prefix,
            attributes,
            after: None,
        }
    }
}

/// Stores a new client; tags it carries that do not exist yet are created.
pub async fn create(state: &AppState, input: ClientInput) -> Result<Client, ApiError> {
    let new = input.read().finish(state).await?;
    let client = state.run(move |s| s.create_client(&new)).await?;
    // The request's own closing line names the new client too.
    tracing::Span::current().record("client_id", client.id.0);
    tracing::info!(client_id = client.id.0, "client created");
    Ok(client)
}

/// Sets every field; those the input leaves out take their defaults.
pub async fn replace(
    state: &AppState,
    id: ClientId,
    input: ClientInput,
) -> Result<Client, ApiError> {
    let new = input.read().finish(state).await?;
    let patch = ClientPatch {
        phone: Some(new.phone),
        operator_code: Some(new.operator_code),
        tags: Some(new.tags),
        time_zone: Some(new.time_zone),
        attributes: Some(new.attributes),
    };
    let client = state.run(move |s| s.update_client(id, &patch)).await?;
    tracing::info!(client_id = client.id.0, "client replaced");
    Ok(client)
}

/// Sets the fields given.
pub async fn patch(
    state: &AppState,
    id: ClientId,
    input: ClientPatchInput,
) -> Result<Client, ApiError> {
    let patch = input.read().finish(state).await?;
    let client = state.run(move |s| s.update_client(id, &patch)).await?;
    tracing::info!(client_id = client.id.0, "client updated");
    Ok(client)
}

/// The client's unsent messages are cancelled; sent ones stay in the statistics.
pub async fn delete(state: &AppState, id: ClientId) -> Result<(), ApiError> {
    state.run(move |s| s.delete_client(id)).await?;
    tracing::info!(client_id = id.0, "client deleted");
    Ok(())
}

pub async fn get(state: &AppState, id: ClientId) -> Result<Client, ApiError> {
    state.run(move |s| s.get_client(id)).await
}
