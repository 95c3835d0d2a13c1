//! How request bodies are read so that one answer can list every problem at once.
//!
//! Each field of an input type is a [`Field`]: reading it never fails, it remembers whether
//! the field was left out, given as `null`, given with a value of the right type, or given
//! with a value of the wrong type. Unknown members are collected by [`UnknownFields`] instead
//! of stopping the read. The operations then turn fields into domain values through
//! [`crate::operations::problems::Problems`], which gathers missing fields, type errors, rule
//! errors and unknown references together.
//!
//! The same three states give every PATCH the meaning of a JSON Merge Patch (RFC 7396): a
//! member left out keeps the stored value, `null` clears an optional field, a value sets it.

use crate::error::FieldError;
use crate::operations::examples;
use crate::operations::problems::Problems;
use paperclip::v2::models::DefaultSchemaRaw;
use paperclip::v2::schema::Apiv2Schema;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// Marks a field an input must carry (shown as required in the API document).
#[derive(Debug, Clone, Copy, Default)]
pub struct Must;

/// Marks a field an input may leave out.
#[derive(Debug, Clone, Copy, Default)]
pub struct May;

/// Whether the API document lists a field as required.
pub trait Presence {
    const REQUIRED: bool;
}

impl Presence for Must {
    const REQUIRED: bool = true;
}

impl Presence for May {
    const REQUIRED: bool = false;
}

/// What a request said about one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Given<T> {
    Absent,
    Null,
    Value(T),
    /// A value of the wrong type; `path` leads inside the field (`[2]` for a list entry).
    WrongType {
        path: String,
        message: String,
    },
}

/// One member of a request body. `R` says whether the document lists it as required; reading
/// enforces that through [`Field::required`].
pub struct Field<T, R = May> {
    given: Given<T>,
    presence: PhantomData<R>,
}

/// A member the input must carry.
pub type Required<T> = Field<T, Must>;

impl<T, R> Field<T, R> {
    pub fn absent() -> Self {
        Given::Absent.into()
    }

    pub fn null() -> Self {
        Given::Null.into()
    }

    pub fn value(value: T) -> Self {
        Given::Value(value).into()
    }

    /// `Some` becomes a value, `None` a field left out.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or_else(Self::absent, Self::value)
    }

    pub fn given(&self) -> &Given<T> {
        &self.given
    }

    pub fn into_given(self) -> Given<T> {
        self.given
    }

    /// The value, or `None` for a field left out, `null`, or given with the wrong type (which
    /// is recorded). For optional fields.
    pub fn optional(self, field: &str, problems: &mut Problems) -> Option<T> {
        match self.change(field, problems) {
            Change::Set(value) => Some(value),
            Change::Keep | Change::Clear => None,
        }
    }

    /// The value; a field left out or `null` is recorded as missing.
    pub fn require(self, field: &str, problems: &mut Problems) -> Option<T> {
        match self.given {
            Given::Absent => {
                problems.push(FieldError::new(
                    field,
                    "required",
                    format!("is required{}", examples::suffix(field)),
                ));
                None
            }
            Given::Null => {
                problems.push(null_not_allowed(field));
                None
            }
            other => Field::<T, R>::from(other).optional(field, problems),
        }
    }

    /// What a merge patch asks: keep (left out), clear (`null`) or set (a value).
    pub fn change(self, field: &str, problems: &mut Problems) -> Change<T> {
        match self.given {
            Given::Absent => Change::Keep,
            Given::Null => Change::Clear,
            Given::Value(value) => Change::Set(value),
            Given::WrongType { path, message } => {
                problems.push(FieldError::new(
                    format!("{field}{path}"),
                    "invalid_type",
                    message,
                ));
                Change::Keep
            }
        }
    }

    /// A merge patch of a field that cannot be cleared: `null` is recorded as a problem;
    /// `None` keeps the stored value.
    pub fn set_only(self, field: &str, problems: &mut Problems) -> Option<T> {
        match self.change(field, problems) {
            Change::Set(value) => Some(value),
            Change::Keep => None,
            Change::Clear => {
                problems.push(null_not_allowed(field));
                None
            }
        }
    }
}

fn null_not_allowed(field: &str) -> FieldError {
    FieldError::new(
        field,
        "null_not_allowed",
        format!(
            "cannot be null: give a value{}, or leave the field out",
            examples::suffix(field)
        ),
    )
}

/// What a merge patch asks of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Keep,
    Clear,
    Set(T),
}

impl<T> Change<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Clear => Change::Clear,
            Change::Set(value) => Change::Set(f(value)),
        }
    }
}

impl<T, R> From<Given<T>> for Field<T, R> {
    fn from(given: Given<T>) -> Self {
        Self {
            given,
            presence: PhantomData,
        }
    }
}

impl<T, R> Default for Field<T, R> {
    fn default() -> Self {
        Self::absent()
    }
}

impl<T: fmt::Debug, R> fmt::Debug for Field<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.given.fmt(f)
    }
}

