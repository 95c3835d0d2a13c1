//! Clients, the directory mailings are sent to: what a body or a search may say about them, and
//! creating, changing and deleting them.

use crate::error::{ApiError, FieldError};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::store::{Client, ClientPatch, ClientQuery, NewClient};
use mailing_domain::{ClientId, Invalid, OperatorCode, PhoneNumber, TagValue, TimeZone};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

/// Bound on the tags of one client.
const MAX_TAGS: usize = 50;

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// Exactly 11 digits starting with 7, e.g. `79001234567`. Unique.
    pub phone_number: String,
    /// Code of an existing operator.
    pub operator_code: String,
    /// Tag values (up to 50); missing tags are created. Default: none.
    pub tags: Option<Vec<String>>,
    /// IANA time zone name, e.g. `Europe/Moscow`. Default: `UTC`.
    pub time_zone: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatchInput {
    pub phone_number: Option<String>,
    pub operator_code: Option<String>,
    /// Replaces the whole set of tags.
    pub tags: Option<Vec<String>>,
    pub time_zone: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientListQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<u32>,
    /// Only clients of this operator.
    pub operator_code: Option<String>,
    /// Only clients carrying this tag.
    pub tag: Option<String>,
    /// Only clients whose phone number starts with these digits.
    pub phone_prefix: Option<String>,
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

impl ClientPatchInput {
    fn parse(self) -> Result<ClientPatch, ApiError> {
        let mut problems = Problems::default();
        let phone = self
            .phone_number
            .map(|raw| problems.check("phone_number", PhoneNumber::parse(&raw)));
        let operator_code = self
            .operator_code
            .map(|raw| problems.check("operator_code", OperatorCode::parse(&raw)));
        let tags = self
            .tags
            .map(|raw| parse_tags("tags", &raw, MAX_TAGS, &mut problems));
        let time_zone = self
            .time_zone
            .map(|raw| problems.check("time_zone", TimeZone::parse(&raw)));
        problems.finish(|| ClientPatch {
            phone: phone.flatten(),
            operator_code: operator_code.flatten(),
            tags,
            time_zone: time_zone.flatten(),
        })
    }
}

impl ClientInput {
    /// Every field given, defaults filled in.
    fn into_full_patch(self) -> ClientPatchInput {
        ClientPatchInput {
            phone_number: Some(self.phone_number),
            operator_code: Some(self.operator_code),
            tags: Some(self.tags.unwrap_or_default()),
            time_zone: Some(self.time_zone.unwrap_or_else(|| "UTC".to_owned())),
        }
    }

    /// The client to create.
    fn parse(self) -> Result<NewClient, ApiError> {
        let patch = self.into_full_patch().parse()?;
        Ok(NewClient {
            phone: patch.phone.expect("given"),
            operator_code: patch.operator_code.expect("given"),
            tags: patch.tags.expect("given"),
            time_zone: patch.time_zone.expect("given"),
        })
    }
}

impl ClientListQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub fn parse(self) -> Result<(ClientQuery, Paging), ApiError> {
        let query = self;
        let paging = Paging::parse(query.page, query.page_size)?;
        let mut problems = Problems::default();
        let operator_code = query
            .operator_code
            .and_then(|raw| problems.check("operator_code", OperatorCode::parse(&raw)));
        let tag = query
            .tag
            .and_then(|raw| problems.check("tag", TagValue::parse(&raw)));
        let phone_prefix = parse_phone_prefix("phone_prefix", query.phone_prefix, &mut problems);
        let filter = problems.finish_query(|| ClientQuery {
            operator_code,
            tag,
            phone_prefix,
        })?;
        Ok((filter, paging))
    }
}

/// Stores a new client; tags it carries that do not exist yet are created.
pub async fn create(state: &AppState, input: ClientInput) -> Result<Client, ApiError> {
    let new = input.parse()?;
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
    let patch = input.into_full_patch().parse()?;
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
    let patch = input.parse()?;
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
