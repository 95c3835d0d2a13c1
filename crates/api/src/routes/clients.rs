//! Clients: the directory mailings are sent to.

use crate::auth::Authenticated;
use crate::error::{ApiError, FieldError, Problems};
use crate::extract::{JsonBody, QueryParams};
use crate::routes::paging::{Paging, page_of};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::{Client, ClientPatch, ClientQuery, NewClient};
use mailing_domain::{ClientId, Invalid, OperatorCode, PhoneNumber, TagValue, TimeZone};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};

/// Bound on the tags of one client.
const MAX_TAGS: usize = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clients")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/clients/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct ClientBody {
    pub id: i64,
    /// `7XXXXXXXXXX`.
    pub phone_number: String,
    pub operator_code: String,
    pub tags: Vec<String>,
    /// IANA time zone name.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Client> for ClientBody {
    fn from(client: Client) -> Self {
        Self {
            id: client.id.0,
            phone_number: client.phone.as_str().to_owned(),
            operator_code: client.operator_code.as_str().to_owned(),
            tags: client.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            time_zone: client.time_zone.name().to_owned(),
            created_at: client.created_at,
            updated_at: client.updated_at,
        }
    }
}

page_of!(ClientPage, ClientBody);

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
pub(crate) fn parse_phone_prefix(
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
    pub(crate) fn parse(self) -> Result<ClientPatch, ApiError> {
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
    pub(crate) fn into_full_patch(self) -> Result<ClientPatch, ApiError> {
        ClientPatchInput {
            phone_number: Some(self.phone_number),
            operator_code: Some(self.operator_code),
            tags: Some(self.tags.unwrap_or_default()),
            time_zone: Some(self.time_zone.unwrap_or_else(|| "UTC".to_owned())),
        }
        .parse()
    }

    /// The client to create.
    pub(crate) fn parse(self) -> Result<NewClient, ApiError> {
        let patch = self.into_full_patch()?;
        Ok(NewClient {
            phone: patch.phone.expect("given"),
            operator_code: patch.operator_code.expect("given"),
            tags: patch.tags.expect("given"),
            time_zone: patch.time_zone.expect("given"),
        })
    }
}

/// List clients
///
/// Filter by operator code, tag and phone prefix; all given conditions must hold.
#[api_v2_operation(tags(Clients))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ClientListQuery>,
) -> Result<web::Json<ClientPage>, ApiError> {
    let (filter, paging) = query.0.parse()?;
    let page = state
        .run(move |s| s.list_clients(&filter, paging.request()))
        .await?;
    Ok(web::Json(ClientPage::new(page, paging)))
}

impl ClientListQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub(crate) fn parse(self) -> Result<(ClientQuery, Paging), ApiError> {
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

/// Create a client
#[api_v2_operation(tags(Clients))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<ClientInput>,
) -> Result<CreatedJson<ClientBody>, ApiError> {
    let new = body.0.parse()?;
    let client = state.run(move |s| s.create_client(&new)).await?;
    // The request's own closing line names the new client too.
    tracing::Span::current().record("client_id", client.id.0);
    tracing::info!(client_id = client.id.0, "client created");
    Ok(CreatedJson(client.into()))
}

/// Get a client
#[api_v2_operation(tags(Clients))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let id = ClientId(id.into_inner());
    let client = state.run(move |s| s.get_client(id)).await?;
    Ok(web::Json(client.into()))
}

/// Replace a client
#[api_v2_operation(tags(Clients))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientInput>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let id = ClientId(id.into_inner());
    let patch = body.0.into_full_patch()?;
    let client = state.run(move |s| s.update_client(id, &patch)).await?;
    tracing::info!(client_id = client.id.0, "client replaced");
    Ok(web::Json(client.into()))
}

/// Update some fields of a client
#[api_v2_operation(tags(Clients))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientPatchInput>,
) -> Result<web::Json<ClientBody>, ApiError> {
    let id = ClientId(id.into_inner());
    let patch = body.0.parse()?;
    let client = state.run(move |s| s.update_client(id, &patch)).await?;
    tracing::info!(client_id = client.id.0, "client updated");
    Ok(web::Json(client.into()))
}

/// Delete a client
///
/// The client's unsent messages are cancelled; sent ones stay in the statistics.
#[api_v2_operation(tags(Clients))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    let id = ClientId(id.into_inner());
    state.run(move |s| s.delete_client(id)).await?;
    tracing::info!(client_id = id.0, "client deleted");
    Ok(NoContent)
}
