//! The operators and tags a form offers to pick from.

use super::error::AdminError;
use crate::operations::paging::MAX_PAGE_SIZE;
use crate::state::AppState;
use mailing_domain::store::{Operator, PageRequest, SavedFilter, Tag};

/// More than a form can sensibly list; the API's page limit.
const LARGEST_PAGE: PageRequest = PageRequest {
    offset: 0,
    limit: MAX_PAGE_SIZE,
};

/// One checkbox or option.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct Catalog {
    pub operators: Vec<Operator>,
    pub tags: Vec<Tag>,
    pub filters: Vec<SavedFilter>,
}

impl Catalog {
    pub async fn load(state: &AppState) -> Result<Self, AdminError> {
        let (operators, tags, filters) = state
            .run(|s| {
                Ok((
                    s.list_operators(LARGEST_PAGE)?.items,
                    s.list_tags(LARGEST_PAGE)?.items,
                    s.list_client_filters(LARGEST_PAGE)?.items,
                ))
            })
            .await?;
        Ok(Self {
            operators,
            tags,
            filters,
        })
    }

    /// Operators labelled "Beeline (bln)", valued by code.
    pub fn operator_choices(&self, checked: &[String]) -> Vec<Choice> {
        self.operators
            .iter()
            .map(|operator| {
                let code = operator.code.as_str();
                Choice {
                    value: code.to_owned(),
                    label: format!("{} ({code})", operator.name.as_str()),
                    checked: checked.iter().any(|c| c == code),
                }
            })
            .collect()
    }

    pub fn tag_choices(&self, checked: &[String]) -> Vec<Choice> {
        self.tags
            .iter()
            .map(|tag| Choice {
                value: tag.value.as_str().to_owned(),
                label: tag.value.as_str().to_owned(),
                checked: checked.iter().any(|t| t == tag.value.as_str()),
            })
            .collect()
    }

    /// Saved filters by name (or number, for unnamed ones), valued by id.
    pub fn filter_choices(&self, selected: Option<i64>) -> Vec<Choice> {
        self.filters
            .iter()
            .map(|saved| Choice {
                value: saved.id.0.to_string(),
                label: saved
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("Filter #{}", saved.id.0)),
                checked: selected == Some(saved.id.0),
            })
            .collect()
    }
}

/// A filter in words: "operators bln, mts; tags vip", or "every client".
pub fn describe_filter(filter: &mailing_domain::ClientFilter) -> String {
    let codes: Vec<&str> = filter.operator_codes().map(|c| c.as_str()).collect();
    let tags: Vec<&str> = filter.tags().map(|t| t.as_str()).collect();
    match (codes.is_empty(), tags.is_empty()) {
        (true, true) => "every client".to_owned(),
        (false, true) => format!("operators {}", codes.join(", ")),
        (true, false) => format!("tagged {}", tags.join(" or ")),
        (false, false) => format!(
            "operators {}, tagged {}",
            codes.join(", "),
            tags.join(" or ")
        ),
    }
}
