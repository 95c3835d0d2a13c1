//! Which clients a mailing reaches, and the saved filters mailings reuse: what a body may say
//! about them, and saving, changing and deleting saved filters.

use crate::error::ApiError;
use crate::operations::clients::{parse_attributes, parse_tags};
use crate::operations::input::{Change, Field, UnknownFields};
use crate::operations::problems::Problems;
use crate::operations::references::References;
use crate::state::AppState;
use mailing_domain::filter::FilterInvalid;
use mailing_domain::store::{NewSavedFilter, SavedFilter, SavedFilterPatch, StoreError};
use mailing_domain::{Attributes, ClientFilter, ClientFilterId, Invalid, OperatorCode, TagValue};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

/// Which clients to reach. A client matches when (no operator codes are given OR its operator
/// code is listed) AND (no tags are given OR it has at least one listed tag) AND it holds every
/// attribute value given. Every operator and tag named must exist.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct FilterInput {
    /// Operator codes (up to 100); missing, `null` or empty: any operator.
    pub operator_codes: Field<Vec<String>>,
    /// Tag values (up to 100); missing, `null` or empty: tags do not matter.
    pub tags: Field<Vec<String>>,
    /// Attribute values a client must hold, all of them, e.g. `{"city": "Kazan", "vip": true}`:
    /// the same keys, with values of the same type and equal (`30` matches `30.0`, never
    /// `"30"`). Missing, `null` or `{}`: attributes do not matter.
    pub attributes: Field<serde_json::Value>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl FilterInput {
    pub fn new(operator_codes: Vec<String>, tags: Vec<String>) -> Self {
        Self {
            operator_codes: Field::value(operator_codes),
            tags: Field::value(tags),
            attributes: Field::absent(),
            unknown: UnknownFields::default(),
        }
    }

    /// The filter, requiring also the attribute values in the JSON object `raw`.
    pub fn with_attributes(self, raw: serde_json::Value) -> Self {
        Self {
            attributes: Field::value(raw),
            ..self
        }
    }

    /// Parses into a domain filter, recording problems under `field` (`filter`, or empty for
    /// top-level lists), and the operators and tags it names in `references`.
    pub fn read(
        self,
        field: &str,
        problems: &mut Problems,
        references: &mut References,
    ) -> Option<ClientFilter> {
        let name = |list: &str| {
            if field.is_empty() {
                list.to_owned()
            } else {
                format!("{field}.{list}")
            }
        };
        let codes_field = name("operator_codes");
        let tags_field = name("tags");
        let attributes_field = name("attributes");
        let raw_codes = self
            .operator_codes
            .optional(&codes_field, problems)
            .unwrap_or_default();
        let raw_tags = self
            .tags
            .optional(&tags_field, problems)
            .unwrap_or_default();
        let prefix = if field.is_empty() {
            String::new()
        } else {
            format!("{field}.")
        };
        self.unknown.report(&prefix, problems);
        let codes = parse_codes(&codes_field, &raw_codes, problems);
        let tags = parse_tags(&tags_field, &raw_tags, ClientFilter::MAX_ENTRIES, problems);
        let attributes = match self.attributes.optional(&attributes_field, problems) {
            Some(raw) => parse_attributes(&attributes_field, &raw, problems),
            None => Some(Attributes::default()),
        };
        name_references(&codes_field, &raw_codes, &tags_field, &raw_tags, references);
        match ClientFilter::new(codes, tags) {
            Ok(filter) => attributes.map(|attributes| filter.with_attributes(attributes)),
            Err(FilterInvalid::OperatorCodes(rule)) => {
                problems.invalid(codes_field, &rule);
                None
            }
            Err(FilterInvalid::Tags(rule)) => {
                problems.invalid(tags_field, &rule);
                None
            }
        }
    }

    /// Like [`FilterInput::read`], for callers that only count what the filter matches.
    pub fn parse(self, field: &str, problems: &mut Problems) -> Option<ClientFilter> {
        self.read(field, problems, &mut References::default())
    }
}

/// Records each well-formed operator code and tag value under the field that names it
/// (`filter.tags[1]`), so an unknown one is named where it was written.
fn name_references(
    codes_field: &str,
    codes: &[String],
    tags_field: &str,
    tags: &[String],
    references: &mut References,
) {
    // A list that is too long is refused whole; its entries are not looked up.
    let bounded = |list: &[String]| list.len() <= ClientFilter::MAX_ENTRIES;
    let codes = if bounded(codes) { codes } else { &[] };
    let tags = if bounded(tags) { tags } else { &[] };
    for (i, raw) in codes.iter().enumerate() {
        if let Ok(code) = OperatorCode::parse(raw) {
            references.operator(format!("{codes_field}[{i}]"), &code);
        }
    }
    for (i, raw) in tags.iter().enumerate() {
        if let Ok(value) = TagValue::parse(raw) {
            references.tag(format!("{tags_field}[{i}]"), &value);
        }
    }
}

