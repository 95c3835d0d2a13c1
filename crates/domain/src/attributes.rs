//! Free-form facts about a client (`city`, `plan`, `age`): a small object of named strings,
//! numbers and booleans, which filters can require and CSV files carry one column per key.

use crate::invalid::Invalid;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::fmt;

/// An attribute's name: 1 to 64 of `a-z`, `0-9` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeKey(String);

impl AttributeKey {
    pub const MAX_LENGTH: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let well_formed = (1..=Self::MAX_LENGTH).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::AttributeKeyFormat {
                max: Self::MAX_LENGTH,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttributeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attribute's value. Numbers that are whole are kept as integers, so `1` and `1.0` are one
/// value wherever they are compared or stored.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    Text(String),
    Number(Number),
    Bool(bool),
}

impl Eq for AttributeValue {}

impl AttributeValue {
    /// The value a JSON scalar holds; `null`, arrays and objects are refused.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        match value {
            Value::String(text) => Ok(Self::Text(text.clone())),
            Value::Bool(flag) => Ok(Self::Bool(*flag)),
            Value::Number(number) => Ok(Self::Number(whole_as_integer(number))),
            Value::Null | Value::Array(_) | Value::Object(_) => Err(Invalid::AttributeValueType),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Number(number) => Value::Number(number.clone()),
            Self::Bool(flag) => Value::Bool(*flag),
        }
    }

    /// Reads a CSV cell, the inverse of [`AttributeValue::to_cell`]: `true` and `false` are
    /// booleans, a number written as JSON writes it (`42`, `-1.5`) is a number, a cell that is
    /// a JSON string literal (`"42"`) is that string, and any other text is itself. An empty
    /// cell is no value (`None`).
    pub fn from_cell(cell: &str) -> Option<Self> {
        if cell.is_empty() {
            return None;
        }
        match cell {
            "true" => return Some(Self::Bool(true)),
            "false" => return Some(Self::Bool(false)),
            _ => {}
        }
        if let Some(number) = canonical_number(cell) {
            return Some(Self::Number(number));
        }
        if cell.starts_with('"')
            && let Ok(Value::String(text)) = serde_json::from_str::<Value>(cell)
        {
            return Some(Self::Text(text));
        }
        Some(Self::Text(cell.to_owned()))
    }

    /// Writes the value as a CSV cell that [`AttributeValue::from_cell`] reads back as the same
    /// value: a text that would read as something else (empty, `true`, `42`, or starting with
    /// `"`) is written as a JSON string literal.
    pub fn to_cell(&self) -> String {
        match self {
            Self::Bool(flag) => flag.to_string(),
            Self::Number(number) => number.to_string(),
            Self::Text(text) => {
                let ambiguous = text.is_empty()
                    || text == "true"
                    || text == "false"
                    || text.starts_with('"')
                    || canonical_number(text).is_some();
                if ambiguous {
                    Value::String(text.clone()).to_string()
                } else {
                    text.clone()
                }
            }
        }
    }
}

/// `cell` as a number, if it is exactly how JSON writes that number (so `007`, `1e3` and ` 1`
/// stay text, and a zip code keeps its leading zero).
fn canonical_number(cell: &str) -> Option<Number> {
    let first = cell.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'-') {
        return None;
    }
    let number = whole_as_integer(&serde_json::from_str::<Number>(cell).ok()?);
    (number.to_string() == cell).then_some(number)
}

/// A whole number as an integer (`1.0` as `1`), anything else as it is.
fn whole_as_integer(number: &Number) -> Number {
    if number.is_f64()
        && let Some(float) = number.as_f64()
        && float.fract() == 0.0
        && float.abs() < 9.0e15
    {
        return Number::from(float as i64);
    }
    number.clone()
}

/// A client's attributes, or the ones a filter requires; sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<AttributeKey, AttributeValue>);

/// One problem with an attributes object: the key it concerns (none for the object as a
/// whole) and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", key.as_ref().map(|key| format!("{key}: ")).unwrap_or_default())]
pub struct AttributeProblem {
    pub key: Option<String>,
    pub problem: Invalid,
}

impl Attributes {
    /// The most keys an object may hold.
    pub const MAX_KEYS: usize = 50;
    /// The most bytes the object may take, written as compact JSON.
    pub const MAX_BYTES: usize = 4096;

