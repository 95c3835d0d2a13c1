//! Saved client filters, for mailings to reuse.

use crate::auth::Authenticated;
use crate::error::{ApiError, FieldError, Problems};
use crate::extract::{JsonBody, QueryParams};
use crate::routes::clients::parse_tags;
use crate::routes::operators::ListQuery;
use crate::routes::paging::{Paging, page_of};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::filter::FilterInvalid;
use mailing_domain::store::{NewSavedFilter, SavedFilter, SavedFilterPatch, StoreError};
use mailing_domain::{ClientFilter, ClientFilterId, Invalid, OperatorCode};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::{Deserialize, Deserializer, Serialize};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/client-filters")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/client-filters/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

/// Which clients a mailing reaches. A client matches when (no operator codes are given OR its
/// operator code is listed) AND (no tags are given OR it has at least one listed tag).
#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct FilterBody {
    pub operator_codes: Vec<String>,
    pub tags: Vec<String>,
}

/// Which clients to reach. A client matches when (no operator codes are given OR its operator
/// code is listed) AND (no tags are given OR it has at least one listed tag).
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    /// Operator codes (up to 100); missing or empty: any operator.
    pub operator_codes: Option<Vec<String>>,
    /// Tag values (up to 100); missing or empty: tags do not matter.
    pub tags: Option<Vec<String>>,
}

impl FilterInput {
    /// Parses into a domain filter, recording problems under `field` (`filter`, or empty for
    /// top-level lists).
    pub fn parse(&self, field: &str, problems: &mut Problems) -> Option<ClientFilter> {
        let name = |list: &str| {
            if field.is_empty() {
                list.to_owned()
            } else {
                format!("{field}.{list}")
            }
        };
        let max = ClientFilter::MAX_ENTRIES;
        let codes_field = name("operator_codes");
        let codes = parse_codes(
            &codes_field,
            self.operator_codes.as_deref().unwrap_or_default(),
            problems,
        );
        let tags = parse_tags(
            &name("tags"),
            self.tags.as_deref().unwrap_or_default(),
            max,
            problems,
        );
        match ClientFilter::new(codes, tags) {
            Ok(filter) => Some(filter),
            Err(FilterInvalid::OperatorCodes(rule)) => {
                problems.push(FieldError::invalid(codes_field, &rule));
                None
            }
            Err(FilterInvalid::Tags(rule)) => {
                problems.push(FieldError::invalid(name("tags"), &rule));
                None
            }
        }
    }
}

/// Parses a list of operator codes, naming each bad entry by its index.
fn parse_codes(field: &str, raw: &[String], problems: &mut Problems) -> Vec<OperatorCode> {
    let max = ClientFilter::MAX_ENTRIES;
    if raw.len() > max {
        problems.push(FieldError::invalid(field, &Invalid::TooMany { max }));
        return vec![];
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, code)| problems.check(format!("{field}[{i}]"), OperatorCode::parse(code)))
        .collect()
}