/// Parses a list of operator codes, naming each bad entry by its index.
fn parse_codes(field: &str, raw: &[String], problems: &mut Problems) -> Vec<OperatorCode> {
    let max = ClientFilter::MAX_ENTRIES;
    if raw.len() > max {
        problems.invalid(field, &Invalid::TooMany { max });
        return vec![];
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, code)| problems.check(format!("{field}[{i}]"), OperatorCode::parse(code)))
        .collect()
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ClientFilterInput {
    /// Optional label, 1 to 100 characters.
    pub name: Field<String>,
    /// Operator codes (up to 100); missing, `null` or empty: any operator.
    pub operator_codes: Field<Vec<String>>,
    /// Tag values (up to 100); missing, `null` or empty: tags do not matter.
    pub tags: Field<Vec<String>>,
    /// Attribute values a client must hold, all of them, e.g. `{"city": "Kazan", "vip": true}`:
    /// the same keys, with values of the same type and equal (`30` matches `30.0`, never
    /// `"30"`). Missing, `null` or `{}`: attributes do not matter.
    pub attributes: Field<serde_json::Value>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: a field left out keeps its value; `null` removes the name or empties a list
/// (an empty list does not restrict).
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ClientFilterPatchInput {
    /// `null` removes the name.
    pub name: Field<String>,
    pub operator_codes: Field<Vec<String>>,
    pub tags: Field<Vec<String>>,
    /// Replaces the whole object; `null` requires no attributes.
    pub attributes: Field<serde_json::Value>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn parse_name(raw: String, problems: &mut Problems) -> Option<String> {
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
            problems.invalid("name", &rule);
            None
        }
        None => Some(trimmed.to_owned()),
    }
}

impl ClientFilterInput {
    async fn parse(self, state: &AppState) -> Result<NewSavedFilter, ApiError> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let name = self
            .name
            .optional("name", &mut problems)
            .and_then(|raw| parse_name(raw, &mut problems));
        let filter = FilterInput {
            operator_codes: self.operator_codes,
            tags: self.tags,
            attributes: self.attributes,
            unknown: self.unknown,
        }
        .read("", &mut problems, &mut references);
        references.check(state, &mut problems).await?;
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
    attributes: Option<Attributes>,
}

impl ClientFilterPatchInput {
    async fn parse(self, state: &AppState) -> Result<FilterChange, ApiError> {
        let mut problems = Problems::default();
        let mut references = References::default();
        let name = match self.name.change("name", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(None),
            Change::Set(raw) => parse_name(raw, &mut problems).map(Some),
        };
        let raw_codes = list_change(self.operator_codes.change("operator_codes", &mut problems));
        let raw_tags = list_change(self.tags.change("tags", &mut problems));
        let attributes = match self.attributes.change("attributes", &mut problems) {
            Change::Keep => None,
            Change::Clear => Some(Attributes::default()),
            Change::Set(raw) => parse_attributes("attributes", &raw, &mut problems),
        };
        self.unknown.report("", &mut problems);
        let codes = raw_codes
            .as_ref()
            .map(|raw| parse_codes("operator_codes", raw, &mut problems));
        let tags = raw_tags
            .as_ref()
            .map(|raw| parse_tags("tags", raw, ClientFilter::MAX_ENTRIES, &mut problems));
        name_references(
            "operator_codes",
            raw_codes.as_deref().unwrap_or_default(),
            "tags",
            raw_tags.as_deref().unwrap_or_default(),
            &mut references,
        );
        references.check(state, &mut problems).await?;
        problems.finish(|| FilterChange {
            name,
            codes,
            tags,
            attributes,
        })
    }
}

/// A list's merge-patch change: `None` keeps it, `null` empties it.
fn list_change(change: Change<Vec<String>>) -> Option<Vec<String>> {
    match change {
        Change::Keep => None,
        Change::Clear => Some(vec![]),
        Change::Set(list) => Some(list),
    }
}

pub async fn create(state: &AppState, input: ClientFilterInput) -> Result<SavedFilter, ApiError> {
    let new = input.parse(state).await?;
    state.run(move |s| s.create_client_filter(&new)).await
}

/// Sets every field; a name left out removes it. Mailings created from the filter keep the
/// copy they took.
pub async fn replace(
    state: &AppState,
    id: ClientFilterId,
    input: ClientFilterInput,
) -> Result<SavedFilter, ApiError> {
    let new = input.parse(state).await?;
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
    let FilterChange {
        name,
        codes,
        tags,
        attributes,
    } = input.parse(state).await?;
    state
        .run(move |s| {
            let filter = if codes.is_some() || tags.is_some() || attributes.is_some() {
                let current = s.get_client_filter(id)?.filter;
                let codes = codes.unwrap_or_else(|| current.operator_codes().cloned().collect());
                let tags = tags.unwrap_or_else(|| current.tags().cloned().collect());
                let attributes = attributes.unwrap_or_else(|| current.attributes().clone());
                let merged = ClientFilter::new(codes, tags)
                    .map_err(|_| StoreError::Internal("lists were bounded when parsed".into()))?;
                Some(merged.with_attributes(attributes))
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