impl<T: Clone, R> Clone for Field<T, R> {
    fn clone(&self) -> Self {
        self.given.clone().into()
    }
}

impl<'de, T: DeserializeOwned, R> Deserialize<'de> for Field<T, R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The value is read whole first so that a wrong type is remembered, not fatal.
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::null());
        }
        let given = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(value) => Given::Value(value),
            Err(error) => {
                let path = error.path().to_string();
                let inner = inner_path(&path);
                let found = value_at(&value, &inner);
                Given::WrongType {
                    message: plain_type_message(&error.into_inner().to_string(), found),
                    path: inner,
                }
            }
        };
        Ok(given.into())
    }
}

impl<T: Serialize, R> Serialize for Field<T, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.given {
            Given::Value(value) => value.serialize(serializer),
            _ => serializer.serialize_none(),
        }
    }
}

impl<T: Apiv2Schema, R: Presence> Apiv2Schema for Field<T, R> {
    fn name() -> Option<String> {
        T::name()
    }

    fn description() -> &'static str {
        T::description()
    }

    fn required() -> bool {
        R::REQUIRED
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

/// serde_path_to_error names the path from the field's own value: `.` for the value itself,
/// `[2]` or `.start` inside it. Kept as a suffix to append to the field's name.
fn inner_path(path: &str) -> String {
    match path {
        "" | "." => String::new(),
        other if other.starts_with('[') => other.to_owned(),
        other => format!(".{other}"),
    }
}

/// The JSON value at a path as serde_path_to_error writes it (`filter.tags[1]`), to describe
/// what was sent there.
pub fn value_at_path<'v>(value: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    value_at(value, &inner_path(path))
}

/// The JSON value a path suffix leads to, to describe what was sent.
fn value_at<'v>(value: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    let mut current = value;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (index, tail) = after.split_once(']').unwrap_or((after, ""));
            let next = index.parse::<usize>().ok().and_then(|i| current.get(i));
            match next {
                Some(next) => current = next,
                None => return current,
            }
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            match current.get(&after[..end]) {
                Some(next) => current = next,
                None => return current,
            }
            rest = &after[end..];
        } else {
            return current;
        }
    }
    current
}

/// Says in plain words what kind of value serde expected, from its message (`invalid type:
/// integer `5`, expected a string`), and what was sent instead.
pub fn plain_type_message(serde_message: &str, found: &serde_json::Value) -> String {
    let expected = serde_message
        .rsplit_once("expected ")
        .map(|(_, expected)| expected.trim_end_matches('.'))
        .unwrap_or_default();
    let wanted = plain_expected(expected);
    format!("must be {wanted}, not {}", describe(found))
}

fn plain_expected(serde_expected: &str) -> &'static str {
    let expected = serde_expected.to_ascii_lowercase();
    if expected.contains("string") || expected.contains("char") {
        "text"
    } else if expected.contains("sequence") || expected.contains("vec") {
        "a list"
    } else if expected.contains("bool") {
        "true or false"
    } else if [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer",
    ]
    .iter()
    .any(|name| expected.contains(name))
    {
        "a whole number"
    } else if expected.contains("f32") || expected.contains("f64") || expected.contains("float") {
        "a number"
    } else if expected.contains("struct") || expected.contains("map") {
        "an object"
    } else {
        "a value of another type"
    }
}

/// Names a JSON value for a person: `the number 5`, `a list`, `the text "abc"`.
pub fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => {
            let shown: String = text.chars().take(40).collect();
            let ellipsis = if shown.len() < text.len() { "…" } else { "" };
            format!("the text {:?}", format!("{shown}{ellipsis}"))
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// The members of an object that its input type does not name, in the order sent.
#[derive(Debug, Clone, Default)]
pub struct UnknownFields(Vec<String>);

impl UnknownFields {
    /// Records each unknown member under `prefix` (`filter.` for a nested object).
    pub fn report(self, prefix: &str, problems: &mut Problems) {
        for name in self.0 {
            problems.push(FieldError::new(
                format!("{prefix}{name}"),
                "unknown_field",
                "is not a field of this object; check the spelling against the API document",
            ));
        }
    }
}

impl<'de> Deserialize<'de> for UnknownFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = UnknownFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut names = vec![];
                while let Some((name, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    names.push(name);
                }
                Ok(UnknownFields(names))
            }
        }
        deserializer.deserialize_map(Names)
    }
}

impl Apiv2Schema for UnknownFields {
    fn required() -> bool {
        false
    }
}

/// Turns the error of reading a whole body, which with [`Field`]s can only be about its outer
/// shape, into a problem of the `body`.
pub fn body_shape_problem(found: &serde_json::Value) -> FieldError {
    FieldError::new(
        "body",
        "not_an_object",
        format!(
            "must be a JSON object such as {{\"name\": \"value\"}}, not {}",
            describe(found)
        ),
    )
}

/// A value to read from a query string or path: kept as text, parsed when read so a bad value
/// is named in plain words with every other problem.
#[derive(Debug, Clone)]
pub struct QueryValue<T> {
    raw: String,
    kind: PhantomData<T>,
}

