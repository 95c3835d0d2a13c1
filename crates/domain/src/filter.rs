//! Which clients a mailing reaches.

use crate::attributes::Attributes;
use crate::invalid::Invalid;
use crate::operator::OperatorCode;
use crate::tag::TagValue;
use std::collections::BTreeSet;

/// Selects clients by operator, tag and attribute values. An empty list places no condition, so
/// the empty filter matches every client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    operator_codes: BTreeSet<OperatorCode>,
    tags: BTreeSet<TagValue>,
    attributes: Attributes,
}

impl ClientFilter {
    /// Bound on each list, so a filter stays a filter and not a client list in disguise.
    pub const MAX_ENTRIES: usize = 100;

    pub fn new(
        operator_codes: impl IntoIterator<Item = OperatorCode>,
        tags: impl IntoIterator<Item = TagValue>,
    ) -> Result<Self, FilterInvalid> {
        let operator_codes: BTreeSet<_> = operator_codes.into_iter().collect();
        let tags: BTreeSet<_> = tags.into_iter().collect();
        let too_many = Invalid::TooMany {
            max: Self::MAX_ENTRIES,
        };
        if operator_codes.len() > Self::MAX_ENTRIES {
            return Err(FilterInvalid::OperatorCodes(too_many));
        }
        if tags.len() > Self::MAX_ENTRIES {
            return Err(FilterInvalid::Tags(too_many));
        }
        Ok(Self {
            operator_codes,
            tags,
            attributes: Attributes::default(),
        })
    }

    /// The filter, requiring also every attribute value in `attributes`.
    pub fn with_attributes(self, attributes: Attributes) -> Self {
        Self { attributes, ..self }
    }

    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    pub fn operator_codes(&self) -> impl ExactSizeIterator<Item = &OperatorCode> {
        self.operator_codes.iter()
    }

    pub fn tags(&self) -> impl ExactSizeIterator<Item = &TagValue> {
        self.tags.iter()
    }

    /// A client matches when (no operator codes are given OR its code is listed) AND (no tags
    /// are given OR it carries at least one listed tag) AND it has every attribute value the
    /// filter names.
    pub fn matches<'a>(
        &self,
        operator_code: &OperatorCode,
        client_tags: impl IntoIterator<Item = &'a TagValue>,
        client_attributes: &Attributes,
    ) -> bool {
        let operator_ok =
            self.operator_codes.is_empty() || self.operator_codes.contains(operator_code);
        let tags_ok =
            self.tags.is_empty() || client_tags.into_iter().any(|tag| self.tags.contains(tag));
        operator_ok && tags_ok && client_attributes.contains_all(&self.attributes)
    }
}

/// Which list of a filter broke which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterInvalid {
    #[error("operator_codes {0}")]
    OperatorCodes(Invalid),
    #[error("tags {0}")]
    Tags(Invalid),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> OperatorCode {
        OperatorCode::parse(raw).unwrap()
    }

    fn tag(raw: &str) -> TagValue {
        TagValue::parse(raw).unwrap()
    }

    fn none() -> Attributes {
        Attributes::default()
    }

    #[test]
    fn empty_filter_matches_everyone() {
        let filter = ClientFilter::default();
        assert!(filter.matches(&code("bln"), [], &none()));
        assert!(filter.matches(&code("mts"), &[tag("x")], &none()));
    }

    #[test]
    fn operator_and_tag_conditions_combine_with_and_lists_with_or() {
        let filter = ClientFilter::new([code("bln"), code("mts")], [tag("A"), tag("B")]).unwrap();
        assert!(filter.matches(&code("bln"), &[tag("B")], &none()));
        assert!(filter.matches(&code("mts"), &[tag("Z"), tag("A")], &none()));
        assert!(!filter.matches(&code("tele2"), &[tag("A")], &none()));
        assert!(!filter.matches(&code("bln"), &[tag("Z")], &none()));
        assert!(!filter.matches(&code("bln"), [], &none()));
    }

    #[test]
    fn only_tags_or_only_operators() {
        let by_tag = ClientFilter::new([], [tag("A")]).unwrap();
        assert!(by_tag.matches(&code("any"), &[tag("A")], &none()));
        assert!(!by_tag.matches(&code("any"), [], &none()));
        let by_operator = ClientFilter::new([code("bln")], []).unwrap();
        assert!(by_operator.matches(&code("bln"), [], &none()));
        assert!(!by_operator.matches(&code("mts"), &[tag("A")], &none()));
    }

    #[test]
    fn attribute_values_must_all_match() {
        let wanted = |value| Attributes::from_json(&value).unwrap();
        let filter = ClientFilter::new([code("bln")], [])
            .unwrap()
            .with_attributes(wanted(serde_json::json!({"city": "Kazan", "vip": true})));
        let kazan_vip = wanted(serde_json::json!({"city": "Kazan", "vip": true, "age": 3}));
        assert!(filter.matches(&code("bln"), [], &kazan_vip));
        assert!(!filter.matches(&code("mts"), [], &kazan_vip));
        let kazan = wanted(serde_json::json!({"city": "Kazan"}));
        assert!(!filter.matches(&code("bln"), [], &kazan));
    }

    #[test]
    fn duplicates_collapse_and_lists_are_bounded() {
        let filter = ClientFilter::new([code("bln"), code("bln")], []).unwrap();
        assert_eq!(filter.operator_codes().len(), 1);
        let many = (0..=100).map(|i| tag(&format!("t{i}")));
        assert_eq!(
            ClientFilter::new([], many),
            Err(FilterInvalid::Tags(Invalid::TooMany { max: 100 }))
        );
    }
}