impl From<&ClientFilter> for FilterBody {
    fn from(filter: &ClientFilter) -> Self {
        Self {
            operator_codes: filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: filter.tags().map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct ClientFilterBody {
    pub id: i64,
    pub name: Option<String>,
    pub operator_codes: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SavedFilter> for ClientFilterBody {
    fn from(saved: SavedFilter) -> Self {
        let FilterBody {
            operator_codes,
            tags,
        } = FilterBody::from(&saved.filter);
        Self {
            id: saved.id.0,
            name: saved.name,
            operator_codes,
            tags,
            created_at: saved.created_at,
            updated_at: saved.updated_at,
        }
    }
}

page_of!(ClientFilterPage, ClientFilterBody);

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientFilterInput {
    /// Optional label, 1 to 100 characters.
    pub name: Option<String>,
    /// Operator codes (up to 100); missing or empty: any operator.
    pub operator_codes: Option<Vec<String>>,
    /// Tag values (up to 100); missing or empty: tags do not matter.
    pub tags: Option<Vec<String>>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientFilterPatchInput {
    /// `null` removes the name.
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    pub operator_codes: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from a field left out (`None`).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn parse_name(raw: Option<String>, problems: &mut Problems) -> Option<String> {
    let raw = raw?;
    let trimmed = raw.trim();
    let rule = if trimmed.is_empty() {
        Some(Invalid::Empty)
    } else if trimmed.chars().count() > 100 {
        Some(Invalid::TooLong { max: 100 })
    } else if trimmed.chars().any(char::is_control) {
        Some(Invalid::ControlCharacters)
    } else {
        None
    };
    match rule {
        Some(rule) => {
            problems.push(FieldError::invalid("name", &rule));
            None
        }
        None => Some(trimmed.to_owned()),
    }
}

impl ClientFilterInput {
    pub(crate) fn parse(self) -> Result<NewSavedFilter, ApiError> {
        let mut problems = Problems::default();
        let name = parse_name(self.name, &mut problems);
        let filter = FilterInput {
            operator_codes: self.operator_codes,
            tags: self.tags,
        }
        .parse("", &mut problems);
        problems.finish(|| NewSavedFilter {
            name,
            filter: filter.expect("checked"),
        })
    }
}

/// List saved client filters
#[api_v2_operation(tags(ClientFilters))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<ClientFilterPage>, ApiError> {
    let paging = Paging::parse(query.0.page, query.0.page_size)?;
    let page = state
        .run(move |s| s.list_client_filters(paging.request()))
        .await?;
    Ok(web::Json(ClientFilterPage::new(page, paging)))
}

/// Save a client filter
#[api_v2_operation(tags(ClientFilters))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<ClientFilterInput>,
) -> Result<CreatedJson<ClientFilterBody>, ApiError> {
    let new = body.0.parse()?;
    let saved = state.run(move |s| s.create_client_filter(&new)).await?;
    Ok(CreatedJson(saved.into()))
}

/// Get a saved client filter
#[api_v2_operation(tags(ClientFilters))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let id = ClientFilterId(id.into_inner());
    let saved = state.run(move |s| s.get_client_filter(id)).await?;
    Ok(web::Json(saved.into()))
}

/// Replace a saved client filter
///
/// Mailings created from it keep the copy they took.
#[api_v2_operation(tags(ClientFilters))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientFilterInput>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let id = ClientFilterId(id.into_inner());
    let new = body.0.parse()?;
    let patch = SavedFilterPatch {
        name: Some(new.name),
        filter: Some(new.filter),
    };
    let saved = state
        .run(move |s| s.update_client_filter(id, &patch))
        .await?;
    Ok(web::Json(saved.into()))
}

/// Update some fields of a saved client filter
///
/// Mailings created from it keep the copy they took.
#[api_v2_operation(tags(ClientFilters))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ClientFilterPatchInput>,
) -> Result<web::Json<ClientFilterBody>, ApiError> {
    let id = ClientFilterId(id.into_inner());
    let input = body.0;
    let mut problems = Problems::default();
    let name = input.name.map(|name| parse_name(name, &mut problems));
    let codes = input
        .operator_codes
        .map(|raw| parse_codes("operator_codes", &raw, &mut problems));
    let tags = input
        .tags
        .map(|raw| parse_tags("tags", &raw, ClientFilter::MAX_ENTRIES, &mut problems));
    problems.finish(|| ())?;
    let saved = state
        .run(move |s| {
            // A list left out keeps its stored value.
            let filter = if codes.is_some() || tags.is_some() {
                let current = s.get_client_filter(id)?.filter;
                let codes = codes.unwrap_or_else(|| current.operator_codes().cloned().collect());
                let tags = tags.unwrap_or_else(|| current.tags().cloned().collect());
                let merged = ClientFilter::new(codes, tags)
                    .map_err(|_| StoreError::Internal("lists were bounded when parsed".into()))?;
                Some(merged)
            } else {
                None
            };
            s.update_client_filter(id, &SavedFilterPatch { name, filter })
        })
        .await?;
    Ok(web::Json(saved.into()))
}

/// Delete a saved client filter
///
/// Mailings created from it keep their copy of the filter.
#[api_v2_operation(tags(ClientFilters))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    let id = ClientFilterId(id.into_inner());
    state.run(move |s| s.delete_client_filter(id)).await?;
    Ok(NoContent)
}