    /// Reads a JSON object, reporting every problem rather than the first.
    pub fn from_json(value: &Value) -> Result<Self, Vec<AttributeProblem>> {
        let Value::Object(object) = value else {
            return Err(vec![AttributeProblem {
                key: None,
                problem: Invalid::AttributesObject,
            }]);
        };
        let mut problems = Vec::new();
        let mut entries = BTreeMap::new();
        for (raw_key, raw_value) in object {
            let key = AttributeKey::parse(raw_key);
            let value = AttributeValue::from_json(raw_value);
            match (key, value) {
                (Ok(key), Ok(value)) => {
                    entries.insert(key, value);
                }
                (key, value) => {
                    for problem in [key.err(), value.err()].into_iter().flatten() {
                        problems.push(AttributeProblem {
                            key: Some(raw_key.clone()),
                            problem,
                        });
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Self::from_entries(entries).map_err(|problem| vec![problem])
    }

    /// Checks the whole object's bounds.
    pub fn from_entries(
        entries: BTreeMap<AttributeKey, AttributeValue>,
    ) -> Result<Self, AttributeProblem> {
        let attributes = Self(entries);
        if attributes.0.len() > Self::MAX_KEYS {
            return Err(AttributeProblem {
                key: None,
                problem: Invalid::TooMany {
                    max: Self::MAX_KEYS,
                },
            });
        }
        if attributes.to_json().to_string().len() > Self::MAX_BYTES {
            return Err(AttributeProblem {
                key: None,
                problem: Invalid::TooLarge {
                    max_bytes: Self::MAX_BYTES,
                },
            });
        }
        Ok(attributes)
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(key, value)| (key.0.clone(), value.to_json()))
                .collect::<Map<_, _>>(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, key: &AttributeKey) -> Option<&AttributeValue> {
        self.0.get(key)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&AttributeKey, &AttributeValue)> {
        self.0.iter()
    }

    pub fn into_entries(self) -> BTreeMap<AttributeKey, AttributeValue> {
        self.0
    }

    /// Whether these attributes hold every pair `required` names, with an equal value.
    pub fn contains_all(&self, required: &Attributes) -> bool {
        required
            .0
            .iter()
            .all(|(key, value)| self.0.get(key) == Some(value))
    }
}

impl serde::Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(value: Value) -> Attributes {
        Attributes::from_json(&value).unwrap()
    }

    #[test]
    fn keys_are_lowercase_latin_digits_and_underscores() {
        for good in ["city", "a", "plan_2", &"k".repeat(64)] {
            assert!(AttributeKey::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", "City", "first-name", "имя", "a b", &"k".repeat(65)] {
            assert_eq!(
                AttributeKey::parse(bad),
                Err(Invalid::AttributeKeyFormat { max: 64 }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let problems =
            Attributes::from_json(&json!({"City": "Kazan", "tags": ["a"], "ok": 1, "n": null}))
                .unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.clone().unwrap()).collect();
        assert_eq!(keys, ["City", "n", "tags"]);
        assert_eq!(
            Attributes::from_json(&json!(["a"])).unwrap_err()[0].problem,
            Invalid::AttributesObject
        );
    }

    #[test]
    fn objects_are_bounded_in_keys_and_bytes() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            Attributes::from_json(&Value::Object(many)).unwrap_err()[0].problem,
            Invalid::TooMany { max: 50 }
        );
        let fifty: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(attributes(Value::Object(fifty)).len(), 50);
        let big = json!({"a": "x".repeat(4096)});
        assert_eq!(
            Attributes::from_json(&big).unwrap_err()[0].problem,
            Invalid::TooLarge { max_bytes: 4096 }
        );
        // `{"a":"` and `"}` take 8 bytes.
        assert!(Attributes::from_json(&json!({"a": "x".repeat(4088)})).is_ok());
    }

    #[test]
    fn whole_numbers_are_one_value_however_written() {
        assert_eq!(attributes(json!({"n": 1.0})), attributes(json!({"n": 1})));
        assert_ne!(attributes(json!({"n": 1.5})), attributes(json!({"n": 1})));
        assert_ne!(attributes(json!({"n": "1"})), attributes(json!({"n": 1})));
        assert_ne!(attributes(json!({"n": true})), attributes(json!({"n": 1})));
    }

    #[test]
    fn a_filter_requires_every_pair_it_names() {
        let client = attributes(json!({"city": "Kazan", "vip": true, "age": 30}));
        assert!(client.contains_all(&Attributes::default()));
        assert!(client.contains_all(&attributes(json!({"city": "Kazan", "age": 30.0}))));
        assert!(!client.contains_all(&attributes(json!({"city": "Kazan", "vip": false}))));
        assert!(!client.contains_all(&attributes(json!({"plan": "gold"}))));
        assert!(!client.contains_all(&attributes(json!({"age": "30"}))));
    }

    #[test]
    fn cells_read_back_as_the_value_written() {
        let values = [
            json!("Kazan"),
            json!(""),
            json!("true"),
            json!("42"),
            json!("007"),
            json!("\"quoted\""),
            json!("1e3"),
            json!(" 1"),
            json!("-"),
            json!("Здравствуйте, \"мир\""),
            json!(true),
            json!(false),
            json!(0),
            json!(-17),
            json!(2.5),
            json!(12345678901234_i64),
        ];
        for value in values {
            let value = AttributeValue::from_json(&value).unwrap();
            let cell = value.to_cell();
            assert_eq!(AttributeValue::from_cell(&cell), Some(value), "{cell:?}");
        }
        assert_eq!(AttributeValue::from_cell(""), None);
        assert_eq!(
            AttributeValue::from_cell("007"),
            Some(AttributeValue::Text("007".into()))
        );
        assert_eq!(
            AttributeValue::from_cell("42"),
            Some(AttributeValue::Number(42.into()))
        );
    }
}