impl<T> QueryValue<T> {
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl<T: fmt::Display> QueryValue<T> {
    /// The value as a query string would carry it.
    pub fn of(value: T) -> Self {
        Self {
            raw: value.to_string(),
            kind: PhantomData,
        }
    }
}

impl<'de, T> Deserialize<'de> for QueryValue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|raw| Self {
            raw,
            kind: PhantomData,
        })
    }
}

impl<T: Apiv2Schema> Apiv2Schema for QueryValue<T> {
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

/// A whole number read from a query string or a path, in `min..=max`.
pub fn whole_number<T>(field: &str, raw: &str, min: T, max: T, problems: &mut Problems) -> Option<T>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let example = examples::suffix(field);
    match raw.trim().parse::<T>() {
        Ok(number) if number >= min && number <= max => Some(number),
        Ok(_) => {
            problems.push(FieldError::new(
                field,
                "out_of_range",
                format!("must be from {min} to {max}, not {raw}{example}"),
            ));
            None
        }
        Err(_) => {
            problems.push(FieldError::new(
                field,
                "invalid_type",
                format!("must be a whole number from {min} to {max}, not {raw:?}{example}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Body {
        name: Required<String>,
        count: Field<u32>,
        inner: Field<Inner>,
        tags: Field<Vec<String>>,
        #[serde(flatten)]
        unknown: UnknownFields,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Inner {
        start: Required<String>,
        #[serde(flatten)]
        unknown: UnknownFields,
    }

    fn read(json: &str) -> (Body, Vec<FieldError>) {
        let body: Body = serde_json::from_str(json).unwrap();
        (body, vec![])
    }

    #[test]
    fn every_member_is_kept_whatever_its_type() {
        let (body, _) = read(r#"{"name": 5, "count": "x", "tags": ["a", 7], "extra": 1}"#);
        let mut problems = Problems::default();
        assert_eq!(body.name.require("name", &mut problems), None);
        assert_eq!(body.count.optional("count", &mut problems), None);
        assert_eq!(body.tags.optional("tags", &mut problems), None);
        body.unknown.report("", &mut problems);
        let named: Vec<(&str, &str)> = problems
            .details()
            .iter()
            .map(|p| (p.field.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("name", "invalid_type"),
                ("count", "invalid_type"),
                ("tags[1]", "invalid_type"),
                ("extra", "unknown_field"),
            ]
        );
        assert_eq!(
            problems.details()[0].message,
            "must be text, not the number 5"
        );
        assert_eq!(
            problems.details()[1].message,
            "must be a whole number, not the text \"x\""
        );
    }

    #[test]
    fn left_out_null_and_value_are_told_apart() {
        let (body, _) = read(r#"{"count": null, "tags": ["a"]}"#);
        let mut problems = Problems::default();
        assert_eq!(body.name.require("name", &mut problems), None);
        assert_eq!(problems.details()[0].code, "required");
        assert_eq!(body.count.change("count", &mut problems), Change::Clear);
        assert!(matches!(
            body.inner.change("inner", &mut problems),
            Change::Keep
        ));
        assert_eq!(
            body.tags.change("tags", &mut problems),
            Change::Set(vec!["a".to_owned()])
        );
        let (body, _) = read(r#"{"name": null}"#);
        let mut problems = Problems::default();
        assert_eq!(body.name.set_only("name", &mut problems), None);
        assert_eq!(problems.details()[0].code, "null_not_allowed");
    }

    #[test]
    fn nested_objects_report_their_own_members() {
        let (body, _) = read(r#"{"name": "x", "inner": {"colour": 1}}"#);
        let mut problems = Problems::default();
        let inner = body.inner.optional("inner", &mut problems).unwrap();
        assert_eq!(inner.start.require("inner.start", &mut problems), None);
        inner.unknown.report("inner.", &mut problems);
        let fields: Vec<&str> = problems
            .details()
            .iter()
            .map(|p| p.field.as_str())
            .collect();
        assert_eq!(fields, ["inner.start", "inner.colour"]);
    }

    #[test]
    fn a_list_is_not_an_object() {
        let (body, _) = read(r#"{"name": "x", "inner": ["a"]}"#);
        let mut problems = Problems::default();
        assert!(body.inner.optional("inner", &mut problems).is_none());
        assert_eq!(
            problems.details()[0].message,
            "must be an object, not a list"
        );
        assert!(serde_json::from_str::<Body>(r#"["x"]"#).is_err());
    }

    #[test]
    fn numbers_from_queries_are_named_in_plain_words() {
        let mut problems = Problems::default();
        assert_eq!(whole_number("page", "3", 1u32, 9, &mut problems), Some(3));
        assert_eq!(whole_number("page", "abc", 1u32, 9, &mut problems), None);
        assert_eq!(whole_number("page", "0", 1u32, 9, &mut problems), None);
        assert_eq!(problems.details().len(), 2);
        assert!(
            problems.details()[0]
                .message
                .starts_with("must be a whole number from 1 to 9, not \"abc\"")
        );
    }
}
