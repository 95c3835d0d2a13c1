//! Which clients a mailing reaches, and the saved filters mailings reuse: what a body may say
//! about them, and saving, changing and deleting saved filters.

use crate::error::{ApiError, FieldError};
use crate::operations::clients::parse_tags;
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::filter::FilterInvalid;
use mailing_domain::store::{NewSavedFilter, SavedFilter, SavedFilterPatch, StoreError};
use mailing_domain::{ClientFilter, ClientFilterId, Invalid, OperatorCode, TagValue};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Deserializer};

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
    fn parse(self) -> Result<NewSavedFilter, ApiError> {
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

/// What a patch changes; a list left out keeps its stored value.
struct FilterChange {
    name: Option<Option<String>>,
    codes: Option<Vec<OperatorCode>>,
    tags: Option<Vec<TagValue>>,
}

impl ClientFilterPatchInput {
    fn parse(self) -> Result<FilterChange, ApiError> {
        let mut problems = Problems::default();
        let name = self.name.map(|name| parse_name(name, &mut problems));
        let codes = self
            .operator_codes
            .map(|raw| parse_codes("operator_codes", &raw, &mut problems));
        let tags = self
            .tags
            .map(|raw| parse_tags("tags", &raw, ClientFilter::MAX_ENTRIES, &mut problems));
        problems.finish(|| FilterChange { name, codes, tags })
    }
}

pub async fn create(state: &AppState, input: ClientFilterInput) -> Result<SavedFilter, ApiError> {
    let new = input.parse()?;
    state.run(move |s| s.create_client_filter(&new)).await
}

/// Sets every field; a name left out removes it. Mailings created from the filter keep the
/// copy they took.
pub async fn replace(
    state: &AppState,
    id: ClientFilterId,
    input: ClientFilterInput,
) -> Result<SavedFilter, ApiError> {
    let new = input.parse()?;
    let patch = SavedFilterPatch {
        name: Some(new.name),
        filter: Some(new.filter),
    };
    state.run(move |s| s.update_client_filter(id, &patch)).await
}

/// Sets the fields given. Mailings created from the filter keep the copy they took.
pub async fn patch(
    state: &AppState,
    id: ClientFilterId,
    input: ClientFilterPatchInput,
) -> Result<SavedFilter, ApiError> {
    let FilterChange { name, codes, tags } = input.parse()?;
    state
        .run(move |s| {
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
        .await
}

/// Mailings created from the filter keep their copy of it.
pub async fn delete(state: &AppState, id: ClientFilterId) -> Result<(), ApiError> {
    state.run(move |s| s.delete_client_filter(id)).await
}

pub async fn get(state: &AppState, id: ClientFilterId) -> Result<SavedFilter, ApiError> {
    state.run(move |s| s.get_client_filter(id)).await
}
